//! One worker: its balancer state and upstream connection cache (as an
//! nginx worker process has its own), and the request handler.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method as HttpMethod, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::balance::{Attempt, Input, Method, Pick, Upstream};
use crate::body::Body;
use crate::headers::{upstream_headers, Vars};
use crate::route::{location_at, select_server};
use crate::site::{proxy_host, Site};
use crate::uri;
use nginx_conf::model::http::{Location, LocationMatch, ProxyPass, ProxySettings, Return};

/// Largest client body read before proxying (`client_max_body_size`).
const MAX_BODY: usize = 1024 * 1024;

type Sender = SendRequest<http_body_util::Full<Bytes>>;

/// An upstream connection and how many requests it has carried.
pub struct Conn {
    sender: Sender,
    requests: u32,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

/// An idle upstream connection.
struct Idle {
    addr: SocketAddr,
    conn: Conn,
    since: Instant,
}

pub struct Worker {
    pub site: Arc<Site>,
    balancers: RefCell<HashMap<String, Upstream>>,
    /// Per upstream: idle connections, most recent last.
    idle: RefCell<HashMap<String, VecDeque<Idle>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// nginx's error page, with our name in the tail.
pub fn error_page(status: StatusCode) -> Response<Body> {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let page = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>l7proxy</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut r = Response::new(Body::text(page));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

fn returned(ret: &Return) -> Response<Body> {
    let status = StatusCode::from_u16(ret.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let redirect = matches!(ret.code, 301 | 302 | 303 | 307 | 308);
    match &ret.text {
        Some(url) if redirect => {
            let mut r = error_page(status);
            if let Ok(v) = HeaderValue::from_str(url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Some(text) => {
            let mut r = Response::new(Body::text(text.clone()));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        None if ret.code >= 400 => error_page(status),
        None => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = status;
            r
        }
    }
}

/// The effective proxy settings along a location path (inner wins).
fn settings(site: &Site, server: usize, path: &[usize]) -> ProxySettings {
    let s = &site.http.servers[server];
    let mut chain: Vec<&ProxySettings> = Vec::new();
    let mut locs: &[Location] = &s.locations;
    for &i in path {
        let l = &locs[i];
        chain.push(&l.settings.proxy);
        locs = &l.locations;
    }
    let mut out = ProxySettings::default();
    for p in chain.iter().rev() {
        out = out.inherit(p);
    }
    out.inherit(&s.settings.proxy)
        .inherit(&site.http.settings.proxy)
}

/// The URI sent upstream: the original request target when `proxy_pass`
/// has no URI part; else the matched prefix replaced by it.
fn upstream_target(
    pass_uri: Option<&str>,
    loc: &Location,
    normalized: &str,
    raw_target: &str,
    args: Option<&str>,
) -> String {
    let Some(pass_uri) = pass_uri else {
        return raw_target.to_owned();
    };
    let rest = match &loc.matcher {
        LocationMatch::Prefix(p) | LocationMatch::PrefixNoRegex(p) | LocationMatch::Exact(p) => {
            normalized.get(p.len()..).unwrap_or("")
        }
        _ => normalized,
    };
    let mut t = format!("{pass_uri}{rest}");
    if let Some(a) = args {
        t.push('?');
        t.push_str(a);
    }
    t
}

fn idempotent(m: &HttpMethod) -> bool {
    !matches!(m.as_str(), "POST" | "LOCK" | "PATCH")
}

impl Worker {
    pub fn new(site: Arc<Site>) -> Self {
        let balancers = site
            .upstreams
            .iter()
            .map(|(name, spec)| {
                let primary = spec.primary.iter().map(|(p, _)| p.clone()).collect();
                let backup = spec.backup.iter().map(|(p, _)| p.clone()).collect();
                (
                    name.clone(),
                    Upstream::new(spec.method.clone(), primary, backup),
                )
            })
            .collect();
        Self {
            site,
            balancers: RefCell::new(balancers),
            idle: RefCell::new(HashMap::new()),
        }
    }

    /// Answers one request.
    pub async fn handle(
        self: Rc<Self>,
        listener: usize,
        client: SocketAddr,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let site = Arc::clone(&self.site);
        let l = &site.listeners[listener];
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host())
            .unwrap_or("")
            .to_owned();
        let server = select_server(&site.routes, &l.servers, l.default, &host);
        let raw_target = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let (path, args) = uri::split(&raw_target);
        let Ok(normalized) = uri::normalize(path) else {
            return error_page(StatusCode::BAD_REQUEST);
        };
        let normalized = String::from_utf8_lossy(&normalized).into_owned();
        let srv = &site.http.servers[server];
        if let Some(ret) = &srv.ret {
            return returned(ret);
        }
        let loc_path = site.routes[server].location(normalized.as_bytes());
        let Some(loc) = location_at(srv, &loc_path) else {
            return error_page(StatusCode::NOT_FOUND);
        };
        if let Some(ret) = &loc.ret {
            return returned(ret);
        }
        let Some(pass) = &loc.proxy_pass else {
            return error_page(StatusCode::NOT_FOUND);
        };
        let (group, proxy_host_value, pass_uri) = match pass {
            ProxyPass::Upstream { name, uri, .. } => (name.clone(), name.clone(), uri.clone()),
            ProxyPass::Url {
                host, port, uri, ..
            } => {
                let ph = proxy_host(host, *port);
                (ph.clone(), ph, uri.clone())
            }
            ProxyPass::Dynamic(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR),
        };
        let settings = settings(&site, server, &loc_path);
        let target = upstream_target(
            pass_uri.as_deref(),
            loc,
            &normalized,
            &raw_target,
            args.map(str::to_owned).as_deref(),
        );
        let client_headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let method = req.method().clone();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error_page(StatusCode::BAD_REQUEST),
        };
        if body.len() > MAX_BODY {
            return error_page(StatusCode::PAYLOAD_TOO_LARGE);
        }
        let vars = Vars {
            proxy_host: &proxy_host_value,
            remote_addr: client,
            host: &crate::route::host_key(&host),
            scheme: "http",
            request_uri: &raw_target,
            uri: &normalized,
            args,
            body_length: (!body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH"))
                .then_some(body.len() as u64),
            client_headers: &client_headers,
        };
        let set = settings.set_headers.clone().unwrap_or_default();
        let head = upstream_headers(&set, &vars);
        let key = site
            .upstreams
            .get(&group)
            .and_then(|u| u.hash_key.as_ref())
            .map(|k| vars.expand(k));
        let input = match site.upstreams.get(&group).map(|u| &u.method) {
            Some(Method::IpHash) => Input::Client(client.ip()),
            Some(Method::Hash | Method::HashConsistent) => {
                Input::Key(key.as_deref().unwrap_or("").as_bytes())
            }
            _ => Input::None,
        };
        let version = if settings.http_version.as_deref() == Some("1.1") {
            Version::HTTP_11
        } else {
            Version::HTTP_10
        };
        let outgoing = Outgoing {
            method,
            target,
            version,
            head,
            body,
        };
        self.proxy(&group, input, &settings, &outgoing).await
    }

    async fn proxy(
        self: &Rc<Self>,
        group: &str,
        input: Input<'_>,
        settings: &ProxySettings,
        out: &Outgoing,
    ) -> Response<Body> {
        let site = Arc::clone(&self.site);
        let Some(spec) = site.upstreams.get(group) else {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let next_on: Vec<String> = settings
            .next_upstream
            .clone()
            .unwrap_or_else(|| vec!["error".into(), "timeout".into()]);
        let next = |what: &str| next_on.iter().any(|n| n == what);
        let max_tries = match settings.next_upstream_tries {
            Some(n) if n > 0 => n as usize,
            _ => spec.primary.len() + spec.backup.len(),
        };
        let connect_timeout = settings.connect_timeout.unwrap_or(Duration::from_secs(60));
        let read_timeout = settings.read_timeout.unwrap_or(Duration::from_secs(60));
        let mut attempt: Attempt = self
            .balancers
            .borrow()
            .get(group)
            .map(|u| u.start(input))
            .expect("balancer");
        let mut last_failure = StatusCode::BAD_GATEWAY;
        for tries in 1..=max_tries.max(1) {
            let pick = self
                .balancers
                .borrow_mut()
                .get_mut(group)
                .and_then(|u| u.next(&mut attempt, now_secs()));
            let Some(pick) = pick else { break };
            let addr = if pick.backup {
                spec.backup[pick.index].1
            } else {
                spec.primary[pick.index].1
            };
            let outcome = self
                .exchange(
                    group,
                    spec.keepalive > 0,
                    addr,
                    out,
                    connect_timeout,
                    read_timeout,
                )
                .await;
            let last = tries >= max_tries;
            match outcome {
                Ok((resp, conn)) => {
                    let status = resp.status();
                    let code = format!("http_{}", status.as_u16());
                    let retry_status =
                        matches!(status.as_u16(), 500 | 502 | 503 | 504 | 403 | 404 | 429)
                            && next(&code);
                    if retry_status && !last && (idempotent(&out.method) || next("non_idempotent"))
                    {
                        self.release(group, &attempt, pick, true);
                        continue;
                    }
                    let failed = retry_status
                        || matches!(status.as_u16(), 500 | 502 | 503 | 504) && next(&code);
                    let lease = Lease {
                        group: group.to_owned(),
                        attempt,
                        pick,
                        failed,
                    };
                    return self.respond(lease, resp, conn, spec.keepalive);
                }
                Err(kind) => {
                    self.release(group, &attempt, pick, true);
                    last_failure = if kind == Failure::Timeout {
                        StatusCode::GATEWAY_TIMEOUT
                    } else {
                        StatusCode::BAD_GATEWAY
                    };
                    let allowed = match kind {
                        Failure::Timeout => next("timeout"),
                        Failure::Error => next("error"),
                    };
                    if !allowed || next("off") {
                        break;
                    }
                }
            }
        }
        error_page(last_failure)
    }

    fn release(&self, group: &str, attempt: &Attempt, _pick: Pick, failed: bool) {
        if let Some(u) = self.balancers.borrow_mut().get_mut(group) {
            u.release(attempt, failed, now_secs());
        }
    }

    /// Turns the upstream response into ours; the peer is released and the
    /// connection cached when the body has been sent.
    fn respond(
        self: &Rc<Self>,
        lease: Lease,
        resp: Response<Incoming>,
        conn: Conn,
        keepalive: usize,
    ) -> Response<Body> {
        let (mut parts, incoming) = resp.into_parts();
        for h in HIDDEN {
            parts.headers.remove(*h);
        }
        parts.version = Version::HTTP_11;
        let me = Rc::clone(self);
        let on_end: crate::body::OnEnd = Box::new(move |completed| {
            me.release(&lease.group, &lease.attempt, lease.pick, lease.failed);
            if completed && keepalive > 0 && !conn.sender.is_closed() {
                me.cache(
                    &lease.group,
                    conn,
                    keepalive,
                    attempt_addr(&me, &lease.group, lease.pick),
                );
            }
        });
        Response::from_parts(parts, Body::Upstream(incoming, Some(on_end)))
    }

    /// Caches an idle connection (LRU: the oldest goes when `keepalive`
    /// are cached), unless it has carried `keepalive_requests` requests.
    fn cache(&self, group: &str, conn: Conn, keepalive: usize, addr: Option<SocketAddr>) {
        let Some(addr) = addr else { return };
        let spec = &self.site.upstreams[group];
        if conn.requests >= spec.keepalive_requests {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let q = idle.entry(group.to_owned()).or_default();
        if q.len() >= keepalive {
            q.pop_front();
        }
        q.push_back(Idle {
            addr,
            conn,
            since: Instant::now(),
        });
    }

    /// A cached connection to `addr` (most recent first), if any is usable.
    fn cached(&self, group: &str, addr: SocketAddr) -> Option<Conn> {
        let spec = &self.site.upstreams[group];
        let mut idle = self.idle.borrow_mut();
        let q = idle.get_mut(group)?;
        while let Some(pos) = q.iter().rposition(|c| c.addr == addr) {
            let c = q.remove(pos)?;
            if !c.conn.sender.is_closed() && c.since.elapsed() < spec.keepalive_timeout {
                return Some(c.conn);
            }
        }
        None
    }

    async fn exchange(
        &self,
        group: &str,
        keepalive: bool,
        addr: SocketAddr,
        out: &Outgoing,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<(Response<Incoming>, Conn), Failure> {
        let mut conn = match keepalive.then(|| self.cached(group, addr)).flatten() {
            Some(c) => c,
            None => Conn {
                sender: connect(addr, connect_timeout).await?,
                requests: 0,
            },
        };
        if conn.sender.ready().await.is_err() {
            conn = Conn {
                sender: connect(addr, connect_timeout).await?,
                requests: 0,
            };
        }
        conn.requests += 1;
        let mut req = Request::new(http_body_util::Full::new(out.body.clone()));
        *req.method_mut() = out.method.clone();
        *req.uri_mut() = out.target.parse().map_err(|_| Failure::Error)?;
        *req.version_mut() = out.version;
        for (n, v) in &out.head {
            if let (Ok(n), Ok(v)) = (
                header::HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                req.headers_mut().append(n, v);
            }
        }
        match tokio::time::timeout(read_timeout, conn.sender.send_request(req)).await {
            Ok(Ok(resp)) => Ok((resp, conn)),
            Ok(Err(_)) => Err(Failure::Error),
            Err(_) => Err(Failure::Timeout),
        }
    }
}

fn attempt_addr(w: &Worker, group: &str, pick: Pick) -> Option<SocketAddr> {
    let spec = w.site.upstreams.get(group)?;
    let list = if pick.backup {
        &spec.backup
    } else {
        &spec.primary
    };
    list.get(pick.index).map(|(_, a)| *a)
}

/// Upstream response headers nginx does not pass on (its hidden headers,
/// and hop-by-hop ones it regenerates).
const HIDDEN: &[&str] = &[
    "date",
    "server",
    "x-pad",
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// A peer in use by one response, released when its body ends.
struct Lease {
    group: String,
    attempt: Attempt,
    pick: Pick,
    failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Error,
    Timeout,
}

/// The request to send upstream.
struct Outgoing {
    method: HttpMethod,
    target: String,
    version: Version,
    head: Vec<(String, String)>,
    body: Bytes,
}

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Sender, Failure> {
    let stream = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Err(Failure::Error),
        Err(_) => return Err(Failure::Timeout),
    };
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Failure::Error)?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
