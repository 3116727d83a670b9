//! A raw echo backend (TCP or unix socket) whose response head has
//! mixed-case names, and a raw client: for tests that compare bytes.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

/// The backend's head, before `Content-Length` (mixed-case names, some
/// of which nginx writes itself and some it passes as they are).
pub const HEAD: &str = "HTTP/1.1 200 OK\r\nx-custom-thing: a\r\ncontent-type: text/x-echo\r\n\
X-MiXed-CASE: b\r\nlast-modified: Tue, 24 Nov 2026 10:00:00 GMT\r\nETAG: \"e1\"\r\n\
set-cookie: a=1\r\nSet-Cookie: b=2\r\nlocation: /moved\r\n";

/// Answers every request of one connection with [`HEAD`], a
/// `content-length` and the request (head and body) as the body.
fn handle<S: Read + Write>(mut s: S) {
    let mut buf = Vec::new();
    for _ in 0..100 {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < end + length {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let request: Vec<u8> = buf.drain(..end + length).collect();
        let mut out = format!("{HEAD}content-length: {}\r\n\r\n", request.len()).into_bytes();
        out.extend_from_slice(&request);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

/// The echo backend on a loopback port.
pub fn tcp_backend() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().take(500).flatten() {
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            std::thread::spawn(move || handle(c));
        }
    });
    port
}

/// The echo backend on a unix socket at `path`.
pub fn unix_backend(path: &Path) {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().take(500).flatten() {
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            std::thread::spawn(move || handle(c));
        }
    });
}

/// Sends `request` on a new connection and reads until the peer closes
/// (the request should say `Connection: close`).
pub fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A response split into its head and its body, with the values of
/// `Server` and `Date` masked wherever a line starts with them (also in
/// the heads of further responses on the same connection), every other
/// byte as sent.
pub fn split(resp: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(resp);
    let masked = text
        .split("\r\n")
        .map(|l| {
            // Names as sent (`server` on HTTP/2), values masked.
            match l.split_once(": ") {
                Some((n, _)) if n.eq_ignore_ascii_case("server") => format!("{n}: SERVER"),
                Some((n, _)) if n.eq_ignore_ascii_case("date") => format!("{n}: DATE"),
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let (head, body) = masked.split_once("\r\n\r\n").unwrap_or((&masked, ""));
    (head.to_owned(), body.to_owned())
}

/// nginx's error page as ours would be (it names `l7proxy`: a
/// documented difference), for comparing [`split`] answers.
pub fn as_ours(answer: &mut (String, String)) {
    if answer.1.contains("<hr><center>nginx/1.22.1</center>") {
        answer.1 = answer.1.replace("nginx/1.22.1", "l7proxy");
        let (theirs, ours) = (answer.1.len() + 5, answer.1.len());
        answer.0 = answer.0.replace(
            &format!("Content-Length: {theirs}"),
            &format!("Content-Length: {ours}"),
        );
    }
}

/// nginx answered each case with its listed status (`cases`: name and
/// status), and ours exactly as nginx did (nginx's error pages made to
/// name us first, [`as_ours`]).
pub fn assert_answers<'a>(
    cases: impl IntoIterator<Item = (&'a str, &'a str)>,
    nginx: &mut [(String, String)],
    ours: &[(String, String)],
) {
    nginx.iter_mut().for_each(as_ours);
    let names: Vec<&str> = cases
        .into_iter()
        .zip(nginx.iter())
        .map(|((case, status), answer)| {
            assert!(
                answer.0.starts_with(&format!("HTTP/1.1 {status} ")),
                "nginx, {case}: {:?}",
                answer.0
            );
            case
        })
        .collect();
    let differ = crate::support::differences(nginx, ours, |i| names[i].to_owned());
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// The messages of an error log that mention `about`, from the level on
/// (time, pid and connection number cut).
pub fn messages(path: &Path, about: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(about))
        .filter_map(|l| {
            let (level, rest) = l.get(20..)?.split_once("] ")?;
            let (_, msg) = rest.split_once(": ")?;
            let msg = msg
                .split_once(' ')
                .filter(|(c, _)| c.starts_with('*'))
                .map_or(msg, |(_, m)| m);
            Some(format!("{level}] {msg}"))
        })
        .collect()
}
