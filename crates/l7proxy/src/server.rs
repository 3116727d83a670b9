//! Listening and serving, with nginx's process model mapped to threads:
//! the master (the main thread) owns the listening sockets for the whole
//! run; each generation of workers (one thread with a current-thread tokio
//! runtime per `worker_processes`) accepts on duplicates of them. A reload
//! starts a new generation with the new configuration on the same sockets,
//! then the old one stops accepting and finishes what it has: no listening
//! socket is ever closed and re-opened, so no connection is refused.
//!
//! This file holds the sockets, the workers and the dispatch of an
//! accepted connection (plain HTTP/1 to `fast`, TLS, h2c); `service` is
//! the request service hyper drives, `head` writes its response heads in
//! nginx's order, `h2` serves HTTP/2.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};

use crate::accesslog::ConnFacts;
use crate::casemap::{Recorder, Recording};
use crate::site::Site;
use crate::worker::Worker;

mod h2;
mod head;
mod service;

use h2::{h2_max_streams, serve_h2, serve_h2c};
use service::{service, ConnInfo, Tracked};

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
                crate::stats::accepted();
                serve(stream, peer, &ctx);
            }
        }
    }
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

fn serve(stream: tokio::net::TcpStream, peer: SocketAddr, ctx: &Ctx) {
    let Some(slot) = crate::limit::acquire() else {
        // No room even after closing idle connections: nginx closes the
        // accepted socket at once.
        crate::limit::refused();
        return;
    };
    let client = crate::stats::Client::new();
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
            let _client = client;
            serve_h2c(stream, peer, w, index, stop.subscribe(), slot, conn).await;
            live.fetch_sub(1, Ordering::Relaxed);
        }),
        None => tokio::task::spawn_local(async move {
            let _client = client;
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
            let _client = client;
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
