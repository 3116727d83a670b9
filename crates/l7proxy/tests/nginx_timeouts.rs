//! Differential: nginx 1.22 and l7proxy on the same file with short
//! client- and proxy-side timeouts (1–2 s): `keepalive_timeout`,
//! `keepalive_requests`, `client_header_timeout` (slowloris),
//! `client_body_timeout`, `send_timeout`, `proxy_read_timeout` while a
//! body streams, and `Expect: 100-continue`. Each front has its own
//! backend, so what the backend sees can be compared too; the client
//! compares bytes (but `Server` and `Date`), when the connection closed,
//! and the access and error log lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;
use support::{free_port, require_nginx, temp_paths, Proc, NGINX, OURS};

/// A part of what a client sends: bytes, or a pause in milliseconds.
type Part<'a> = Result<&'a [u8], u64>;

/// What a backend saw: one line per request or event.
type Seen = Arc<Mutex<Vec<String>>>;

/// Size of `/big` (more than the kernel buffers of a loopback path can
/// hold, so a client that stops reading blocks the front).
const BIG: usize = 64 << 20;

/// A backend answering by path; every request and event is noted.
fn backend(seen: &Seen) -> u16 {
    let seen = Arc::clone(seen);
    support::spawn_backend(100, move |c| serve(c, &seen))
}

fn serve(c: TcpStream, seen: &Seen) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    for _ in 0..20 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        if path == "/noread" {
            // Takes the head, never the body.
            seen.lock().unwrap().push(format!("{path} head"));
            std::thread::sleep(Duration::from_secs(4));
            return;
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(format!("{path} {length}"));
        match path.as_str() {
            "/slowbody" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
                std::thread::sleep(Duration::from_secs(3));
                let _ = w.write_all(b"world");
                return;
            }
            "/big" => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n");
                let chunk = vec![b'x'; 64 * 1024];
                let mut ok = w.write_all(head.as_bytes()).is_ok();
                let mut n = 0;
                while ok && n < BIG {
                    ok = w.write_all(&chunk).is_ok();
                    n += chunk.len();
                }
                seen.lock().unwrap().push(if ok {
                    "big complete".to_owned()
                } else {
                    "big aborted".to_owned()
                });
                return;
            }
            _ => {
                let text = format!("{path} got {length}");
                let a = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                );
                if w.write_all(a.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

const CONF: &str = "
worker_processes 1;
pid DIR/NAME.pid;
error_log DIR/NAME-error.log info;
events { worker_connections 64; }
http {
  log_format t '$status \"$request\" $body_bytes_sent $connection_requests $server_port';
  access_log DIR/NAME-access.log;
  access_log DIR/NAME-fmt.log t;
  TEMP
  client_header_timeout 1s;
  client_body_timeout 1s;
  keepalive_timeout 2s;
  send_timeout 1s;
  keepalive_requests 2;
  server {
    listen 127.0.0.1:PORT;
    proxy_read_timeout 1s;
    proxy_buffering off;
    location / { proxy_pass http://127.0.0.1:BE; }
    location /r { return 200 \"x\"; }
  }
}
";

/// One front: its port, its backend's notes, the process.
struct Front {
    name: &'static str,
    port: u16,
    seen: Seen,
    _proc: Proc,
}

fn front(dir: &Path, name: &'static str, program: &str) -> Front {
    let seen = Seen::default();
    let be = backend(&seen);
    let port = free_port();
    let conf = support::fill(
        CONF,
        &[
            ("DIR", &dir.display().to_string()),
            ("NAME", name),
            ("TEMP", &temp_paths(dir)),
            ("BE", &be.to_string()),
            ("PORT", &port.to_string()),
        ],
    );
    let p = support::start(dir, name, &conf, port, program);
    Front {
        name,
        port,
        seen,
        _proc: p,
    }
}

fn both(dir: &Path) -> [Front; 2] {
    require_nginx();
    [front(dir, "nginx", NGINX), front(dir, "ours", OURS)]
}

/// Sends `parts` (bytes, or pauses in ms as `Err`), then reads until the
/// front closes (10 s at most): the bytes with `Server` and `Date` lines
/// removed, and the seconds from the last part sent to the close.
fn talk(port: u16, parts: &[Part<'_>]) -> (String, f64) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for p in parts {
        match p {
            Ok(b) => c.write_all(b).unwrap(),
            Err(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    let t = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("port {port}: no close within 10 s ({e}): {out:?}"),
        }
    }
    (strip(&out), t.elapsed().as_secs_f64())
}

fn strip(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("Server: ") && !l.starts_with("Date: "))
        .collect()
}

/// The access log lines from the request on (the time left out).
fn access(dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(format!("{name}-access.log"))).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once("] ").map(|(_, r)| r.to_owned()))
        .collect()
}

/// Waits (2 s at most) until the access log has `n` lines.
fn access_lines(dir: &Path, name: &str, n: usize) -> Vec<String> {
    let t = Instant::now();
    loop {
        let lines = access(dir, name);
        if lines.len() >= n || t.elapsed() > Duration::from_secs(2) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn close_to(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() < 0.8,
        "{what}: nginx closed after {a:.2} s, ours after {b:.2} s"
    );
}

#[test]
fn idle_and_slow_clients_are_closed_silently_after_nginx_s_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let get: &[u8] = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    // (case, parts, lowest and highest close time in seconds)
    let post: &[u8] = b"POST /i HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx";
    let cases: [(&str, Vec<Part<'_>>, f64, f64); 6] = [
        // Nothing sent: client_header_timeout from the accept.
        ("silent", vec![], 0.8, 2.0),
        // Slowloris: a partial request line, then partial headers.
        ("partial line", vec![Ok(b"GET /a HT")], 0.8, 2.0),
        (
            "partial head",
            vec![Ok(b"GET /b HTTP/1.1\r\nHost: a\r\n")],
            0.8,
            2.0,
        ),
        // Idle keep-alive: keepalive_timeout (2 s) after the response.
        ("idle", vec![Ok(get)], 1.8, 3.0),
        // The same after a request hyper answered.
        ("idle after a body", vec![Ok(post)], 1.8, 3.0),
        // A partial head after 1 s idle: client_header_timeout from it.
        (
            "idle then partial",
            vec![Ok(get), Err(1000), Ok(b"GET /c HTTP/1.1\r\n")],
            0.8,
            2.0,
        ),
    ];
    // Every case on every front at once (each on its own connection).
    let seen: Vec<Vec<(String, f64)>> = std::thread::scope(|s| {
        let rows: Vec<Vec<_>> = fronts
            .iter()
            .map(|f| {
                let cases = &cases;
                cases
                    .iter()
                    .map(|(_, parts, ..)| s.spawn(move || talk(f.port, parts)))
                    .collect()
            })
            .collect();
        rows.into_iter()
            .map(|r| r.into_iter().map(|h| h.join().unwrap()).collect())
            .collect()
    });
    for (f, row) in fronts.iter().zip(&seen) {
        for ((case, _, lo, hi), (_, secs)) in cases.iter().zip(row) {
            assert!(
                (*lo..*hi).contains(secs),
                "{} {case}: closed after {secs:.2} s, not in {lo}..{hi}",
                f.name
            );
        }
    }
    for (i, (case, ..)) in cases.iter().enumerate() {
        let (n, o) = (&seen[0][i], &seen[1][i]);
        assert_eq!(n.0, o.0, "{case}: what the client received");
        close_to(n.1, o.1, case);
    }
    // Nothing is answered on a timeout, but a begun request is logged 408.
    assert_eq!(seen[0][1].0, "");
    assert!(seen[0][3].0.ends_with("/a got 0"), "{:?}", seen[0][3].0);
    let mut n = access_lines(dir.path(), "nginx", 6);
    let mut o = access_lines(dir.path(), "ours", 6);
    assert!(
        n.contains(&"\"GET /a HT\" 408 0 \"-\" \"-\"".to_owned()),
        "{n:#?}"
    );
    n.sort();
    o.sort();
    assert_eq!(n, o);
    // The same lines in a `log_format` (the 408 ones included).
    let fmt = |f: &Front| {
        let log = std::fs::read_to_string(dir.path().join(format!("{}-fmt.log", f.name)));
        let mut lines: Vec<String> = log
            .unwrap_or_default()
            .lines()
            .map(|l| l.replace(&f.port.to_string(), "PORT"))
            .collect();
        lines.sort();
        lines
    };
    let n = fmt(&fronts[0]);
    assert!(
        n.contains(&"408 \"GET /a HT\" 0 1 PORT".to_owned()),
        "{n:#?}"
    );
    assert_eq!(n, fmt(&fronts[1]), "log_format lines");
    // nginx's info lines, but for a request still waiting ("idle").
    let timed_out = |f: &Front| {
        let log = std::fs::read_to_string(dir.path().join(format!("{}-error.log", f.name)));
        let mut lines: Vec<String> = log
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("] ").map(|(_, r)| r))
            .filter_map(|l| l.split_once(": *").map(|(_, r)| r))
            .filter_map(|l| l.split_once(' ').map(|(_, r)| r))
            .filter(|l| l.starts_with("client timed out"))
            .map(|l| l.replace(&f.port.to_string(), "PORT"))
            .collect();
        lines.sort();
        lines
    };
    let n = timed_out(&fronts[0]);
    assert_eq!(n.len(), 4, "{n:#?}");
    assert!(
        n[3].ends_with("while waiting for request, client: 127.0.0.1, server: 127.0.0.1:PORT"),
        "{n:#?}"
    );
    assert_eq!(n, timed_out(&fronts[1]));
}

#[test]
fn keepalive_requests_closes_after_the_nth_response() {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let gets: &[u8] = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    // The second request goes to hyper, which must count the first.
    let mixed: &[u8] = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxyGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    for (three, second) in [(gets, "/2 0"), (mixed, "/2 2")] {
        let got: Vec<_> = fronts.iter().map(|f| talk(f.port, &[Ok(three)])).collect();
        let close = format!("Connection: close\r\n\r\n/2 got {}", &second[3..]);
        assert!(got[0].0.contains(&close), "{:?}", got[0].0);
        assert!(!got[0].0.contains("/3"), "{:?}", got[0].0);
        assert_eq!(got[0].0, got[1].0);
        // Closed at once, not by keepalive_timeout (2 s).
        assert!(got[0].1 < 1.5 && got[1].1 < 1.5, "{got:?}");
        for f in &fronts {
            let mut seen = f.seen.lock().unwrap();
            assert_eq!(*seen, ["/1 0", second], "{}", f.name);
            seen.clear();
        }
    }
}

#[test]
fn a_stalled_request_body_is_dropped_after_client_body_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let post: &[u8] = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc";
    let got: Vec<_> = fronts.iter().map(|f| talk(f.port, &[Ok(post)])).collect();
    assert_eq!(got[0].0, "", "nginx answers nothing");
    assert_eq!(got[0].0, got[1].0);
    assert!((0.8..2.0).contains(&got[0].1), "{got:?}");
    close_to(got[0].1, got[1].1, "body timeout");
    for f in &fronts {
        assert!(
            f.seen.lock().unwrap().is_empty(),
            "{}: the backend saw it",
            f.name
        );
    }
    let n = access_lines(dir.path(), "nginx", 1);
    assert_eq!(n, ["\"POST /p HTTP/1.1\" 408 0 \"-\" \"-\""]);
    assert_eq!(n, access_lines(dir.path(), "ours", 1));
}

/// `request` asks for `/big` (its body: `body` bytes), then the client
/// stops reading for 3 s (send_timeout is 1 s), then reads what is left.
fn stops_reading(request: &[u8], body: usize) {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let conns: Vec<TcpStream> = fronts
        .iter()
        .map(|f| {
            let mut c = TcpStream::connect(("127.0.0.1", f.port)).unwrap();
            c.write_all(request).unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    for (f, mut c) in fronts.iter().zip(conns) {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let end = c.read_to_end(&mut got);
        assert!(end.is_ok(), "{}: {end:?}", f.name);
        let text = String::from_utf8_lossy(&got[..200.min(got.len())]).into_owned();
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\n"),
            "{}: {text}",
            f.name
        );
        assert!(
            text.contains(&format!("Content-Length: {BIG}\r\n")),
            "{text}"
        );
        assert!(got.len() < BIG / 2, "{}: {} bytes came", f.name, got.len());
        // The backend's connection was closed too.
        let t = Instant::now();
        while !f.seen.lock().unwrap().iter().any(|l| l.starts_with("big ")) {
            assert!(t.elapsed() < Duration::from_secs(5), "{}", f.name);
            std::thread::sleep(Duration::from_millis(20));
        }
        let first = format!("/big {body}");
        let seen = f.seen.lock().unwrap().clone();
        assert_eq!(seen, [first.as_str(), "big aborted"], "{}", f.name);
    }
    let n = access_lines(dir.path(), "nginx", 1);
    let o = access_lines(dir.path(), "ours", 1);
    let status = |l: &[String]| {
        l.first()
            .and_then(|l| l.split(' ').nth(3).map(str::to_owned))
    };
    assert_eq!(status(&n).as_deref(), Some("200"), "{n:?}");
    assert_eq!(status(&n), status(&o), "{o:?}");
    // nginx's info line.
    let line = |f: &Front| {
        let log = std::fs::read_to_string(dir.path().join(format!("{}-error.log", f.name)));
        log.unwrap_or_default()
            .lines()
            .find(|l| l.contains("while sending to client"))
            .and_then(|l| l.split_once(": *"))
            .and_then(|(_, r)| r.split_once(' '))
            .map(|(_, r)| {
                r.split(", upstream: ")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
    };
    let want = line(&fronts[0]);
    let request = String::from_utf8_lossy(request);
    let request = request.lines().next().unwrap_or_default();
    assert_eq!(
        want,
        Some(format!(
            "client timed out (110: Connection timed out) while sending to client, \
             client: 127.0.0.1, server: , request: \"{request}\""
        ))
    );
    assert_eq!(want, line(&fronts[1]));
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_send_timeout() {
    stops_reading(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n", 0);
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_send_timeout_on_hyper_s_path() {
    // A request with a body takes hyper's path.
    stops_reading(
        b"POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab",
        2,
    );
}

#[test]
fn a_stalled_upstream_body_is_cut_after_proxy_read_timeout() {
    stalled_body(b"GET /slowbody HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn a_stalled_upstream_body_is_cut_after_proxy_read_timeout_on_hyper_s_path() {
    // A request with a body takes hyper's path.
    stalled_body(b"POST /slowbody HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx");
}

/// The backend sends half of a body, then nothing for 3 s.
fn stalled_body(request: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let line = String::from_utf8_lossy(request);
    let line = line.lines().next().unwrap_or_default();
    let got: Vec<_> = fronts
        .iter()
        .map(|f| talk(f.port, &[Ok(request)]))
        .collect();
    let tail = "Content-Length: 10\r\nConnection: keep-alive\r\n\r\nhello";
    assert!(got[0].0.ends_with(tail), "{:?}", got[0].0);
    assert_eq!(got[0].0, got[1].0);
    assert!((0.8..2.0).contains(&got[0].1), "{got:?}");
    close_to(got[0].1, got[1].1, "proxy_read_timeout");
    let n = access_lines(dir.path(), "nginx", 1);
    assert_eq!(n, [format!("\"{line}\" 200 5 \"-\" \"-\"")]);
    assert_eq!(n, access_lines(dir.path(), "ours", 1));
    for f in &fronts {
        let log =
            std::fs::read_to_string(dir.path().join(format!("{}-error.log", f.name))).unwrap();
        let want = format!(
            "upstream timed out (110: Connection timed out) while reading upstream, \
             client: 127.0.0.1, server: , request: \"{line}\", upstream: \"http://127.0.0.1:"
        );
        assert!(log.contains(&want), "{}: {log}", f.name);
    }
}

/// An upstream that takes the head but neither the body nor answers:
/// 504 from both. (With a 1 MB body the kernel's buffers take all of it
/// on loopback, the send buffer growing to 4 MB, so nginx too times out
/// reading the answer, not sending: `proxy_send_timeout` itself is
/// checked by `timed.rs`'s unit tests.)
#[test]
fn an_upstream_that_neither_reads_nor_answers_gives_504() {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let mut post = b"POST /noread HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n".to_vec();
    post.resize(post.len() + 1_048_576, b'b');
    let got: Vec<_> = fronts.iter().map(|f| talk(f.port, &[Ok(&post)])).collect();
    let status = |s: &str| s.lines().next().map(str::to_owned);
    assert_eq!(
        status(&got[0].0).as_deref(),
        Some("HTTP/1.1 504 Gateway Time-out"),
        "{:?}",
        got[0].0
    );
    assert_eq!(status(&got[0].0), status(&got[1].0));
    let mut lines = Vec::new();
    for f in &fronts {
        assert_eq!(*f.seen.lock().unwrap(), ["/noread head"], "{}", f.name);
        let log =
            std::fs::read_to_string(dir.path().join(format!("{}-error.log", f.name))).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("upstream timed out"))
            .and_then(|l| l.split_once(": *"))
            .map(|(_, rest)| rest.split_once(' ').map_or("", |(_, m)| m).to_owned());
        lines.push(line.map(|l| l.split(", upstream:").next().unwrap_or_default().to_owned()));
    }
    assert!(lines[0].is_some(), "{lines:?}");
    assert_eq!(lines[0], lines[1]);
}

#[test]
fn expect_100_continue_is_answered_as_nginx_does() {
    let dir = tempfile::tempdir().unwrap();
    let fronts = both(dir.path());
    let cases: [(&str, &[u8]); 5] = [
        ("GET", b"GET /g HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nConnection: close\r\n\r\n"),
        ("POST with body", b"POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
        ("HTTP/1.0", b"POST /o HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"),
        ("other expectation", b"POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
        ("too large", b"POST /l HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9999999\r\nConnection: close\r\n\r\n"),
    ];
    for (case, req) in cases {
        let got: Vec<String> = fronts
            .iter()
            .map(|f| {
                let mut c = TcpStream::connect(("127.0.0.1", f.port)).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c.write_all(req).unwrap();
                // The head of the first answer (nginx lingers after a 413).
                let mut r = BufReader::new(c);
                let mut first = String::new();
                r.read_line(&mut first).unwrap();
                let mut more = String::new();
                if first.starts_with("HTTP/1.1 100") {
                    r.read_line(&mut more).unwrap();
                    r.read_line(&mut more).unwrap();
                }
                format!("{first}{more}")
            })
            .collect();
        let continued = got[0].starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK");
        let want = matches!(case, "GET" | "POST with body");
        assert_eq!(continued, want, "{case}: nginx sent {:?}", got[0]);
        let status = |s: &str| {
            s.rsplit("\r\n\r\n")
                .next()
                .map(|l| l.get(9..12).map(str::to_owned))
        };
        assert_eq!(
            got[0].starts_with("HTTP/1.1 100"),
            got[1].starts_with("HTTP/1.1 100"),
            "{case}: {got:?}"
        );
        assert_eq!(status(&got[0]), status(&got[1]), "{case}: {got:?}");
    }
    // A body to a `return`, sent after the `100 Continue` it waited for:
    // nginx reads and drops it and keeps the connection.
    let parts: [Part<'_>; 3] = [
        Ok(b"POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
        Err(300),
        Ok(b"abcGET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
    ];
    let got: Vec<_> = fronts.iter().map(|f| talk(f.port, &parts)).collect();
    let want = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                Content-Length: 1\r\nConnection: keep-alive\r\n\r\nxHTTP/1.1 200 OK\r\n";
    assert!(got[0].0.starts_with(want), "{:?}", got[0].0);
    assert!(got[1]
        .0
        .starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    // (hyper's path puts Content-Length after Connection: the lines as a set.)
    let lines = |s: &str| {
        let mut l: Vec<String> = s.split("\r\n").map(str::to_owned).collect();
        l.sort();
        l
    };
    assert_eq!(lines(&got[0].0), lines(&got[1].0));
    // nginx counts the 25 bytes of `100 Continue` in $body_bytes_sent.
    let n = access_lines(dir.path(), "nginx", 5);
    assert_eq!(n[0], "\"GET /g HTTP/1.1\" 200 33 \"-\" \"-\"");
    assert_eq!(n[0], access_lines(dir.path(), "ours", 5)[0]);
}
