//! Differential: unix-domain upstreams, `server unix:PATH` in an upstream
//! block and `proxy_pass http://unix:PATH:/URI` (and without a URI), on
//! the plain path (GET) and hyper's (POST): the same response heads and
//! the same request at the backend (`Host: localhost` for the URL form);
//! a missing socket gives the same 502 and the same error log lines
//! (`connect() to unix:… failed (2: No such file or directory)` at
//! `crit`, `upstream: "http://unix:…:/uri"`).

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           upstream sock {{ server unix:{d}/be.sock; }}\n\
           upstream gone {{ server unix:{d}/missing.sock; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name u.test;\n\
             location /u/ {{ proxy_pass http://sock; }}\n\
             location /url/ {{ proxy_pass http://unix:{d}/be.sock:/inner/; }}\n\
             location /whole {{ proxy_pass http://unix:{d}/be.sock; }}\n\
             location /gone/ {{ proxy_pass http://unix:{d}/missing.sock:/x/; }}\n\
             location /gone2 {{ proxy_pass http://gone; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: u.test\r\nConnection: close\r\n\r\n")
}

fn post(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: u.test\r\nContent-Length: 2\r\n\
         Connection: close\r\n\r\nhi"
    )
}

#[test]
fn unix_socket_upstreams_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    raw::unix_backend(&dir.path().join("be.sock"));
    let requests: Vec<String> = ["/u/a?x=1", "/url/b", "/whole/c", "/gone/d", "/gone2/e"]
        .iter()
        .flat_map(|p| [get(p), post(p)])
        .collect();
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port),
            port,
            program,
        );
        let got: Vec<_> = requests
            .iter()
            .map(|r| raw::split(&raw::exchange(port, r.as_bytes())))
            .collect();
        answers.push(got);
        drop(proc);
        logs.push(raw::messages(
            &dir.path().join(format!("{name}-error.log")),
            "upstream",
        ));
    }
    // Our error pages name us (a documented difference).
    answers[0].iter_mut().for_each(raw::as_ours);
    let (nginx, ours) = (&answers[0], &answers[1]);
    assert!(
        nginx[2]
            .1
            .contains("GET /inner/b HTTP/1.0\r\nHost: localhost\r\n"),
        "{:?}",
        nginx[2]
    );
    assert!(nginx[6].0.starts_with("HTTP/1.1 502"), "{:?}", nginx[6]);
    let differ = support::differences(nginx, ours, |i| format!("request {i}"));
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(logs[0].len(), 4, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}
