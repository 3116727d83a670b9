//! A request's way through hyper's path, in nginx's phase order: the
//! head's checks, server selection, the server's rewrite script, the
//! location (chosen again while a script changes the URI), the limits and
//! `allow`/`deny`, then the location's action (static files through
//! `errorpage.rs`, `stub_status`, or the upstream through `pass.rs`),
//! `error_page`, the response rules and `gzip`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use super::request::{discard, h2_headers, head_too_large, host_of, read_body, BodyError};
use super::{answered, error_page, final_rules, pass, upstream_target, Abort, Worker};
use crate::body::Body;
use crate::headers::Vars;
use crate::plan::{Action, ProxyPlan};
use crate::rewrite::Outcome;
use crate::route::select_server;
use crate::uri;

impl Worker {
    #[allow(clippy::too_many_lines)] // one request's way, in nginx's order
    pub(super) async fn route(
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
        // nginx's `start_sec`, for `limit_rate`.
        let started = crate::rate::now_sec();
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
                            StatusCode::from_u16(rate.policy.status)
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
                    if !conns.policy.dry_run {
                        discard(body, limits.body_timeout).await;
                        break 'answer error_page(
                            StatusCode::from_u16(conns.policy.status)
                                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                        );
                    }
                }
                conn_places = Some(held);
            }
            // nginx's access phase: `allow`/`deny`, then `auth_basic`;
            // with `satisfy any` either one letting the request in is enough.
            let rules = node.map_or(&site.server_access[server], |n| &n.access);
            let guard = node.map_or(&site.server_auth[server], |n| &n.auth);
            let ruled = nginx_conf::model::access::verdict(rules, Some(client.ip()));
            if ruled == Some(false) && !guard.satisfy_any {
                event.error("access forbidden by rule");
                discard(body, limits.body_timeout).await;
                break 'answer error_page(StatusCode::FORBIDDEN);
            }
            if !(guard.satisfy_any && ruled == Some(true)) {
                let denied = match &guard.auth {
                    Some(auth) => {
                        crate::worker::guard::basic(auth, &script_vars, &parts.headers, &event)
                    }
                    None if guard.satisfy_any && ruled == Some(false) => {
                        Some(error_page(StatusCode::FORBIDDEN))
                    }
                    None => None,
                };
                if let Some(answer) = denied {
                    if guard.satisfy_any && answer.status() == StatusCode::FORBIDDEN {
                        event.error("access forbidden by rule");
                    }
                    discard(body, limits.body_timeout).await;
                    break 'answer answer;
                }
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
        // `set` variables, for the access log (if the request has one).
        if state.has_sets() && !log.0.is_empty() {
            routed.sets = state.sets();
        }
        // Paced when the head is written (`server/head.rs`).
        if let Some((rate, after)) = shape.limit_rate {
            let start_sec = started;
            resp.extensions_mut().insert(crate::rate::Limit {
                rate,
                after,
                start_sec,
            });
        }
        resp
    }
}
