//! Differential: `worker_connections 16` with two listening ports, so 13
//! places for connections (nginx's table also holds the worker's two
//! listening sockets and its channel to the master; nginx runs here with
//! its master process, as in production). Client and upstream connections
//! both count. What clients observe must be nginx's:
//!
//! * idle connections are closed, oldest first, to make room for new ones
//!   ("reusing connections"), and the rest still serve;
//! * with every place taken by requests in progress, a new connection is
//!   closed at once and a request that needs an upstream connection gets
//!   500; the requests in progress finish normally.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netlab::Topology;
use rustls_pki_types::pem::PemObject;

mod support;
use support::{free_port, require_nginx, NGINX, OURS};

/// A server under test, stopped when dropped (nginx's master by SIGTERM,
/// so that it stops its worker too).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, name: &str, port: u16, gate: u16, program: &str) -> Server {
    let d = dir.display();
    let spare = free_port();
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.log warn;\n\
         events {{ worker_connections 16; }}\n\
         http {{ access_log off; {temp}\n\
           server {{ listen 127.0.0.1:{port}; listen 127.0.0.1:{spare};\n\
             location /slow {{ proxy_pass http://127.0.0.1:{gate}; }}\n\
             location / {{ return 200 \"ok\\n\"; }} }} }}\n",
        temp = support::temp_paths(dir),
    );
    start_with(dir, name, &conf, program)
}

/// Starts `program` on `conf` (nginx with its master process) and waits
/// for its pid file.
fn start_with(dir: &Path, name: &str, conf: &str, program: &str) -> Server {
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(program);
    if program == NGINX {
        cmd.arg("-p").arg(dir).arg("-e").arg(dir.join("stderr.log"));
    }
    cmd.arg("-g")
        .arg("daemon off;")
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = Server(cmd.spawn().unwrap());
    // Wait for the port by the pid file (a probing connection would take
    // a place in the table).
    let up = Topology::wait_until(Duration::from_secs(5), || {
        dir.join(format!("{name}.pid")).exists()
    });
    assert!(up, "{name} did not start");
    std::thread::sleep(Duration::from_millis(200));
    server
}

/// An upstream that holds every request until `open` is set, then
/// answers `held` and closes.
/// The gate's state: open or not, and how many requests it holds.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    held: AtomicUsize,
}

fn gate(open: Arc<Gate>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let open = Arc::clone(&open);
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                open.held.fetch_add(1, Ordering::Relaxed);
                let deadline = Instant::now() + Duration::from_secs(10);
                while !open.open.load(Ordering::Relaxed) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nheld\n",
                );
            });
        }
    });
    port
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    s
}

/// Whether the server has closed `s` (end of stream or reset), without
/// waiting.
fn closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let r = match (&*s).read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    r
}

/// The status line and body of the answer to `request` on `s`, or
/// "closed".
fn ask(s: &mut TcpStream, request: &str) -> String {
    if s.write_all(request.as_bytes()).is_err() {
        return "closed".to_owned();
    }
    answer(s)
}

fn answer(s: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&data);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .to_ascii_lowercase()
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length: ").map(str::to_owned))
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    if data.is_empty() {
        return "closed".to_owned();
    }
    let text = String::from_utf8_lossy(&data);
    let status = text.split("\r\n").next().unwrap_or("").to_owned();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Error pages differ in the server's name.
    let body = if body.contains("<html>") {
        "page"
    } else {
        body.trim()
    };
    format!("{status} {body}")
}

const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const SLOW: &str = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";

/// The scenario; returns what the clients observed, step by step.
fn scenario(port: u16, open: &Gate) -> Vec<String> {
    let mut seen = Vec::new();
    // 1. Twenty idle connections for 13 places: the oldest are closed.
    let mut idle: Vec<TcpStream> = (0..20).map(|_| connect(port)).collect();
    let mut fresh = connect(port);
    seen.push(format!("new client: {}", ask(&mut fresh, GET)));
    let gone = settle(idle.len(), |i| closed(&idle[i]));
    seen.push(format!("idle ones closed: {gone:?}"));
    let kept = (0..idle.len()).find(|i| !gone.contains(i)).unwrap_or(0);
    seen.push(format!("a kept one: {}", ask(&mut idle[kept], GET)));
    drop(idle);
    drop(fresh);
    std::thread::sleep(Duration::from_millis(300));

    // 2. Six requests in progress (client + upstream: 12 places) and one
    //    connection with half a request head (13).
    open.held.store(0, Ordering::Relaxed);
    let mut busy: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut s = connect(port);
            s.write_all(SLOW.as_bytes()).unwrap();
            s
        })
        .collect();
    // All six upstream connections made (not a guess by time).
    let held = Topology::wait_until(Duration::from_secs(5), || {
        open.held.load(Ordering::Relaxed) >= 6
    });
    assert!(held, "the six requests did not reach the upstream");
    let mut half = connect(port);
    half.write_all(b"GET /slow HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // No room, nothing idle: closed at once.
    let mut refused = connect(port);
    seen.push(format!("client over the limit: {}", ask(&mut refused, GET)));
    // The half request needs an upstream connection: 500.
    seen.push(format!(
        "request without room upstream: {}",
        ask(&mut half, "Host: x\r\n\r\n")
    ));
    std::thread::sleep(Duration::from_millis(100));
    let mut later = connect(port);
    seen.push(format!(
        "new client once that closed: {}",
        ask(&mut later, GET)
    ));
    // The requests in progress are answered.
    open.open.store(true, Ordering::Relaxed);
    for (i, s) in busy.iter_mut().enumerate() {
        seen.push(format!("request {i} in progress: {}", answer(s)));
    }
    open.open.store(false, Ordering::Relaxed);
    seen
}

/// The error log's messages without time, process and connection numbers,
/// and the upstream port.
fn messages(path: &Path, gate: u16) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let (level, rest) = l.get(20..)?.split_once("] ")?;
            let (_, message) = rest.split_once(": ")?;
            let message = match message.split_once(' ') {
                Some((n, m)) if n.starts_with('*') => m,
                _ => message,
            };
            Some(format!(
                "{level}] {}",
                message.replace(&gate.to_string(), "GATE")
            ))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn too_few_for_the_listening_sockets_is_refused_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "pid {d}/x.pid; error_log {d}/x.log; events {{ worker_connections 2; }}\n\
         http {{ access_log off; {temp}\n\
           server {{ listen 127.0.0.1:{}; listen 127.0.0.1:{}; return 200; }} }}\n",
        free_port(),
        free_port(),
        temp = support::temp_paths(dir.path()),
    );
    let path = dir.path().join("x.conf");
    std::fs::write(&path, conf).unwrap();
    for program in [NGINX, OURS] {
        let mut cmd = Command::new(program);
        if program == NGINX {
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(dir.path().join("stderr.log"));
        }
        let out = cmd.arg("-t").arg("-c").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{program}: {text}");
        assert!(
            text.contains("[emerg] 2 worker_connections are not enough for 2 listening sockets"),
            "{program}: {text}"
        );
    }
}

#[test]
fn worker_connections_run_out_as_in_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let open = Arc::new(Gate::default());
    let gate_port = gate(Arc::clone(&open));
    let (np, op) = (free_port(), free_port());
    let theirs = {
        let _n = start(dir.path(), "nginx", np, gate_port, NGINX);
        scenario(np, &open)
    };
    let ours = {
        let _o = start(dir.path(), "ours", op, gate_port, OURS);
        scenario(op, &open)
    };
    assert_eq!(ours, theirs, "what the clients observed");
    assert!(
        ours.iter().any(|s| s.contains("500")) && ours.iter().any(|s| s.ends_with("closed")),
        "the scenario reached the limit: {ours:?}"
    );
    let (t, o) = (
        messages(&dir.path().join("nginx.log"), gate_port),
        messages(&dir.path().join("ours.log"), gate_port),
    );
    assert_eq!(o, t, "error log messages");
    for said in [
        "[warn] 16 worker_connections are not enough, reusing connections",
        "[alert] 16 worker_connections are not enough",
        "[alert] 16 worker_connections are not enough while connecting to upstream, client: 127.0.0.1, server: , request: \"GET /slow HTTP/1.1\", upstream: \"http://127.0.0.1:GATE/slow\", host: \"x\"",
    ] {
        assert!(o.iter().any(|m| m == said), "{said:?} not in {o:?}");
    }
}

/// What an idle connection saw: `closed` (end of stream, or an HTTP/2
/// GOAWAY: nginx closes after it, hyper waits for its PING's answer) or
/// `open`.
fn state(s: &TcpStream, h2: bool) -> &'static str {
    // The caller waited for the server's doing; only what has come counts.
    s.set_nonblocking(true).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        match (&*s).read(&mut buf) {
            Ok(0) => return "closed",
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => break,
            Err(_) => return "closed",
        }
    }
    // GOAWAY: frame type 7 (frames after the server's SETTINGS).
    let mut i = 0;
    while h2 && i + 9 <= data.len() {
        if data[i + 3] == 7 {
            return "closed";
        }
        i += 9
            + (usize::from(data[i]) << 16
                | usize::from(data[i + 1]) << 8
                | usize::from(data[i + 2]));
    }
    "open"
}

/// A TLS client trusting the test's certificate: one request answered,
/// then idle. Returns the TLS stream and a handle on its socket.
fn tls_client(
    port: u16,
    roots: &Arc<rustls::ClientConfig>,
) -> (
    rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    TcpStream,
) {
    let tcp = connect(port);
    let raw = tcp.try_clone().unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::clone(roots), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(GET.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        got.ends_with(b"ok\n"),
        "TLS request: {:?}",
        String::from_utf8_lossy(&got)
    );
    (tls, raw)
}

/// An h2c client past the preface and the server's SETTINGS (idle).
fn h2c_client(port: u16) -> TcpStream {
    let mut s = connect(port);
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    let mut head = [0u8; 9];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[3], 4, "SETTINGS first");
    let mut payload = vec![0u8; usize::from(head[2])];
    s.read_exact(&mut payload).unwrap();
    s.write_all(b"\0\0\0\x04\x01\0\0\0\0").unwrap(); // SETTINGS ack
    s
}

fn scenario_tls_h2(
    plain: u16,
    tls: u16,
    h2c: u16,
    roots: &Arc<rustls::ClientConfig>,
) -> Vec<String> {
    // 12 places (16, three ports, the channel): 2 TLS, 8 h2c and 4 plain
    // idle connections, then a new client.
    let tls_clients: Vec<_> = (0..2).map(|_| tls_client(tls, roots)).collect();
    std::thread::sleep(Duration::from_millis(50));
    let h2_clients: Vec<TcpStream> = (0..8).map(|_| h2c_client(h2c)).collect();
    std::thread::sleep(Duration::from_millis(50));
    let plain_clients: Vec<TcpStream> = (0..4).map(|_| connect(plain)).collect();
    let mut fresh = connect(plain);
    let mut seen = vec![format!("new client: {}", ask(&mut fresh, GET))];
    let states = |n: usize, check: &dyn Fn(usize) -> bool| {
        let gone = settle(n, check);
        (0..n)
            .map(|i| if gone.contains(&i) { "closed" } else { "open" })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let tls = states(tls_clients.len(), &|i| {
        state(&tls_clients[i].1, false) == "closed"
    });
    let h2 = states(h2_clients.len(), &|i| {
        state(&h2_clients[i], true) == "closed"
    });
    let plain = states(plain_clients.len(), &|i| {
        state(&plain_clients[i], false) == "closed"
    });
    seen.push(format!("tls: {tls}"));
    seen.push(format!("h2c: {h2}"));
    seen.push(format!("plain: {plain}"));
    seen
}

/// The indexes among `n` connections that `closed` says the server has
/// closed, once that set has stopped changing (closing is for good; a
/// busy machine may take a moment): checked every 100 ms, at most 2 s.
fn settle(n: usize, closed: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut gone: Vec<usize> = Vec::new();
    for round in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        let before = gone.len();
        for i in 0..n {
            if !gone.contains(&i) && closed(i) {
                gone.push(i);
            }
        }
        if round > 0 && gone.len() == before {
            break;
        }
    }
    gone.sort_unstable();
    gone
}

#[test]
fn idle_tls_and_http2_connections_make_room_as_in_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        // webpki takes it as the server's certificate only without CA:TRUE.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        rustls_pki_types::CertificateDer::pem_file_iter(dir.path().join("cert.pem")).unwrap()
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let mut seen = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let (plain, tls, h2c) = (free_port(), free_port(), free_port());
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1; pid {d}/{name}2.pid; error_log {d}/{name}2.log warn;\n\
             events {{ worker_connections 16; }}\n\
             http {{ access_log off; {temp}\n\
               ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
               server {{ listen 127.0.0.1:{plain}; listen 127.0.0.1:{tls} ssl;\n\
                 listen 127.0.0.1:{h2c} http2; location / {{ return 200 \"ok\\n\"; }} }} }}\n",
            temp = support::temp_paths(dir.path()),
        );
        let _server = start_with(dir.path(), &format!("{name}2"), &conf, program);
        seen.push(scenario_tls_h2(plain, tls, h2c, &config));
    }
    assert_eq!(seen[1], seen[0], "ours, then nginx's");
    // The oldest idle ones went, TLS and HTTP/2 alike.
    assert!(
        seen[0][1].contains("closed") && seen[0][2].contains("closed"),
        "{:?}",
        seen[0]
    );
}
