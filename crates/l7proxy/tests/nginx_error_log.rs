//! Differential: the error log lines of upstream failures. nginx 1.22 and
//! l7proxy run the same file whose upstreams have nothing listening; the
//! same requests must write the same messages (after the
//! `TIME [LEVEL] PID#TID: *CID ` head, with the listening port masked):
//! `connect() failed (111: Connection refused) while connecting to
//! upstream, client: …, server: …, request: "…", upstream: "…", host:
//! "…"`, `upstream server temporarily disabled` at `max_fails`, then
//! `no live upstreams`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use netlab::Topology;

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, dead: (u16, u16)) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.main warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           upstream two {{ server 127.0.0.1:{a} max_fails=1 fail_timeout=60;\n\
                          server 127.0.0.1:{b} max_fails=1 fail_timeout=60; }}\n\
           upstream one {{ server 127.0.0.1:{a}; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name one.test two.test;\n\
             error_log {d}/{name}.err warn;\n\
             location / {{ proxy_pass http://two; }}\n\
             location /single/ {{ proxy_pass http://one/x/; }} }} }}\n",
        temp = temp_paths(dir),
        a = dead.0,
        b = dead.1,
    )
}

fn send(port: u16, head: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n").next().unwrap_or("").to_owned()
}

fn get(target: &str, host: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

fn post(target: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: two.test\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\nhi"
    )
}

/// The messages of `path`: the line head cut, the port masked.
fn messages(path: &Path, port: u16) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (head, rest) = l.split_at_checked(20)?;
            let (level, rest) = rest.split_once("] ")?;
            let (_, msg) = rest.split_once(": ")?;
            let msg = msg
                .split_once(' ')
                .filter(|(c, _)| c.starts_with('*'))
                .map_or(msg, |(_, m)| m);
            head.starts_with("20")
                .then(|| format!("{level}] {}", msg.replace(&port.to_string(), "PORT")))
        })
        .collect()
}

fn run(program: &str, dir: &Path, name: &str, dead: (u16, u16)) -> (Vec<String>, Vec<String>) {
    let port = free_port();
    let _p = support::start(dir, name, &conf(dir, name, port, dead), port, program);
    let requests = [
        // Served by hyper (a body; no Host), then by the fast path.
        post("/single/p"),
        "GET /single/q HTTP/1.0\r\n\r\n".to_owned(),
        get("/single/a?b=1", "one.test"),
        get("/first", "two.test"),
        get("/second", "other.test"),
        get("/third", &format!("one.test:{port}")),
        post("/fourth"),
    ];
    let statuses: Vec<String> = requests.iter().map(|r| send(port, r)).collect();
    assert!(
        statuses.iter().all(|s| s.contains(" 502 ")),
        "{name}: {statuses:?}"
    );
    let err = dir.join(format!("{name}.err"));
    let expected = 10;
    Topology::wait_until(Duration::from_secs(3), || {
        messages(&err, port).len() >= expected
    });
    let main = messages(&dir.join(format!("{name}.main")), port);
    (
        messages(&err, port),
        main.into_iter()
            .filter(|m| m.contains("upstream"))
            .collect(),
    )
}

#[test]
fn upstream_failures_are_logged_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let dead = (free_port(), free_port());
    let (theirs, theirs_main) = run(NGINX, dir.path(), "nginx", dead);
    let (ours, ours_main) = run(OURS, dir.path(), "ours", dead);
    assert!(
        theirs.iter().any(|m| m.contains("no live upstreams"))
            && theirs
                .iter()
                .any(|m| m.contains("connect() failed (111: Connection refused)")),
        "the oracle logged {theirs:#?}"
    );
    assert_eq!(
        theirs, ours,
        "server error log: nginx (left) and ours (right)"
    );
    assert!(
        theirs_main.is_empty() && ours_main.is_empty(),
        "the server's lines went to the main log: {theirs_main:?} {ours_main:?}"
    );
}
