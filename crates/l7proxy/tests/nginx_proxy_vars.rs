//! Differential: variables in `proxy_pass`. The evaluated host names an
//! upstream group (`upstream` blocks without a port, case-insensitively;
//! the group of a static `proxy_pass` URL by host and port), with or
//! without a URI part (which then replaces the request's URI, arguments
//! and all); an address (`127.0.0.1:PORT`, `[::1]:PORT`) is a one-peer
//! upstream of its own; anything else needs a `resolver`: without one, 502 and
//! nginx's `no resolver defined to resolve NAME`; an empty host, 500 and
//! `invalid URL prefix in "http://"`. Same answers, same requests at the
//! backends and the same error lines as nginx, on both paths.

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{backend, free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, a: u16, b: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           upstream pool_a {{ server 127.0.0.1:{a}; }}\n\
           upstream pool_b {{ server 127.0.0.1:{b}; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name v.test;\n\
             location / {{ proxy_pass http://$http_x_pool; }}\n\
             location /static/ {{ proxy_pass http://127.0.0.1:{b}/; }}\n\
             location /echo/u/ {{ proxy_pass http://$http_x_pool/echo/fixed; }}\n\
             location /echo/h/ {{ proxy_pass http://$host; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn request(method: &str, path: &str, host: &str, extra: &str) -> String {
    let body = if method == "POST" {
        "Content-Length: 2\r\n"
    } else {
        ""
    };
    let tail = if method == "POST" { "hi" } else { "" };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}{body}Connection: close\r\n\r\n{tail}"
    )
}

#[test]
fn proxy_pass_variables_name_upstream_groups_as_in_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend("a"), backend("b"));
    let mut requests = Vec::new();
    for method in ["GET", "POST"] {
        for (path, host, extra) in [
            ("/echo/x?y=1", "v.test", "X-Pool: pool_a\r\n"),
            ("/echo/x", "v.test", "X-Pool: POOL_B\r\n"),
            (
                "/echo/p",
                "v.test",
                format!("X-Pool: 127.0.0.1:{b}\r\n").leak() as &str,
            ),
            ("/x", "v.test", "X-Pool: pool_a:80\r\n"),
            ("/x", "v.test", "X-Pool: other.example\r\n"),
            ("/x", "v.test", ""),
            ("/echo/u/x?y=1", "v.test", "X-Pool: pool_b\r\n"),
            ("/echo/h/x?z", "pool_a", ""),
            // An address that is no group's: a one-peer upstream of its own.
            (
                "/echo/l?q",
                "v.test",
                format!("X-Pool: 127.0.0.1:{a}\r\n").leak() as &str,
            ),
            (
                "/echo/u/x",
                "v.test",
                format!("X-Pool: 127.0.0.1:{a}\r\n").leak() as &str,
            ),
            // Nothing listens there: nginx's connect() error.
            (
                "/x",
                "v.test",
                format!("X-Pool: [::1]:{a}\r\n").leak() as &str,
            ),
        ] {
            requests.push(request(method, path, host, extra));
        }
    }
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let conf = conf(dir.path(), name, port, a, b);
        let proc = support::start(dir.path(), name, &conf, port, program);
        let got: Vec<_> = requests
            .iter()
            .map(|r| raw::split(&raw::exchange(port, r.as_bytes())))
            .collect();
        answers.push(got);
        drop(proc);
        let log = dir.path().join(format!("{name}-error.log"));
        logs.push(raw::messages(&log, "client:"));
    }
    answers[0].iter_mut().for_each(raw::as_ours);
    let (nginx, ours) = (&answers[0], &answers[1]);
    assert!(
        nginx[1]
            .1
            .starts_with("b\nGET /echo/x HTTP/1.0\r\nHost: POOL_B\r\n"),
        "{:?}",
        nginx[1]
    );
    assert!(
        nginx[6].1.starts_with("b\nGET /echo/fixed HTTP/1.0\r\n"),
        "{:?}",
        nginx[6]
    );
    let differ = support::differences(nginx, ours, |i| format!("request {i}"));
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(
        nginx[8].1.starts_with("a\nGET /echo/l?q HTTP/1.0\r\n"),
        "{:?}",
        nginx[8]
    );
    assert_eq!(logs[0].len(), 8, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}
