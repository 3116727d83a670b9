//! Listening and serving, with nginx's process model mapped to threads:
//! the master (the main thread) owns the listening sockets for the whole
//! run; each generation of workers (one thread with a current-thread tokio
//! runtime per `worker_processes`) accepts on duplicates of them. A reload
//! starts a new generation with the new configuration on the same sockets,
//! then the old one stops accepting and finishes what it has: no listening
//! socket is ever closed and re-opened, so no connection is refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};

use crate::accesslog::{ConnFacts, Logged, RequestFacts};
use crate::casemap::{Recorder, Recording, Spelled, Spellings};
use crate::site::Site;
use crate::worker::{LogAt, Worker};

/// The master's listening sockets, by address.
#[derive(Debug, Default)]
pub struct Sockets(HashMap<SocketAddr, std::net::TcpListener>);

impl Sockets {
    /// Opens every listener `site` needs that is not open yet (reusing the
    /// ones that are), and closes the ones it no longer lists. Must run
    /// inside a tokio runtime context (the master's).
    pub fn update(&mut self, site: &Site) -> Result<(), String> {
        let mut next = HashMap::new();
        for l in &site.listeners {
            let socket = if let Some(open) = self.0.remove(&l.addr) {
                open
            } else {
                let listener = bind(l.addr, l.backlog)
                    .map_err(|e| format!("bind() to {} failed ({e})", l.addr))?;
                listener.into_std().map_err(|e| e.to_string())?
            };
            next.insert(l.addr, socket);
        }
        self.0 = next;
        Ok(())
    }

    fn dup(&self, addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
        self.0
            .get(&addr)
            .ok_or_else(|| std::io::Error::other("no such listener"))?
            .try_clone()
    }
}

fn bind(addr: SocketAddr, backlog: Option<i32>) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(backlog.unwrap_or(511)).unwrap_or(511))
}

/// A running generation of workers.
#[derive(Debug)]
pub struct Generation {
    /// Set once to stop the generation's accept loops (they wait on it:
    /// an idle worker has no timer to wake it).
    stop: tokio::sync::watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<Result<(), String>>>,
}

impl Generation {
    /// Starts `site.workers` workers on duplicates of `sockets`.
    pub fn start(site: &Arc<Site>, sockets: &Sockets) -> Result<Self, String> {
        let (stop, _) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();
        for id in 0..site.workers {
            let mut listeners = Vec::new();
            for l in &site.listeners {
                let s = sockets
                    .dup(l.addr)
                    .map_err(|e| format!("listener {}: {e}", l.addr))?;
                s.set_nonblocking(true).map_err(|e| e.to_string())?;
                listeners.push(s);
            }
            let site = Arc::clone(site);
            let stop = stop.subscribe();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn(move || worker(site, listeners, stop))
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(Self { stop, threads })
    }

    /// Stops accepting; returns once every in-flight connection finished.
    pub fn stop(self) -> Result<(), String> {
        self.stop.send_replace(true);
        for t in self.threads {
            t.join().map_err(|_| "a worker panicked".to_owned())??;
        }
        Ok(())
    }
}

/// How long a stopping worker waits for its connections.
const GRACE: Duration = Duration::from_secs(30);

fn worker(
    site: Arc<Site>,
    listeners: Vec<std::net::TcpListener>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    // The worker's listening sockets and its channel to the master take
    // places in nginx's connection table.
    crate::limit::install(site.worker_connections, listeners.len() + 1);
    local.block_on(&rt, async move {
        let w = Rc::new(Worker::new(Arc::clone(&site)));
        let live = Rc::new(AtomicUsize::new(0));
        let (notify_stop, _) = tokio::sync::watch::channel(false);
        let notify_stop = Rc::new(notify_stop);
        let mut loops = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            let listener = TcpListener::from_std(l).map_err(|e| e.to_string())?;
            let ctx = Ctx {
                index: i,
                worker: Rc::clone(&w),
                live: Rc::clone(&live),
                shutdown: Rc::clone(&notify_stop),
            };
            loops.push(tokio::task::spawn_local(accept_loop(
                listener,
                ctx,
                stop.clone(),
            )));
        }
        // The idle connections' coarse timer (`idle.rs`).
        let sweep = {
            let w = Rc::clone(&w);
            tokio::task::spawn_local(async move { w.wheel.sweep().await })
        };
        for l in loops {
            let _ = l.await;
        }
        // Stopped: tell every connection to finish its request and close
        // (idle plain ones are in the wheel).
        w.stopping.set(true);
        w.wheel.wake_all();
        let _ = notify_stop.send(true);
        let deadline = tokio::time::Instant::now() + GRACE;
        while live.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sweep.abort();
        Ok(())
    })
}

struct Ctx {
    index: usize,
    worker: Rc<Worker>,
    live: Rc<AtomicUsize>,
    shutdown: Rc<tokio::sync::watch::Sender<bool>>,
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Ctx,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            biased;
            // Also when the generation (and so the sender) is gone.
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                serve(stream, peer, &ctx);
            }
        }
    }
}

/// Runs futures of HTTP/2 streams on the worker's thread (our services
/// hold the worker's `Rc` state, so they are not `Send`).
#[derive(Clone, Copy, Debug)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// A response body that keeps its connection busy (not reusable for
/// `worker_connections`) until it has been sent or dropped.
struct Tracked {
    inner: Logged,
    _busy: crate::limit::Busy,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, hyper::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request answered by closing the connection (hyper does so when the
/// service fails).
#[derive(Debug)]
struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request aborted")
    }
}

impl std::error::Error for Aborted {}

/// What a connection's requests share for their log lines and spelling:
/// the client's and local addresses, the bytes of the heads (HTTP/1, for
/// the client's spelling of header names) and the connection's facts.
struct ConnInfo {
    peer: SocketAddr,
    local: SocketAddr,
    rec: Option<Recorder>,
    facts: Rc<std::cell::Cell<ConnFacts>>,
}

/// The request service of one connection (`served`: requests the fast
/// path answered on it before, for `keepalive_requests`; `io`: the
/// connection's limits, whose `send_timeout` follows each request's
/// location).
fn service(
    w: Rc<Worker>,
    index: usize,
    h2: bool,
    conn: &Rc<crate::limit::Shared>,
    served: u32,
    io: Option<Arc<crate::timed::Limits>>,
    info: ConnInfo,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<Tracked>,
    Error = Aborted,
    Future = impl std::future::Future<Output = Result<http::Response<Tracked>, Aborted>>,
> + Clone {
    let conn = Rc::clone(conn);
    let count = Rc::new(std::cell::Cell::new(served));
    let info = Rc::new(info);
    service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let w = Rc::clone(&w);
        let busy = conn.begin();
        let count = Rc::clone(&count);
        let io = io.clone();
        let mut c = info.facts.get();
        c.requests += 1;
        info.facts.set(c);
        if let Some(spelled) = info.rec.as_ref().and_then(|r| client_spelling(r, &req)) {
            req.extensions_mut().insert(ClientSpelling(spelled));
        }
        let (peer, local) = (info.peer, info.local);
        async move {
            let n = count.get().saturating_add(1);
            count.set(n);
            let wants = !h2 && wants_keep_alive(&req);
            // A body of unknown length goes chunked to an HTTP/1.1 client.
            let chunk = !h2
                && req.version() == http::Version::HTTP_11
                && req.method() != http::Method::HEAD;
            let tls = w.site.listeners[index].tls.is_some();
            // Only when some access_log is on.
            let facts = w
                .site
                .logs_requests
                .then(|| RequestFacts::of(&req, peer, local, c, tls));
            if let Some(io) = &io {
                // For the error line of a send_timeout while the body streams.
                req.extensions_mut().insert(Arc::clone(io));
            }
            let mut resp = w.handle(index, peer, req).await;
            // `keepalive_requests`, `keepalive_timeout 0`.
            let limits = resp.extensions_mut().remove::<crate::plan::ClientLimits>();
            let keep_alive = wants && limits.is_none_or(|l| l.keeps(n));
            if let (Some(io), Some(l)) = (&io, limits) {
                io.set_write(l.send_timeout);
            }
            if resp.extensions().get::<crate::worker::Abort>().is_some() {
                let at = resp.extensions_mut().remove::<LogAt>();
                if let (Some(LogAt(t, routed)), Some(mut facts)) = (at, facts) {
                    facts.keep_headers(&t.1);
                    facts.routed = routed;
                    crate::accesslog::write(&t, &facts, resp.status().as_u16(), 0);
                }
                return Err(Aborted);
            }
            let mut resp = finish(resp, keep_alive, h2, chunk).await;
            let status = resp.status().as_u16();
            let at = resp.extensions_mut().remove::<LogAt>();
            let log = at
                .zip(facts)
                .filter(|(LogAt(t, _), _)| !t.0.is_empty())
                .map(|(LogAt(t, routed), mut facts)| {
                    facts.header_bytes = crate::accesslog::head_length(&resp);
                    facts.keep_headers(&t.1);
                    facts.routed = routed;
                    (t, facts, status)
                });
            let chunked = !h2 && resp.headers().contains_key(http::header::TRANSFER_ENCODING);
            Ok::<_, Aborted>(resp.map(|b| Tracked {
                inner: Logged::new(b, log, chunked),
                _busy: busy,
            }))
        }
    })
}

/// `idle`: how long a connection may wait for a request head (hyper has
/// one timer for both nginx's `keepalive_timeout` and
/// `client_header_timeout`: the former, of the default server, is used).
async fn serve_h1<I>(
    io: I,
    svc: impl hyper::service::HttpService<hyper::body::Incoming, ResBody = Tracked>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    reuse: &crate::limit::Shared,
    idle: Duration,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout((!idle.is_zero()).then_some(idle))
        .keep_alive(true)
        .title_case_headers(true)
        .preserve_header_case(true)
        .writev(false)
        .half_close(true)
        .max_buf_size(64 * 1024)
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.wait_for(|s| *s) => {
            // Finish the request in flight, then close (keep-alive off).
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        () = reuse.reclaimed() => {
            // Idle, and its place was needed (worker_connections).
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn serve_h2<I>(
    io: I,
    max_streams: u32,
    svc: impl hyper::service::HttpService<hyper::body::Incoming, ResBody = Tracked> + 'static,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    reuse: &crate::limit::Shared,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let conn = h2_builder(max_streams).serve_connection(io, svc);
    tokio::pin!(conn);
    // Without streams, the connection is reusable (nginx's
    // ngx_http_v2_handle_connection).
    reuse.idle();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.wait_for(|s| *s) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        () = reuse.reclaimed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// nginx's HTTP/2 settings (`ngx_http_v2_send_settings`):
/// `http2_max_concurrent_streams` (128), a stream window of
/// `http2_body_preread_size` (64k), frames up to 16 MB, and the connection
/// window opened to 2^31-1.
fn h2_builder(max_streams: u32) -> hyper::server::conn::http2::Builder<LocalExec> {
    let mut b = hyper::server::conn::http2::Builder::new(LocalExec);
    b.max_concurrent_streams(max_streams)
        .initial_stream_window_size(65_536)
        .initial_connection_window_size(0x7fff_ffff)
        .max_frame_size(0x00ff_ffff);
    b
}

/// `http2_max_concurrent_streams` of a listener: its default server's
/// (nginx's default 128).
fn h2_max_streams(w: &Worker, index: usize) -> u32 {
    let l = &w.site.listeners[index];
    w.site.http.servers[l.default]
        .settings
        .http2_max_concurrent_streams
        .unwrap_or(128)
}

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What nginx 1.22 writes on an h2c port to a client whose first bytes
/// are not the preface (an HTTP/1 request, say): its SETTINGS
/// (MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE 65536, MAX_FRAME_SIZE
/// 16777215), a connection WINDOW_UPDATE of 2147418112, and a GOAWAY with
/// PROTOCOL_ERROR for stream 0; then it closes.
fn not_a_preface(max_streams: u32) -> [u8; 57] {
    let mut b = NOT_A_PREFACE;
    b[11..15].copy_from_slice(&max_streams.to_be_bytes());
    b
}

/// [`not_a_preface`] with 128 streams.
const NOT_A_PREFACE: [u8; 57] = [
    0, 0, 18, 4, 0, 0, 0, 0, 0, //
    0, 3, 0, 0, 0, 128, //
    0, 4, 0, 1, 0, 0, //
    0, 5, 0, 255, 255, 255, //
    0, 0, 4, 8, 0, 0, 0, 0, 0, //
    127, 255, 0, 0, //
    0, 0, 8, 7, 0, 0, 0, 0, 0, //
    0, 0, 0, 0, 0, 0, 0, 1,
];

/// Whether `got` can still be the preface, judged as nginx does
/// (`ngx_http_v2_state_preface`): on its first 16 bytes, then on all 24;
/// `None` while too few bytes have come to judge.
fn preface_verdict(got: &[u8]) -> Option<bool> {
    match got.len() {
        0..16 => None,
        16..24 => (got[..16] != PREFACE[..16]).then_some(false),
        _ => Some(got[..24] == PREFACE[..]),
    }
}

/// A `listen … http2` port without `ssl` (h2c): HTTP/2 with prior
/// knowledge only, as in nginx 1.22 (no HTTP/1, no `Upgrade: h2c`).
async fn serve_h2c(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    w: Rc<Worker>,
    index: usize,
    shutdown: tokio::sync::watch::Receiver<bool>,
    slot: crate::limit::Slot,
    conn: ConnFacts,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let local = local_addr(&w, index, || stream.local_addr());
    let mut got = [0u8; 24];
    let mut n = 0;
    // nginx's post-accept timer: client_header_timeout.
    let wait = w.site.server_client[w.site.listeners[index].default].header_timeout;
    let verdict = loop {
        // Never read past the preface: the frames after it are hyper's.
        let read = tokio::time::timeout(wait, stream.read(&mut got[n..])).await;
        match read {
            Ok(Ok(k)) if k > 0 => n += k,
            _ => return,
        }
        if let Some(v) = preface_verdict(&got[..n]) {
            break v;
        }
    };
    if !verdict {
        // The connection's log is its default server's (nginx's c->log).
        let l = &w.site.listeners[index];
        let server = l.addr;
        w.site.request_errors(l.default, None).log(
            crate::errorlog::Level::Info,
            Some(crate::errorlog::connection_number()),
            &format!(
                "invalid connection preface while processing HTTP/2 connection, client: {}, server: {server}",
                peer.ip()
            ),
        );
        let _ = stream
            .write_all(&not_a_preface(h2_max_streams(&w, index)))
            .await;
        let _ = stream.shutdown().await;
        return;
    }
    let io = crate::fast::Rewind::new(got.to_vec(), stream);
    let max = h2_max_streams(&w, index);
    let reuse = crate::limit::Shared::new(slot);
    let info = ConnInfo {
        peer,
        local,
        rec: None,
        facts: Rc::new(conn.into()),
    };
    let svc = service(w, index, true, &reuse, 0, None, info);
    serve_h2(TokioIo::new(io), max, svc, shutdown, &reuse).await;
}

fn serve(stream: tokio::net::TcpStream, peer: SocketAddr, ctx: &Ctx) {
    let Some(slot) = crate::limit::acquire() else {
        // No room even after closing idle connections: nginx closes the
        // accepted socket at once.
        crate::limit::refused();
        return;
    };
    let _ = stream.set_nodelay(true);
    let w = Rc::clone(&ctx.worker);
    let index = ctx.index;
    let live = Rc::clone(&ctx.live);
    // Subscribed when hyper takes the connection: the plain path's idle
    // wait learns of the stop through the worker (`Worker::stopping`).
    let stop = Rc::clone(&ctx.shutdown);
    live.fetch_add(1, Ordering::Relaxed);
    let conn = ConnFacts {
        number: crate::errorlog::next_connection(),
        requests: 0,
    };
    // Separate tasks, so that a plain connection's future stays small
    // (hyper's connection state is boxed only when it is needed).
    let h2c = w.site.listeners[index].http2;
    match w.site.listeners[index].tls.clone() {
        None if h2c => tokio::task::spawn_local(async move {
            serve_h2c(stream, peer, w, index, stop.subscribe(), slot, conn).await;
            live.fetch_sub(1, Ordering::Relaxed);
        }),
        None => tokio::task::spawn_local(async move {
            let cell = std::cell::Cell::new(conn);
            let rest = crate::fast::serve(stream, peer, Rc::clone(&w), index, &slot, &cell).await;
            if let Some(io) = rest {
                let shutdown = stop.subscribe();
                let served = io.served;
                let local = local_addr(&w, index, || io.local_addr());
                let idle = keepalive_timeout(&w, index);
                let limits = client_limits(&w, index);
                let rec = Recorder::default();
                let io =
                    crate::timed::Timed::new(Recording::new(io, rec.clone()), Arc::clone(&limits));
                // A request is waiting: busy until hyper has answered it.
                let reuse = crate::limit::Shared::new(slot);
                let info = ConnInfo {
                    peer,
                    local,
                    rec: Some(rec),
                    facts: Rc::new(cell),
                };
                let svc = service(w, index, false, &reuse, served, Some(limits), info);
                Box::pin(serve_h1(TokioIo::new(io), svc, shutdown, &reuse, idle)).await;
            }
            live.fetch_sub(1, Ordering::Relaxed);
        }),
        Some(config) => tokio::task::spawn_local(async move {
            let shutdown = stop.subscribe();
            let local = local_addr(&w, index, || stream.local_addr());
            // nginx times the handshake with client_header_timeout.
            let handshake = w.site.server_client[w.site.listeners[index].default].header_timeout;
            let mut stream = stream;
            let protocols = w.site.listeners[index].protocols;
            let refused =
                tokio::time::timeout(handshake, crate::tls::screen(&mut stream, protocols))
                    .await
                    .unwrap_or(true);
            if refused {
                live.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            if let Ok(Ok(tls)) = tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                // Reusable once the handshake is done (nginx: not during it).
                let reuse = crate::limit::Shared::new(slot);
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    let max = h2_max_streams(&w, index);
                    let info = ConnInfo {
                        peer,
                        local,
                        rec: None,
                        facts: Rc::new(conn.into()),
                    };
                    let svc = service(w, index, true, &reuse, 0, None, info);
                    serve_h2(TokioIo::new(tls), max, svc, shutdown, &reuse).await;
                } else {
                    let idle = keepalive_timeout(&w, index);
                    let limits = client_limits(&w, index);
                    let rec = Recorder::default();
                    let io = crate::timed::Timed::new(
                        Recording::new(tls, rec.clone()),
                        Arc::clone(&limits),
                    );
                    let info = ConnInfo {
                        peer,
                        local,
                        rec: Some(rec),
                        facts: Rc::new(conn.into()),
                    };
                    let svc = service(w, index, false, &reuse, 0, Some(limits), info);
                    reuse.idle();
                    serve_h1(TokioIo::new(io), svc, shutdown, &reuse, idle).await;
                }
            }
            live.fetch_sub(1, Ordering::Relaxed);
        }),
    };
}

/// The client's header names as it spelled them (request extension).
#[derive(Debug, Clone)]
pub struct ClientSpelling(pub Vec<bytes::Bytes>);

/// The upstream's response header names as it spelled them (response
/// extension).
#[derive(Debug, Clone)]
pub struct UpstreamSpelling(pub Vec<bytes::Bytes>);

/// The spellings of `req`'s header names, from the bytes `rec` kept.
fn client_spelling<B>(rec: &Recorder, req: &http::Request<B>) -> Option<Vec<bytes::Bytes>> {
    let version = match req.version() {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        _ => return None,
    };
    let line = format!("{} {} {version}\r\n", req.method(), req.uri());
    rec.request_head(line.as_bytes(), req.headers())
}

/// The local address of a connection to listener `index` (`$server_addr`):
/// the listener's, or the socket's for a wildcard listener.
pub(crate) fn local_addr(
    w: &Worker,
    index: usize,
    socket: impl FnOnce() -> std::io::Result<SocketAddr>,
) -> SocketAddr {
    let listening = w.site.listeners[index].addr;
    if listening.ip().is_unspecified() {
        socket().unwrap_or(listening)
    } else {
        listening
    }
}

/// A client connection's limits for hyper's path: `send_timeout` of the
/// listener's default server until a request's location sets its own
/// (reads are timed by hyper and by the body reader).
fn client_limits(w: &Worker, index: usize) -> Arc<crate::timed::Limits> {
    let send = w.site.server_client[w.site.listeners[index].default].send_timeout;
    crate::timed::Limits::new(Duration::ZERO, send)
}

/// The `keepalive_timeout` of a listener's default server.
fn keepalive_timeout(w: &Worker, index: usize) -> Duration {
    w.site.server_client[w.site.listeners[index].default].keepalive_timeout
}

/// Whether the client asked to keep the connection open.
fn wants_keep_alive<B>(req: &http::Request<B>) -> bool {
    let conn = req
        .headers()
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let has = |t: &str| conn.split(',').any(|x| x.trim().eq_ignore_ascii_case(t));
    if req.version() == http::Version::HTTP_10 {
        has("keep-alive")
    } else {
        !has("close")
    }
}

/// Upstream headers nginx does not pass on: its hidden ones, and the
/// hop-by-hop ones it writes itself.
fn hidden(name: &str, upgrading: bool) -> bool {
    match name {
        "connection" | "upgrade" => !upgrading,
        _ => HIDDEN.contains(&name),
    }
}

/// Upstream headers never passed on (lower case), besides `Connection`
/// and `Upgrade` outside an upgrade.
pub(crate) const HIDDEN: [&str; 10] = [
    "date",
    "server",
    "x-pad",
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
    "keep-alive",
    "transfer-encoding",
];

/// The head in nginx's order (`ngx_http_header_filter`): `Server`, `Date`,
/// `Content-Type`, `Content-Length`, `Last-Modified` and `Location` (ours
/// only: nginx leaves proxied ones in the upstream's order, but for a
/// `Location` that `proxy_redirect` made absolute, see `shape`),
/// `Transfer-Encoding: chunked` (an upstream body of unknown length when
/// `chunk`), then `Connection` (`keep-alive`, or `close` when the client
/// asked or after 400/413/414/500/501, or the upstream's `upgrade` for a
/// 101; none on HTTP/2), then every other header in the upstream's order.
/// A proxied response's names are spelled as nginx does: its own in its
/// case, the upstream's as the upstream spelled them (`casemap`).
async fn finish(
    resp: http::Response<crate::body::Body>,
    keep_alive: bool,
    h2: bool,
    chunk: bool,
) -> http::Response<crate::body::Body> {
    use http::header::{
        CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, LAST_MODIFIED, LOCATION, SERVER,
    };
    let (mut parts, body) = resp.into_parts();
    let upgrading = parts.status == http::StatusCode::SWITCHING_PROTOCOLS;
    let proxied = matches!(body, crate::body::Body::Upstream(..));
    // Set when `shape` applied the location's response rules (its hidden
    // headers are gone already, passed `Server`/`Date` stay).
    let shaped = parts.extensions.remove::<crate::shape::Shaped>();
    let mut headers = http::HeaderMap::with_capacity(parts.headers.len() + 3);
    if shaped.as_ref().is_none_or(|s| s.server) {
        headers.insert(SERVER, http::HeaderValue::from_static("l7proxy"));
    }
    if shaped.as_ref().is_none_or(|s| s.date) {
        headers.insert(DATE, crate::date::now());
    }
    // Our own bodies' length in its place (hyper would append it after
    // the `add_header` ones).
    if let crate::body::Body::Full(Some(b)) = &body {
        let s = parts.status.as_u16();
        if s >= 200 && s != 204 && s != 304 && !parts.headers.contains_key(CONTENT_LENGTH) {
            parts
                .headers
                .insert(CONTENT_LENGTH, http::HeaderValue::from(b.len()));
        }
    }
    for name in [CONTENT_TYPE, CONTENT_LENGTH, LAST_MODIFIED, LOCATION] {
        if name == LAST_MODIFIED && proxied {
            // nginx writes a proxied one in the upstream's order.
            continue;
        }
        if name == LOCATION && shaped.as_ref().is_some_and(|s| s.listed_location) {
            continue;
        }
        if name == LOCATION && proxied {
            // A rewritten one made absolute has this place.
            if let Some(v) = shaped.as_ref().and_then(|s| s.location.clone()) {
                headers.insert(LOCATION, v);
            }
            continue;
        }
        for v in parts.headers.get_all(&name) {
            headers.append(name.clone(), v.clone());
        }
    }
    let s = parts.status.as_u16();
    if chunk
        && proxied
        && !upgrading
        && s >= 200
        && s != 204
        && s != 304
        && !parts.headers.contains_key(CONTENT_LENGTH)
    {
        headers.insert(
            http::header::TRANSFER_ENCODING,
            http::HeaderValue::from_static("chunked"),
        );
    }
    let closing = matches!(parts.status.as_u16(), 400 | 413 | 414 | 500 | 501);
    if !h2 {
        if upgrading {
            if let Some(v) = parts.headers.get(CONNECTION) {
                headers.insert(CONNECTION, v.clone());
            }
        } else if closing {
            headers.insert(CONNECTION, http::HeaderValue::from_static("close"));
        } else if keep_alive {
            headers.insert(CONNECTION, http::HeaderValue::from_static("keep-alive"));
        } else {
            headers.insert(CONNECTION, http::HeaderValue::from_static("close"));
        }
    }
    let mut last = None;
    for (name, value) in parts.headers.drain() {
        if let Some(n) = name {
            last = Some(n);
        }
        let Some(n) = &last else { continue };
        let placed = matches!(n.as_str(), "content-type" | "content-length" | "connection")
            || (n == LAST_MODIFIED && !proxied)
            || (n == LOCATION && !proxied && !shaped.as_ref().is_some_and(|s| s.listed_location));
        let dropped = if shaped.is_some() {
            matches!(
                n.as_str(),
                "connection" | "upgrade" | "keep-alive" | "transfer-encoding"
            )
        } else {
            hidden(n.as_str(), upgrading)
        };
        if !placed && !dropped {
            headers.append(n.clone(), value);
        }
    }
    // Spelling: nginx's own names in its case (hyper's Title-Case), the
    // upstream's others as the upstream spelled them, `add_header` ones as
    // configured.
    let added = parts.extensions.remove::<crate::shape::AddedNames>();
    let added_spelling = |n: &str| {
        added
            .as_ref()
            .and_then(|a| a.0.added_spelling(n))
            .map(str::as_bytes)
    };
    if !proxied && added.is_some() {
        let spelled = Spelled::of(&headers, added_spelling);
        if let Some(map) = crate::casemap::case_map(&spelled).await {
            parts.extensions.extend(map);
        }
    }
    if proxied {
        let mut extensions = std::mem::take(&mut parts.extensions);
        let log = extensions.remove::<LogAt>();
        let reason = extensions.remove::<hyper::ext::ReasonPhrase>();
        let spelled = extensions.remove::<UpstreamSpelling>();
        if let Some(r) = reason {
            parts.extensions.insert(r);
        }
        if let Some(l) = log {
            parts.extensions.insert(l);
        }
        if let Some(UpstreamSpelling(list)) = spelled {
            let mut upstream = Spellings::new(&list);
            // A passed upstream `Server`/`Date` keeps its spelling; a
            // `Location` made absolute is nginx's own (the first one).
            let our_server = shaped.as_ref().is_none_or(|s| s.server);
            let our_date = shaped.as_ref().is_none_or(|s| s.date);
            let mut our_location = shaped.as_ref().is_some_and(|s| s.location.is_some());
            let mut own = |n: &str| match n {
                "server" => our_server,
                "date" => our_date,
                "location" => std::mem::take(&mut our_location),
                "content-type" | "content-length" | "transfer-encoding" | "connection" => true,
                _ => false,
            };
            let spelled = Spelled::of(&headers, |n| {
                if own(n) {
                    None
                } else {
                    upstream.next(n).or_else(|| added_spelling(n))
                }
            });
            if let Some(map) = crate::casemap::case_map(&spelled).await {
                parts.extensions.extend(map);
            }
        }
    }
    parts.headers = headers;
    http::Response::from_parts(parts, body)
}
