//! One worker: its balancer state and upstream connection cache (as an
//! nginx worker process has its own), and the request handler: `route.rs`
//! walks a request through nginx's phases, `request.rs` checks and reads
//! the client's side, `pass.rs` builds the upstream request and
//! `upstream.rs` makes the tries and relays the answer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method as HttpMethod, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::balance::Upstream;
use crate::body::Body;
use crate::peer::Peer;
use crate::site::Site;

mod guard;
mod pass;
mod request;
mod route;
mod upstream;

pub(crate) use upstream::Failure;

type Sender = SendRequest<http_body_util::Full<Bytes>>;

/// An upstream connection and how many requests it has carried.
pub struct Conn {
    sender: Sender,
    requests: u32,
    /// What the connection read (the response head's spelling).
    rec: crate::casemap::Recorder,
    /// The connection's `proxy_read_timeout` and `proxy_send_timeout`
    /// (set per request; no read limit while idle in the cache).
    limits: Arc<crate::timed::Limits>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

/// An upstream connection of the plain HTTP/1 path (ours, not hyper's).
#[derive(Debug)]
pub struct RawConn {
    pub stream: crate::peer::Stream,
    pub requests: u32,
    /// Its place among the worker's connections.
    pub slot: crate::limit::Slot,
}

/// A cached upstream connection of either path.
#[derive(Debug)]
pub enum Link {
    Hyper(Conn),
    Raw(RawConn),
}

impl Link {
    fn requests(&self) -> u32 {
        match self {
            Link::Hyper(c) => c.requests,
            Link::Raw(c) => c.requests,
        }
    }

    /// Whether the peer may have closed it (a raw one is checked by a
    /// non-blocking read: any byte or end of stream makes it unusable).
    fn closed(&self) -> bool {
        match self {
            Link::Hyper(c) => c.sender.is_closed(),
            Link::Raw(c) => !matches!(
                c.stream.try_read(&mut [0u8; 1]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
            ),
        }
    }
}

/// An idle upstream connection.
struct Idle {
    addr: Peer,
    link: Link,
    since: Instant,
}

pub struct Worker {
    pub site: Arc<Site>,
    pub(crate) balancers: RefCell<crate::site::Names<Upstream>>,
    /// Per upstream: idle connections, most recent last.
    idle: RefCell<crate::site::Names<VecDeque<Idle>>>,
    /// xorshift64* state for `random` balancing (not cryptographic).
    rng: std::cell::Cell<u64>,
    /// Spare I/O buffers of the plain HTTP/1 path (only requests in
    /// progress hold one; idle connections hold none).
    pub(crate) bufs: RefCell<Vec<Vec<u8>>>,
    /// Deadlines of idle client connections (`server::worker` sweeps it).
    pub(crate) wheel: crate::idle::Wheel,
    /// The generation is stopping: connections finish their request and
    /// close.
    pub(crate) stopping: std::cell::Cell<bool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// nginx's reason phrases where they differ from today's (RFC 2616 names).
pub(crate) fn reason(status: StatusCode) -> &'static str {
    // nginx's own texts (ngx_http_status_lines) where they differ from
    // the canonical ones.
    match status.as_u16() {
        302 => "Moved Temporarily",
        405 => "Not Allowed",
        408 => "Request Time-out",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Large",
        416 => "Requested Range Not Satisfiable",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

/// nginx's error page, with our name in the tail.
pub fn error_page(status: StatusCode) -> Response<Body> {
    // The pages' titles are the status lines' texts but for two.
    let title = match status.as_u16() {
        302 => "Found",
        401 => "Authorization Required",
        _ => reason(status),
    };
    let line = format!("{} {title}", status.as_u16());
    let page = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>l7proxy</center>\r\n</body>\r\n</html>\r\n"
    );
    let length = HeaderValue::from(page.len());
    let mut r = Response::new(Body::text(page));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    // Before `Connection`, as nginx writes it (hyper would append it).
    r.headers_mut().insert(header::CONTENT_LENGTH, length);
    r.extensions_mut().insert(crate::errorpage::Generated);
    if status.canonical_reason() != Some(reason(status)) {
        r.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(
                reason(status).as_bytes(),
            ));
    }
    r
}

/// The answer of a `return` (or a rewrite's redirect): `text` is the body
/// (of type `default_type`), or the `Location` of a redirect, its
/// variables expanded already.
pub(crate) fn answered(code: u16, text: Option<String>, default_type: &str) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let redirect = matches!(code, 301 | 302 | 303 | 307 | 308);
    match text {
        Some(url) if redirect => {
            let mut r = error_page(status);
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Some(text) => {
            let mut r = Response::new(Body::text(text));
            *r.status_mut() = status;
            let content_type = HeaderValue::from_str(default_type)
                .unwrap_or(HeaderValue::from_static("text/plain"));
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
            r
        }
        None if code >= 400 => error_page(status),
        None => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = status;
            r
        }
    }
}

/// The response rules and `error_page` rules of the location at `path`
/// (empty or gone: the server's), whose access log becomes `log`.
fn final_rules<'s>(
    site: &'s Site,
    server: usize,
    path: &[usize],
    log: &mut Arc<crate::accesslog::Target>,
) -> (
    &'s Arc<crate::shape::Shape>,
    Arc<[nginx_conf::model::http::ErrorPage]>,
) {
    if let Some(n) = crate::plan::node(&site.plans[server], path) {
        *log = Arc::clone(&n.log);
        return (&n.shape, Arc::clone(&n.error_pages));
    }
    *log = Arc::clone(&site.server_logs[server]);
    let level = &site.server_levels[server];
    (&site.server_shapes[server], Arc::clone(&level.error_pages))
}

/// The URI sent upstream when `proxy_pass` has a URI part: the matched
/// location prefix (none for regex locations) replaced by it, then the
/// arguments. nginx escapes the rest of the URI when the request's was
/// escaped or a rewrite set it (`escape`).
pub(crate) fn upstream_target(
    pass_uri: &str,
    prefix: Option<usize>,
    normalized: &str,
    args: Option<&str>,
    escape: bool,
) -> String {
    let rest = match prefix {
        Some(n) => normalized.get(n..).unwrap_or(""),
        None => normalized,
    };
    let rest = if escape {
        crate::files::escape(rest)
    } else {
        std::borrow::Cow::Borrowed(rest)
    };
    let mut t =
        String::with_capacity(pass_uri.len() + rest.len() + args.map_or(0, |a| a.len() + 1));
    t.push_str(pass_uri);
    t.push_str(&rest);
    if let Some(a) = args {
        t.push('?');
        t.push_str(a);
    }
    t
}

pub(crate) fn idempotent(m: &HttpMethod) -> bool {
    !matches!(m.as_str(), "POST" | "LOCK" | "PATCH")
}

/// A worker's balancing state for the group `spec`.
fn balancer(spec: &crate::site::UpstreamSpec) -> Upstream {
    let primary = spec.primary.iter().map(|(p, _)| p.clone()).collect();
    let backup = spec.backup.iter().map(|(p, _)| p.clone()).collect();
    Upstream::new(spec.method.clone(), primary, backup)
}

impl Worker {
    pub fn new(site: Arc<Site>) -> Self {
        let balancers = site
            .upstreams
            .iter()
            .map(|(name, spec)| (name.clone(), balancer(spec)))
            .collect();
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::from(d.subsec_nanos()) ^ d.as_secs())
            | 1;
        Self {
            site,
            balancers: RefCell::new(balancers),
            idle: RefCell::new(crate::site::Names::default()),
            rng: std::cell::Cell::new(seed),
            bufs: RefCell::new(Vec::new()),
            wheel: crate::idle::Wheel::default(),
            stopping: std::cell::Cell::new(false),
        }
    }

    /// The next pseudo-random number (xorshift64*).
    pub(crate) fn random(&self) -> u64 {
        let mut s = self.rng.get();
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        self.rng.set(s);
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Answers one request; the response carries the access log that
    /// applies to it, with what routing learnt for its line, as a
    /// [`LogAt`] extension.
    pub async fn handle(
        self: Rc<Self>,
        listener: usize,
        client: SocketAddr,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let site = Arc::clone(&self.site);
        let default = site.listeners[listener].default;
        let mut log = Arc::clone(&site.server_logs[default]);
        let mut limits = site.server_client[default];
        let mut routed = crate::accesslog::Routed::default();
        let mut resp = self
            .route(listener, client, req, &mut log, &mut limits, &mut routed)
            .await;
        resp.extensions_mut().insert(LogAt(log, routed));
        resp.extensions_mut().insert(limits);
        resp
    }
}

/// Marks a response that must not be sent: the connection is closed
/// instead (a request body that timed out).
#[derive(Debug, Clone, Copy)]
pub struct Abort;

/// The access log that applies to a response.
#[derive(Clone, Debug)]
pub struct LogAt(
    pub Arc<crate::accesslog::Target>,
    pub crate::accesslog::Routed,
);
