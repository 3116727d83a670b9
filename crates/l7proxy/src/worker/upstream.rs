//! The upstream side of hyper's path: the tries over a group's peers
//! (`proxy_next_upstream`), one exchange on a cached or new connection,
//! the response relayed (its end returning the connection and the peer),
//! and upgraded connections tunnelled.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method as HttpMethod, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;

use super::{error_page, idempotent, now_secs, Conn, Idle, Link, RawConn, Worker};
use crate::balance::{Attempt, Input};
use crate::body::Body;
use crate::peer::Peer;
use crate::plan::ProxyPlan;

impl Worker {
    /// Tries the upstream group's peers; each try goes into `tries` (the
    /// access log's `$upstream_*` and `add_header`'s `$upstream_addr`).
    pub(super) async fn proxy(
        self: &Rc<Self>,
        plan: &ProxyPlan,
        input: Input<'_>,
        mut out: Outgoing,
        event: &crate::errorlog::Event<'_>,
        tries_log: &mut Vec<crate::logformat::Try>,
    ) -> Response<Body> {
        let site = Arc::clone(&self.site);
        let group = &*plan.group;
        let Some(spec) = site.spec(group) else {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        };
        // The one-peer group of an address from `proxy_pass` variables
        // gets its balancer when first used.
        if !self.balancers.borrow().contains_key(group) {
            let u = super::balancer(&spec);
            self.balancers.borrow_mut().insert(group.to_owned(), u);
        }
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
        let Some(spec) = self.site.spec(group) else {
            return;
        };
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
        // The cache first: a group without one (an address's one-peer
        // group among them) needs no spec.
        let mut idle = self.idle.borrow_mut();
        let q = idle.get_mut(group)?;
        let spec = self.site.spec(group)?;
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

/// What a response body's end may have to log after the request's code
/// returned (a timeout while it streams).
struct Late {
    event: crate::errorlog::OwnedEvent,
    /// The upstream request's target.
    pub(super) target: http::Uri,
    pub(super) client_io: Option<Arc<crate::timed::Limits>>,
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
pub(super) struct Outgoing {
    pub(super) method: HttpMethod,
    pub(super) target: http::Uri,
    pub(super) version: Version,
    pub(super) head: http::HeaderMap,
    /// hyper's case map for `head` (none: Title-Case).
    pub(super) case: Option<http::Extensions>,
    pub(super) body: Bytes,
    /// The client connection's upgrade, when it asked for one.
    pub(super) upgrade: Option<hyper::upgrade::OnUpgrade>,
    /// The client connection's limits (`send_timeout`), if it has them.
    pub(super) client_io: Option<Arc<crate::timed::Limits>>,
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
