//! `error_page` and internal redirects, as nginx 1.22's core module does
//! them: an error we answer (404, 403, 405, 500, 502, 504, …, and
//! `return CODE` without text) whose code a rule of the location names is
//! redirected, once (`recursive_error_pages off`), to a URI (the location
//! is looked up again, the method becomes GET unless HEAD), a named
//! location, or a URL (302, or the `=CODE` given when it is a redirect).
//! `=CODE` replaces the answer's status, `=` alone keeps the target's,
//! none gives the error's. `try_files` and the `index` module's internal
//! redirects go through [`run`] as well.

use http::{header, HeaderValue, Response, StatusCode};
use nginx_conf::model::http::{ErrorPage, LocationMatch};

use crate::body::Body;
use crate::errorlog::Event;
use crate::files::{Req, Served, StaticPlan};
use crate::headers::Vars;
use crate::plan::Action;
use crate::site::Site;

/// Marks our own error pages (and redirects), which `error_page` may
/// replace; a proxied answer or `return CODE TEXT` has none.
#[derive(Debug, Clone, Copy)]
pub struct Generated;

/// nginx's limit of internal redirects per request.
const MAX_REDIRECTS: usize = 10;

/// The request's facts an internal redirect needs.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub site: &'a Site,
    pub server: usize,
    pub event: &'a Event<'a>,
    pub vars: &'a Vars<'a>,
    /// Set to the URI finally served (`$uri` after internal redirects).
    pub uri: &'a std::cell::RefCell<String>,
    /// Set to the location finally run (its path; empty: the server's).
    pub path: &'a std::cell::RefCell<Option<Vec<usize>>>,
}

/// What running a location's action for an internal request gave.
#[derive(Debug)]
pub enum Outcome {
    Page(Response<Body>),
    Error(StatusCode),
    /// An internal redirect (`index`, `try_files`) reached the proxied
    /// location at this path, with this URI (and these arguments when
    /// `Some`: a `try_files` URI replaces them, `None` if it has none).
    Proxied {
        path: Vec<usize>,
        uri: String,
        args: Option<Option<String>>,
    },
}

/// The location `uri` selects, and its plan (`None`: the server's files).
fn location_of<'a>(
    site: &'a Site,
    server: usize,
    uri: &str,
) -> (Vec<usize>, Option<&'a crate::plan::PlanTree>) {
    let path = site.routes[server].location(uri.as_bytes());
    let node = crate::plan::node(&site.plans[server], &path);
    (path, node)
}

/// The named location `@name` of the server.
fn named<'a>(ctx: &Ctx<'a>, name: &str) -> Option<(Vec<usize>, Option<&'a crate::plan::PlanTree>)> {
    let i = ctx.site.http.servers[ctx.server]
        .locations
        .iter()
        .position(|l| matches!(&l.matcher, LocationMatch::Named(n) if n == name))?;
    Some((
        vec![i],
        crate::plan::node(&ctx.site.plans[ctx.server], &[i]),
    ))
}

/// Where `try_files` sends a request.
enum Tried {
    /// A file or directory that exists: its URI, in the same location.
    Here(String),
    Code(StatusCode),
    Named(String),
    Uri(String),
}

/// nginx's try_files phase: the first name (variables expanded, `$uri`
/// the current URI) that exists (as a directory when it ends with `/`);
/// else the last argument.
fn try_files(ctx: &Ctx<'_>, plan: &StaticPlan, list: &[String], uri: &str) -> Tried {
    let vars = Vars { uri, ..*ctx.vars };
    let (last, names) = list
        .split_last()
        .map_or(("", &[][..]), |(l, n)| (l.as_str(), n));
    for name in names {
        let name = vars.expand(name);
        let dir = name.ends_with('/');
        let Some(path) = plan.try_path(&name, &vars) else {
            continue;
        };
        // A name without `/` matches a directory too (then 301).
        if std::fs::metadata(&path).is_ok_and(|m| !dir || m.is_dir()) {
            return Tried::Here(name);
        }
    }
    if let Some(code) = last.strip_prefix('=') {
        let code = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok());
        return Tried::Code(code.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    if let Some(name) = last.strip_prefix('@') {
        return Tried::Named(name.to_owned());
    }
    Tried::Uri(vars.expand(last))
}

/// Runs `node`'s action for `req` (`node` `None`: the server's files),
/// following `try_files` and `index` redirects (the location is looked up
/// again for each).
#[must_use]
pub fn run(
    ctx: &Ctx<'_>,
    node: Option<&crate::plan::PlanTree>,
    path: &[usize],
    req: &Req<'_>,
    script_ran: bool,
) -> Outcome {
    let server_files = &ctx.site.server_levels[ctx.server].files;
    let mut uri = req.uri.to_owned();
    let mut node = node;
    let mut path = path.to_vec();
    // Whether the location was just entered (its `try_files` applies).
    let mut entered = true;
    // Arguments a `try_files` URI set (`None`: the request's).
    let mut new_args: Option<Option<String>> = None;
    // Whether `node`'s script ran already (the request's own location's
    // did in `route`; an `error_page` target's did not).
    let mut entered_first = script_ran;
    for _ in 0..MAX_REDIRECTS {
        ctx.uri.borrow_mut().clone_from(&uri);
        *ctx.path.borrow_mut() = Some(path.clone());
        // A location reached by a redirect runs its rewrite script first
        // (the first one's ran already): `return`, or a new URI.
        if let Some(n) = node.filter(|n| !entered_first && !n.script.is_empty()) {
            let vars = Vars {
                uri: &uri,
                ..*ctx.vars
            };
            let args = new_args
                .clone()
                .unwrap_or_else(|| req.args.map(str::to_owned));
            let mut st = crate::rewrite::State::new(&uri, args.as_deref());
            match n.script.run(&mut st, &vars) {
                crate::rewrite::Outcome::Answer(code, text) => {
                    let resp = crate::worker::answered(code, text, &n.default_type);
                    return if resp.extensions().get::<Generated>().is_some()
                        && resp.status().as_u16() >= 400
                    {
                        Outcome::Error(resp.status())
                    } else {
                        Outcome::Page(resp)
                    };
                }
                _ if st.uri_changed => {
                    new_args = Some(st.args.clone());
                    (path, node) = location_of(ctx.site, ctx.server, &st.uri);
                    (uri, entered) = (st.uri, true);
                    continue;
                }
                _ => {}
            }
        }
        entered_first = false;
        let plan: &StaticPlan = match node.map(|n| &n.action) {
            None => server_files,
            Some(Action::Static(p)) => p,
            Some(Action::StubStatus) => {
                let mut r = Response::new(Body::text(crate::stats::page()));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain"),
                );
                return Outcome::Page(r);
            }
            Some(Action::Proxy(_)) => {
                return Outcome::Proxied {
                    path,
                    uri,
                    args: new_args,
                }
            }
        };
        if let (true, Some(list)) = (entered, &plan.try_files) {
            match try_files(ctx, plan, list, &uri) {
                Tried::Here(found) => uri = found,
                Tried::Code(s) => {
                    return if s.as_u16() >= 300 {
                        Outcome::Error(s)
                    } else {
                        let mut r = Response::new(Body::empty());
                        *r.status_mut() = s;
                        Outcome::Page(r)
                    };
                }
                Tried::Named(name) => {
                    let Some((p, n)) = named(ctx, &name) else {
                        ctx.event
                            .crit(&format!("could not find named location \"@{name}\""));
                        return Outcome::Error(StatusCode::INTERNAL_SERVER_ERROR);
                    };
                    (path, node, entered) = (p, n, true);
                    continue;
                }
                Tried::Uri(next) => {
                    // nginx's `ngx_http_split_args`: none after it without `?`.
                    let (next, args) = match next.split_once('?') {
                        Some((u, a)) => (u.to_owned(), Some(a.to_owned())),
                        None => (next, None),
                    };
                    new_args = Some(args);
                    (path, node) = location_of(ctx.site, ctx.server, &next);
                    (uri, entered) = (next, true);
                    continue;
                }
            }
        }
        ctx.uri.borrow_mut().clone_from(&uri);
        let here = Req {
            uri: &uri,
            args: new_args.as_ref().map_or(req.args, Option::as_deref),
            ..*req
        };
        match crate::files::serve(plan, &here, ctx.event, ctx.vars) {
            Served::Page(r) => return Outcome::Page(r),
            Served::Error(s) => return Outcome::Error(s),
            Served::Internal(next) => {
                (path, node) = location_of(ctx.site, ctx.server, &next);
                (uri, entered) = (next, true);
            }
        }
    }
    ctx.event.error(&format!(
        "rewrite or internal redirection cycle while internally redirecting to \"{uri}\""
    ));
    Outcome::Error(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The answer to an [`Outcome`] that must be sent as it is.
#[must_use]
pub fn page(ctx: &Ctx<'_>, outcome: Outcome) -> Response<Body> {
    match outcome {
        Outcome::Page(r) => r,
        Outcome::Error(s) => crate::worker::error_page(s),
        Outcome::Proxied { .. } => {
            ctx.event
                .error("l7proxy: an internal redirect to a proxied location is not supported");
            crate::worker::error_page(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Sets `status` on `r`, with nginx's reason phrase.
fn set_status(r: &mut Response<Body>, status: StatusCode) {
    *r.status_mut() = status;
    r.extensions_mut().remove::<hyper::ext::ReasonPhrase>();
    let reason = crate::worker::reason(status);
    if status.canonical_reason() != Some(reason) {
        r.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    }
}

/// Applies the first of `pages` naming `resp`'s status, when `resp` is
/// one of our own error pages, or (`upstream`: `proxy_intercept_errors
/// on`) an upstream's answer of 300 or more (its body is dropped, its
/// connection not reused).
#[must_use]
pub fn intercept(
    ctx: &Ctx<'_>,
    pages: &[ErrorPage],
    resp: Response<Body>,
    req: &Req<'_>,
    upstream: bool,
) -> Intercepted {
    use Intercepted::Page;
    let proxied =
        upstream && matches!(resp.body(), Body::Upstream(..)) && resp.status().as_u16() >= 300;
    if resp.extensions().get::<Generated>().is_none() && !proxied {
        return Page(resp);
    }
    let status = resp.status();
    let Some(rule) = pages.iter().find(|p| p.codes.contains(&status.as_u16())) else {
        return Page(resp);
    };
    let new = match rule.status {
        None => Some(status),
        Some(None) => None,
        Some(Some(c)) => StatusCode::from_u16(c).ok(),
    };
    let target = ctx.vars.expand(&rule.target);
    if ["http://", "https://"]
        .iter()
        .any(|p| target.starts_with(p))
    {
        let code = match rule.status {
            Some(Some(c @ (301 | 302 | 303 | 307 | 308))) => c,
            _ => 302,
        };
        let mut r =
            crate::worker::error_page(StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND));
        if let Ok(v) = HeaderValue::from_str(&target) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.extensions_mut().remove::<Generated>();
        return Page(r);
    }
    let method = if req.method == "HEAD" { "HEAD" } else { "GET" };
    let outcome = if let Some(name) = target.strip_prefix('@') {
        let Some((path, node)) = named(ctx, name) else {
            ctx.event
                .crit(&format!("could not find named location \"@{name}\""));
            return Page(crate::worker::error_page(StatusCode::INTERNAL_SERVER_ERROR));
        };
        // A named location keeps the method (nginx changes it only for
        // a URI).
        run(ctx, node, &path, req, false)
    } else {
        let (uri, args) = match target.split_once('?') {
            Some((u, a)) => (u, Some(a)),
            None => (target.as_str(), None),
        };
        let (path, node) = location_of(ctx.site, ctx.server, uri);
        let outcome = run(
            ctx,
            node,
            &path,
            &Req {
                method,
                uri,
                args,
                headers: req.headers,
            },
            false,
        );
        match outcome {
            // The target URI's own arguments (none without `?`).
            Outcome::Proxied {
                path,
                uri,
                args: None,
            } => Outcome::Proxied {
                path,
                uri,
                args: Some(args.map(str::to_owned)),
            },
            other => other,
        }
    };
    if let Outcome::Proxied { path, uri, args } = outcome {
        let named = target.starts_with('@');
        return Intercepted::Proxy {
            path,
            uri,
            args,
            status: new,
            method: (!named).then_some(method),
        };
    }
    let mut r = page(ctx, outcome);
    // An error of the target is sent as it is (no second redirect).
    if r.extensions().get::<Generated>().is_some() && r.status().as_u16() >= 300 {
        r.extensions_mut().remove::<Generated>();
        return Page(r);
    }
    override_status(&mut r, new);
    Page(r)
}

/// `error_page`'s status on the target's answer (`None`: the target's
/// own), unless the target failed (then its error stands).
pub fn override_status(r: &mut Response<Body>, new: Option<StatusCode>) {
    if r.extensions().get::<Generated>().is_some() && r.status().as_u16() >= 300 {
        r.extensions_mut().remove::<Generated>();
        return;
    }
    if let Some(s) = new.filter(|&s| s != r.status()) {
        set_status(r, s);
        let proxied = matches!(r.body(), Body::Upstream(..));
        if !proxied && s != StatusCode::OK && s != StatusCode::PARTIAL_CONTENT {
            // nginx's header filter and range filter.
            r.headers_mut().remove(header::LAST_MODIFIED);
            r.headers_mut().remove(header::ACCEPT_RANGES);
        }
    }
}

/// What `error_page` made of an answer.
#[derive(Debug)]
pub enum Intercepted {
    /// The answer to send.
    Page(Response<Body>),
    /// The target is a proxied location: the caller proxies there (with
    /// `method`, GET or HEAD and no body, for a URI; the request's method
    /// and body for a named location) and applies `status` with
    /// [`override_status`].
    Proxy {
        path: Vec<usize>,
        uri: String,
        args: Option<Option<String>>,
        status: Option<StatusCode>,
        method: Option<&'static str>,
    },
}
