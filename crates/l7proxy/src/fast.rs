//! The plain HTTP/1 path: the common request (`GET`/`HEAD`, HTTP/1.1, no
//! body, no upgrade, a `Host`, an origin-form target, a location that
//! proxies) is parsed with `httparse`, sent upstream as bytes on a pooled
//! connection of our own, and its response head rewritten into one buffer
//! written with the first part of the body, the rest streamed with
//! backpressure (one upstream read, then one client write). Anything else
//! hands the connection, with the bytes read so far, to hyper for the rest
//! of its life, before a byte of answer is written: the answers of the two
//! paths are the same (the differential tests run through both).
//!
//! An idle keep-alive connection holds no buffer: the task waits for
//! readability with only its socket; buffers come from the worker's spare
//! list while a request is in progress.

use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::accesslog::{ConnFacts, RequestFacts, Routed};
use crate::balance::{Input, Method};
use crate::headers::{Client, Vars};
use crate::logformat::Try;
use crate::plan::Action;
use crate::worker::{Failure, RawConn, Worker};

mod upstream;
#[allow(clippy::wildcard_imports, reason = "one path split in two files")]
use upstream::*;

/// Size of a head buffer (a request, a response head and the first body
/// bytes read with it).
const BUF: usize = 2 * 1024;
/// Size of the upstream read buffer once a body needs more reads.
const BODY_BUF: usize = 32 * 1024;
/// Spare buffers kept per worker.
const SPARE: usize = 32;
/// Request heads longer than this go to hyper (which applies nginx's
/// limits and answers 400/414 as nginx does).
const MAX_HEAD: usize = 16 * 1024;
/// nginx's `large_client_header_buffers` line size.
const LINE: usize = 8192;
/// Client header lines the fast path parses (more: hyper).
const HEADERS: usize = 64;
/// Upstream response header lines and head size accepted.
const UP_HEADERS: usize = 100;
const UP_HEAD_MAX: usize = 64 * 1024;

fn take_buf(w: &Worker) -> Vec<u8> {
    w.bufs
        .borrow_mut()
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(BUF))
}

/// One read into `buf`'s spare room, without waiting: `None` when the
/// socket has nothing now (the task's waker is then registered).
///
/// Unlike `try_read_buf`, this goes through `AsyncRead::poll_read`, which
/// marks the socket not ready after a short read (the kernel buffer was
/// drained), so the next wait sleeps on epoll instead of paying a `recv`
/// that fails with `EAGAIN` — one syscall less per keep-alive request.
async fn read_now<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Option<std::io::Result<usize>> {
    std::future::poll_fn(|cx| {
        let read = stream.read_buf(buf);
        let mut read = std::pin::pin!(read);
        match std::future::Future::poll(read.as_mut(), cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => Poll::Ready(None),
        }
    })
    .await
}

/// Writes all of `bytes` to the client; an error when it failed (`true`:
/// it made no progress for `timeout`, nginx's `send_timeout`, after which
/// nginx closes). The timer is only set when the socket would block.
async fn send(stream: &mut TcpStream, bytes: &[u8], timeout: Duration) -> Result<(), bool> {
    let mut done = 0;
    while done < bytes.len() {
        match stream.try_write(&bytes[done..]) {
            Ok(0) => return Err(false),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                match tokio::time::timeout(timeout, stream.writable()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(false),
                    Err(_) => return Err(true),
                }
            }
            Err(_) => return Err(false),
        }
    }
    Ok(())
}

fn put_buf(w: &Worker, mut b: Vec<u8>) {
    if (BUF..=2 * BODY_BUF).contains(&b.capacity()) {
        let mut bufs = w.bufs.borrow_mut();
        if bufs.len() < SPARE {
            b.clear();
            bufs.push(b);
        }
    }
}

/// The client connection after the fast path gave it up: the bytes it
/// read first, then the socket.
#[derive(Debug)]
pub struct Rewind {
    pre: Vec<u8>,
    pos: usize,
    stream: TcpStream,
    /// Requests the fast path answered on this connection before.
    pub served: u32,
}

impl Rewind {
    /// `stream`, with the bytes `pre` already read from it put back.
    pub(crate) fn new(pre: Vec<u8>, stream: TcpStream) -> Self {
        Self {
            pre,
            pos: 0,
            stream,
            served: 0,
        }
    }
}

impl Rewind {
    /// The socket's local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        if me.pos < me.pre.len() {
            let n = buf.remaining().min(me.pre.len() - me.pos);
            buf.put_slice(&me.pre[me.pos..me.pos + n]);
            me.pos += n;
            if me.pos == me.pre.len() {
                me.pre = Vec::new();
                me.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// How long a stopping worker keeps an idle keep-alive connection open
/// for a request already on its way (a reload under load: a client that
/// just got an answer sends its next request at once).
const STOP_GRACE: Duration = Duration::from_millis(250);

/// Why an idle connection's wait ended.
enum Wake {
    /// Bytes (or the end) have come.
    Ready,
    /// The worker is stopping.
    Stop,
    /// `client_header_timeout` / `keepalive_timeout` passed.
    Expired,
    /// A socket error, or its place was taken (`worker_connections`).
    Failed,
}

/// What became of the connection after one request.
enum Step {
    /// Keep it (for up to its location's `keepalive_timeout` if idle);
    /// these bytes (maybe none) were read past the request.
    Again(Vec<u8>, Duration),
    Close,
    /// Give it to hyper with these bytes.
    Hyper(Vec<u8>),
}

/// Serves a plain connection until it closes (`None`) or needs hyper.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    w: Rc<Worker>,
    index: usize,
    slot: &crate::limit::Slot,
    conn: &std::cell::Cell<ConnFacts>,
) -> Option<Rewind> {
    let mut pending = Vec::new();
    // The first bytes, then the whole first head, must come within
    // `client_header_timeout` of the accept (nginx's timer is set once);
    // later the idle wait is the `keepalive_timeout` of the last request's
    // location. Nothing is sent on either timeout.
    let mut timer = crate::idle::Timer::new(w.wheel.after(header_timeout(&w, index)));
    let mut served = 0u32;
    // Stopping: the idle keep-alive connection waits `STOP_GRACE` more
    // for a request its client may be sending already.
    let mut draining = false;
    loop {
        while pending.is_empty() {
            // Idle: only the socket is held; a buffer is taken when bytes
            // have come (readiness can be stale: then it goes back). No
            // readiness future kept in the task: the waker goes into the
            // socket's own slot, and into the worker's wheel for the
            // deadline. The connection is reusable meanwhile (closed if
            // worker_connections run out, as nginx does).
            let reusable = slot.idle();
            let ready = std::future::poll_fn(|cx| {
                // A stopping worker wakes every idle connection (they are
                // all in its wheel). A new connection still gets its first
                // request answered, as nginx does (only keep-alive
                // connections are idle to its ngx_close_idle_connections).
                if w.stopping.get() && served > 0 && !draining {
                    return Poll::Ready(Wake::Stop);
                }
                let reclaimed = std::pin::pin!(reusable.reclaimed());
                if std::future::Future::poll(reclaimed, cx).is_ready() {
                    return Poll::Ready(Wake::Failed);
                }
                match stream.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(Wake::Ready),
                    Poll::Ready(Err(_)) => Poll::Ready(Wake::Failed),
                    Poll::Pending => timer.poll_expired(&w.wheel, cx).map(|()| Wake::Expired),
                }
            })
            .await;
            match ready {
                Wake::Ready => {}
                Wake::Stop => {
                    draining = true;
                    let grace = w.wheel.after(STOP_GRACE);
                    if grace < timer.deadline() {
                        timer.set(grace);
                    }
                }
                Wake::Failed => return None,
                Wake::Expired => {
                    if served == 0 {
                        crate::errorlog::client_timed_out(&w.site, index, peer.ip(), b"");
                    }
                    return None;
                }
            }
            // On a stop, a request that has come, or comes within the
            // grace, is answered (with `Connection: close`) rather than
            // dropped with the connection: its client would see a
            // failure (nginx closes at once).
            let mut buf = take_buf(&w);
            match read_now(&mut stream, &mut buf).await {
                Some(Ok(0) | Err(_)) => {
                    put_buf(&w, buf);
                    return None;
                }
                Some(Ok(_)) => pending = buf,
                None => put_buf(&w, buf),
            }
        }
        let buf = std::mem::take(&mut pending);
        let head_by = (served == 0).then(|| w.wheel.instant(timer.deadline()));
        let head = Head {
            served: served + 1,
            by: head_by,
            timeout: header_timeout(&w, index),
        };
        match Box::pin(one(&mut stream, buf, peer, &w, index, head, conn)).await {
            // Stopping: nothing more after this request.
            Step::Again(..) if w.stopping.get() => return None,
            Step::Again(rest, keepalive) => {
                pending = rest;
                served += 1;
                timer.set(w.wheel.after(keepalive));
            }
            Step::Close => return None,
            Step::Hyper(pre) => {
                return Some(Rewind {
                    pre,
                    pos: 0,
                    stream,
                    served,
                })
            }
        }
    }
}

/// `client_header_timeout` of the listener's default server (nginx reads
/// heads with the default server's settings).
fn header_timeout(w: &Worker, index: usize) -> Duration {
    w.site.server_client[w.site.listeners[index].default].header_timeout
}

/// The request's number on its connection and when its head must be in.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// 1 for the first request.
    served: u32,
    /// The first request's deadline (from the accept).
    by: Option<std::time::Instant>,
    /// `client_header_timeout` (later requests: from their first bytes).
    timeout: Duration,
}

/// Reads one request head and answers it.
async fn one(
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
fn head_end(buf: &[u8]) -> Option<usize> {
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

enum Done {
    /// Keep the connection, idle for up to this long.
    KeepAlive(Duration),
    Close,
    /// Nothing was written: hyper answers this request.
    Hyper,
}

/// Bytes of a request target the fast path passes as they are (RFC 3986
/// unreserved, sub-delims, `:@/?%`); anything else goes to hyper.
fn plain_target_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

/// The request facts the fast path has decided to answer.
struct Req<'a> {
    method: &'a str,
    target: &'a str,
    head_only: bool,
    keep_alive: bool,
    client: &'a [httparse::Header<'a>],
    /// The location's client-side limits.
    limits: crate::plan::ClientLimits,
    /// Bytes sent before the response (`100 Continue`): nginx counts them
    /// in `$body_bytes_sent`.
    early: u64,
}

#[allow(clippy::too_many_lines)] // one request, start to end
async fn answer(
    stream: &mut TcpStream,
    head: &[u8],
    peer: SocketAddr,
    w: &Rc<Worker>,
    index: usize,
    served: u32,
    conn: &std::cell::Cell<ConnFacts>,
) -> Done {
    // Left uninitialised: httparse fills what it parses (an initialised
    // array is a 2 KB store per request).
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    if !matches!(
        parsed.parse_with_uninit_headers(head, &mut headers),
        Ok(httparse::Status::Complete(_))
    ) {
        return Done::Hyper;
    }
    let (Some(method), Some(target), Some(1)) = (parsed.method, parsed.path, parsed.version) else {
        return Done::Hyper;
    };
    let client: &[httparse::Header<'_>] = parsed.headers;
    if !matches!(method, "GET" | "HEAD")
        || method.len() + target.len() + "  HTTP/1.1\r\n".len() > LINE
        || !target.starts_with('/')
        || !target.bytes().all(plain_target_byte)
    {
        return Done::Hyper;
    }
    let mut host = None;
    let mut connection = None;
    let mut expect = None;
    for h in client {
        if h.name.len() + h.value.len() + 4 > LINE {
            return Done::Hyper;
        }
        let n = h.name;
        if n.eq_ignore_ascii_case("host") {
            let visible = h.value.iter().all(|&b| (0x21..0x7f).contains(&b));
            if host.is_some() || !visible {
                return Done::Hyper;
            }
            host = std::str::from_utf8(h.value).ok();
        } else if n.eq_ignore_ascii_case("connection") {
            // As hyper's map: the first one counts.
            connection = connection.or(Some(h.value));
        } else if n.eq_ignore_ascii_case("expect") {
            // As nginx's headers_in: the first one counts.
            expect = expect.or(Some(h.value));
        } else if ["content-length", "transfer-encoding", "upgrade"]
            .iter()
            .any(|x| n.eq_ignore_ascii_case(x))
        {
            return Done::Hyper;
        }
    }
    let Some(host) = host else {
        return Done::Hyper;
    };
    let keep_alive = !connection.is_some_and(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    });

    // Routing, as Worker::route.
    let site = &w.site;
    let l = &site.listeners[index];
    let server = if l.servers.len() == 1 {
        l.servers[0]
    } else {
        crate::route::select_server(&site.routes, &l.servers, l.default, host)
    };
    let (path, args) = crate::uri::split(target);
    let Ok(normalized) = crate::uri::normalize(path) else {
        return Done::Hyper;
    };
    if site.http.servers[server].ret.is_some() {
        return Done::Hyper;
    }
    let loc_path = site.routes[server].location(normalized.as_bytes());
    let Some(node) = crate::plan::node(&site.plans[server], &loc_path) else {
        return Done::Hyper;
    };
    let Action::Proxy(plan) = &node.action else {
        return Done::Hyper;
    };
    let host_key = crate::route::host_key(host);
    let resolved;
    let plan: &crate::plan::ProxyPlan = match &plan.dynamic {
        None => plan,
        Some(template) => {
            let eval = Vars {
                proxy_host: "",
                remote_addr: peer,
                host: &host_key,
                scheme: "http",
                request_uri: target,
                uri: &normalized,
                args,
                body_length: None,
                client_headers: Client::Raw(client),
                maps: &site.maps,
            };
            // Errors (and their log lines) are hyper's path's.
            let Ok(p) = plan.resolve(template, &eval, site) else {
                return Done::Hyper;
            };
            // Boxed: the request's future stays small.
            resolved = Box::new(p);
            &resolved
        }
    };
    let log = &node.log;
    let limits = node.client;
    let mut this_conn = conn.get();
    this_conn.requests += 1;
    conn.set(this_conn);
    let mut facts = if log.0.is_empty() {
        None
    } else {
        let Ok(m) = http::Method::from_bytes(method.as_bytes()) else {
            return Done::Hyper;
        };
        let mut headers = Vec::new();
        for h in client {
            if let Some(n) = log.1.iter().find(|n| n.eq_ignore_ascii_case(h.name)) {
                headers.push((
                    std::sync::Arc::clone(n),
                    bytes::Bytes::copy_from_slice(h.value),
                ));
            }
        }
        let host = if host_key.is_empty() {
            crate::errorlog::server_name(site, server)
        } else {
            host_key.clone()
        };
        Some(Box::new(RequestFacts {
            remote: peer,
            local: crate::server::local_addr(w, index, || stream.local_addr()),
            method: m,
            target: target.to_owned(),
            version: http::Version::HTTP_11,
            headers,
            all: None,
            scheme: "http",
            connection: this_conn.number,
            requests: this_conn.requests,
            start: std::time::SystemTime::now(),
            routed: Routed {
                host,
                server_name: crate::errorlog::server_name(site, server),
                uri: normalized.to_string(),
                tries: Vec::new(),
            },
            header_bytes: 0,
        }))
    };
    let req = Req {
        method,
        target,
        head_only: method == "HEAD",
        // `keepalive_requests`, `keepalive_timeout 0`.
        keep_alive: keep_alive && limits.keeps(served),
        client,
        limits,
        early: 0,
    };
    let mut req = req;
    // nginx answers `Expect: 100-continue` (exactly; HTTP/1.1) when it
    // starts reading the body, which the proxy module does for every
    // request, body or not.
    if expect.is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue")) {
        const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        if send(stream, CONTINUE, limits.send_timeout).await.is_err() {
            return Done::Close;
        }
        req.early = CONTINUE.len() as u64;
    }

    // The upstream request.
    let vars = Vars {
        proxy_host: &plan.proxy_host,
        remote_addr: peer,
        host: &host_key,
        scheme: "http",
        request_uri: target,
        uri: &normalized,
        args,
        body_length: None,
        client_headers: Client::Raw(client),
        maps: &site.maps,
    };
    let mut out = take_buf(w);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b' ');
    match &plan.pass_uri {
        _ if plan.fixed_uri.is_some() => {
            out.extend_from_slice(plan.fixed_uri.as_deref().unwrap_or("/").as_bytes());
        }
        None => out.extend_from_slice(req.target.as_bytes()),
        Some((uri, prefix)) => out.extend_from_slice(
            crate::worker::upstream_target(uri, *prefix, &normalized, args).as_bytes(),
        ),
    }
    out.extend_from_slice(if plan.version == http::Version::HTTP_11 {
        b" HTTP/1.1\r\n"
    } else {
        b" HTTP/1.0\r\n"
    });
    let sent_close = plan.headers.write(&vars, req.client, &mut out);
    out.extend_from_slice(b"\r\n");

    let group = &*plan.group;
    let spec = site.upstreams.get(group);
    let key = spec
        .and_then(|u| u.hash_key.as_ref())
        .map(|k| vars.expand(k));
    let input = match spec.map(|u| &u.method) {
        Some(Method::IpHash) => Input::Client(peer.ip()),
        Some(Method::Hash | Method::HashConsistent) => {
            Input::Key(key.as_deref().unwrap_or("").as_bytes())
        }
        _ => Input::None,
    };
    let attempt = spec.and_then(|_| w.balancers.borrow().get(group).map(|u| u.start(input)));
    let (Some(spec), Some(mut attempt)) = (spec, attempt) else {
        put_buf(w, out);
        let shaping = (&*node.shape, &vars, l.addr, crate::shape::Peers::None);
        return page(
            stream,
            w,
            StatusCode::INTERNAL_SERVER_ERROR,
            &req,
            (log, facts),
            shaping,
        )
        .await;
    };
    let max_tries = match plan.tries {
        0 => spec.primary.len() + spec.backup.len(),
        n => n as usize,
    };
    let mut last_failure = StatusCode::BAD_GATEWAY;
    let mut got = None;
    // The peers tried, for `$upstream_addr` (the first few).
    let mut tried = [0u16; 8];
    let mut tried_n = 0;
    let event = crate::errorlog::Event {
        site,
        server,
        location: &loc_path,
        client: peer.ip(),
        method,
        target,
        version: "HTTP/1.1",
        host: Some(host),
    };
    for tries in 1..=max_tries.max(1) {
        let pick =
            w.balancers.borrow_mut().get_mut(group).and_then(|u| {
                u.next_with(&mut attempt, crate::worker::now_secs(), &mut || w.random())
            });
        let Some(pick) = pick else {
            event.no_live_upstreams(group, crate::errorlog::upstream_target(&out));
            if let Some(f) = &mut facts {
                f.routed.tries.push(Try {
                    addr: crate::logformat::TryAt::Group(group.into()),
                    status: 502,
                    secs: 0.0,
                });
            }
            break;
        };
        let addr = if pick.backup {
            spec.backup[pick.index].1.clone()
        } else {
            spec.primary[pick.index].1.clone()
        };
        let last = tries >= max_tries;
        if tried_n < tried.len() {
            tried[tried_n] = u16::try_from(pick.index).unwrap_or(0)
                | if pick.backup { crate::shape::BACKUP } else { 0 };
            tried_n += 1;
        }
        let up = Upstream {
            group,
            keepalive: spec.keepalive > 0,
            addr: &addr,
            connect_timeout: plan.connect_timeout,
            read_timeout: plan.read_timeout,
            send_timeout: plan.send_timeout,
            head_only: req.head_only,
            client_keep_alive: req.keep_alive,
            stop: &w.stopping,
            shape: &node.shape,
            vars: &vars,
            local: l.addr,
            peers: crate::shape::Peers::Picks(spec, &tried[..tried_n]),
        };
        let t0 = std::time::Instant::now();
        let outcome = up.exchange(w, &out).await;
        if let Some(f) = &mut facts {
            f.routed.tries.push(Try {
                addr: crate::logformat::TryAt::Peer(addr.clone()),
                status: match &outcome {
                    Ok(r) => r.status,
                    Err(Failure::Timeout) => 504,
                    Err(Failure::Error) => 502,
                    Err(Failure::Exhausted) => 500,
                },
                secs: t0.elapsed().as_secs_f64(),
            });
        }
        match outcome {
            Ok(r) => {
                let failed = plan.next.status(r.status);
                // GET and HEAD are idempotent: a failed status is retried.
                if failed && !last {
                    w.release(group, &attempt, true);
                    put_buf(w, r.buf);
                    put_buf(w, r.head);
                    continue;
                }
                got = Some((r, failed, addr, t0));
                break;
            }
            Err(Failure::Exhausted) => {
                w.release(group, &attempt, false);
                event.exhausted(&addr, crate::errorlog::upstream_target(&out));
                last_failure = StatusCode::INTERNAL_SERVER_ERROR;
                break;
            }
            Err(kind) => {
                let uri = crate::errorlog::upstream_target(&out);
                w.attempt_failed(group, &attempt, &addr, uri, kind, &event);
                let (status, allowed) = plan.next.after(kind);
                last_failure = status;
                if !allowed {
                    break;
                }
            }
        }
    }
    let Some((mut r, failed, addr, t0)) = got else {
        put_buf(w, out);
        let picks = &tried[..tried_n];
        let shaping = (
            &*node.shape,
            &vars,
            l.addr,
            crate::shape::Peers::Picks(spec, picks),
        );
        return page(stream, w, last_failure, &req, (log, facts), shaping).await;
    };

    // The response.
    let upstream_req = out;
    let mut out = std::mem::take(&mut r.head);
    let head_bytes = out.len() as u64;
    let stopping = !r.keep_alive;
    let closing = r.closing;
    let relayed = relay(
        stream,
        &mut r,
        &mut out,
        limits.send_timeout,
        plan.read_timeout,
    )
    .await;
    let (complete, sent) = match relayed {
        Ok(n) => (true, n),
        Err((n, cut)) => {
            let target = crate::errorlog::upstream_target(&upstream_req);
            match cut {
                Cut::UpstreamTimeout => event.upstream_read_timed_out(&addr, target),
                Cut::ClientTimeout => event.client_send_timed_out(&addr, target),
                Cut::Other => {}
            }
            (false, n)
        }
    };
    w.release(group, &attempt, failed);
    if complete && r.reusable && !sent_close && spec.keepalive > 0 {
        w.cache(
            group,
            crate::worker::Link::Raw(r.conn),
            spec.keepalive,
            addr,
        );
    }
    put_buf(w, upstream_req);
    put_buf(w, out);
    put_buf(w, r.buf);
    if let Some(f) = &mut facts {
        f.header_bytes = head_bytes;
        if let Some(t) = f.routed.tries.last_mut() {
            t.secs = t0.elapsed().as_secs_f64();
        }
        crate::accesslog::write(log, f, r.status, sent + req.early);
    }
    if complete && req.keep_alive && !stopping && !closing {
        Done::KeepAlive(limits.keepalive_timeout)
    } else {
        Done::Close
    }
}

/// Writes one of our pages (nginx's error page, as `worker::error_page`).
async fn page(
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
        crate::body::Body::Upstream(..) => bytes::Bytes::new(),
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
fn status_line(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    status_line_with(out, code, reason, true, true);
}

/// `HTTP/1.1 CODE REASON`, then our `Server` and `Date` when asked (not
/// when `proxy_pass_header` passes the upstream's).
fn status_line_with(out: &mut Vec<u8>, code: u16, reason: &[u8], server: bool, date: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rechunk(parts: &[&[u8]]) -> Result<(Vec<u8>, u64, bool), ()> {
        let mut d = Chunks::default();
        let mut out = Vec::new();
        for p in parts {
            let used = d.feed(p, &mut out)?;
            assert!(used == p.len() || d.done());
        }
        Ok((out, d.data, d.done()))
    }

    #[test]
    fn chunks_are_rewritten_across_reads_without_extensions_or_trailers() {
        let body: &[u8] = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
        for cut in 0..body.len() {
            let (out, data, done) = rechunk(&[&body[..cut], &body[cut..]]).unwrap();
            assert_eq!(out, b"5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n");
            assert_eq!((data, done), (15, true));
        }
    }

    #[test]
    fn heads_end_at_the_first_empty_line_with_or_without_cr() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\n"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), None);
        assert_eq!(head_end(b""), None);
    }

    #[test]
    fn bad_chunks_are_errors() {
        assert!(rechunk(&[b"x\r\n"]).is_err());
        assert!(rechunk(&[b"\r\n"]).is_err());
        assert!(rechunk(&[b"2\r\nabX"]).is_err());
        assert!(rechunk(&[b"ffffffffffffffffff\r\n"]).is_err());
    }

    #[test]
    fn unfinished_chunks_are_not_done() {
        let (_, data, done) = rechunk(&[b"5\r\nhel"]).unwrap();
        assert_eq!((data, done), (3, false));
    }
}
