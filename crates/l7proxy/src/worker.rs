//! One worker: its balancer state and upstream connection cache (as an
//! nginx worker process has its own), and the request handler.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{
    header, HeaderMap, HeaderValue, Method as HttpMethod, Request, Response, StatusCode, Version,
};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::balance::{Attempt, Input, Upstream};
use crate::body::Body;
use crate::headers::Vars;
use crate::peer::Peer;
use crate::plan::{Action, ProxyPlan};
use crate::route::select_server;
use crate::site::Site;
use crate::uri;

mod pass;
use crate::rewrite::Outcome;

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

/// nginx's `large_client_header_buffers 4 8k`: a request line or header
/// line must fit one 8k buffer (else 414 / 400), the head four of them.
const HEADER_BUFFER: usize = 8192;
const HEADER_BUFFERS: usize = 4;

/// nginx's verdict on the request head's size, if it refuses it.
fn head_too_large<B>(req: &Request<B>) -> Option<StatusCode> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if req.method().as_str().len() + target + "  HTTP/1.1\r\n".len() > HEADER_BUFFER {
        return Some(StatusCode::URI_TOO_LONG);
    }
    let mut total = 0;
    for (n, v) in req.headers() {
        let line = n.as_str().len() + 2 + v.len() + 2;
        if line > HEADER_BUFFER {
            return Some(StatusCode::BAD_REQUEST);
        }
        total += line;
    }
    (total > HEADER_BUFFER * HEADER_BUFFERS).then_some(StatusCode::BAD_REQUEST)
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

    #[allow(clippy::too_many_lines)] // one request's way, in nginx's order
    async fn route(
        self: Rc<Self>,
        listener: usize,
        client: SocketAddr,
        req: Request<Incoming>,
        log: &mut Arc<crate::accesslog::Target>,
        limits: &mut crate::plan::ClientLimits,
        routed: &mut crate::accesslog::Routed,
    ) -> Response<Body> {
        let site = Arc::clone(&self.site);
        let l = &site.listeners[listener];
        if let Some(status) = head_too_large(&req) {
            return error_page(status);
        }
        let mut req = req;
        let upgrade = req
            .headers()
            .contains_key(header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        // nginx: an HTTP/2 request names its host once, by `:authority`
        // or `host` (both: "client sent duplicate host header").
        if parts.version == Version::HTTP_2 && !h2_headers(&mut parts) {
            return error_page(StatusCode::BAD_REQUEST);
        }
        // Both framings at once is a smuggling vector: nginx refuses it.
        if parts.headers.contains_key(header::TRANSFER_ENCODING)
            && parts.headers.contains_key(header::CONTENT_LENGTH)
        {
            return error_page(StatusCode::BAD_REQUEST);
        }
        // nginx: HTTP/1.1 needs a Host; the target must be origin-form
        // (`/path`) or absolute-form (`http://host/path`).
        if matches!(parts.version, Version::HTTP_11 | Version::HTTP_2)
            && !parts.headers.contains_key(header::HOST)
            && parts.uri.host().is_none()
        {
            return error_page(StatusCode::BAD_REQUEST);
        }
        if !parts.uri.path().starts_with('/')
            || (parts.uri.scheme().is_none() && parts.uri.authority().is_some())
        {
            return error_page(StatusCode::BAD_REQUEST);
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let host = host_of(&parts);
        let server = if l.servers.len() == 1 {
            l.servers[0]
        } else {
            select_server(&site.routes, &l.servers, l.default, host)
        };
        let raw_target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let (path, args) = uri::split(raw_target);
        let Ok(normalized) = uri::normalize(path) else {
            return error_page(StatusCode::BAD_REQUEST);
        };
        routed.server_name = crate::errorlog::server_name(&site, server);
        routed.host = crate::route::host_key(host);
        if routed.host.is_empty() {
            routed.host.clone_from(&routed.server_name);
        }
        routed.uri = normalized.to_string();
        let host_key = crate::route::host_key(host);
        let mut shape = &site.server_shapes[server];
        let mut gzip = &site.server_gzip[server];
        let mut default_type: &str = &site.server_levels[server].files.default_type;
        let mut proxy_host = "";
        // A `proxy_pass` with variables, evaluated for this request.
        let resolved: ProxyPlan;
        // What the rewrite scripts read.
        let request_vars = Vars {
            proxy_host: "",
            remote_addr: client,
            host: &host_key,
            scheme: if l.tls.is_some() { "https" } else { "http" },
            request_uri: raw_target,
            uri: &normalized,
            args,
            body_length: None,
            client_headers: crate::headers::Client::Map(&parts.headers),
            maps: &site.maps,
            rewritten: None,
        };
        // The location's `error_page` rules, and where it is.
        let mut pages = Arc::clone(&site.server_levels[server].error_pages);
        let mut at: Vec<usize> = Vec::new();
        let mut intercept = false;
        let mut upstream_uri: Option<String> = None;
        // The body sent upstream, for an `error_page` to a named location.
        let mut sent_body = Bytes::new();
        // `$uri` after internal redirects (static files, `error_page`).
        let served_uri = RefCell::new(String::new());
        // The location an internal redirect ended in.
        let served_path = RefCell::new(None);
        // The URI an internal redirect to a proxied location gave.
        let mut redirected: Option<(String, Option<Option<String>>)> = None;
        // The rewrite scripts' state: `$uri`, `$args`, `set` variables.
        let mut state = crate::rewrite::State::new(&normalized, args);
        // `limit_conn` places, held until the response ends.
        let mut conn_places = None;
        let mut loc_path;
        let base_event = crate::errorlog::Event {
            site: &site,
            server,
            location: &[],
            client: client.ip(),
            method: parts.method.as_str(),
            target: raw_target,
            version: match parts.version {
                Version::HTTP_10 => "HTTP/1.0",
                Version::HTTP_2 => "HTTP/2.0",
                _ => "HTTP/1.1",
            },
            host: parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok()),
            upstream: None,
        };
        let mut resp = 'answer: {
            // nginx's server rewrite phase, before the location is chosen.
            if let Outcome::Answer(code, text) =
                site.server_scripts[server].run(&mut state, &request_vars)
            {
                discard(body, limits.body_timeout).await;
                break 'answer answered(code, text, default_type);
            }
            *log = Arc::clone(&site.server_logs[server]);
            *limits = site.server_client[server];
            let mut changes = 0;
            let node = loop {
                loc_path = site.routes[server].location(state.uri.as_bytes());
                let node = crate::plan::node(&site.plans[server], &loc_path);
                if let Some(n) = node {
                    *log = Arc::clone(&n.log);
                    *limits = n.client;
                    shape = &n.shape;
                    gzip = &n.gzip;
                    default_type = &n.default_type;
                    pages = Arc::clone(&n.error_pages);
                    intercept = n.intercept_errors;
                }
                at.clone_from(&loc_path);
                let event = crate::errorlog::Event {
                    location: &loc_path,
                    ..base_event
                };
                if node.is_some_and(|n| n.internal) {
                    discard(body, limits.body_timeout).await;
                    break 'answer error_page(StatusCode::NOT_FOUND);
                }
                // nginx checks the declared length once the location is
                // known, before its `return` (`ngx_http_core_find_config_phase`).
                if let Some(n) = declared.filter(|&n| limits.too_large(n)) {
                    event.error(&format!(
                        "client intended to send too large body: {n} bytes"
                    ));
                    break 'answer error_page(StatusCode::PAYLOAD_TOO_LARGE);
                }
                let Some(n) = node else { break None };
                state.uri_changed = false;
                match n.script.run(&mut state, &request_vars) {
                    Outcome::Answer(code, text) => {
                        discard(body, limits.body_timeout).await;
                        break 'answer answered(code, text, default_type);
                    }
                    Outcome::Last | Outcome::Done if state.uri_changed => {
                        changes += 1;
                        if changes >= crate::rewrite::MAX_URI_CHANGES {
                            event.error(&format!(
                                "rewrite or internal redirection cycle while processing \"{}\"",
                                state.uri
                            ));
                            discard(body, limits.body_timeout).await;
                            break 'answer error_page(StatusCode::INTERNAL_SERVER_ERROR);
                        }
                    }
                    _ => break node,
                }
            };
            let event = crate::errorlog::Event {
                location: &loc_path,
                ..base_event
            };
            // What `proxy_pass` with variables, static files and the
            // upstream headers read: the scripts' `$uri`, `$args`, `set`.
            let script_vars = Vars {
                uri: &state.uri,
                args: state.args.as_deref(),
                rewritten: Some(&state),
                ..request_vars
            };
            // nginx's preaccess phase (`limit_req`, `limit_conn`), then its
            // access phase.
            let rate = node.map_or(&site.server_limit_req[server], |n| &n.limit_req);
            if !rate.is_empty() {
                let now = crate::limitreq::now_ms();
                let verdict = rate.check(now, &mut |key| {
                    let mut out = Vec::new();
                    script_vars.expand_into(key, &mut out);
                    out
                });
                match verdict {
                    crate::limitreq::Verdict::Pass => {}
                    crate::limitreq::Verdict::Delay(ms, level, line) => {
                        event.log(level, &line);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    crate::limitreq::Verdict::Reject(level, line) => {
                        event.log(level, &line);
                        discard(body, limits.body_timeout).await;
                        break 'answer error_page(
                            StatusCode::from_u16(rate.status)
                                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                        );
                    }
                }
            }
            let conns = node.map_or(&site.server_limit_conn[server], |n| &n.limit_conn);
            if !conns.is_empty() {
                let (held, refused) = conns.enter(&mut |key| {
                    let mut out = Vec::new();
                    script_vars.expand_into(key, &mut out);
                    out
                });
                if let Some((level, line)) = refused {
                    event.log(level, &line);
                    if !conns.dry_run() {
                        discard(body, limits.body_timeout).await;
                        break 'answer error_page(
                            StatusCode::from_u16(conns.status)
                                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                        );
                    }
                }
                conn_places = Some(held);
            }
            let rules = node.map_or(&site.server_access[server], |n| &n.access);
            if !nginx_conf::model::access::allowed(rules, Some(client.ip())) {
                event.error("access forbidden by rule");
                discard(body, limits.body_timeout).await;
                break 'answer error_page(StatusCode::FORBIDDEN);
            }
            let plan = match node.map(|n| &n.action) {
                None | Some(Action::Static(_)) => {
                    let ctx = crate::errorpage::Ctx {
                        site: &site,
                        server,
                        event: &event,
                        vars: &script_vars,
                        uri: &served_uri,
                        path: &served_path,
                    };
                    let req = crate::files::Req {
                        method: parts.method.as_str(),
                        uri: &state.uri,
                        args: state.args.as_deref(),
                        headers: &parts.headers,
                    };
                    match crate::errorpage::run(&ctx, node, &loc_path, &req, true) {
                        // `try_files` or `index` led to a proxied location.
                        crate::errorpage::Outcome::Proxied { path, uri, args } => {
                            let n = crate::plan::node(&site.plans[server], &path);
                            let Some((n, Action::Proxy(p))) = n.map(|n| (n, &n.action)) else {
                                break 'answer error_page(StatusCode::INTERNAL_SERVER_ERROR);
                            };
                            (shape, pages, at) = (&n.shape, Arc::clone(&n.error_pages), path);
                            intercept = n.intercept_errors;
                            gzip = &n.gzip;
                            *log = Arc::clone(&n.log);
                            redirected = Some((uri, args));
                            p
                        }
                        outcome => {
                            // nginx answers with the final location's rules.
                            if let Some(fin) = served_path.take().filter(|f| *f != loc_path) {
                                let (s, p) = final_rules(&site, server, &fin, log);
                                (shape, pages, at) = (s, p, fin);
                            }
                            discard(body, limits.body_timeout).await;
                            break 'answer crate::errorpage::page(&ctx, outcome);
                        }
                    }
                }
                Some(Action::StubStatus) => {
                    discard(body, limits.body_timeout).await;
                    if !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
                        break 'answer error_page(StatusCode::METHOD_NOT_ALLOWED);
                    }
                    let mut r = Response::new(Body::text(crate::stats::page()));
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                    break 'answer r;
                }
                Some(Action::Proxy(p)) => p,
            };
            let plan: &ProxyPlan = match &plan.dynamic {
                None => plan,
                Some(template) => match plan.resolve(template, &script_vars, &site) {
                    Ok(p) => {
                        resolved = p;
                        &resolved
                    }
                    Err((status, message)) => {
                        event.error(&message);
                        discard(body, limits.body_timeout).await;
                        break 'answer error_page(status);
                    }
                },
            };
            proxy_host = &plan.proxy_host;
            // After a rewrite: its URI, escaped; with `break`, without
            // `proxy_pass`'s URI part (nginx's `valid_location`).
            let target = if state.rewritten
                && redirected.is_none()
                && (plan.pass_uri.is_none() || !state.location_valid)
                && plan.fixed_uri.is_none()
            {
                upstream_target("", None, &state.uri, state.args.as_deref(), true)
                    .parse()
                    .ok()
            } else {
                let rewritten = state
                    .rewritten
                    .then(|| (state.uri.clone(), Some(state.args.clone())));
                let redirected = redirected.as_ref().or(rewritten.as_ref());
                pass::target(
                    plan,
                    &parts.uri,
                    &normalized,
                    args,
                    redirected,
                    path.contains('%'),
                )
            };
            let Some(target) = target else {
                break 'answer error_page(StatusCode::BAD_REQUEST);
            };
            let body = if hyper::body::Body::is_end_stream(&body) {
                Bytes::new()
            } else {
                match read_body(body, limits, parts.version == Version::HTTP_2).await {
                    Ok(b) => b,
                    Err(BodyError::Bad) => break 'answer error_page(StatusCode::BAD_REQUEST),
                    // nginx closes without an answer and logs 408.
                    Err(BodyError::Timeout) => {
                        let mut r = error_page(StatusCode::REQUEST_TIMEOUT);
                        r.extensions_mut().insert(Abort);
                        break 'answer r;
                    }
                    Err(BodyError::TooLarge(message)) => {
                        event.error(&message);
                        break 'answer error_page(StatusCode::PAYLOAD_TOO_LARGE);
                    }
                }
            };
            let vars = Vars {
                proxy_host: &plan.proxy_host,
                // nginx sends a length when the client declared a body
                // (a POST without one gets none; `Content-Length: 0` does).
                body_length: (!body.is_empty()
                    || parts.headers.contains_key(header::CONTENT_LENGTH)
                    || parts.headers.contains_key(header::TRANSFER_ENCODING))
                .then_some(body.len() as u64),
                ..script_vars
            };
            if !pages.is_empty() {
                upstream_uri = Some(target.to_string());
                sent_body = body.clone();
            }
            let send = pass::Send {
                plan,
                parts: &parts,
                method: parts.method.clone(),
                target,
                body,
                upgrade,
            };
            self.pass(send, &vars, &event, &mut routed.tries).await
        };
        // What the response's rules read: the scripts' `$uri`, `$args`, `set`.
        let vars = Vars {
            proxy_host,
            uri: &state.uri,
            args: state.args.as_deref(),
            rewritten: Some(&state),
            ..request_vars
        };
        // A request whose body timed out is closed without an answer.
        if !pages.is_empty() && resp.extensions().get::<Abort>().is_none() {
            // The last peer tried and the URI it was sent, for nginx's
            // `upstream: "…"` in the target's error lines.
            let upstream = match (routed.tries.last().map(|t| &t.addr), &upstream_uri) {
                (Some(crate::logformat::TryAt::Peer(p)), Some(uri)) => {
                    Some(format!("http://{p}{}{uri}", p.uri_separator()))
                }
                _ => None,
            };
            let event = crate::errorlog::Event {
                location: &at,
                upstream: upstream.as_deref(),
                ..base_event
            };
            let ctx = crate::errorpage::Ctx {
                site: &site,
                server,
                event: &event,
                vars: &vars,
                uri: &served_uri,
                path: &served_path,
            };
            let req = crate::files::Req {
                method: parts.method.as_str(),
                uri: &state.uri,
                args: state.args.as_deref(),
                headers: &parts.headers,
            };
            match crate::errorpage::intercept(&ctx, &pages, resp, &req, intercept) {
                crate::errorpage::Intercepted::Page(r) => {
                    // The target location's response rules and log.
                    if let Some(fin) = served_path.take() {
                        shape = final_rules(&site, server, &fin, log).0;
                    }
                    resp = r;
                }
                crate::errorpage::Intercepted::Proxy {
                    path,
                    uri,
                    args: new_args,
                    status,
                    method,
                } => {
                    let node = crate::plan::node(&site.plans[server], &path);
                    if let Some(n) = node {
                        shape = &n.shape;
                    }
                    let to = pass::ErrorTarget {
                        node,
                        parts: &parts,
                        normalized: &normalized,
                        args,
                        redirected: (uri, new_args),
                        method,
                        body: sent_body,
                    };
                    let mut r = self
                        .error_target(to, &vars, &event, &mut routed.tries)
                        .await;
                    crate::errorpage::override_status(&mut r, status);
                    resp = r;
                }
            }
        }
        let served = served_uri.take();
        if !served.is_empty() {
            routed.uri = served;
        }
        if let Some(held) = conn_places {
            resp.body_mut().hold(held);
        }
        let ctx = crate::shape::Ctx {
            vars: &vars,
            status: resp.status().as_u16(),
            upstream: crate::shape::Peers::List(&routed.tries),
            local: l.addr,
            tls: l.tls.is_some(),
        };
        if resp.body().is_upstream() {
            let shaped = crate::shape::shape_upstream(shape, &ctx, resp.headers_mut());
            resp.extensions_mut().insert(shaped);
        } else if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let placed = crate::shape::shape_page(shape, &ctx, resp.headers_mut());
            // nginx's range filter runs after `add_header`'s.
            crate::files::ranges_last(resp.headers_mut());
            resp.extensions_mut().insert(crate::shape::Shaped {
                server: true,
                date: true,
                location: None,
                listed_location: !placed,
            });
        }
        if shape.spells_added() {
            resp.extensions_mut()
                .insert(crate::shape::AddedNames(Arc::clone(shape)));
        }
        // nginx's gzip filter, after the headers filter's rules.
        if gzip.eligible(resp.status().as_u16(), resp.headers()) {
            if gzip.vary {
                resp.extensions_mut().insert(crate::gzip::Vary);
            }
            if gzip.request_ok(parts.version, &parts.headers, resp.headers()) {
                crate::gzip::Gzip::apply(resp.headers_mut());
                // A HEAD answer has the head only.
                if parts.method != http::Method::HEAD {
                    let body = std::mem::replace(resp.body_mut(), Body::empty());
                    *resp.body_mut() = Body::Gzip(Box::new(gzip.wrap(body)));
                }
            }
        }
        resp
    }

    /// Tries the upstream group's peers; each try goes into `tries` (the
    /// access log's `$upstream_*` and `add_header`'s `$upstream_addr`).
    async fn proxy(
        self: &Rc<Self>,
        plan: &ProxyPlan,
        input: Input<'_>,
        mut out: Outgoing,
        event: &crate::errorlog::Event<'_>,
        tries_log: &mut Vec<crate::logformat::Try>,
    ) -> Response<Body> {
        let site = Arc::clone(&self.site);
        let group = &*plan.group;
        let Some(spec) = site.upstreams.get(group) else {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let max_tries = match plan.tries {
            0 => spec.primary.len() + spec.backup.len(),
            n => n as usize,
        };
        let mut attempt: Attempt = match self.balancers.borrow().get(group) {
            Some(u) => u.start(input),
            None => return error_page(StatusCode::INTERNAL_SERVER_ERROR),
        };
        let mut last_failure = StatusCode::BAD_GATEWAY;
        for tries in 1..=max_tries.max(1) {
            let pick = self
                .balancers
                .borrow_mut()
                .get_mut(group)
                .and_then(|u| u.next_with(&mut attempt, now_secs(), &mut || self.random()));
            let Some(pick) = pick else {
                event.no_live_upstreams(group, &out.target.to_string());
                tries_log.push(crate::logformat::Try {
                    addr: crate::logformat::TryAt::Group(group.into()),
                    status: 502,
                    secs: 0.0,
                });
                break;
            };
            let addr = if pick.backup {
                spec.backup[pick.index].1.clone()
            } else {
                spec.primary[pick.index].1.clone()
            };
            let last = tries >= max_tries;
            let req = out.request(last);
            let t0 = Instant::now();
            let outcome = self
                .exchange(group, spec.keepalive > 0, &addr, req, plan)
                .await;
            tries_log.push(crate::logformat::Try {
                addr: crate::logformat::TryAt::Peer(addr.clone()),
                status: match &outcome {
                    Ok((r, _)) => r.status().as_u16(),
                    Err(Failure::Timeout) => 504,
                    Err(Failure::Error) => 502,
                    Err(Failure::Exhausted) => 500,
                },
                secs: t0.elapsed().as_secs_f64(),
            });
            match outcome {
                Ok((resp, _conn)) if resp.status() == StatusCode::SWITCHING_PROTOCOLS => {
                    let lease = Lease {
                        group: std::sync::Arc::clone(&plan.group),
                        attempt,
                        addr,
                        failed: false,
                    };
                    return self.tunnel(lease, resp, out.upgrade.take());
                }
                Ok((resp, conn)) => {
                    let failed = plan.next.status(resp.status().as_u16());
                    if failed && !last && (idempotent(&out.method) || plan.next.non_idempotent) {
                        self.release(group, &attempt, true);
                        continue;
                    }
                    let lease = Lease {
                        group: std::sync::Arc::clone(&plan.group),
                        attempt,
                        addr,
                        failed,
                    };
                    let late = Late {
                        event: crate::errorlog::OwnedEvent::new(event, Arc::clone(&site)),
                        target: out.target.clone(),
                        client_io: out.client_io.take(),
                    };
                    return self.respond(lease, resp, conn, spec.keepalive, late);
                }
                Err(Failure::Exhausted) => {
                    self.release(group, &attempt, false);
                    event.exhausted(&addr, &out.target.to_string());
                    return error_page(StatusCode::INTERNAL_SERVER_ERROR);
                }
                Err(kind) => {
                    let target = out.target.to_string();
                    self.attempt_failed(group, &attempt, &addr, &target, kind, event);
                    let (status, allowed) = plan.next.after(kind);
                    last_failure = status;
                    if !allowed {
                        break;
                    }
                }
            }
        }
        error_page(last_failure)
    }

    pub(crate) fn release(&self, group: &str, attempt: &Attempt, failed: bool) {
        if let Some(u) = self.balancers.borrow_mut().get_mut(group) {
            u.release(attempt, failed, now_secs());
        }
    }

    /// An attempt at `addr` failed before an answer (both paths): the peer
    /// is released as failed and nginx's error line written (with
    /// "temporarily disabled" when this failure disabled it).
    pub(crate) fn attempt_failed(
        &self,
        group: &str,
        attempt: &Attempt,
        addr: &Peer,
        uri: &str,
        kind: Failure,
        event: &crate::errorlog::Event<'_>,
    ) {
        self.release(group, attempt, true);
        let disabled = self
            .balancers
            .borrow()
            .get(group)
            .is_some_and(|u| u.disabled(attempt));
        event.upstream_failed(addr, uri, matches!(kind, Failure::Timeout), disabled);
    }

    /// Turns the upstream response into ours; the peer is released and the
    /// connection cached when the body has been sent.
    fn respond(
        self: &Rc<Self>,
        lease: Lease,
        resp: Response<Incoming>,
        conn: Conn,
        keepalive: usize,
        late: Late,
    ) -> Response<Body> {
        // nginx's hidden upstream headers are dropped by server::finish.
        let (mut parts, incoming) = resp.into_parts();
        parts.version = Version::HTTP_11;
        let me = Rc::clone(self);
        let on_end: crate::body::OnEnd = Box::new(move |completed| {
            me.release(&lease.group, &lease.attempt, lease.failed);
            if !completed {
                let event = late.event.event();
                let target = late.target.to_string();
                if conn.limits.read_timed_out() {
                    event.upstream_read_timed_out(&lease.addr, &target);
                } else if late.client_io.as_ref().is_some_and(|c| c.write_timed_out()) {
                    event.client_send_timed_out(&lease.addr, &target);
                }
            }
            // Idle in the cache: no read limit (its keepalive_timeout applies).
            conn.limits.set_read(Duration::ZERO);
            if completed && keepalive > 0 && !conn.sender.is_closed() {
                me.cache(&lease.group, Link::Hyper(conn), keepalive, lease.addr);
            }
        });
        Response::from_parts(parts, Body::Upstream(incoming, Some(on_end)))
    }

    /// A `101 Switching Protocols` from upstream: the client gets it, then
    /// both connections are joined byte for byte until either side closes;
    /// the peer is released at the end.
    fn tunnel(
        self: &Rc<Self>,
        lease: Lease,
        mut resp: Response<Incoming>,
        client: Option<hyper::upgrade::OnUpgrade>,
    ) -> Response<Body> {
        let upstream = hyper::upgrade::on(&mut resp);
        let (parts, _) = resp.into_parts();
        let me = Rc::clone(self);
        tokio::task::spawn_local(async move {
            if let (Some(client), Ok(up)) = (client, upstream.await) {
                if let Ok(c) = client.await {
                    let mut c = TokioIo::new(c);
                    let mut u = TokioIo::new(up);
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
                }
            }
            me.release(&lease.group, &lease.attempt, false);
        });
        Response::from_parts(parts, Body::empty())
    }

    /// Caches an idle connection (LRU: the oldest goes when `keepalive`
    /// are cached), unless it has carried `keepalive_requests` requests.
    pub(crate) fn cache(&self, group: &str, link: Link, keepalive: usize, addr: Peer) {
        let spec = &self.site.upstreams[group];
        if link.requests() >= spec.keepalive_requests {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        if !idle.contains_key(group) {
            idle.insert(group.to_owned(), VecDeque::new());
        }
        let Some(q) = idle.get_mut(group) else { return };
        if q.len() >= keepalive {
            q.pop_front();
        }
        q.push_back(Idle {
            addr,
            link,
            since: Instant::now(),
        });
    }

    /// A cached connection to `addr` of the wanted kind (most recent
    /// first), if any is usable.
    fn cached_link(&self, group: &str, addr: &Peer, raw: bool) -> Option<Link> {
        let spec = self.site.upstreams.get(group)?;
        let mut idle = self.idle.borrow_mut();
        let q = idle.get_mut(group)?;
        while let Some(pos) = q
            .iter()
            .rposition(|c| c.addr == *addr && matches!(c.link, Link::Raw(_)) == raw)
        {
            let c = q.remove(pos)?;
            if !c.link.closed() && c.since.elapsed() < spec.keepalive_timeout {
                return Some(c.link);
            }
        }
        None
    }

    fn cached(&self, group: &str, addr: &Peer) -> Option<Conn> {
        match self.cached_link(group, addr, false)? {
            Link::Hyper(c) => Some(c),
            Link::Raw(_) => None,
        }
    }

    /// A cached connection of the plain HTTP/1 path to `addr`.
    pub(crate) fn cached_raw(&self, group: &str, addr: &Peer) -> Option<RawConn> {
        match self.cached_link(group, addr, true)? {
            Link::Raw(c) => Some(c),
            Link::Hyper(_) => None,
        }
    }

    async fn exchange(
        &self,
        group: &str,
        keepalive: bool,
        addr: &Peer,
        req: Request<http_body_util::Full<Bytes>>,
        plan: &ProxyPlan,
    ) -> Result<(Response<Incoming>, Conn), Failure> {
        let mut conn = match keepalive.then(|| self.cached(group, addr)).flatten() {
            Some(c) => c,
            None => connect(addr, plan.connect_timeout).await?,
        };
        if conn.sender.ready().await.is_err() {
            conn = connect(addr, plan.connect_timeout).await?;
        }
        conn.requests += 1;
        // Between two reads / two writes, as nginx; the response head as a
        // whole within proxy_read_timeout too.
        conn.limits.set_read(plan.read_timeout);
        conn.limits.set_write(plan.send_timeout);
        conn.rec.start();
        match tokio::time::timeout(plan.read_timeout, conn.sender.send_request(req)).await {
            Ok(Ok(mut resp)) => {
                if let Some(list) = conn.rec.response_head(resp.headers()) {
                    resp.extensions_mut()
                        .insert(crate::server::UpstreamSpelling(list));
                }
                conn.rec.stop();
                Ok((resp, conn))
            }
            Ok(Err(e)) if crate::timed::is_timeout(&e) => {
                if conn.limits.write_timed_out() {
                    crate::errorlog::note_send_timeout();
                }
                Err(Failure::Timeout)
            }
            Ok(Err(_)) => Err(Failure::Error),
            Err(_) => Err(Failure::Timeout),
        }
    }
}

/// An HTTP/2 request's headers as nginx 1.22 lists them
/// (`ngx_http_v2_state_process_header`, `ngx_http_v2_construct_cookie_header`):
/// `:authority` becomes a `host` header first (unless the client sent
/// one), and the `cookie` fields, which HTTP/2 splits (RFC 9113 §8.2.3),
/// are joined with `"; "` into one `cookie` header after all the others.
/// False when the request has both `:authority` and `host`.
fn h2_headers(parts: &mut http::request::Parts) -> bool {
    let cookies = parts.headers.get_all(header::COOKIE).iter().count();
    if parts.uri.authority().is_some() && parts.headers.contains_key(header::HOST) {
        return false;
    }
    let authority = parts
        .uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    if cookies == 0 && authority.is_none() {
        return true;
    }
    let old = std::mem::take(&mut parts.headers);
    let mut joined: Vec<u8> = Vec::new();
    let mut out = HeaderMap::with_capacity(old.len() + 1);
    if let Some(a) = authority {
        out.insert(header::HOST, a);
    }
    for (name, value) in &old {
        if name == header::COOKIE {
            if !joined.is_empty() {
                joined.extend_from_slice(b"; ");
            }
            joined.extend_from_slice(value.as_bytes());
        } else {
            out.append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        if cookies > 0 {
            out.append(header::COOKIE, v);
        }
    }
    parts.headers = out;
    true
}

/// Marks a response that must not be sent: the connection is closed
/// instead (a request body that timed out).
#[derive(Debug, Clone, Copy)]
pub struct Abort;

/// Reads and drops a request body answered without it (`return`, 404),
/// as nginx discards it: the connection stays usable, and a client that
/// sent `Expect: 100-continue` gets its `100 Continue` (hyper writes it
/// when the body is first read). Gives up after `timeout` without data
/// (hyper then closes the connection).
async fn discard(mut body: Incoming, timeout: Duration) {
    if hyper::body::Body::is_end_stream(&body) {
        return;
    }
    while let Ok(Some(Ok(_))) = tokio::time::timeout(timeout, body.frame()).await {}
}

/// Why a request body could not be read.
enum BodyError {
    /// A malformed body (hyper's framing error).
    Bad,
    /// `client_body_timeout` passed between two reads.
    Timeout,
    /// A body of no declared length grew over `client_max_body_size`:
    /// nginx's error line.
    TooLarge(String),
}

/// Reads a request body, each read within `limits.body_timeout` (nginx's
/// `client_body_timeout`, between two successive reads), at most
/// `client_max_body_size` of it. nginx checks a chunked body at each chunk
/// head, against the chunks before it plus the chunk's declared size; a
/// frame from hyper stands for a chunk here (or for its part that had
/// come when read), so the error line's second figure can be smaller.
async fn read_body(
    mut body: Incoming,
    limits: &crate::plan::ClientLimits,
    h2: bool,
) -> Result<Bytes, BodyError> {
    let mut out = bytes::BytesMut::new();
    loop {
        match tokio::time::timeout(limits.body_timeout, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => return Ok(out.freeze()),
            Ok(Some(Err(_))) => return Err(BodyError::Bad),
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    let (before, len) = (out.len() as u64, d.len() as u64);
                    if limits.too_large(before + len) {
                        return Err(BodyError::TooLarge(if h2 {
                            format!(
                                "client intended to send too large chunked body: {} bytes",
                                before + len
                            )
                        } else {
                            format!(
                                "client intended to send too large chunked body: {before}+{len} bytes"
                            )
                        }));
                    }
                    out.extend_from_slice(&d);
                }
            }
        }
    }
}

fn host_of(parts: &http::request::Parts) -> &str {
    parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("")
}

/// The access log that applies to a response.
#[derive(Clone, Debug)]
pub struct LogAt(
    pub Arc<crate::accesslog::Target>,
    pub crate::accesslog::Routed,
);

/// What a response body's end may have to log after the request's code
/// returned (a timeout while it streams).
struct Late {
    event: crate::errorlog::OwnedEvent,
    /// The upstream request's target.
    target: http::Uri,
    client_io: Option<Arc<crate::timed::Limits>>,
}

/// A peer in use by one response, released when its body ends.
struct Lease {
    group: std::sync::Arc<str>,
    attempt: Attempt,
    /// The peer's address (where an idle connection is cached).
    addr: Peer,
    failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Error,
    Timeout,
    /// No connection could be made: `worker_connections` are all taken
    /// (nginx answers 500 and tries no other peer).
    Exhausted,
}

impl Outgoing {
    /// The request for one attempt; the last attempt takes the head
    /// instead of copying it.
    fn request(&mut self, last: bool) -> Request<http_body_util::Full<Bytes>> {
        let mut req = Request::new(http_body_util::Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.target.clone();
        *req.version_mut() = self.version;
        if let Some(case) = &self.case {
            req.extensions_mut().extend(case.clone());
        }
        *req.headers_mut() = if last {
            std::mem::take(&mut self.head)
        } else {
            self.head.clone()
        };
        req
    }
}

/// The request to send upstream.
struct Outgoing {
    method: HttpMethod,
    target: http::Uri,
    version: Version,
    head: http::HeaderMap,
    /// hyper's case map for `head` (none: Title-Case).
    case: Option<http::Extensions>,
    body: Bytes,
    /// The client connection's upgrade, when it asked for one.
    upgrade: Option<hyper::upgrade::OnUpgrade>,
    /// The client connection's limits (`send_timeout`), if it has them.
    client_io: Option<Arc<crate::timed::Limits>>,
}

async fn connect(addr: &Peer, timeout: Duration) -> Result<Conn, Failure> {
    let slot = crate::limit::acquire().ok_or(Failure::Exhausted)?;
    let stream = addr.connect(timeout).await.map_err(|timeout| {
        if timeout {
            Failure::Timeout
        } else {
            Failure::Error
        }
    })?;
    let rec = crate::casemap::Recorder::default();
    let limits = Arc::new(crate::timed::Limits::default());
    let io = crate::timed::Timed::new(
        crate::casemap::Recording::new(stream, rec.clone()),
        Arc::clone(&limits),
    );
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .preserve_header_case(true)
        .writev(false)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|_| Failure::Error)?;
    tokio::task::spawn_local(async move {
        let _slot = slot;
        let _ = conn.with_upgrades().await;
    });
    Ok(Conn {
        sender,
        requests: 0,
        rec,
        limits,
    })
}
