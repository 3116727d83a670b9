//! Differential: a WebSocket-style upgrade through nginx 1.22 and through
//! l7proxy, configured as nginx documents (HTTP/1.1 upstream, `Upgrade` and
//! `Connection` set headers): the same 101 head, then bytes both ways.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

mod support;
use support::{free_port, require_nginx, Proc, NGINX, OURS};

fn start(dir: &Path, name: &str, front: u16, backend: u16, program: &str) -> Proc {
    let d = dir.display();
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{ access_log off; client_body_temp_path {d}/cb; proxy_temp_path {d}/pt;\n\
           fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
           upstream be {{ server 127.0.0.1:{backend}; }}\n\
           server {{ listen 127.0.0.1:{front};\n\
             location /upgrade {{ proxy_pass http://be; proxy_http_version 1.1;\n\
               proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; }}\n\
             location /plain {{ proxy_pass http://be; }} }} }}\n"
    );
    support::start(dir, name, &conf, front, program)
}

/// The response head (status line and the Upgrade/Connection headers,
/// lower-cased names), then what came back for each message sent.
fn session(port: u16, target: &str, messages: &[&str]) -> Vec<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let mut out = vec![head
        .lines()
        .filter(|l| {
            l.starts_with("http/") || l.starts_with("upgrade:") || l.starts_with("connection:")
        })
        .collect::<Vec<_>>()
        .join(" | ")];
    if head.starts_with("http/1.1 101") {
        for m in messages {
            s.write_all(m.as_bytes()).unwrap();
            let mut buf = vec![0u8; m.len()];
            out.push(match s.read_exact(&mut buf) {
                Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
                Err(e) => format!("read failed: {e}"),
            });
        }
    }
    out
}

#[test]
fn upgrades_tunnel_like_nginx() {
    require_nginx();
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let bport = backend.local_addr().unwrap().port();
    std::thread::spawn(move || netlab::http::serve(&backend, "b1"));
    let dir = tempfile::tempdir().unwrap();
    let (np, lp) = (free_port(), free_port());
    let _n = start(dir.path(), "nginx", np, bport, NGINX);
    let _o = start(dir.path(), "ours", lp, bport, OURS);
    let messages = ["hello", "second message", &"x".repeat(20_000)];
    let theirs = session(np, "/upgrade/ws", &messages);
    let ours = session(lp, "/upgrade/ws", &messages);
    assert!(
        theirs[0].starts_with("http/1.1 101"),
        "nginx did not upgrade: {theirs:?}"
    );
    assert_eq!(theirs.len(), 4);
    let short = |v: &[String]| {
        v.iter()
            .map(|s| format!("{} ({} bytes)", &s[..s.len().min(80)], s.len()))
            .collect::<Vec<_>>()
    };
    assert!(
        theirs == ours,
        "nginx {:?}\nours  {:?}",
        short(&theirs),
        short(&ours)
    );
    // Without the set headers the Upgrade is dropped (1.22's default): a
    // plain answer from the backend, no tunnel, for both.
    let (tp, op) = (session(np, "/plain", &[]), session(lp, "/plain", &[]));
    assert!(
        tp == op,
        "plain: nginx {:?}\nours  {:?}",
        short(&tp),
        short(&op)
    );
}
