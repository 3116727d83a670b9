//! The upstream side of the plain HTTP/1 path: the exchange on a pooled
//! connection, the response head rewritten for the client, and the body
//! relayed (re-chunked where needed).

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::chunks::Chunks;
use super::page::status_line_with;
use super::{put_buf, read_now, send, take_buf, BODY_BUF, BUF, UP_HEADERS, UP_HEAD_MAX};
use crate::shape::{place, Replaced};
use crate::worker::{Failure, RawConn, Worker};

/// How an upstream response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the upstream closes.
    Close,
}

/// An upstream response whose head has been read.
pub(super) struct Answer {
    pub(super) conn: RawConn,
    /// The client's response head, written from the upstream's.
    pub(super) head: Vec<u8>,
    /// Whether `head` says `Connection: keep-alive`, and whether the
    /// status closes the client connection anyway.
    pub(super) keep_alive: bool,
    pub(super) closing: bool,
    /// The head, then the first body bytes read with it.
    pub(super) buf: Vec<u8>,
    pub(super) head_len: usize,
    pub(super) status: u16,
    framing: Framing,
    /// The connection may carry another request once the body is read.
    pub(super) reusable: bool,
}

/// One attempt at one peer.
pub(super) struct Upstream<'a> {
    pub(super) group: &'a str,
    pub(super) keepalive: bool,
    pub(super) addr: &'a crate::peer::Peer,
    pub(super) connect_timeout: Duration,
    pub(super) read_timeout: Duration,
    /// `proxy_send_timeout`.
    pub(super) send_timeout: Duration,
    pub(super) head_only: bool,
    /// Whether the client connection stays open after this response...
    pub(super) client_keep_alive: bool,
    /// ...unless the worker has begun to stop by the time the response
    /// head is written (then it says `Connection: close`, so that a
    /// keep-alive client does not send another request on a connection
    /// about to close).
    pub(super) stop: &'a std::cell::Cell<bool>,
    /// The location's response rules, and what their variables refer to.
    pub(super) shape: &'a crate::shape::Shape,
    /// The location's gzip settings (a client that takes gzip never
    /// comes here: `Vary` is all they can add).
    pub(super) gzip: &'a crate::gzip::Gzip,
    pub(super) vars: &'a crate::headers::Vars<'a>,
    /// The listening address (absolute redirects).
    pub(super) local: SocketAddr,
    /// The peers tried so far, this one last (`$upstream_addr`).
    pub(super) peers: crate::shape::Peers<'a>,
}

impl Upstream<'_> {
    /// Sends `req` and reads the response head, on a cached connection if
    /// there is one (one that fails before answering is replaced by a new
    /// one, as nginx does, without counting a try).
    pub(super) async fn exchange(&self, w: &Worker, req: &[u8]) -> Result<Answer, Failure> {
        let mut cached = if self.keepalive {
            w.cached_raw(self.group, self.addr)
        } else {
            None
        };
        loop {
            let reused = cached.is_some();
            let mut conn = match cached.take() {
                Some(c) => c,
                None => connect(self.addr, self.connect_timeout).await?,
            };
            conn.requests += 1;
            match tokio::time::timeout(self.send_timeout, conn.stream.write_all(req)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) if reused => continue,
                Ok(Err(_)) => return Err(Failure::Error),
                Err(_) => {
                    crate::errorlog::note_send_timeout();
                    return Err(Failure::Timeout);
                }
            }
            let mut buf = take_buf(w);
            let mut out = take_buf(w);
            let head = tokio::time::timeout(
                self.read_timeout,
                read_head(&mut conn.stream, &mut buf, self, &mut out),
            )
            .await;
            match head {
                Ok(Ok((head_len, status, framing, keep, closing))) => {
                    return Ok(Answer {
                        conn,
                        head: out,
                        keep_alive: self.client_keep_alive,
                        closing,
                        buf,
                        head_len,
                        status,
                        framing,
                        reusable: keep,
                    })
                }
                Ok(Err(any)) => {
                    put_buf(w, buf);
                    put_buf(w, out);
                    if reused && !any {
                        continue;
                    }
                    return Err(Failure::Error);
                }
                Err(_) => {
                    put_buf(w, buf);
                    put_buf(w, out);
                    return Err(Failure::Timeout);
                }
            }
        }
    }
}

async fn connect(addr: &crate::peer::Peer, timeout: Duration) -> Result<RawConn, Failure> {
    let slot = crate::limit::acquire().ok_or(Failure::Exhausted)?;
    let stream = addr.connect(timeout).await.map_err(|timeout| {
        if timeout {
            Failure::Timeout
        } else {
            Failure::Error
        }
    })?;
    Ok(RawConn {
        stream,
        requests: 0,
        slot,
    })
}

/// Reads a response head (skipping interim 1xx ones) into `buf` and
/// writes the client's head from it into `out`: the head's length,
/// status, framing, whether the connection stays reusable and whether the
/// status closes the client's. The error says whether any byte had come.
async fn read_head(
    stream: &mut crate::peer::Stream,
    buf: &mut Vec<u8>,
    up: &Upstream<'_>,
    out: &mut Vec<u8>,
) -> Result<(usize, u16, Framing, bool, bool), bool> {
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; UP_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    if (100..200).contains(&status) && status != 101 {
                        buf.drain(..n);
                        continue;
                    }
                    if !(200..1000).contains(&status) {
                        return Err(true);
                    }
                    let (framing, keep) = framing(&resp, status, up.head_only).ok_or(true)?;
                    let keep_alive = up.client_keep_alive && !up.stop.get();
                    let ctx = crate::shape::Ctx {
                        vars: up.vars,
                        status,
                        upstream: up.peers,
                        local: up.local,
                        tls: false,
                    };
                    let vary = up.gzip.vary && up.gzip.eligible_raw(status, resp.headers);
                    let head = Head {
                        status,
                        framing,
                        keep_alive,
                        vary,
                    };
                    let closing = client_head(out, &resp, &head, up.shape, &ctx);
                    return Ok((n, status, framing, keep, closing || !keep_alive));
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Err(true),
            }
        }
        if buf.len() >= UP_HEAD_MAX {
            return Err(true);
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(BUF);
        }
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) => return Err(!buf.is_empty()),
            Ok(_) => {}
        }
    }
}

fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// The body's framing and whether the connection is reusable after it;
/// `None` for a head hyper's client refuses too (bad or conflicting
/// `Content-Length`).
fn framing(
    resp: &httparse::Response<'_, '_>,
    status: u16,
    head_only: bool,
) -> Option<(Framing, bool)> {
    let mut keep = resp.version == Some(1);
    let mut te = None;
    let mut len: Option<u64> = None;
    for h in resp.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("transfer-encoding") {
            te = Some(
                tokens(h.value)
                    .last()
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked")),
            );
        } else if n.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value.trim_ascii()).ok()?;
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u64 = v.parse().ok()?;
            if len.is_some_and(|l| l != v) {
                return None;
            }
            len = Some(v);
        } else if n.eq_ignore_ascii_case("connection") {
            for t in tokens(h.value) {
                if t.eq_ignore_ascii_case(b"close") {
                    keep = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") && resp.version == Some(0) {
                    keep = true;
                }
            }
        }
    }
    let f = if head_only || status == 204 || status == 304 {
        Framing::None
    } else {
        match (te, len) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) | (None, None) => Framing::Close,
            (None, Some(n)) => Framing::Length(n),
        }
    };
    Some((f, keep && f != Framing::Close))
}

/// What the client's response head says of itself.
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    /// `Vary: Accept-Encoding` (`gzip_vary`).
    vary: bool,
}

/// Writes the client's response head (as `server::finish` orders it:
/// `Server`, `Date`, `Content-Type`, `Content-Length`,
/// a rewritten relative `Location` made absolute, `Transfer-Encoding`,
/// `Connection`, then the upstream's others but its hidden ones, then the
/// `add_header` ones); returns whether the status closes the connection.
fn client_head(
    out: &mut Vec<u8>,
    resp: &httparse::Response<'_, '_>,
    head: &Head,
    shape: &crate::shape::Shape,
    ctx: &crate::shape::Ctx<'_>,
) -> bool {
    let Head {
        status,
        framing,
        keep_alive,
        vary,
    } = *head;
    let reason = match resp.reason {
        Some(x) if !x.is_empty() => x.as_bytes(),
        _ => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .as_bytes(),
    };
    let line = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    let chunked = matches!(framing, Framing::Chunked | Framing::Close);
    // Each header's place, found once.
    let mut at = [0u8; UP_HEADERS];
    let (mut server, mut date, mut redirect) = (true, true, false);
    for (p, h) in at.iter_mut().zip(resp.headers.iter()) {
        *p = shape.place(h.name);
        server &= *p != place::SERVER;
        date &= *p != place::DATE;
        redirect |= *p == place::LOCATION || *p == place::REFRESH;
    }
    let places = &at[..resp.headers.len()];
    status_line_with(out, status, reason, server, date);
    // nginx writes these two with its own spelling.
    for (want, name) in [
        (place::CONTENT_TYPE, "Content-Type"),
        (place::CONTENT_LENGTH, "Content-Length"),
    ] {
        if want == 2 && chunked {
            continue;
        }
        for (h, _) in resp.headers.iter().zip(places).filter(|(_, &p)| p == want) {
            line(out, name, h.value);
        }
    }
    // `proxy_redirect`: rewritten values (allocated only when a rule
    // matched), and the last rewritten `Location`, which nginx's header
    // filter makes absolute when it starts with `/`.
    let mut rewritten: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut fixed = None;
    for (i, (h, &p)) in resp.headers.iter().zip(places).enumerate() {
        if !redirect {
            break;
        }
        if p == place::LOCATION || p == place::REFRESH {
            if let Some(v) = shape.redirect(ctx, h.value, p == place::REFRESH) {
                if p == place::LOCATION {
                    fixed = Some(rewritten.len());
                }
                rewritten.push((i, v));
            }
        }
    }
    let fixed = fixed
        .filter(|&k| shape.absolute_redirect() && rewritten[k].1.first() == Some(&b'/'))
        .map(|k| {
            let (i, v) = &rewritten[k];
            out.extend_from_slice(b"Location: ");
            shape.absolute(ctx, v, out);
            out.extend_from_slice(b"\r\n");
            *i
        });
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    let closing = matches!(status, 400 | 413 | 414 | 500 | 501);
    out.extend_from_slice(if closing || !keep_alive {
        b"Connection: close\r\n"
    } else {
        b"Connection: keep-alive\r\n"
    });
    if vary {
        out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
    }
    // `add_header ETag|Last-Modified` replaces the last upstream one.
    let mut replaced = [false; 2];
    let replacing = shape.replaces().then(|| {
        let last = |w: Replaced| {
            resp.headers
                .iter()
                .zip(places)
                .rposition(|(h, &p)| p == place::REST && Replaced::of(h.name) == Some(w))
        };
        [Replaced::ETag, Replaced::LastModified]
            .map(|w| last(w).and_then(|i| shape.replacement(ctx, w).map(|r| (i, r))))
    });
    if replacing.is_none() && rewritten.is_empty() {
        // The common case: every passed header as it came.
        for (h, &p) in resp.headers.iter().zip(places) {
            if !matches!(
                p,
                place::HIDDEN | place::CONTENT_TYPE | place::CONTENT_LENGTH
            ) {
                line(out, h.name, h.value);
            }
        }
        shape.write_added(ctx, out, replaced);
        out.extend_from_slice(b"\r\n");
        return closing;
    }
    for (i, (h, &p)) in resp.headers.iter().zip(places).enumerate() {
        if let Some(k) = replacing.as_ref().and_then(|r| {
            r.iter()
                .position(|x| x.as_ref().is_some_and(|(at, _)| *at == i))
        }) {
            replaced[k] = true;
            if let Some(Some((_, (name, value)))) = replacing.as_ref().map(|r| &r[k]) {
                if !value.is_empty() {
                    line(out, name, value);
                }
            }
        } else if p == place::REST || p == place::SERVER || p == place::DATE {
            line(out, h.name, h.value);
        } else if p == place::LOCATION || p == place::REFRESH {
            if fixed == Some(i) {
                continue;
            }
            match rewritten.iter().find(|(k, _)| *k == i) {
                Some((_, v)) => line(out, h.name, v),
                None => line(out, h.name, h.value),
            }
        }
    }
    shape.write_added(ctx, out, replaced);
    out.extend_from_slice(b"\r\n");
    closing
}

/// Why a relayed response stopped short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// `send_timeout` passed writing to the client.
    ClientTimeout,
    /// `proxy_read_timeout` passed reading the upstream.
    UpstreamTimeout,
    /// Either side failed or closed.
    Other,
}

impl Cut {
    fn client(timed_out: bool) -> Self {
        if timed_out {
            Cut::ClientTimeout
        } else {
            Cut::Other
        }
    }

    fn upstream(timed_out: bool) -> Self {
        if timed_out {
            Cut::UpstreamTimeout
        } else {
            Cut::Other
        }
    }
}

/// One read from the upstream: `Err(true)` when nothing came for
/// `timeout` (`proxy_read_timeout`, between two reads), `Err(false)` on
/// an error; the timer is only set when no bytes are there yet.
async fn read_up(
    stream: &mut crate::peer::Stream,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<usize, bool> {
    if let Some(r) = read_now(stream, buf).await {
        return r.map_err(|_| false);
    }
    match tokio::time::timeout(timeout, stream.read_buf(buf)).await {
        Ok(r) => r.map_err(|_| false),
        Err(_) => Err(true),
    }
}

/// Sends `out` (the head) with the body: the bytes already read, then the
/// rest as it comes, each client write within `send_timeout`, each
/// upstream read within `read_timeout`. Returns the body bytes sent (chunk
/// framing included); the error (the response could not be completed:
/// either side failed or timed out) says how many, and whether the
/// upstream timed out.
pub(super) async fn relay(
    client: &mut TcpStream,
    r: &mut Answer,
    out: &mut Vec<u8>,
    send_timeout: Duration,
    read_timeout: Duration,
) -> Result<u64, (u64, Cut)> {
    let mut sent = 0u64;
    // Body bytes are what is written after the head, chunk framing
    // included (nginx's `$body_bytes_sent`).
    let mut head = out.len() as u64;
    let first = r.buf.len() - r.head_len;
    match r.framing {
        Framing::None => {
            if first > 0 {
                r.reusable = false;
            }
            if let Err(t) = send(client, out, send_timeout).await {
                return Err((0, Cut::client(t)));
            }
            Ok(0)
        }
        Framing::Length(n) => {
            let take = usize::try_from(n).unwrap_or(usize::MAX).min(first);
            if first > take {
                r.reusable = false;
            }
            out.extend_from_slice(&r.buf[r.head_len..r.head_len + take]);
            let mut left = n - take as u64;
            if let Err(t) = send(client, out, send_timeout).await {
                return Err((0, Cut::client(t)));
            }
            sent += take as u64;
            if left > 0 {
                r.buf.clear();
                r.buf.reserve(BODY_BUF);
            }
            while left > 0 {
                r.buf.clear();
                match read_up(&mut r.conn.stream, &mut r.buf, read_timeout).await {
                    Ok(0) => return Err((sent, Cut::Other)),
                    Err(t) => return Err((sent, Cut::upstream(t))),
                    Ok(_) => {}
                }
                let k = usize::try_from(left).unwrap_or(usize::MAX).min(r.buf.len());
                if k < r.buf.len() {
                    r.reusable = false;
                }
                if let Err(t) = send(client, &r.buf[..k], send_timeout).await {
                    return Err((sent, Cut::client(t)));
                }
                sent += k as u64;
                left -= k as u64;
            }
            Ok(sent)
        }
        Framing::Chunked => {
            let mut dec = Chunks::default();
            let mut from = r.head_len;
            loop {
                let used = dec
                    .feed(&r.buf[from..], out)
                    .map_err(|()| (sent, Cut::Other))?;
                if dec.done() && from + used < r.buf.len() {
                    r.reusable = false;
                }
                if let Err(t) = send(client, out, send_timeout).await {
                    return Err((sent, Cut::client(t)));
                }
                sent += out.len() as u64 - std::mem::take(&mut head);
                if dec.done() {
                    return Ok(sent);
                }
                out.clear();
                r.buf.clear();
                r.buf.reserve(BODY_BUF);
                from = 0;
                match read_up(&mut r.conn.stream, &mut r.buf, read_timeout).await {
                    Ok(0) => return Err((sent, Cut::Other)),
                    Err(t) => return Err((sent, Cut::upstream(t))),
                    Ok(_) => {}
                }
            }
        }
        Framing::Close => {
            r.reusable = false;
            let mut from = r.head_len;
            loop {
                let data = &r.buf[from..];
                let end = data.is_empty();
                if end {
                    out.extend_from_slice(b"0\r\n\r\n");
                } else {
                    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                    out.extend_from_slice(data);
                    out.extend_from_slice(b"\r\n");
                }
                if let Err(t) = send(client, out, send_timeout).await {
                    return Err((sent, Cut::client(t)));
                }
                sent += out.len() as u64 - std::mem::take(&mut head);
                if end {
                    return Ok(sent);
                }
                out.clear();
                r.buf.clear();
                r.buf.reserve(BODY_BUF);
                from = 0;
                if let Err(t) = read_up(&mut r.conn.stream, &mut r.buf, read_timeout).await {
                    return Err((sent, Cut::upstream(t)));
                }
            }
        }
    }
}
