//! A tiny HTTP/1.x server used as a backend in tests: it answers every
//! request with its own name, and for paths under `/echo` also with the
//! request head it received, so tests can see what a proxy sent. A request
//! for `/upgrade…` with an `Upgrade` header is answered `101 Switching
//! Protocols` and the connection then echoes every byte (a stand-in for a
//! WebSocket server).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Longest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Serves forever on `listener`, one thread per connection.
pub fn serve(listener: &TcpListener, name: &str) -> std::io::Result<()> {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let name = name.to_owned();
        std::thread::spawn(move || {
            let _ = handle(stream, &name);
        });
    }
    Ok(())
}

/// Answers the requests of one connection (keep-alive for HTTP/1.1 unless
/// the client says `Connection: close`).
fn handle(mut stream: TcpStream, name: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_head(&mut stream, &mut buf)? else {
            return Ok(());
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        if wants_upgrade(&head) {
            stream.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")?;
            stream.write_all(&buf)?;
            return echo(stream);
        }
        let response = respond(&head, name);
        stream.write_all(&response.bytes)?;
        if !response.keep_alive {
            return Ok(());
        }
    }
}

fn wants_upgrade(head: &str) -> bool {
    let path_ok = head
        .split_whitespace()
        .nth(1)
        .is_some_and(|p| p.starts_with("/upgrade"));
    path_ok
        && head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("upgrade:"))
}

/// Echoes bytes until the peer closes.
fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&chunk[..n])?;
    }
}

/// Reads until a blank line; returns the head's length including it, or
/// `None` at a clean end of stream.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(pos + 4));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A response ready to write.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub bytes: Vec<u8>,
    pub keep_alive: bool,
}

/// The response to one request head (request bodies are not read: the
/// server is for GET-style tests).
pub fn respond(head: &str, name: &str) -> Response {
    let request_line = head.lines().next().unwrap_or("");
    let mut parts = request_line.split_whitespace();
    let path = parts.nth(1).unwrap_or("/");
    let version = parts.next().unwrap_or("HTTP/1.0");
    let close_asked = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close")
        })
    });
    let keep_alive = version == "HTTP/1.1" && !close_asked;
    let mut body = format!("{name}\n");
    if path.starts_with("/echo") {
        body.push_str(head);
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let bytes = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: {name}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    Response { bytes, keep_alive }
}

#[cfg(test)]
mod tests {
    use super::respond;

    #[test]
    fn names_itself_and_closes_http10() {
        let r = respond("GET / HTTP/1.0\r\nHost: x\r\n\r\n", "b1");
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.contains("X-Backend: b1\r\n"));
        assert!(text.ends_with("\r\n\r\nb1\n"));
        assert!(!r.keep_alive);
    }

    #[test]
    fn echoes_head_and_keeps_http11_alive() {
        let head = "GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n";
        let r = respond(head, "b2");
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(text.ends_with(&format!("b2\n{head}")));
        assert!(r.keep_alive);
        let r = respond("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "b2");
        assert!(!r.keep_alive);
    }
}
