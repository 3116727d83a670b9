//! The request service hyper drives on a connection (HTTP/1 or HTTP/2):
//! it counts the connection's requests, decides keep-alive, writes the
//! response head in nginx's order and logs the request when its body is
//! done.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use hyper::service::service_fn;

use super::head::finish;
use super::ClientSpelling;
use crate::accesslog::{ConnFacts, Logged, RequestFacts};
use crate::casemap::Recorder;
use crate::worker::{LogAt, Worker};

/// A response body that keeps its connection busy (not reusable for
/// `worker_connections`) until it has been sent or dropped.
pub(super) struct Tracked {
    inner: Logged,
    _busy: crate::limit::Busy,
    /// The request counts as in progress (`stub_status`) until then.
    _writing: crate::stats::Writing,
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
pub(super) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request aborted")
    }
}

impl std::error::Error for Aborted {}

/// What a connection's requests share for their log lines and spelling:
/// the client's and local addresses, the bytes of the heads (HTTP/1, for
/// the client's spelling of header names) and the connection's facts.
pub(super) struct ConnInfo {
    pub(super) peer: SocketAddr,
    pub(super) local: SocketAddr,
    pub(super) rec: Option<Recorder>,
    pub(super) facts: Rc<std::cell::Cell<ConnFacts>>,
}

/// The request service of one connection (`served`: requests the fast
/// path answered on it before, for `keepalive_requests`; `io`: the
/// connection's limits, whose `send_timeout` follows each request's
/// location).
pub(super) fn service(
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
        let writing = crate::stats::Writing::new();
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
                _writing: writing,
            }))
        }
    })
}

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
