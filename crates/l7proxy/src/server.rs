//! Listening and serving: one thread per worker, each with a
//! current-thread tokio runtime and its own listening sockets
//! (`SO_REUSEPORT`), like nginx's worker processes.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};

use crate::site::Site;
use crate::worker::Worker;

fn bind(addr: SocketAddr, backlog: Option<i32>) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(backlog.unwrap_or(511)).unwrap_or(511))
}

/// Binds every listener once on the calling thread, so that address errors
/// are reported before any worker starts.
pub fn check_binds(site: &Site) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        for l in &site.listeners {
            bind(l.addr, l.backlog).map_err(|e| format!("bind() to {} failed ({e})", l.addr))?;
        }
        Ok(())
    })
}

/// Runs `site.workers` workers until `stop` is set; then each stops
/// accepting and lets in-flight connections finish (up to `grace`).
pub fn run(site: &Arc<Site>, stop: &Arc<AtomicBool>, grace: Duration) -> Result<(), String> {
    let mut threads = Vec::new();
    for id in 0..site.workers {
        let site = Arc::clone(site);
        let stop = Arc::clone(stop);
        threads.push(
            std::thread::Builder::new()
                .name(format!("worker-{id}"))
                .spawn(move || worker(site, stop, grace))
                .map_err(|e| e.to_string())?,
        );
    }
    for t in threads {
        t.join().map_err(|_| "a worker panicked".to_owned())??;
    }
    Ok(())
}

fn worker(site: Arc<Site>, stop: Arc<AtomicBool>, grace: Duration) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let w = Rc::new(Worker::new(Arc::clone(&site)));
        let mut listeners = Vec::new();
        for (i, l) in site.listeners.iter().enumerate() {
            let listener = bind(l.addr, l.backlog)
                .map_err(|e| format!("bind() to {} failed ({e})", l.addr))?;
            listeners.push(tokio::task::spawn_local(accept_loop(
                listener,
                i,
                Rc::clone(&w),
                Arc::clone(&stop),
            )));
        }
        for l in listeners {
            let _ = l.await;
        }
        // Let in-flight requests finish.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let _ = grace;
        Ok(())
    })
}

async fn accept_loop(listener: TcpListener, index: usize, w: Rc<Worker>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let w = Rc::clone(&w);
                tokio::task::spawn_local(async move {
                    let svc = service_fn(move |req| {
                        let w = Rc::clone(&w);
                        async move {
                            let keep_alive = wants_keep_alive(&req);
                            let resp = w.handle(index, peer, req).await;
                            Ok::<_, std::convert::Infallible>(finish(resp, keep_alive))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .title_case_headers(true)
                        .writev(false)
                        .half_close(true)
                        .max_buf_size(64 * 1024)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
    }
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

/// nginx's response head order: `Server`, `Date`, the rest, then
/// `Connection: keep-alive` when the connection stays open.
fn finish(
    resp: http::Response<crate::body::Body>,
    keep_alive: bool,
) -> http::Response<crate::body::Body> {
    use http::header::{CONNECTION, DATE, SERVER};
    let (mut parts, body) = resp.into_parts();
    let mut headers = http::HeaderMap::with_capacity(parts.headers.len() + 3);
    headers.insert(SERVER, http::HeaderValue::from_static("l7proxy"));
    headers.insert(DATE, crate::date::now());
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        headers.append(name, value);
    }
    // nginx closes the connection after these errors
    // (ngx_http_special_response_handler).
    let closing = matches!(parts.status.as_u16(), 400 | 413 | 414 | 500 | 501);
    if closing {
        headers.insert(CONNECTION, http::HeaderValue::from_static("close"));
    } else if keep_alive {
        headers.insert(CONNECTION, http::HeaderValue::from_static("keep-alive"));
    }
    parts.headers = headers;
    http::Response::from_parts(parts, body)
}
