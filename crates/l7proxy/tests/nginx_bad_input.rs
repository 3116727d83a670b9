//! Differential: malformed and oversized requests get the same status line
//! from nginx 1.22 and from l7proxy (same file, same backend). Cases where
//! hyper's parser answers before our code runs are listed in
//! docs/l7proxy.md and not here.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

mod support;
use support::{free_port, require_nginx, Proc, NGINX, OURS};

fn start(dir: &Path, name: &str, front: u16, backend: u16, program: &str) -> Proc {
    let d = dir.display();
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{ access_log off; client_body_temp_path {d}/cb; proxy_temp_path {d}/pt;\n\
           fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
           upstream be {{ server 127.0.0.1:{backend}; }}\n\
           server {{ listen 127.0.0.1:{front}; location / {{ proxy_pass http://be; }} }} }}\n"
    );
    support::start(dir, name, &conf, front, program)
}

/// The status line and `Connection` header answering `raw`. The client does not half-close: nginx
/// takes that as an abort (499) and answers nothing for proxied requests.
fn status_line(port: u16, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(raw);
    // Read until the response is complete (head + Content-Length), not to
    // EOF: after a 413 nginx lingers 5 s reading the rest of the body.
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| data.len() >= end + 4 + n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&data);
    let status = text.split("\r\n").next().unwrap_or("");
    let connection = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("connection:"))
        .unwrap_or("");
    format!("{status} | {connection}")
}

#[test]
fn malformed_requests_get_nginx_s_status() {
    require_nginx();
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let bport = backend.local_addr().unwrap().port();
    std::thread::spawn(move || netlab::http::serve(&backend, "b1"));
    let dir = tempfile::tempdir().unwrap();
    let (np, lp) = (free_port(), free_port());
    let _n = start(dir.path(), "nginx", np, bport, NGINX);
    let _o = start(dir.path(), "ours", lp, bport, OURS);
    let long = |n: usize, c: u8| vec![c; n];
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "request line over 8k",
            [
                b"GET /".as_slice(),
                &long(9000, b'a'),
                b" HTTP/1.1\r\nHost: x\r\n\r\n",
            ]
            .concat(),
        ),
        (
            "header line over 8k",
            [
                b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".as_slice(),
                &long(9000, b'b'),
                b"\r\n\r\n",
            ]
            .concat(),
        ),
        (
            "duplicate differing Content-Length",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
                .to_vec(),
        ),
        ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("bad method", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "target not origin-form",
            b"GET foo HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "dot segments above the root",
            b"GET /../x HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "body over client_max_body_size",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nddd".to_vec(),
        ),
        (
            "non-numeric Content-Length",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
        ),
        (
            "space in a header name",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n".to_vec(),
        ),
        (
            "TLS bytes on the plain port",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(),
        ),
        (
            "bare LF line ends",
            b"GET / HTTP/1.1\nHost: x\nConnection: close\n\n".to_vec(),
        ),
        (
            "a good request",
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        ),
    ];
    let mut headers = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..6 {
        headers.extend_from_slice(format!("X-H{i}: ").as_bytes());
        headers.extend_from_slice(&long(7000, b'c'));
        headers.extend_from_slice(b"\r\n");
    }
    headers.extend_from_slice(b"\r\n");
    cases.push(("headers over 32k in all", headers));
    let mut diffs = Vec::new();
    for (name, raw) in &cases {
        let (theirs, ours) = (status_line(np, raw), status_line(lp, raw));
        if theirs != ours || theirs.is_empty() {
            diffs.push(format!("{name}: nginx {theirs:?}, ours {ours:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} differ:\n{}",
        diffs.len(),
        cases.len(),
        diffs.join("\n")
    );
}
