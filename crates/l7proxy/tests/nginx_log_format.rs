//! Differential: `log_format` (default, `escape=json`, `escape=none`) and
//! `access_log … if=`, with most of nginx's common variables, for GETs
//! (our plain path), a POST (hyper's) and a failing upstream, pipelined on
//! one connection then on a second one. Values that legitimately differ
//! are masked: times (digits in `[…]` fields), the listening port, the
//! pid, and `$bytes_sent` by the length of `Server: nginx/1.22.1` over
//! `Server: l7proxy` (5 bytes) and of the error page's signature (5 more).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

mod support;
use support::{backend, free_port, require_nginx, temp_paths, NGINX, OURS};

const ALL: &str = "$remote_addr|$remote_user|[$time_local]|[$time_iso8601]|[$msec]|\"$request\"|\
$request_method|$request_uri|$uri|$args|$arg_b|$status|$body_bytes_sent|B$bytes_sent|\
$http_x_test|$cookie_c|[$request_time]|$upstream_addr|$upstream_status|\
[$upstream_response_time]|$host|$server_name|$scheme|$server_protocol|$server_port|\
$connection|$connection_requests|[$pid]";

fn conf(dir: &Path, name: &str, port: u16, be: u16, dead: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp}\n\
           log_format all '{ALL}';\n\
           log_format js escape=json '{{\"r\":\"$request\",\"x\":\"$http_x_test\",\"u\":\"$remote_user\",\"a\":\"$arg_none\"}}';\n\
           log_format raw escape=none \"$request $http_x_test\";\n\
           access_log {d}/{name}-all.log all;\n\
           access_log {d}/{name}-js.log js;\n\
           access_log {d}/{name}-raw.log raw if=$arg_log;\n\
           upstream dead {{ server 127.0.0.1:{dead}; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name l.test;\n\
             location / {{ proxy_pass http://127.0.0.1:{be}; }}\n\
             location /dead {{ proxy_pass http://dead; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

const FIRST: &[u8] = b"GET /echo/a?b=1&log=1 HTTP/1.1\r\nHost: l.test\r\nX-Test: t\"q\\\r\n\
Cookie: a=1; c=zz\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n\
POST /echo/p?log=0 HTTP/1.1\r\nHost: L.test:1\r\nContent-Length: 2\r\nX-Test: \xe9\tz\r\n\r\nhi\
GET /dead/x HTTP/1.1\r\nHost: l.test\r\nConnection: close\r\n\r\n";

const SECOND: &[u8] = b"GET /echo/2 HTTP/1.1\r\nConnection: close\r\nHost: other\r\n\r\n";

fn send(port: u16, bytes: &[u8]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
}

/// The lines of a log, masked: digits inside `[…]`, the port, and the
/// Server header's share of `$bytes_sent` (`extra` bytes; more for error
/// pages, whose signature is longer too).
fn lines(path: &Path, port: u16, extra: u64) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let mut out = String::new();
            let mut inside = false;
            // nginx's error page is 5 bytes longer (its signature).
            let l = if extra > 0 {
                l.replace("|502|157|", "|502|152|")
            } else {
                l.to_owned()
            };
            for c in l.replace(&port.to_string(), "PORT").chars() {
                match c {
                    '[' => inside = true,
                    ']' => inside = false,
                    _ => {}
                }
                out.push(if inside && c.is_ascii_digit() { 'D' } else { c });
            }
            let fields: Vec<String> = out
                .split('|')
                .map(
                    |f| match f.strip_prefix('B').and_then(|n| n.parse::<u64>().ok()) {
                        Some(n) => {
                            let page = if extra > 0 && l.contains("|502|") {
                                5
                            } else {
                                0
                            };
                            format!("B{}", n - extra - page)
                        }
                        None => f.to_owned(),
                    },
                )
                .collect();
            fields.join("|")
        })
        .collect()
}

#[test]
fn log_formats_write_what_nginx_writes() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = backend("b");
    let dead = free_port();
    let mut logs = Vec::new();
    for (name, program, extra) in [("nginx", NGINX, 5), ("ours", OURS, 0)] {
        let port = free_port();
        let conf = conf(dir.path(), name, port, be, dead);
        let proc = support::start(dir.path(), name, &conf, port, program);
        send(port, FIRST);
        send(port, SECOND);
        drop(proc);
        let mut all = Vec::new();
        for log in ["all", "js", "raw"] {
            let path = dir.path().join(format!("{name}-{log}.log"));
            all.push(lines(&path, port, extra));
        }
        logs.push(all);
    }
    let (nginx, ours) = (&logs[0], &logs[1]);
    assert_eq!(nginx[0].len(), 4, "{:#?}", nginx[0]);
    assert_eq!(nginx[2].len(), 1, "{:#?}", nginx[2]);
    for (i, (n, o)) in nginx.iter().zip(ours).enumerate() {
        assert_eq!(n, o, "log {i}");
    }
}

/// The `[emerg]` message of `-t` on `conf` (nginx's pid and time cut).
fn refusal(program: &str, dir: &Path, conf: &str) -> String {
    let path = dir.join("bad.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = std::process::Command::new(program);
    if program == NGINX {
        cmd.arg("-p").arg(dir).arg("-e").arg(dir.join("t.log"));
    }
    let out = cmd.arg("-t").arg("-c").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = text.lines().find(|l| l.contains("[emerg]")).unwrap_or("");
    let msg = line.split_once("[emerg] ").map_or("", |(_, m)| m);
    msg.split_once('#')
        .and_then(|(pid, rest)| pid.chars().all(|c| c.is_ascii_digit()).then_some(rest))
        .and_then(|rest| rest.split_once(": "))
        .map_or(msg, |(_, m)| m)
        .to_owned()
}

#[test]
fn bad_log_formats_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    for http in [
        format!("access_log {d}/x.log nope;"),
        format!("log_format f '$nope_var x'; access_log {d}/x.log f;"),
        "log_format f escape=xml 'x';".to_owned(),
        "log_format f 'x'; log_format f 'y';".to_owned(),
        "log_format combined 'x';".to_owned(),
        format!(
            "server {{ listen 127.0.0.1:{}; access_log {d}/y.log other; }}",
            free_port()
        ),
    ] {
        let conf = format!(
            "events {{}}\nhttp {{ {} {http} }}\n",
            temp_paths(dir.path())
        );
        let theirs = refusal(NGINX, dir.path(), &conf);
        assert!(!theirs.is_empty(), "{conf}");
        assert_eq!(theirs, refusal(OURS, dir.path(), &conf), "{conf}");
    }
}

/// `set` variables in a format: their value at the request's end, empty
/// where the request set none (a location without the `set`, an `if`
/// that did not hold: nginx's uninitialized value, not `-`), a later
/// `set` winning; names in any case.
#[test]
fn set_variables_are_logged_as_nginx_logs_them() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = backend("b");
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ {temp}\n\
               log_format sets '$uri|$who|$Tag|$nope_set';\n\
               log_format js escape=json '{{\"who\":\"$who\"}}';\n\
               access_log {d}/{name}-sets.log sets;\n\
               access_log {d}/{name}-js.log js;\n\
               server {{ listen 127.0.0.1:{port}; server_name l.test; set $tag server;\n\
                 location /x {{ set $who \"x-$arg_q\"; set $who \"$who!\"; proxy_pass http://127.0.0.1:{be}; }}\n\
                 location /if {{ if ($arg_q) {{ set $who cond; }} return 204; }}\n\
                 location /r {{ return 200 plain; }}\n\
                 location /later {{ set $nope_set 1; return 204; }} }} }}\n",
            temp = temp_paths(dir.path()),
        );
        let proc = support::start(dir.path(), name, &conf, port, program);
        for target in ["/x?q=1", "/x", "/if?q=1", "/if", "/r", "/later"] {
            let req = format!("GET {target} HTTP/1.1\r\nHost: l.test\r\nConnection: close\r\n\r\n");
            send(port, req.as_bytes());
        }
        drop(proc);
        let read = |f: &str| {
            std::fs::read_to_string(dir.path().join(format!("{name}-{f}.log"))).unwrap_or_default()
        };
        logs.push((read("sets"), read("js")));
    }
    assert!(
        logs[0].0.starts_with("/x|x-1!|server|\n/x|x-!|"),
        "{}",
        logs[0].0
    );
    assert!(logs[0].0.contains("\n/if||server|\n"), "{}", logs[0].0);
    assert!(logs[0].1.contains("{\"who\":\"\"}"), "{}", logs[0].1);
    assert_eq!(logs[0], logs[1]);
}
