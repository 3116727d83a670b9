//! Reading one request head on a plain connection (within
//! `client_header_timeout`), then answering it or handing it to hyper.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::answer::{answer, Done};
use super::{put_buf, read_now, Step, BUF, HEADERS, MAX_HEAD};
use crate::accesslog::ConnFacts;
use crate::worker::Worker;

/// The request's number on its connection and when its head must be in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Head {
    /// 1 for the first request.
    pub(super) served: u32,
    /// The first request's deadline (from the accept).
    pub(super) by: Option<std::time::Instant>,
    /// `client_header_timeout` (later requests: from their first bytes).
    pub(super) timeout: Duration,
}

/// Reads one request head and answers it.
pub(super) async fn one(
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    peer: SocketAddr,
    w: &Rc<Worker>,
    index: usize,
    head: Head,
    conn: &std::cell::Cell<ConnFacts>,
) -> Step {
    let mut head_by = head.by;
    let head_len = loop {
        if let Some(n) = head_end(&buf) {
            break n;
        }
        // Incomplete: a full parse tells bytes that can never become a
        // request (TLS on the plain port, binary) from a head still
        // coming; hyper answers the former.
        let mut headers = [httparse::EMPTY_HEADER; HEADERS];
        match httparse::Request::new(&mut headers).parse(&buf) {
            Ok(httparse::Status::Complete(n)) => break n,
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Step::Hyper(buf),
        }
        if buf.len() >= MAX_HEAD {
            return Step::Hyper(buf);
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(BUF);
        }
        match read_now(stream, &mut buf).await {
            // End of stream: between requests, close; inside one, let
            // hyper give its answer to the partial request.
            Some(Ok(0)) if buf.is_empty() => {
                put_buf(w, buf);
                return Step::Close;
            }
            Some(Ok(0)) => return Step::Hyper(buf),
            Some(Ok(_)) => {}
            None => {
                let by = *head_by.get_or_insert_with(|| std::time::Instant::now() + head.timeout);
                match tokio::time::timeout_at(by.into(), stream.readable()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Step::Close,
                    Err(_) => {
                        // nginx closes without an answer and logs 408
                        // with the request line as far as it came.
                        let l = &w.site.listeners[index];
                        crate::errorlog::client_timed_out(&w.site, index, peer.ip(), &buf);
                        let line = buf.split(|&b| b == b'\r' || b == b'\n').next();
                        let mut c = conn.get();
                        c.requests += 1;
                        crate::accesslog::write_timed_out(
                            &w.site.server_logs[l.default],
                            peer,
                            crate::server::local_addr(w, index, || stream.local_addr()),
                            c,
                            line.unwrap_or_default(),
                        );
                        put_buf(w, buf);
                        return Step::Close;
                    }
                }
            }
            Some(Err(_)) => return Step::Close,
        }
    };
    match answer(stream, &buf[..head_len], peer, w, index, head.served, conn).await {
        Done::Hyper => Step::Hyper(buf),
        Done::Close => {
            put_buf(w, buf);
            Step::Close
        }
        Done::KeepAlive(idle) if buf.len() > head_len => {
            buf.drain(..head_len);
            Step::Again(buf, idle)
        }
        Done::KeepAlive(idle) => {
            put_buf(w, buf);
            Step::Again(Vec::new(), idle)
        }
    }
}

/// The length of the head in `buf` up to its empty line (`\r\n` or a bare
/// `\n`, as httparse reads them), if it is there; `answer` parses it.
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\n') {
        let at = from + i + 1;
        match buf.get(at..) {
            Some([b'\n', ..]) => return Some(at + 1),
            Some([b'\r', b'\n', ..]) => return Some(at + 2),
            _ => from = at,
        }
    }
    None
}
