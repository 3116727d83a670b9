//! Differential: `client_max_body_size` at the http, server and location
//! levels (inherited where a level sets none; 0: no limit). A declared
//! length over the location's limit gets 413 before the body is read
//! (and before a location's `return`, not before a server's), a chunked
//! body is cut at the chunk that crosses it; the same answers and the same
//! error lines from nginx 1.22 and from l7proxy.

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, backend: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off; client_max_body_size 8k;\n\
           server {{ listen 127.0.0.1:{port}; server_name b.test;\n\
             location / {{ proxy_pass http://127.0.0.1:{backend}; }}\n\
             location /big/ {{ client_max_body_size 32K; proxy_pass http://127.0.0.1:{backend}; }}\n\
             location /any/ {{ client_max_body_size 0; proxy_pass http://127.0.0.1:{backend}; }}\n\
             location /small/ {{ client_max_body_size 2k; proxy_pass http://127.0.0.1:{backend}; }}\n\
             location /ret/ {{ return 204; }} }}\n\
           server {{ listen 127.0.0.1:{port}; server_name r.test; return 200 \"server level\"; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name s.test; client_max_body_size 100;\n\
             location / {{ proxy_pass http://127.0.0.1:{backend}; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn post(host: &str, path: &str, len: usize) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    r.resize(r.len() + len, b'b');
    r
}

/// A chunked body of `chunks` chunks of `size` bytes, sent in one write.
fn chunked(path: &str, chunks: usize, size: usize) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: b.test\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..chunks {
        r.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        r.resize(r.len() + size, b'c');
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

#[test]
fn client_max_body_size_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let backend = raw::tcp_backend();
    let expect = b"POST /big/e HTTP/1.1\r\nHost: b.test\r\nContent-Length: 40000\r\n\
                   Expect: 100-continue\r\nConnection: close\r\n\r\n"
        .to_vec();
    let requests: Vec<(&str, Vec<u8>, &str)> = vec![
        ("at the http limit", post("b.test", "/a", 8192), "200"),
        ("over the http limit", post("b.test", "/a", 8193), "413"),
        (
            "location raises it",
            post("b.test", "/big/b", 20_000),
            "200",
        ),
        (
            "over the location's",
            post("b.test", "/big/c", 40_000),
            "413",
        ),
        ("0: no limit", post("b.test", "/any/d", 100_000), "200"),
        (
            "before a location's return",
            post("b.test", "/ret/x", 9000),
            "413",
        ),
        ("after a server's return", post("r.test", "/", 9000), "200"),
        ("server level", post("s.test", "/s", 101), "413"),
        ("server level, within", post("s.test", "/s", 100), "200"),
        ("100-continue over the limit", expect, "413"),
        ("chunked within", chunked("/small/f", 2, 1000), "200"),
        ("chunked over", chunked("/small/g", 3, 1000), "413"),
    ];
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, backend),
            port,
            program,
        );
        let got: Vec<_> = requests
            .iter()
            .map(|(_, r, _)| raw::split(&raw::exchange(port, r)))
            .collect();
        answers.push(got);
        drop(proc);
        logs.push(raw::messages(
            &dir.path().join(format!("{name}-error.log")),
            "client intended",
        ));
    }
    let (nginx, ours) = answers.split_at_mut(1);
    raw::assert_answers(
        requests.iter().map(|(case, _, status)| (*case, *status)),
        &mut nginx[0],
        &ours[0],
    );
    // One line per 413, the chunked one naming the chunks before and the
    // crossing chunk's size.
    assert_eq!(logs[0].len(), 6, "{:#?}", logs[0]);
    assert!(
        logs[0][5].contains("too large chunked body: 2000+1000 bytes"),
        "{:#?}",
        logs[0]
    );
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn a_bad_client_max_body_size_is_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for value in ["1x", "-1", "k", "9223372036854775808", "8589934592g"] {
        let conf = format!(
            "events {{}} http {{ {} client_max_body_size {value}; }}\n",
            temp_paths(dir.path())
        );
        let line = support::refused_alike(dir.path(), &conf);
        assert!(
            line.starts_with("\"client_max_body_size\" directive invalid value in "),
            "{value}: {line}"
        );
    }
}
