//! Differential: header-name case. The backend answers with mixed-case
//! names (`x-custom-thing`, `X-MiXed-CASE`, lower-case `content-type`…);
//! nginx passes the upstream's names as they were and writes its own
//! (`Server`, `Date`, `Content-Type`, `Content-Length`, `Connection`…)
//! in its own case. Clients send mixed-case names too, and configured
//! `proxy_set_header` names keep their spelling upstream. Full response
//! heads (but the values of `Server` and `Date`) and the request the
//! backend saw (echoed as the body) must be byte-identical, for a GET
//! (our plain path) and a POST (hyper's path), and over TLS with HTTP/1.1
//! and HTTP/2 (whose client names nginx passes upstream in lower case).

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, be: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           upstream be {{ server 127.0.0.1:{be}; }}\n\
           server {{ listen 127.0.0.1:{port};\n\
             location / {{ proxy_pass http://be;\n\
               proxy_set_header X-Real-IP $remote_addr;\n\
               proxy_set_header x-lower-SET v;\n\
               add_header x-ADDED-name v; }}\n\
             location /ret {{ add_header x-Ret-ADD 1; return 200 ok; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

const REQUESTS: [&str; 5] = [
    "GET /g?a=1 HTTP/1.1\r\nHost: a.test\r\nx-lower-req: 1\r\nX-UPPER-REQ: 2\r\n\
     user-AGENT: t\r\naccept: */*\r\nConnection: close\r\n\r\n",
    "POST /p HTTP/1.1\r\nhost: a.test\r\nx-lower-req: 1\r\nX-UPPER-REQ: 2\r\n\
     content-length: 3\r\ncontent-TYPE: text/y\r\nConnection: close\r\n\r\nabc",
    "HEAD /h HTTP/1.1\r\nHost: a.test\r\nX-Mixed-Req: 3\r\nConnection: close\r\n\r\n",
    // Keep-alive on hyper's path: the second head follows the first body.
    "POST /k1 HTTP/1.1\r\nHost: a.test\r\nx-K: 1\r\nContent-Length: 2\r\n\r\nhi\
     POST /k2 HTTP/1.1\r\nHost: a.test\r\nX-k: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nho",
    // `add_header` on an answer of our own, with a body (hyper's path).
    "POST /ret HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
];

#[test]
fn header_names_keep_their_case_as_in_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = raw::tcp_backend();
    let mut answers = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let _p = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, be),
            port,
            program,
        );
        let got: Vec<_> = REQUESTS
            .iter()
            .map(|r| raw::split(&raw::exchange(port, r.as_bytes())))
            .collect();
        answers.push(got);
    }
    let (nginx, ours) = (&answers[0], &answers[1]);
    assert!(
        nginx[3].1.contains("POST /k2 HTTP/1.0\r\n"),
        "{:?}",
        nginx[3]
    );
    assert!(
        nginx[0].0.contains("\r\nx-custom-thing: a"),
        "{:?}",
        nginx[0]
    );
    assert!(nginx[1].1.contains("\r\nx-lower-SET: v"), "{:?}", nginx[1]);
    // `add_header` names as configured, on both paths.
    assert!(nginx[0].0.contains("\r\nx-ADDED-name: v"), "{:?}", nginx[0]);
    assert!(nginx[1].0.contains("\r\nx-ADDED-name: v"), "{:?}", nginx[1]);
    assert!(nginx[4].0.contains("\r\nx-Ret-ADD: 1"), "{:?}", nginx[4]);
    let differ = support::differences(nginx, ours, |i| format!("request {i}"));
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// `curl -i` over TLS (HTTP/1.1 and HTTP/2): the head as curl shows it,
/// `Server`/`Date` values masked, then the request the backend saw.
fn curl(port: u16, proto: &str, method: &[&str]) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sk", "-i", "--max-time", "5", proto])
        .args(method)
        .args([
            "-H",
            "x-lower-req: 1",
            "-H",
            "X-UPPER-REQ: 2",
            "-H",
            "User-AGENT: t",
        ])
        .arg(format!("https://127.0.0.1:{port}/t?q=1"))
        .output()
        .unwrap();
    let (head, body) = raw::split(&out.stdout);
    format!("{head}\r\n\r\n{body}")
}

#[test]
fn header_names_over_tls_as_in_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "openssl could not make a certificate"
    );
    let be = raw::tcp_backend();
    let d = dir.path().display();
    let mut answers = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let conf = conf(dir.path(), name, port, be).replace(
            &format!("listen 127.0.0.1:{port};"),
            &format!(
                "listen 127.0.0.1:{port} ssl http2; ssl_certificate {d}/cert.pem; \
                 ssl_certificate_key {d}/key.pem;"
            ),
        );
        let _p = support::start(dir.path(), name, &conf, port, program);
        let got: Vec<String> = [
            ("--http1.1", &[][..]),
            ("--http1.1", &["-d", "abc"][..]),
            ("--http2", &[][..]),
            ("--http2", &["-d", "abc"][..]),
        ]
        .iter()
        .map(|(proto, method)| curl(port, proto, method))
        .collect();
        answers.push(got);
    }
    assert!(
        answers[0][0].contains("\r\nx-custom-thing: a"),
        "{}",
        answers[0][0]
    );
    assert!(
        answers[0][2].contains("\r\nx-lower-req: 1\r\nx-upper-req: 2"),
        "{}",
        answers[0][2]
    );
    for (i, (n, o)) in answers[0].iter().zip(&answers[1]).enumerate() {
        assert_eq!(n, o, "case {i}");
    }
}
