//! Our own answers on the fast path: nginx's error pages and the status
//! line every response head starts with.

use std::net::SocketAddr;

use http::StatusCode;
use tokio::net::TcpStream;

use super::answer::{Done, Req};
use super::{put_buf, send, take_buf};
use crate::accesslog::RequestFacts;
use crate::headers::Vars;
use crate::worker::Worker;

/// Writes one of our pages (nginx's error page, as `worker::error_page`).
pub(super) async fn page(
    stream: &mut TcpStream,
    w: &Worker,
    status: StatusCode,
    req: &Req<'_>,
    (log, mut facts): (&crate::accesslog::Target, Option<Box<RequestFacts>>),
    (shape, vars, local, peers): (
        &crate::shape::Shape,
        &Vars<'_>,
        SocketAddr,
        crate::shape::Peers<'_>,
    ),
) -> Done {
    let mut resp = crate::worker::error_page(status);
    let body = match resp.body_mut() {
        crate::body::Body::Full(b) => b.take().unwrap_or_default(),
        crate::body::Body::Upstream(..)
        | crate::body::Body::Gzip(_)
        | crate::body::Body::File(_)
        | crate::body::Body::Limited(_) => bytes::Bytes::new(),
    };
    let closing = matches!(status.as_u16(), 400 | 413 | 414 | 500 | 501);
    let mut out = take_buf(w);
    status_line(
        &mut out,
        status.as_u16(),
        crate::worker::reason(status).as_bytes(),
    );
    out.extend_from_slice(b"Content-Type: text/html\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(if closing || !req.keep_alive {
        b"\r\nConnection: close\r\n".as_slice()
    } else {
        b"\r\nConnection: keep-alive\r\n".as_slice()
    });
    let ctx = crate::shape::Ctx {
        vars,
        status: status.as_u16(),
        upstream: peers,
        local,
        tls: false,
    };
    shape.write_added(&ctx, &mut out, [false; 2]);
    out.extend_from_slice(b"\r\n");
    let head_bytes = out.len() as u64;
    if !req.head_only {
        out.extend_from_slice(&body);
    }
    let ok = send(stream, &out, req.limits.send_timeout).await.is_ok();
    put_buf(w, out);
    if let Some(f) = &mut facts {
        f.header_bytes = head_bytes;
        let sent = if ok && !req.head_only {
            body.len() as u64
        } else {
            0
        };
        crate::accesslog::write(log, f, status.as_u16(), sent + req.early);
    }
    if ok && req.keep_alive && !closing {
        Done::KeepAlive(req.limits.keepalive_timeout)
    } else {
        Done::Close
    }
}

/// `HTTP/1.1 CODE REASON`, then `Server` and `Date`.
pub(super) fn status_line(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    status_line_with(out, code, reason, true, true);
}

/// `HTTP/1.1 CODE REASON`, then our `Server` and `Date` when asked (not
/// when `proxy_pass_header` passes the upstream's).
pub(super) fn status_line_with(
    out: &mut Vec<u8>,
    code: u16,
    reason: &[u8],
    server: bool,
    date: bool,
) {
    const DIGITS: &[u8; 10] = b"0123456789";
    out.extend_from_slice(b"HTTP/1.1 ");
    // Statuses are three digits (httparse and StatusCode see to it).
    for d in [code / 100 % 10, code / 10 % 10, code % 10] {
        out.push(DIGITS[usize::from(d)]);
    }
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    if server {
        out.extend_from_slice(b"Server: l7proxy\r\n");
    }
    if date {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(crate::date::now().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
