//! Differential: `stub_status` against nginx 1.22: the page's text (its
//! figures masked), how the figures move across a known sequence
//! (connections accepted, handled and active, requests, in progress and
//! waiting, with a keep-alive connection left open), and the answers to
//! HEAD and POST.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

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
           server {{ listen 127.0.0.1:{port};\n\
             location = /status {{ stub_status; }}\n\
             location /p {{ proxy_pass http://127.0.0.1:{be}; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn request(method: &str, path: &str, close: bool) -> String {
    let body = if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    let connection = if close { "close" } else { "keep-alive" };
    format!("{method} {path} HTTP/1.1\r\nHost: s\r\n{body}Connection: {connection}\r\n\r\n")
}

/// One front's answers: the first page, the second, HEAD, POST.
struct Run {
    first: (String, String),
    second: (String, String),
    head: (String, String),
    post: (String, String),
}

/// The seven figures of a status page.
fn figures(page: &str) -> Vec<i64> {
    page.split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect()
}

#[test]
fn stub_status_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = raw::tcp_backend();
    let mut runs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, be),
            port,
            program,
        );
        // Let the start-up probe's connection close.
        std::thread::sleep(Duration::from_millis(300));
        let first = raw::split(&raw::exchange(
            port,
            request("GET", "/status", true).as_bytes(),
        ));
        // A keep-alive connection with one proxied request, left open.
        let mut open = TcpStream::connect(("127.0.0.1", port)).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        open.write_all(request("GET", "/p", false).as_bytes())
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = open.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{name}");
        std::thread::sleep(Duration::from_millis(200));
        let second = raw::split(&raw::exchange(
            port,
            request("GET", "/status", true).as_bytes(),
        ));
        let head = raw::split(&raw::exchange(
            port,
            request("HEAD", "/status", true).as_bytes(),
        ));
        let post = raw::split(&raw::exchange(
            port,
            request("POST", "/status", true).as_bytes(),
        ));
        drop(open);
        drop(proc);
        runs.push(Run {
            first,
            second,
            head,
            post,
        });
    }
    let masked = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { 'N' } else { c })
            .collect()
    };
    let (n, o) = (&runs[0], &runs[1]);
    assert!(
        n.second.1.starts_with("Active connections: 2 \n"),
        "{:?}",
        n.second
    );
    // The page's text and head, figures masked.
    assert_eq!(masked(&o.second.0), masked(&n.second.0), "head");
    assert_eq!(masked(&o.second.1), masked(&n.second.1), "page");
    // Active, then accepts/handled/requests as moved since the first page,
    // then reading, writing, waiting.
    let delta = |r: &Run| {
        let (f, s) = (figures(&r.first.1), figures(&r.second.1));
        vec![
            s[0],
            s[1] - f[1],
            s[2] - f[2],
            s[3] - f[3],
            s[4],
            s[5],
            s[6],
        ]
    };
    assert_eq!(delta(n), [2, 2, 2, 2, 0, 1, 1], "nginx: {:?}", n.second.1);
    assert_eq!(delta(o), delta(n), "ours: {:?}", o.second.1);
    assert_eq!(masked(&o.head.0), masked(&n.head.0), "HEAD");
    assert_eq!(o.head.1, "", "HEAD has no body");
    let mut post = n.post.clone();
    raw::as_ours(&mut post);
    assert!(post.0.starts_with("HTTP/1.1 405 "), "{post:?}");
    assert_eq!(o.post, post, "POST");
}
