//! Reload under load: `-s reload` with a changed file switches to it with
//! no failed request; a broken file keeps the running configuration;
//! SIGQUIT stops gracefully.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netlab::Topology;

mod support;

fn conf(dir: &std::path::Path, port: u16, version: &str) -> String {
    let d = dir.display();
    format!(
        "worker_processes 2; pid {d}/l7.pid;\nevents {{ worker_connections 256; }}\n\
         http {{ access_log off; server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"{version}\"; }} }} }}\n"
    )
}

/// Outcomes of the load loop.
#[derive(Default)]
struct Tally {
    ok_v1: AtomicUsize,
    ok_v2: AtomicUsize,
    failed: AtomicUsize,
    /// Reused keep-alive connections closed before any response byte,
    /// retried on a new connection (RFC 9112 §9.3.1).
    retried: AtomicUsize,
}

/// One request on `conn` (reconnecting when needed); returns the body.
fn request(port: u16, conn: &mut Option<TcpStream>, tally: &Tally) -> Option<String> {
    for attempt in 0..2 {
        let reused = conn.is_some();
        if conn.is_none() {
            *conn = TcpStream::connect(("127.0.0.1", port)).ok();
        }
        let s = conn.as_mut()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        if s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
            *conn = None;
            if reused && attempt == 0 {
                tally.retried.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return None;
        }
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // A read error ends the response like EOF does.
            let n = s.read(&mut buf).unwrap_or_default();
            if n == 0 {
                *conn = None;
                if data.is_empty() && reused && attempt == 0 {
                    tally.retried.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                return None;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok())?;
                if body.len() >= len {
                    if head.to_ascii_lowercase().contains("connection: close") {
                        *conn = None;
                    }
                    return head
                        .starts_with("HTTP/1.1 200")
                        .then(|| body[..len].to_owned());
                }
            }
        }
    }
    None
}

#[test]
fn reload_switches_configuration_without_failed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let path = dir.path().join("l7.conf");
    std::fs::write(&path, conf(dir.path(), port, "v1")).unwrap();
    let bin = env!("CARGO_BIN_EXE_l7proxy");
    let mut proxy = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(Topology::wait_until(Duration::from_secs(5), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    }));

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (tally, stop) = (Arc::clone(&tally), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut conn = None;
                let end = Instant::now() + Duration::from_secs(20);
                for _ in 0..200_000 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > end {
                        break;
                    }
                    match request(port, &mut conn, &tally).as_deref() {
                        Some("v1") => tally.ok_v1.fetch_add(1, Ordering::Relaxed),
                        Some("v2") => tally.ok_v2.fetch_add(1, Ordering::Relaxed),
                        _ => tally.failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // Reload with a new body, the way an operator does.
    std::fs::write(&path, conf(dir.path(), port, "v2")).unwrap();
    let reload = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .args(["-s", "reload"])
        .status()
        .unwrap();
    assert!(reload.success(), "-s reload failed");
    let switched = Topology::wait_until(Duration::from_secs(10), || {
        tally.ok_v2.load(Ordering::Relaxed) > 100
    });
    // A broken file: the running configuration stays.
    std::fs::write(
        &path,
        "events {} http { server { listen 127.0.0.1:1; location / { return 200 \"v3\" } } }",
    )
    .unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &proxy.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let v2_before_quit = tally.ok_v2.load(Ordering::Relaxed);
    let _ = Command::new("kill")
        .args(["-QUIT", &proxy.id().to_string()])
        .status();
    let exited = Topology::wait_until(Duration::from_secs(10), || {
        proxy.try_wait().ok().flatten().is_some()
    });
    let _ = proxy.kill();
    let status = proxy.wait().unwrap();
    let mut stderr = String::new();
    let _ = proxy.stderr.take().unwrap().read_to_string(&mut stderr);
    let (v1, failed, retried) = (
        tally.ok_v1.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.retried.load(Ordering::Relaxed),
    );
    eprintln!("v1 {v1}, v2 {v2_before_quit}, failed {failed}, retried {retried}");
    assert!(
        switched,
        "the new configuration never answered; v1 {v1} v2 {v2_before_quit}\n{stderr}"
    );
    assert!(v1 > 100, "too little load before the reload: {v1}");
    assert_eq!(failed, 0, "requests failed during reload\n{stderr}");
    assert!(
        stderr.contains("keeping the running configuration"),
        "the broken file was not refused:\n{stderr}"
    );
    assert!(
        exited && status.success(),
        "SIGQUIT did not stop it cleanly: {status:?}\n{stderr}"
    );
}
