//! Differential: HTTP/2 to clients, with prior knowledge on a plain
//! `listen … http2` port (h2c) and by ALPN on a `listen … ssl http2` port.
//! nginx 1.22 and l7proxy run the same file against one body-echoing
//! backend; curl (built with nghttp2) and a few hand-made frames must get
//! the same statuses, response headers and bodies, and the backend must see
//! the same requests (names compared case-insensitively: hyper writes them
//! Title-Case, nginx passes an HTTP/2 client's names in lower case).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::{free_port, require_nginx, Proc, NGINX, OURS};

/// A backend that answers `/big…` with 1 MiB of `x`, and anything else
/// with the request head and body it received (`BODY[…]`); bodies framed
/// by Content-Length or chunked; keep-alive unless HTTP/1.0 or `close`.
fn echo_backend() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = echo(s);
            });
        }
    });
    port
}

fn echo(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            head.push_str(&line);
            if line == "\r\n" || line == "\n" {
                break;
            }
        }
        let lower = head.to_ascii_lowercase();
        let length = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let mut body = Vec::new();
        if let Some(n) = length {
            body.resize(n.min(4 << 20), 0);
            r.read_exact(&mut body)?;
        } else if lower.contains("transfer-encoding: chunked") {
            for _ in 0..10_000 {
                let mut size = String::new();
                r.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if n == 0 {
                    let mut end = String::new();
                    r.read_line(&mut end)?;
                    break;
                }
                r.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk[..n]);
            }
        }
        let out = if head
            .split(' ')
            .nth(1)
            .is_some_and(|p| p.starts_with("/big"))
        {
            vec![b'x'; 1 << 20]
        } else {
            let mut o = head.clone().into_bytes();
            o.extend_from_slice(b"BODY[");
            o.extend_from_slice(&body);
            o.push(b']');
            o
        };
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Up: 1\r\n\r\n",
            out.len()
        )?;
        w.write_all(&out)?;
        if head.starts_with("HTTP/1.0") || head.split("\r\n").next().unwrap_or("").ends_with("1.0")
        {
            return Ok(());
        }
        if lower.contains("connection: close") {
            return Ok(());
        }
    }
}

fn certificate(dir: &Path) {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext"])
        .arg("subjectAltName=IP:127.0.0.1")
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
}

/// Ports of one server under test: h2c and TLS, and h2c on a server
/// with `http2_max_concurrent_streams 4`.
#[derive(Clone, Copy)]
struct Ports {
    h2c: u16,
    tls: u16,
    four: u16,
}

impl Ports {
    fn new() -> Self {
        Self {
            h2c: free_port(),
            tls: free_port(),
            four: free_port(),
        }
    }
}

fn start(dir: &Path, name: &str, p: Ports, backend: u16, program: &str) -> Proc {
    let d = dir.display();
    let dead = free_port();
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log {d}/{name}.access; {temp}\n\
           upstream be {{ server 127.0.0.1:{backend}; }}\n\
           server {{ listen 127.0.0.1:{h2c} http2; listen 127.0.0.1:{tls} ssl http2;\n\
             ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
             location / {{ proxy_pass http://be;\n\
               proxy_set_header X-Host $host; proxy_set_header X-Http-Host $http_host;\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_set_header X-Scheme $scheme; proxy_set_header X-Cookie-B $cookie_b; }}\n\
             location /v11/ {{ proxy_pass http://be; proxy_http_version 1.1; }}\n\
             location /dead {{ proxy_pass http://127.0.0.1:{dead}; }}\n\
             location /ret {{ return 200 \"h2\"; }} }}\n\
           server {{ listen 127.0.0.1:{four} http2; http2_max_concurrent_streams 4;\n\
             location / {{ proxy_pass http://be; }} }} }}\n",
        temp = support::temp_paths(dir),
        h2c = p.h2c,
        tls = p.tls,
        four = p.four,
    );
    support::start(dir, name, &conf, p.h2c, program)
}

/// What a client and the backend observed, comparable between the two
/// servers: ports replaced, response header names lower-cased (`date`
/// without its value, `server` as `SERVER`), backend-seen header names
/// lower-cased, error pages without the server's name.
fn normalise(raw: &[u8], p: Ports) -> String {
    let text = String::from_utf8_lossy(raw)
        .replace(&p.h2c.to_string(), "H2C")
        .replace(&p.tls.to_string(), "TLS")
        .replace(&p.four.to_string(), "FOUR")
        .replace("nginx/1.22.1", "SERVER")
        .replace("<center>l7proxy</center>", "<center>SERVER</center>");
    let lines: Vec<String> = text
        .split("\r\n")
        .map(|l| match l.split_once(": ") {
            Some((n, v)) if !n.contains(' ') => {
                let n = n.to_ascii_lowercase();
                match n.as_str() {
                    "date" => "date: -".to_owned(),
                    "server" => "server: SERVER".to_owned(),
                    _ => format!("{n}: {v}"),
                }
            }
            _ => l.to_owned(),
        })
        .collect();
    let text = lines.join("\r\n");
    // Error pages differ in length by the server's name.
    if text.contains("<center>SERVER</center>") {
        text.split("\r\n")
            .map(|l| {
                if l.starts_with("content-length: ") {
                    "content-length: -"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    } else {
        text
    }
}

/// curl over HTTP/2 to `target` on the h2c port (`tls` false) or the TLS
/// port; `-i` output then `|STATUS|VERSION`.
fn curl(p: Ports, tls: bool, target: &str, extra: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let url = if tls {
        format!("https://127.0.0.1:{}{target}", p.tls)
    } else {
        format!("http://127.0.0.1:{}{target}", p.h2c)
    };
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sSki",
        "--max-time",
        "10",
        "-w",
        "|%{http_code}|%{http_version}",
    ])
    .arg(if tls {
        "--http2"
    } else {
        "--http2-prior-knowledge"
    })
    .args(extra)
    .arg(url)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("curl");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap().stdout
}

/// The HTTP/2 connection preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// Sends `raw` on a new connection and returns every byte until the peer
/// closes, 2 s pass without data, or the frames read so far are `done`.
fn exchange(port: u16, raw: &[u8], done: fn(&[u8]) -> bool) -> Vec<u8> {
    exchange_until(port, raw, &done)
}

/// [`exchange`] with a closure.
fn exchange_until(port: u16, raw: &[u8], done: &dyn Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..1000 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if done(&out) {
            break;
        }
    }
    out
}

/// The complete frames at the start of `data`: (type, flags, stream,
/// payload).
fn split_frames(data: &[u8]) -> Vec<(u8, u8, u32, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 9 <= data.len() {
        let len =
            usize::from(data[i]) << 16 | usize::from(data[i + 1]) << 8 | usize::from(data[i + 2]);
        if i + 9 + len > data.len() {
            break;
        }
        let stream =
            u32::from_be_bytes([data[i + 5], data[i + 6], data[i + 7], data[i + 8]]) & 0x7fff_ffff;
        out.push((data[i + 3], data[i + 4], stream, &data[i + 9..i + 9 + len]));
        i += 9 + len;
    }
    out
}

/// Stream 1 has ended (END_STREAM on DATA or HEADERS, RST_STREAM) or the
/// connection was refused (GOAWAY).
fn stream_ended(data: &[u8]) -> bool {
    split_frames(data).iter().any(|&(kind, flags, stream, _)| {
        kind == 7 || (stream == 1 && (kind == 3 || (kind <= 1 && flags & 1 == 1)))
    })
}

/// The server's SETTINGS frame and its connection WINDOW_UPDATE have come.
fn has_settings(data: &[u8]) -> bool {
    let f = split_frames(data);
    f.iter()
        .any(|&(kind, flags, ..)| kind == 4 && flags & 1 == 0)
        && f.iter()
            .any(|&(kind, _, stream, _)| kind == 8 && stream == 0)
}

/// The server's first SETTINGS parameters among MAX_CONCURRENT_STREAMS,
/// INITIAL_WINDOW_SIZE and MAX_FRAME_SIZE, and its connection
/// WINDOW_UPDATE if one came with them.
fn settings(data: &[u8]) -> Vec<(u16, u32)> {
    let mut out = Vec::new();
    for (kind, flags, stream, p) in split_frames(data) {
        if kind == 4 && flags & 1 == 0 {
            for param in p.chunks_exact(6) {
                let id = u16::from_be_bytes([param[0], param[1]]);
                if (3..=5).contains(&id) {
                    out.push((
                        id,
                        u32::from_be_bytes([param[2], param[3], param[4], param[5]]),
                    ));
                }
            }
        }
        if kind == 8 && stream == 0 {
            out.push((0xff, u32::from_be_bytes([p[0], p[1], p[2], p[3]])));
        }
    }
    out
}

/// Sends `n` GETs at once on one connection; returns how many were
/// answered 200 with their own echo and how many refused.
fn streams(port: u16, n: u32) -> (usize, usize) {
    let mut raw = PREFACE.to_vec();
    for i in 0..n {
        let path = format!("/echo/n{i}/");
        raw.extend(headers_frame_on(
            2 * i + 1,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "s"),
                (":path", &path),
            ],
        ));
    }
    let ended = |data: &[u8]| {
        split_frames(data)
            .iter()
            .filter(|&&(kind, flags, stream, _)| {
                stream > 0 && (kind == 3 || (kind <= 1 && flags & 1 == 1))
            })
            .count()
    };
    let data = exchange_until(port, &raw, &|d| ended(d) >= n as usize);
    let mut bodies = std::collections::HashMap::<u32, Vec<u8>>::new();
    let (mut ok, mut refused) = (0, 0);
    for (kind, _, stream, p) in split_frames(&data) {
        match kind {
            0 => bodies.entry(stream).or_default().extend_from_slice(p),
            1 if p.first() == Some(&0x88) => ok += 1,
            3 if p == [0, 0, 0, 7] => refused += 1,
            _ => {}
        }
    }
    let echoed = (0..n)
        .filter(|i| {
            let want = format!("GET /echo/n{i}/ HTTP/1.0");
            bodies
                .get(&(2 * i + 1))
                .is_some_and(|b| b.starts_with(want.as_bytes()))
        })
        .count();
    assert_eq!(echoed, ok, "every answered stream carries its own echo");
    (ok, refused)
}

/// A HEADERS frame (END_HEADERS, END_STREAM) for stream 1 with `fields`
/// (see `headers_frame_on`).
fn headers_frame(fields: &[(&str, &str)]) -> Vec<u8> {
    headers_frame_on(1, fields)
}

/// A HEADERS frame (END_HEADERS, END_STREAM) for `stream` with `fields`
/// as HPACK literals without indexing (no Huffman coding), so that names
/// curl would refuse or rewrite can be sent.
fn headers_frame_on(stream: u32, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in fields {
        block.push(0);
        block.push(u8::try_from(n.len()).unwrap());
        block.extend_from_slice(n.as_bytes());
        block.push(u8::try_from(v.len()).unwrap());
        block.extend_from_slice(v.as_bytes());
    }
    let len = u32::try_from(block.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], 1, 0x5];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(&block);
    f
}

/// The frames of `data` the client can compare: SETTINGS acks and window
/// updates left out; HEADERS by their first HPACK byte (the indexed
/// `:status`), DATA by content, RST_STREAM and GOAWAY by their codes.
/// Nothing after the frame that ends stream 1: whether a later frame (an
/// RST_STREAM(NO_ERROR) refusing the rest of a body) is in the capture
/// depends on how the server's writes were split, not on what it sent.
fn frames(data: &[u8]) -> String {
    let mut out = Vec::new();
    let mut data_of = Vec::new();
    for (kind, flags, stream, payload) in split_frames(data) {
        let ends = stream == 1 && kind <= 1 && flags & 1 == 1;
        match kind {
            0 => data_of.extend_from_slice(payload),
            1 => out.push(format!("HEADERS {:02x}", payload.first().unwrap_or(&0))),
            3 => out.push(format!("RST_STREAM {payload:?}")),
            4 if flags & 1 == 0 => out.push("SETTINGS".to_owned()),
            7 => out.push(format!("GOAWAY {:?}", payload.get(..8))),
            _ => {}
        }
        if ends {
            break;
        }
    }
    if !data_of.is_empty() {
        out.push(format!("DATA {}", String::from_utf8_lossy(&data_of)));
    }
    out.join(" | ")
}

/// A target, curl's extra arguments, curl's standard input.
type Case<'a> = (&'a str, &'a [&'a str], Option<&'a [u8]>);

#[test]
fn http2_with_prior_knowledge_and_over_tls_answers_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path());
    let backend = echo_backend();
    let theirs = Ports::new();
    let ours = Ports::new();
    let _n = start(dir.path(), "nginx", theirs, backend, NGINX);
    let _o = start(dir.path(), "ours", ours, backend, OURS);
    let body = b"a=1&b=2".as_slice();
    // Over the 64k stream window nginx announces (and hyper too).
    let large: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let cases: &[Case] = &[
        ("/echo/get?x=1", &[], None),
        (
            "/echo/cookies",
            &[
                "-H",
                "Cookie: a=1",
                "-H",
                "cookie: b=2",
                "-H",
                "X-Forwarded-For: 192.0.2.9",
            ],
            None,
        ),
        ("/echo/host", &["-H", "Host: h.example:8080"], None),
        (
            "/echo/te",
            &["-H", "TE: trailers", "-H", "X-Mixed-Case: Yes"],
            None,
        ),
        ("/echo/post", &["--data-binary", "@-"], Some(body)),
        // From standard input with -T: no content-length in HTTP/2.
        ("/echo/put", &["-T", "-"], Some(body)),
        ("/v11/echo", &["--data-binary", "@-"], Some(body)),
        ("/echo/large", &["--data-binary", "@-"], Some(&large)),
        ("/echo/large-put", &["-T", "-"], Some(&large)),
        ("/ret", &[], None),
        ("/echo/head", &["-I"], None),
        (
            "/echo/a%20b/../c?x=%41",
            &["--path-as-is", "-X", "OPTIONS"],
            None,
        ),
        ("/none/x", &[], None),
        ("/dead/x", &[], None),
    ];
    let mut diffs = Vec::new();
    for tls in [false, true] {
        for (target, extra, input) in cases {
            let t = normalise(&curl(theirs, tls, target, extra, *input), theirs);
            let o = normalise(&curl(ours, tls, target, extra, *input), ours);
            if t != o {
                diffs.push(format!(
                    "{target} tls={tls} {extra:?}:\n  nginx {t:?}\n  ours  {o:?}"
                ));
            }
        }
        let t = curl(theirs, tls, "/big", &[], None);
        let o = curl(ours, tls, "/big", &[], None);
        assert!(o.ends_with(b"|200|2"), "/big over HTTP/2");
        let size = |v: &[u8]| {
            let body = v
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(v, |p| &v[p + 4..]);
            body.len() - body.iter().filter(|&&b| b != b'x').count()
        };
        assert_eq!(size(&o), 1 << 20, "1 MiB through, tls={tls}");
        assert_eq!(size(&t), size(&o), "nginx's size, tls={tls}");
    }
    // The access log lines ("GET /… HTTP/2.0", status, bytes, agent).
    let log = |name: &str, p: Ports| -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join(format!("{name}.access"))).unwrap();
        text.lines()
            .map(|l| {
                let l = normalise(l.as_bytes(), p);
                // Times, and error pages' sizes (the server's name).
                let (head, rest) = l.split_once(" [").unwrap_or((&l, ""));
                let rest = rest.split_once("] ").map_or(rest, |(_, r)| r);
                let rest = if rest.contains("\" 502 ") {
                    rest.replacen("\" 502 157 ", "\" 502 - ", 1).replacen(
                        "\" 502 152 ",
                        "\" 502 - ",
                        1,
                    )
                } else {
                    rest.to_owned()
                };
                format!("{head} [T] {rest}")
            })
            .collect()
    };
    // A line is written once its stream has ended, which can be after
    // the client saw the response: wait (5 s at most) until both logs
    // have as many lines and stay so for 100 ms.
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let now = (log("nginx", theirs), log("ours", ours));
        let settled = now.0.len() == now.1.len() && now.0.len() == last.0.len();
        last = now;
        if settled {
            break;
        }
    }
    let (t, o) = last;
    assert!(
        o.iter()
            .any(|l| l.contains("\"GET /echo/get?x=1 HTTP/2.0\" 200 ")),
        "{o:?}"
    );
    assert_eq!(o, t, "access log");
    let echoed = curl(
        ours,
        true,
        "/echo/large",
        &["--data-binary", "@-"],
        Some(&large),
    );
    assert!(
        echoed.windows(large.len()).any(|w| w == large.as_slice()),
        "300 kB through HTTP/2 to the backend"
    );
    let joined = normalise(
        &curl(
            ours,
            false,
            "/echo/c",
            &["-H", "cookie: b=2", "-H", "cookie: c=3"],
            None,
        ),
        ours,
    );
    assert!(
        joined.contains("x-cookie-b: 2\r\n") && joined.contains("cookie: b=2; c=3\r\n\r\nBODY[]"),
        "split cookies are joined with \"; \", after the other headers: {joined}"
    );
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn h2c_port_refuses_http1_and_checks_hosts_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path());
    let backend = echo_backend();
    let theirs = Ports::new();
    let ours = Ports::new();
    let _n = start(dir.path(), "nginx", theirs, backend, NGINX);
    let _o = start(dir.path(), "ours", ours, backend, OURS);

    // An HTTP/1 request on an h2c port: nginx 1.22 answers with its
    // SETTINGS, a WINDOW_UPDATE and GOAWAY(PROTOCOL_ERROR), then closes.
    let http1 = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let t = exchange(theirs.h2c, http1, |_| false);
    assert_eq!(
        exchange(ours.h2c, http1, |_| false),
        t,
        "HTTP/1 on the h2c port"
    );
    assert!(t.ends_with(&[0, 0, 0, 1]), "nginx's GOAWAY: {t:?}");
    let t = exchange(theirs.four, http1, |_| false);
    assert_eq!(
        exchange(ours.four, http1, |_| false),
        t,
        "HTTP/1, 4 streams"
    );
    assert_eq!(t[9..15], [0, 3, 0, 0, 0, 4], "nginx's SETTINGS: {t:?}");
    // The same verdict on the first 16 bytes, before the rest came.
    let early = b"GET /index.html ";
    assert_eq!(
        exchange(ours.h2c, early, |_| false),
        exchange(theirs.h2c, early, |_| false),
        "16 bytes"
    );
    let log = std::fs::read_to_string(dir.path().join("ours.log")).unwrap();
    assert!(
        log.contains("[info]") && log.contains("invalid connection preface while processing HTTP/2 connection, client: 127.0.0.1, server: 127.0.0.1:"),
        "the info line nginx writes: {log}"
    );

    let base = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/echo/raw"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = base.to_vec();
        f.extend_from_slice(extra);
        let mut raw = PREFACE.to_vec();
        raw.extend(headers_frame(&f));
        raw
    };
    let cases = [
        ("authority", with(&[(":authority", "a.example")])),
        ("host only", with(&[("host", "c.example")])),
        // nginx: "client sent duplicate host header" (400).
        (
            "both",
            with(&[(":authority", "a.example"), ("host", "b.example")]),
        ),
        // nginx: no host at all (400).
        ("neither", with(&[])),
        // Over client_max_body_size (1m): 413 at once, then the rest of
        // the body refused with RST_STREAM(NO_ERROR). (curl itself races
        // its upload against that reset, so it is checked here.)
        ("413", {
            let mut raw = PREFACE.to_vec();
            let mut h = headers_frame(&[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "a"),
                (":path", "/echo/big"),
                ("content-length", "1100000"),
            ]);
            h[4] = 0x4; // END_HEADERS only: a body follows
            raw.extend(h);
            raw.extend_from_slice(&[0, 0x40, 0, 0, 0, 0, 0, 0, 1]);
            raw.extend(std::iter::repeat_n(b'z', 0x4000));
            raw
        }),
    ];
    let mut diffs = Vec::new();
    for (name, raw) in &cases {
        let t = frames(&exchange(theirs.h2c, raw, stream_ended));
        let o = frames(&exchange(ours.h2c, raw, stream_ended));
        let (t, o) = (
            normalise(t.as_bytes(), theirs),
            normalise(o.as_bytes(), ours),
        );
        if t != o {
            diffs.push(format!("{name}:\n  nginx {t}\n  ours  {o}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );

    // nginx's SETTINGS and connection window, then many streams on one
    // connection.
    let s = settings(&exchange(ours.h2c, PREFACE, has_settings));
    assert_eq!(
        s,
        settings(&exchange(theirs.h2c, PREFACE, has_settings)),
        "SETTINGS"
    );
    assert!(s.contains(&(3, 128)), "MAX_CONCURRENT_STREAMS 128: {s:?}");
    // 130 requests at once on one connection: 128 are served, the two
    // over http2_max_concurrent_streams are refused (REFUSED_STREAM).
    let o = streams(ours.h2c, 130);
    assert_eq!(
        o,
        streams(theirs.h2c, 130),
        "(answered, refused) of 130 streams"
    );
    assert_eq!(o, (128, 2), "(answered, refused) of 130 streams");
    // http2_max_concurrent_streams 4: 6 at once, 2 refused.
    let s = settings(&exchange(ours.four, PREFACE, has_settings));
    assert_eq!(s, settings(&exchange(theirs.four, PREFACE, has_settings)));
    assert!(s.contains(&(3, 4)), "{s:?}");
    let o = streams(ours.four, 6);
    assert_eq!(
        o,
        streams(theirs.four, 6),
        "(answered, refused) of 6 streams"
    );
    assert_eq!(o, (4, 2), "(answered, refused) of 6 streams");
}
