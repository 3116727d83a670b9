//! Differential: `limit_conn` (a zone per client address, one per header
//! value with `limit_conn_status`, a dry run): while a slow request holds
//! its place, a second one with the same key is refused and another key
//! is not; once the first has ended its key is free again. The same
//! statuses and error lines as nginx 1.22's; nginx's `-t` errors.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, spawn_backend, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, be: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           limit_conn_zone $binary_remote_addr zone=addr:1m;\n\
           limit_conn_zone $http_x_key zone=bykey:1m;\n\
           server {{ listen 127.0.0.1:{port};\n\
             location /addr/ {{ limit_conn addr 1; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /key/ {{ limit_conn bykey 1; limit_conn_status 429;\n\
               proxy_pass http://127.0.0.1:{be}; }}\n\
             location /dry/ {{ limit_conn bykey 1; limit_conn_dry_run on;\n\
               limit_conn_log_level warn; proxy_pass http://127.0.0.1:{be}; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

/// A backend that answers `/…slow…` after 800 ms, anything else at once.
fn slow_backend() -> u16 {
    spawn_backend(200, |mut s| {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        if String::from_utf8_lossy(&buf[..n]).contains("slow") {
            std::thread::sleep(Duration::from_millis(800));
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    })
}

/// The status of `GET path` from `source` with `key` as `X-Key`.
fn status(port: u16, source: &str, path: &str, key: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .args(["--interface", source, "-H", &format!("X-Key: {key}")])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// While `slow` (source, path, key) is in progress, each of `during`;
/// then each of `after` once it has ended: the statuses in that order.
fn run(port: u16, slow: (&str, &str, &str), during: &[(&str, &str, &str)]) -> Vec<String> {
    let (s, p, k) = (slow.0.to_owned(), slow.1.to_owned(), slow.2.to_owned());
    let first = std::thread::spawn(move || status(port, &s, &p, &k));
    std::thread::sleep(Duration::from_millis(300));
    let mut out: Vec<String> = during
        .iter()
        .map(|(s, p, k)| status(port, s, p, k))
        .collect();
    out.insert(0, first.join().unwrap());
    out.push(status(port, slow.0, slow.1, slow.2).replace("200", "200 after"));
    out
}

#[test]
fn limit_conn_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = slow_backend();
    let mut statuses = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, be),
            port,
            program,
        );
        let mut got = run(
            port,
            ("127.0.0.1", "/addr/slow", ""),
            &[("127.0.0.1", "/addr/b", ""), ("127.0.0.2", "/addr/c", "")],
        );
        got.extend(run(
            port,
            ("127.0.0.1", "/key/slow", "k1"),
            &[
                ("127.0.0.2", "/key/b", "k1"),
                ("127.0.0.1", "/key/c", "k2"),
                ("127.0.0.1", "/key/d", ""),
            ],
        ));
        got.extend(run(
            port,
            ("127.0.0.1", "/dry/slow", "d"),
            &[("127.0.0.1", "/dry/b", "d")],
        ));
        statuses.push(got);
        drop(proc);
        let lines = raw::messages(&dir.path().join(format!("{name}-error.log")), "limiting");
        logs.push(
            lines
                .iter()
                .map(|l| l.replace(&port.to_string(), "PORT"))
                .collect::<Vec<_>>(),
        );
    }
    let want = [
        "200",
        "503",
        "200",
        "200 after",
        "200",
        "429",
        "200",
        "200",
        "200 after",
        "200",
        "200",
        "200 after",
    ];
    assert_eq!(statuses[0], want, "nginx");
    assert_eq!(statuses[1], statuses[0], "ours against nginx");
    assert_eq!(logs[0].len(), 3, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn bad_limit_conn_directives_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for directive in [
        "limit_conn_zone $a zone=one;",
        "limit_conn_zone $a zone=one:1k;",
        "limit_conn_zone $a zone=one:1m; limit_conn one x;",
        "limit_conn_zone $a zone=one:1m; limit_conn one 0;",
        "limit_conn_zone $a zone=one:1m; limit_conn one 1; limit_conn one 2;",
        "limit_conn_zone $a zone=one:1m; limit_conn_zone $b zone=one:1m;",
        "limit_conn_status 300;",
        "limit_conn_log_level loud;",
    ] {
        let conf = format!(
            "events {{}} http {{ {}\n{directive}\n}}\n",
            temp_paths(dir.path())
        );
        support::refused_alike(dir.path(), &conf);
    }
}
