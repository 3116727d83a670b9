//! Differential: nginx 1.22 and l7proxy in front of a backend whose
//! responses are framed every way (Content-Length, chunked with extensions
//! and trailers, HTTP/1.0 until close, 304 without body). One client
//! connection pipelines GETs, a HEAD, then a POST (which the plain path
//! hands to hyper with the bytes it read) and a final `Connection: close`;
//! both fronts must give the same statuses, heads (but `Server`, `Date` and
//! header-name case) and de-chunked bodies, in the same order.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod support;
use support::{free_port, require_nginx, temp_paths, Proc, NGINX, OURS};

/// The backend: answers by path, keeps the connection unless it closes.
fn backend() -> u16 {
    support::spawn_backend(200, serve)
}

fn serve(c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    for _ in 0..100 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let head_only = line.starts_with("HEAD ");
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
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let answer: Vec<u8> = match path.as_str() {
            "/chunked" => b"HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x\r\n\r\n5;e=1\r\nhello\r\n6\r\n world\r\n0\r\nT: x\r\n\r\n".to_vec(),
            "/close" => {
                let _ = w.write_all(b"HTTP/1.0 200 OK\r\nX-B: 2\r\n\r\nuntil close");
                return;
            }
            "/304" => b"HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n".to_vec(),
            _ => {
                let text = format!("{path} got {} body bytes", body.len());
                let mut a = format!(
                    "HTTP/1.1 404 Nope\r\nx-lower: y\r\nContent-Length: {}\r\nLocation: /x\r\n\r\n",
                    text.len()
                )
                .into_bytes();
                if !head_only {
                    a.extend_from_slice(text.as_bytes());
                }
                a
            }
        };
        if w.write_all(&answer).is_err() {
            return;
        }
    }
}

const CONF: &str = "
worker_processes 1;
pid DIR/NAME.pid;
error_log DIR/NAME-error.log;
events { worker_connections 64; }
http {
  access_log off;
  TEMP
  upstream be { server 127.0.0.1:BE; keepalive 4; }
  server {
    listen 127.0.0.1:PORT;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }
}
";

/// Reads every response from one connection until it closes: per response
/// the status line, the head lines (lower-case names; `Server` and `Date`
/// left out) and the body with its chunked framing removed.
fn responses(port: u16, request: &[u8], heads: &[bool]) -> Vec<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request).unwrap();
    let mut r = BufReader::new(conn);
    let mut out = Vec::new();
    for &head_only in heads {
        let mut status = String::new();
        if r.read_line(&mut status).unwrap_or(0) == 0 {
            out.push("<closed>".to_owned());
            break;
        }
        let mut text = status.trim_end().to_owned();
        let (mut length, mut chunked) = (None, false);
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h == "\r\n" || h.is_empty() {
                break;
            }
            let (n, v) = h.trim_end().split_once(": ").unwrap_or((h.trim_end(), ""));
            let n = n.to_ascii_lowercase();
            match n.as_str() {
                "server" | "date" => continue,
                "content-length" => length = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v == "chunked",
                _ => {}
            }
            let _ = write!(text, " | {n}: {v}");
        }
        let mut body = Vec::new();
        let no_body = head_only || text.starts_with("HTTP/1.1 304");
        if no_body {
        } else if chunked {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            r.read_exact(&mut body).unwrap();
        }
        let _ = write!(text, " || {}", String::from_utf8_lossy(&body));
        out.push(text);
    }
    out
}

#[test]
fn every_upstream_framing_reaches_the_client_as_nginx_sends_it() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = backend();
    let run = |name: &str, program: &str| -> (Proc, u16) {
        let port = free_port();
        let conf = support::fill(
            CONF,
            &[
                ("DIR", &dir.path().display().to_string()),
                ("NAME", name),
                ("TEMP", &temp_paths(dir.path())),
                ("BE", &be.to_string()),
                ("PORT", &port.to_string()),
            ],
        );
        (support::start(dir.path(), name, &conf, port, program), port)
    };
    let (_n, nginx_port) = run("nginx", NGINX);
    let (_o, our_port) = run("ours", OURS);
    // Keep-alive: chunked, close-delimited, HEAD, 304, pipelined; then a
    // POST with a body (hyper on our side), then GETs after it.
    let request = b"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n\
GET /close HTTP/1.1\r\nHost: a\r\n\r\n\
HEAD /len HTTP/1.1\r\nHost: a\r\n\r\n\
GET /304 HTTP/1.1\r\nHost: a\r\n\r\n\
GET /len HTTP/1.1\r\nHost: a\r\n\r\n\
POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n\
GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let heads = [false, false, true, false, false, false, false, false, false];
    let nginx = responses(nginx_port, request, &heads);
    let ours = responses(our_port, request, &heads);
    assert_eq!(nginx.len(), 9, "{nginx:#?}");
    assert!(nginx[0].contains("hello world"), "{nginx:#?}");
    assert_eq!(nginx.last().map(String::as_str), Some("<closed>"));
    let differ: Vec<String> = nginx
        .iter()
        .zip(&ours)
        .filter(|(n, o)| n != o)
        .map(|(n, o)| format!("nginx {n:?}\n ours {o:?}"))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(nginx.len(), ours.len());
}
