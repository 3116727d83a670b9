//! `error_log` files and levels, and `-s reopen`: nginx 1.22 and l7proxy
//! run the same file (an error log at `notice`, another at `warn`, an
//! access log); after the logs are moved away, `-s reopen` makes both
//! write new files at the same paths: the next request's access line and
//! the next reload's notice land there, in nginx's error line format, and
//! the `warn` file never gets a notice.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netlab::Topology;

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid;\n\
         error_log {d}/{name}.err notice; error_log {d}/{name}.warn warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log {d}/{name}.acc;\n\
           server {{ listen 127.0.0.1:{port}; location / {{ return 200 ok; }} }} }}\n",
        temp = temp_paths(dir)
    )
}

fn get(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn signal(program: &str, dir: &Path, name: &str, sig: &str) {
    let ok = Command::new(program)
        .arg("-c")
        .arg(dir.join(format!("{name}.conf")))
        .args(["-s", sig])
        .status()
        .unwrap()
        .success();
    assert!(ok, "{name}: -s {sig} failed");
}

/// nginx's line head: `YYYY/MM/DD HH:MM:SS [LEVEL] PID#TID: `.
fn has_nginx_head(line: &str) -> bool {
    let b = line.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    digits(0..4)
        && b.get(4) == Some(&b'/')
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && b.get(19) == Some(&b' ')
        && b.get(20) == Some(&b'[')
        && line[20..].split_once("] ").is_some_and(|(_, rest)| {
            rest.split_once(": ").is_some_and(|(ids, _)| {
                ids.split_once('#')
                    .is_some_and(|(p, t)| p.parse::<u32>().is_ok() && t.parse::<u32>().is_ok())
            })
        })
}

fn check(program: &str, dir: &Path, name: &str, port: u16) -> Vec<String> {
    let mut wrong = Vec::new();
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    get(port);
    for ext in ["acc", "err"] {
        std::fs::rename(file(ext), file(&format!("{ext}.1"))).unwrap();
    }
    signal(program, dir, name, "reopen");
    let reopened = Topology::wait_until(Duration::from_secs(5), || {
        file("acc").exists() && file("err").exists()
    });
    if !reopened {
        wrong.push(format!("{name}: -s reopen made no new files"));
        return wrong;
    }
    get(port);
    let (old, new) = (read(&file("acc.1")), read(&file("acc")));
    if old.lines().count() != 1 || new.lines().count() != 1 {
        wrong.push(format!("{name}: access lines old {old:?} new {new:?}"));
    }
    signal(program, dir, name, "reload");
    let noticed = Topology::wait_until(Duration::from_secs(5), || {
        read(&file("err")).contains("reconfiguring")
    });
    let err = read(&file("err"));
    let line = err
        .lines()
        .find(|l| l.contains("reconfiguring"))
        .unwrap_or("");
    if !noticed || !has_nginx_head(line) || !line[20..].starts_with("[notice] ") {
        wrong.push(format!(
            "{name}: no reload notice in the reopened log: {err:?}"
        ));
    }
    let warn = read(&file("warn"));
    if warn.contains("[notice]") || warn.contains("[info]") {
        wrong.push(format!("{name}: the warn log has notices: {warn:?}"));
    }
    wrong
}

#[test]
fn error_logs_levels_and_reopen_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (np, lp) = (free_port(), free_port());
    let _n = support::start(d, "nginx", &conf(d, "nginx", np), np, NGINX);
    let _o = support::start(d, "ours", &conf(d, "ours", lp), lp, OURS);
    let theirs = check(NGINX, d, "nginx", np);
    assert!(
        theirs.is_empty(),
        "the oracle disagrees with the test: {theirs:?}"
    );
    let ours = check(OURS, d, "ours", lp);
    assert!(ours.is_empty(), "{ours:?}");
}
