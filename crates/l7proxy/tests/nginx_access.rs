//! Differential: `allow` and `deny` at the server and location levels
//! (a level with rules replaces its parent's; the first covering rule
//! decides; checked after the rewrite module, so a location's `return`
//! answers first), for clients on four loopback addresses: the same
//! answers and the same `access forbidden by rule` lines as nginx 1.22's;
//! bad addresses refused with nginx's `-t` error.

use std::path::Path;
use std::process::Command;

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
             allow 127.0.0.2; deny 127.0.0.0/30; allow all;\n\
             location / {{ proxy_pass http://127.0.0.1:{be}; }}\n\
             location /open/ {{ allow all; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /closed/ {{ deny all; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /ret/ {{ deny all; return 200 \"rewrite phase first\"; }}\n\
             location /v6/ {{ deny 2001:db8::/32; allow 127.0.0.3; deny all;\n\
               proxy_pass http://127.0.0.1:{be}; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

/// `METHOD path` from `source` with curl: the answer's head and body.
fn fetch(port: u16, source: &str, method: &str, path: &str) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-i",
            "--max-time",
            "5",
            "--interface",
            source,
            "-X",
            method,
        ])
        .args(["-H", "User-Agent: t", "-H", "Accept:"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    raw::split(&out.stdout)
}

#[test]
fn allow_and_deny_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = raw::tcp_backend();
    let sources = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.5"];
    let paths = ["/x", "/open/", "/closed/", "/ret/", "/v6/"];
    let mut answers = Vec::new();
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
        let mut got = Vec::new();
        for source in sources {
            for path in paths {
                for method in ["GET", "POST"] {
                    let (head, body) = fetch(port, source, method, path);
                    // The backend echoes the request: its Host names the port.
                    got.push((head, body.replace(&port.to_string(), "PORT")));
                }
            }
        }
        answers.push(got);
        drop(proc);
        let lines = raw::messages(&dir.path().join(format!("{name}-error.log")), "forbidden");
        logs.push(
            lines
                .iter()
                .map(|l| l.replace(&port.to_string(), "PORT"))
                .collect::<Vec<_>>(),
        );
    }
    answers[0].iter_mut().for_each(raw::as_ours);
    let status = |i: usize| answers[0][i].0.lines().next().unwrap_or("").to_owned();
    // nginx's own answers show the rules at work (GET requests):
    // 127.0.0.1 is denied at the server level, 127.0.0.2 allowed first.
    assert!(status(0).contains(" 403 "), "{}", status(0));
    assert!(status(10).contains(" 200 "), "{}", status(10));
    assert!(status(2).contains(" 200 "), "{}", status(2));
    assert!(status(4).contains(" 403 "), "{}", status(4));
    assert!(status(6).contains(" 200 "), "{}", status(6));
    assert!(status(28).contains(" 200 "), "{}", status(28));
    assert!(status(38).contains(" 403 "), "{}", status(38));
    let differ = support::differences(&answers[0], &answers[1], |i| format!("request {i}"));
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(logs[0].len() >= 10, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn bad_rules_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for rule in [
        "allow 10.0.0.300;",
        "deny 10.0.0.0/33;",
        "allow foo;",
        "deny ::1/129;",
    ] {
        support::refused_in_http(dir.path(), rule);
    }
}
