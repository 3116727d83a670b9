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

use crate::accesslog::{Logged, RequestFacts};
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
        for l in loops {
            let _ = l.await;
        }
        // Stopped: tell every connection to finish its request and close.
        let _ = notify_stop.send(true);
        let deadline = tokio::time::Instant::now() + GRACE;
        while live.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

/// The request service of one connection.
fn service(
    w: Rc<Worker>,
    index: usize,
    peer: SocketAddr,
    h2: bool,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<Logged>,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<http::Response<Logged>, std::convert::Infallible>>,
> + Clone {
    service_fn(move |req| {
        let w = Rc::clone(&w);
        async move {
            let keep_alive = !h2 && wants_keep_alive(&req);
            // A body of unknown length goes chunked to an HTTP/1.1 client.
            let chunk = !h2
                && req.version() == http::Version::HTTP_11
                && req.method() != http::Method::HEAD;
            let facts = RequestFacts::of(&req, peer);
            let mut resp = finish(w.handle(index, peer, req).await, keep_alive, h2, chunk);
            let status = resp.status().as_u16();
            let log = resp
                .extensions_mut()
                .remove::<LogAt>()
                .map(|LogAt(t)| (t, facts, status));
            Ok::<_, std::convert::Infallible>(resp.map(|b| Logged::new(b, log)))
        }
    })
}

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

async fn serve_h1<I>(
    io: I,
    svc: impl hyper::service::HttpService<hyper::body::Incoming, ResBody = Logged>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .title_case_headers(true)
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
    }
}

async fn serve_h2<I>(
    io: I,
    svc: impl hyper::service::HttpService<hyper::body::Incoming, ResBody = Logged> + 'static,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let conn = hyper::server::conn::http2::Builder::new(LocalExec).serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.wait_for(|s| *s) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn serve(stream: tokio::net::TcpStream, peer: SocketAddr, ctx: &Ctx) {
    let _ = stream.set_nodelay(true);
    let w = Rc::clone(&ctx.worker);
    let index = ctx.index;
    let live = Rc::clone(&ctx.live);
    let shutdown = ctx.shutdown.subscribe();
    live.fetch_add(1, Ordering::Relaxed);
    // Separate tasks, so that a plain connection's future stays small
    // (hyper's connection state is boxed only when it is needed).
    match w.site.listeners[index].tls.clone() {
        None => tokio::task::spawn_local(async move {
            let mut shutdown = shutdown;
            let rest = crate::fast::serve(stream, peer, Rc::clone(&w), index, &mut shutdown).await;
            if let Some(io) = rest {
                Box::pin(serve_h1(
                    TokioIo::new(io),
                    service(w, index, peer, false),
                    shutdown,
                ))
                .await;
            }
            live.fetch_sub(1, Ordering::Relaxed);
        }),
        Some(config) => tokio::task::spawn_local(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            if let Ok(Ok(tls)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            {
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    serve_h2(TokioIo::new(tls), service(w, index, peer, true), shutdown).await;
                } else {
                    serve_h1(TokioIo::new(tls), service(w, index, peer, false), shutdown).await;
                }
            }
            live.fetch_sub(1, Ordering::Relaxed);
        }),
    };
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
fn finish(
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
    parts.headers = headers;
    http::Response::from_parts(parts, body)
}
