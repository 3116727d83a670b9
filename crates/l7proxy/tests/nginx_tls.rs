//! Differential: TLS termination and HTTP/2 to clients. nginx 1.22 and
//! l7proxy run the same `listen … ssl http2` file with the same certificate;
//! curl over HTTP/2, HTTP/1.1 and TLS 1.2 must get the same protocol, status
//! and backend-seen request (names compared case-insensitively).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

mod support;
use support::{free_port, require_nginx, Proc, NGINX, OURS};

fn start(dir: &Path, name: &str, front: u16, backend: u16, program: &str) -> Proc {
    let d = dir.display();
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{ access_log off; client_body_temp_path {d}/cb; proxy_temp_path {d}/pt;\n\
           fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
           ssl_protocols TLSv1.2 TLSv1.3;\n\
           upstream be {{ server 127.0.0.1:{backend}; }}\n\
           server {{ listen 127.0.0.1:{front} ssl http2;\n\
             ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
             location /echo/ {{ proxy_pass http://be; proxy_set_header X-Scheme $scheme; }}\n\
             location /ret {{ return 200 \"tls\"; }}\n\
             location /moved {{ return 302 /there; add_header X-Tls \"$scheme $status\"; }} }} }}\n"
    );
    support::start(dir, name, &conf, front, program)
}

/// (negotiated HTTP version, status, body with header names lower-cased).
fn fetch(port: u16, target: &str, extra: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-sSk",
            "--max-time",
            "5",
            "-o",
            "-",
            "-w",
            "\n|%{http_version}|%{http_code}",
        ])
        .args(extra)
        .arg(format!("https://127.0.0.1:{port}{target}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once("\n|").unwrap_or((&text, "?"));
    let body: Vec<String> = body
        .split("\r\n")
        .map(|l| match l.split_once(": ") {
            Some((n, v)) if !l.starts_with("GET ") => format!("{}: {v}", n.to_ascii_lowercase()),
            _ => l.to_owned(),
        })
        .collect();
    format!(
        "{tail} {}",
        body.join("\r\n").replace(&port.to_string(), "PORT")
    )
}

#[test]
fn tls_and_http2_answer_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let bport = backend.local_addr().unwrap().port();
    std::thread::spawn(move || netlab::http::serve(&backend, "b1"));
    let (np, lp) = (free_port(), free_port());
    let _n = start(dir.path(), "nginx", np, bport, NGINX);
    let _o = start(dir.path(), "ours", lp, bport, OURS);
    let cases: &[(&str, &[&str])] = &[
        ("/echo/h2?x=1", &["--http2"]),
        ("/echo/h1", &["--http1.1"]),
        ("/echo/tls12", &["--http2", "--tlsv1.2", "--tls-max", "1.2"]),
        ("/ret", &["--http2"]),
        ("/none", &["--http2"]),
    ];
    let mut diffs = Vec::new();
    for (target, extra) in cases {
        let (theirs, ours) = (fetch(np, target, extra), fetch(lp, target, extra));
        let (theirs, ours) = if theirs.contains("|404 ") || theirs.contains("|2 404") {
            (
                theirs.split(' ').next().unwrap_or("").to_owned(),
                ours.split(' ').next().unwrap_or("").to_owned(),
            )
        } else {
            (theirs, ours)
        };
        if theirs != ours {
            diffs.push(format!(
                "{target} {extra:?}:\n  nginx {theirs:?}\n  ours  {ours:?}"
            ));
        }
    }
    assert!(
        fetch(lp, "/echo/h2", &["--http2"]).starts_with("2|200 b1"),
        "HTTP/2 was not negotiated"
    );
    // A relative redirect made absolute with https and the port, and
    // add_header on TLS, over HTTP/2 and HTTP/1.1.
    for proto in ["--http2", "--http1.1"] {
        let moved = |port: u16| {
            let out = Command::new("curl")
                .args(["-sSk", "--max-time", "5", "-o", "/dev/null", proto])
                .args(["-w", "%header{location}|%header{x-tls}"])
                .arg(format!("https://127.0.0.1:{port}/moved"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).replace(&port.to_string(), "PORT")
        };
        let theirs = moved(np);
        assert_eq!(theirs, "https://127.0.0.1:PORT/there|https 302");
        assert_eq!(moved(lp), theirs, "{proto}");
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
