//! Differential: header-name case. The backend answers with mixed-case
//! names (`x-custom-thing`, `X-MiXed-CASE`, lower-case `content-type`…);
//! nginx passes the upstream's names as they were and writes its own
//! (`Server`, `Date`, `Content-Type`, `Content-Length`, `Connection`…)
//! in its own case. Clients send mixed-case names too, and configured
//! `proxy_set_header` names keep their spelling upstream. Full response
//! heads (but the values of `Server` and `Date`) and the request the
//! backend saw (echoed as the body) must be byte-identical, for a GET
//! (our plain path) and a POST (hyper's path).

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
               proxy_set_header x-lower-SET v; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

const REQUESTS: [&str; 3] = [
    "GET /g?a=1 HTTP/1.1\r\nHost: a.test\r\nx-lower-req: 1\r\nX-UPPER-REQ: 2\r\n\
     user-AGENT: t\r\naccept: */*\r\nConnection: close\r\n\r\n",
    "POST /p HTTP/1.1\r\nhost: a.test\r\nx-lower-req: 1\r\nX-UPPER-REQ: 2\r\n\
     content-length: 3\r\ncontent-TYPE: text/y\r\nConnection: close\r\n\r\nabc",
    "HEAD /h HTTP/1.1\r\nHost: a.test\r\nX-Mixed-Req: 3\r\nConnection: close\r\n\r\n",
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
        nginx[0].0.contains("\r\nx-custom-thing: a"),
        "{:?}",
        nginx[0]
    );
    assert!(nginx[1].1.contains("\r\nx-lower-SET: v"), "{:?}", nginx[1]);
    let differ: Vec<String> = nginx
        .iter()
        .zip(ours)
        .enumerate()
        .filter(|(_, (n, o))| n != o)
        .map(|(i, (n, o))| format!("request {i}:\nnginx {n:?}\n ours {o:?}"))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
