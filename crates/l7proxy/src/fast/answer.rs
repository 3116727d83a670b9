//! Answering one parsed request head: the checks that keep it on the
//! fast path, routing, the upstream request written as bytes, the tries
//! (`proxy_next_upstream`) and the relay of the response.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use http::StatusCode;
use tokio::net::TcpStream;

use super::page::page;
use super::upstream::{relay, Cut, Upstream};
use super::{put_buf, send, take_buf, HEADERS, LINE};
use crate::accesslog::{ConnFacts, RequestFacts, Routed};
use crate::balance::{Input, Method};
use crate::headers::{Client, Vars};
use crate::logformat::Try;
use crate::plan::Action;
use crate::worker::{Failure, Worker};

pub(super) enum Done {
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
pub(super) struct Req<'a> {
    pub(super) method: &'a str,
    pub(super) target: &'a str,
    pub(super) head_only: bool,
    pub(super) keep_alive: bool,
    pub(super) client: &'a [httparse::Header<'a>],
    /// The location's client-side limits.
    pub(super) limits: crate::plan::ClientLimits,
    /// Bytes sent before the response (`100 Continue`): nginx counts them
    /// in `$body_bytes_sent`.
    pub(super) early: u64,
}

#[allow(clippy::too_many_lines)] // one request, start to end
pub(super) async fn answer(
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
    // Rewrite scripts, limits and access rules are checked on hyper's path.
    if !site.server_scripts[server].is_empty() {
        return Done::Hyper;
    }
    let loc_path = site.routes[server].location(normalized.as_bytes());
    let Some(node) = crate::plan::node(&site.plans[server], &loc_path) else {
        return Done::Hyper;
    };
    // A client that takes gzip, where it is on: hyper's path compresses.
    let gzip = || {
        node.gzip.enabled
            && client.iter().any(|h| {
                h.name.eq_ignore_ascii_case("accept-encoding")
                    && std::str::from_utf8(h.value).is_ok_and(crate::gzip::accepts_gzip)
            })
    };
    if !node.script.is_empty()
        || !node.access.is_empty()
        || node.auth.auth.is_some()
        || !node.limit_req.is_empty()
        || node.shape.limit_rate.is_some()
        || !node.limit_conn.is_empty()
        || gzip()
    {
        return Done::Hyper;
    }
    // Static files, `internal` locations and `error_page` rules that may
    // replace an answer of this path (its 500/502/504, an upstream's
    // with `proxy_intercept_errors`) are hyper's path's.
    let Action::Proxy(plan) = &node.action else {
        return Done::Hyper;
    };
    let ours = |p: &nginx_conf::model::http::ErrorPage| {
        p.codes.iter().any(|c| matches!(c, 500 | 502 | 504))
    };
    if node.internal
        || (node.intercept_errors && !node.error_pages.is_empty())
        || node.error_pages.iter().any(ours)
    {
        return Done::Hyper;
    }
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
                rewritten: None,
            };
            // Errors (and their log lines) are hyper's path's.
            let Ok(p) = plan.resolve(template, &eval, site) else {
                return Done::Hyper;
            };
            // An address's one-peer group is made on hyper's path.
            if !site.upstreams.contains_key(&*p.group) {
                return Done::Hyper;
            }
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
                sets: Vec::new(),
            },
            header_bytes: 0,
        }))
    };
    // In progress until the answer is written (`stub_status`).
    let _writing = crate::stats::Writing::new();
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
        rewritten: None,
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
            crate::worker::upstream_target(uri, *prefix, &normalized, args, path.contains('%'))
                .as_bytes(),
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
        upstream: None,
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
            gzip: &node.gzip,
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
