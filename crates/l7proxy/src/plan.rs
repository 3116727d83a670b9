//! What each location does, computed once at load: `return`, 404, or a
//! proxy plan (upstream group, URI rewrite, compiled header rules, retry
//! policy, timeouts), with settings inherited http → server → locations.

use std::time::Duration;

use http::Version;
use nginx_conf::model::http::{
    ErrorPage, Http, Location, LocationMatch, ProxyPass, ProxySettings, Server,
};

use std::sync::Arc;

use crate::accesslog::Files;
use crate::headers::HeaderPlan;
use crate::site::{group_name, proxy_host};

/// `proxy_next_upstream` conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one flag per nginx keyword
pub struct NextUpstream {
    pub error: bool,
    pub timeout: bool,
    pub non_idempotent: bool,
    /// Statuses that count as failures and are retried.
    pub statuses: [bool; 7],
}

/// The statuses `proxy_next_upstream` can name, in [`NextUpstream::statuses`] order.
pub const RETRY_STATUSES: [u16; 7] = [500, 502, 503, 504, 403, 404, 429];

impl NextUpstream {
    /// After an attempt failed with `kind`: the status the request gets
    /// if no other try follows (504 for a timeout, else 502), and whether
    /// another peer may be tried.
    #[must_use]
    pub(crate) fn after(&self, kind: crate::worker::Failure) -> (http::StatusCode, bool) {
        use crate::worker::Failure;
        match kind {
            Failure::Timeout => (http::StatusCode::GATEWAY_TIMEOUT, self.timeout),
            Failure::Error | Failure::Exhausted => (http::StatusCode::BAD_GATEWAY, self.error),
        }
    }

    fn new(words: Option<&Vec<String>>) -> Self {
        let default = vec!["error".to_owned(), "timeout".to_owned()];
        let words = words.unwrap_or(&default);
        let mut n = Self::default();
        if words.iter().any(|w| w == "off") {
            return n;
        }
        for w in words {
            match w.as_str() {
                "error" => n.error = true,
                "timeout" => n.timeout = true,
                "non_idempotent" => n.non_idempotent = true,
                other => {
                    if let Some(code) = other
                        .strip_prefix("http_")
                        .and_then(|c| c.parse::<u16>().ok())
                    {
                        if let Some(i) = RETRY_STATUSES.iter().position(|&s| s == code) {
                            n.statuses[i] = true;
                        }
                    }
                }
            }
        }
        n
    }

    /// Whether `status` is one of the listed failure statuses.
    pub fn status(&self, status: u16) -> bool {
        RETRY_STATUSES
            .iter()
            .position(|&s| s == status)
            .is_some_and(|i| self.statuses[i])
    }
}

/// A location's proxying, ready to run.
#[derive(Debug, Clone)]
pub struct ProxyPlan {
    pub group: std::sync::Arc<str>,
    pub proxy_host: String,
    /// `proxy_pass` URI part, and the length of the location prefix it
    /// replaces (`None` for regex locations: the whole URI follows).
    pub pass_uri: Option<(String, Option<usize>)>,
    pub headers: HeaderPlan,
    pub version: Version,
    pub next: NextUpstream,
    /// `proxy_next_upstream_tries` (0 = as many as there are peers).
    pub tries: u32,
    pub connect_timeout: Duration,
    /// `proxy_read_timeout`: between two reads from the upstream (head
    /// and body).
    pub read_timeout: Duration,
    /// `proxy_pass` with variables: the URL template, evaluated per
    /// request by [`ProxyPlan::resolve`] (then `group`, `proxy_host` and
    /// `pass_uri` are empty).
    pub dynamic: Option<Box<str>>,
    /// An evaluated `proxy_pass` URI: sent instead of the request's, as
    /// it is (nginx appends no arguments to it).
    pub fixed_uri: Option<String>,
    /// `proxy_send_timeout`: between two writes to the upstream.
    pub send_timeout: Duration,
}

/// Why a `proxy_pass` with variables has no upstream: the status, and
/// nginx's error log message.
pub type Unresolved = (http::StatusCode, String);

impl ProxyPlan {
    /// The plan for one request of a `proxy_pass` with variables, as
    /// `ngx_http_proxy_eval` and `ngx_http_upstream_init_request` do it:
    /// the evaluated host (and port) names an upstream group (`upstream`
    /// blocks match without a port, case-insensitively; the groups of
    /// static `proxy_pass` URLs by host and port), else it would need
    /// a resolver.
    pub fn resolve(
        &self,
        template: &str,
        vars: &crate::headers::Vars<'_>,
        site: &crate::site::Site,
    ) -> Result<ProxyPlan, Unresolved> {
        use http::StatusCode;
        let url = vars.expand(template);
        let scheme = |p: &str| url.len() > p.len() && url[..p.len()].eq_ignore_ascii_case(p);
        let rest = if scheme("http://") {
            &url[7..]
        } else if scheme("https://") {
            &url[8..]
        } else {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("invalid URL prefix in \"{url}\""),
            ));
        };
        if rest.starts_with("unix:") {
            return Err((
                StatusCode::BAD_GATEWAY,
                format!(
                    "l7proxy: a unix socket in proxy_pass variables is not supported: \"{rest}\""
                ),
            ));
        }
        let cut = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, uri) = rest.split_at(cut);
        if authority.is_empty() {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no host in upstream \"{rest}\""),
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !h.ends_with(':') && !authority.ends_with(']') => {
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => (h, Some(n)),
                    _ => {
                        return Err((
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("invalid port in upstream \"{rest}\""),
                        ))
                    }
                }
            }
            _ => (authority, None),
        };
        let block = |name: &str| {
            site.http
                .upstreams
                .iter()
                .any(|u| u.name.eq_ignore_ascii_case(name))
        };
        let key = crate::site::proxy_host(host, port);
        let group = site
            .upstreams
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&key) && (port.is_none() || !block(k)));
        // An address needs no resolver: nginx makes a one-peer upstream.
        let group = match group {
            Some(g) => g.clone(),
            None if crate::site::literal_addr(&key).is_some() && scheme("http://") => key.clone(),
            None if crate::site::literal_addr(&key).is_some() => {
                return Err((
                    StatusCode::BAD_GATEWAY,
                    format!("l7proxy: an https address in proxy_pass variables is not supported: \"{authority}\""),
                ))
            }
            None => {
                return Err((
                    StatusCode::BAD_GATEWAY,
                    format!("no resolver defined to resolve {host}"),
                ))
            }
        };
        let mut plan = self.clone();
        plan.dynamic = None;
        plan.group = group.into();
        plan.proxy_host = key;
        plan.fixed_uri = match uri {
            "" => None,
            u if u.starts_with('?') => Some(format!("/{u}")),
            u => Some(u.to_owned()),
        };
        Ok(plan)
    }
}

/// The client side's limits of a location (or server), nginx's defaults
/// applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    /// `keepalive_timeout` (zero: no keep-alive).
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u32,
    /// `client_header_timeout` (read from the listener's default server).
    pub header_timeout: Duration,
    /// `client_body_timeout`: between two reads of the request body.
    pub body_timeout: Duration,
    /// `send_timeout`: between two writes to the client.
    pub send_timeout: Duration,
    /// `client_max_body_size` in bytes (0: no limit).
    pub max_body: u64,
}

impl ClientLimits {
    pub fn new(c: &nginx_conf::model::http::ClientSettings) -> Self {
        let secs = Duration::from_secs;
        Self {
            keepalive_timeout: c.keepalive_timeout.unwrap_or(secs(75)),
            keepalive_requests: c.keepalive_requests.unwrap_or(1000),
            header_timeout: c.header_timeout.unwrap_or(secs(60)),
            body_timeout: c.body_timeout.unwrap_or(secs(60)),
            send_timeout: c.send_timeout.unwrap_or(secs(60)),
            max_body: c.max_body_size.unwrap_or(1024 * 1024),
        }
    }

    /// Whether a body of `len` bytes is over `client_max_body_size`.
    pub fn too_large(&self, len: u64) -> bool {
        self.max_body != 0 && len > self.max_body
    }

    /// Whether the connection may stay open after its `served`-th request.
    pub fn keeps(&self, served: u32) -> bool {
        !self.keepalive_timeout.is_zero() && served < self.keepalive_requests
    }
}

/// What a location does.
#[derive(Debug, Clone)]
pub enum Action {
    Proxy(Box<ProxyPlan>),
    /// `stub_status`: the counters of `stats.rs`.
    StubStatus,
    /// Files under `root` or `alias` (`files.rs`).
    Static(Arc<crate::files::StaticPlan>),
}

/// A level's `auth_basic` and `satisfy`.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `None` without a realm or a user file (nginx declines then).
    pub auth: Option<Arc<crate::auth::Auth>>,
    pub satisfy_any: bool,
}

impl Guard {
    pub fn new(s: &nginx_conf::model::http::Common) -> Self {
        let auth = match (&s.auth_basic, &s.auth_basic_user_file) {
            (Some(realm), Some(file)) if realm != "off" => Some(Arc::new(crate::auth::Auth {
                realm: realm.clone(),
                file: file.clone(),
            })),
            _ => None,
        };
        Self {
            auth,
            satisfy_any: s.satisfy_any.unwrap_or(false),
        }
    }
}

/// A location's action, its access log and its nested locations' plans.
#[derive(Debug, Clone)]
pub struct PlanTree {
    pub action: Action,
    /// The rewrite module's directives (`return` among them), run before
    /// the action.
    pub script: crate::rewrite::Script,
    /// `allow`/`deny`, checked after the script.
    pub access: Arc<[nginx_conf::model::access::AccessRule]>,
    /// `auth_basic` (with a user file) and `satisfy any`, after `allow`/`deny`.
    pub auth: Guard,
    /// `limit_req`s, checked between the script and `allow`/`deny`.
    pub limit_req: Arc<crate::limitreq::Plan>,
    /// `limit_conn`s, after the `limit_req`s.
    pub limit_conn: Arc<crate::limitconn::Plan>,
    /// `gzip` and its settings.
    pub gzip: Arc<crate::gzip::Gzip>,
    /// `default_type`: the type of a `return`'s text.
    pub default_type: Arc<str>,
    /// The response rules (`add_header`, `proxy_redirect`, hidden headers).
    pub shape: Arc<crate::shape::Shape>,
    pub log: Arc<crate::accesslog::Target>,
    pub client: ClientLimits,
    /// `error_page` rules (inherited).
    pub error_pages: Arc<[ErrorPage]>,
    /// `proxy_intercept_errors on`.
    pub intercept_errors: bool,
    /// `internal`: a request from outside gets 404.
    pub internal: bool,
    pub children: Vec<PlanTree>,
}

/// What a server does with a request no location takes: its files and
/// its `error_page` rules.
#[derive(Debug, Clone)]
pub struct ServerLevel {
    pub files: Arc<crate::files::StaticPlan>,
    pub error_pages: Arc<[ErrorPage]>,
}

fn proxy_plan(loc: &Location, settings: &ProxySettings) -> Option<ProxyPlan> {
    let mut dynamic = None;
    let (group, host, uri) = match loc.proxy_pass.as_ref()? {
        ProxyPass::Upstream { name, uri, .. } => (name.clone(), name.clone(), uri.clone()),
        ProxyPass::Url {
            host, port, uri, ..
        } => (
            group_name(host, *port),
            proxy_host(host, *port),
            uri.clone(),
        ),
        ProxyPass::Dynamic(url) => {
            dynamic = Some(url.as_str().into());
            (String::new(), String::new(), None)
        }
    };
    let prefix = match &loc.matcher {
        LocationMatch::Prefix(p) | LocationMatch::PrefixNoRegex(p) | LocationMatch::Exact(p) => {
            Some(p.len())
        }
        _ => None,
    };
    Some(ProxyPlan {
        group: group.into(),
        proxy_host: host,
        pass_uri: uri.map(|u| (u, prefix)),
        headers: HeaderPlan::new(settings.set_headers.as_deref().unwrap_or(&[])),
        version: if settings.http_version.as_deref() == Some("1.1") {
            Version::HTTP_11
        } else {
            Version::HTTP_10
        },
        next: NextUpstream::new(settings.next_upstream.as_ref()),
        tries: settings.next_upstream_tries.unwrap_or(0),
        connect_timeout: settings.connect_timeout.unwrap_or(Duration::from_secs(60)),
        read_timeout: settings.read_timeout.unwrap_or(Duration::from_secs(60)),
        dynamic,
        fixed_uri: None,
        send_timeout: settings.send_timeout.unwrap_or(Duration::from_secs(60)),
    })
}

fn tree(
    loc: &Location,
    parent: &ProxySettings,
    server: &Server,
    files: &mut Files,
    zones: &Zones,
) -> Result<PlanTree, String> {
    let settings = loc.settings.proxy.clone().inherit(parent);
    let action = if loc.stub_status {
        Action::StubStatus
    } else if let Some(p) = proxy_plan(loc, &settings) {
        Action::Proxy(Box::new(p))
    } else {
        let prefix = match &loc.matcher {
            LocationMatch::Prefix(p)
            | LocationMatch::PrefixNoRegex(p)
            | LocationMatch::Exact(p) => Some(p.len()),
            _ => None,
        };
        let mut files = crate::files::StaticPlan::new(&loc.settings, loc.alias.as_deref(), prefix);
        files.try_files.clone_from(&loc.try_files);
        Action::Static(Arc::new(files))
    };
    let log = Arc::new(files.target(loc.settings.access_log.as_ref())?);
    let pass = match (&loc.proxy_pass, &loc.proxy_pass_url) {
        (Some(p @ (ProxyPass::Upstream { .. } | ProxyPass::Url { .. })), Some(url)) => {
            Some(crate::shape::Pass {
                url,
                has_uri: matches!(
                    p,
                    ProxyPass::Upstream { uri: Some(_), .. } | ProxyPass::Url { uri: Some(_), .. }
                ),
                location: match &loc.matcher {
                    LocationMatch::Exact(n)
                    | LocationMatch::PrefixNoRegex(n)
                    | LocationMatch::Regex(n)
                    | LocationMatch::RegexCaseless(n)
                    | LocationMatch::Prefix(n)
                    | LocationMatch::Named(n) => n,
                },
            })
        }
        _ => None,
    };
    let redirect = crate::shape::Redirects::of(&loc.settings, server);
    let mut shape = crate::shape::Shape::new(
        loc.settings.add_headers.as_deref(),
        &settings,
        pass,
        redirect,
    )
    .map_err(|e| format!("{e} in {}:{}", loc.file, loc.line))?;
    shape.limit_rate = crate::rate::Limit::of(&loc.settings);
    let children = loc
        .locations
        .iter()
        .map(|l| tree(l, &settings, server, files, zones))
        .collect::<Result<_, _>>()?;
    Ok(PlanTree {
        action,
        script: crate::rewrite::Script::new(&loc.script)?,
        access: loc.settings.access.clone().unwrap_or_default().into(),
        auth: Guard::new(&loc.settings),
        limit_req: Arc::new(limit_plan(&loc.settings, zones)?),
        limit_conn: Arc::new(conn_plan(&loc.settings, zones)?),
        gzip: Arc::new(crate::gzip::Gzip::new(&loc.settings.gzip)?),
        default_type: loc
            .settings
            .default_type
            .as_deref()
            .unwrap_or("text/plain")
            .into(),
        shape: Arc::new(shape),
        log,
        client: ClientLimits::new(&loc.settings.client),
        error_pages: loc.settings.error_pages.clone().unwrap_or_default().into(),
        intercept_errors: settings.intercept_errors.unwrap_or(false),
        internal: loc.internal,
        children,
    })
}

/// The plans of one server, its own access log and response rules (for
/// requests no location takes).
pub type ServerPlans = (
    Vec<PlanTree>,
    Arc<crate::accesslog::Target>,
    Arc<crate::shape::Shape>,
    ServerLevel,
);

/// Plans for every location of `server`, mirroring its location tree.
pub fn server_plans(
    http: &Http,
    server: &Server,
    files: &mut Files,
    zones: &Zones,
) -> Result<ServerPlans, String> {
    let settings = server.settings.proxy.clone().inherit(&http.settings.proxy);
    let plans = server
        .locations
        .iter()
        .map(|l| tree(l, &settings, server, files, zones))
        .collect::<Result<_, _>>()?;
    let mut shape = crate::shape::Shape::new(
        server.settings.add_headers.as_deref(),
        &settings,
        None,
        crate::shape::Redirects::of(&server.settings, server),
    )
    .map_err(|e| format!("{e} in {}:{}", server.file, server.line))?;
    shape.limit_rate = crate::rate::Limit::of(&server.settings);
    let level = ServerLevel {
        files: Arc::new({
            let mut files = crate::files::StaticPlan::new(&server.settings, None, None);
            files.try_files.clone_from(&server.try_files);
            files
        }),
        error_pages: server
            .settings
            .error_pages
            .clone()
            .unwrap_or_default()
            .into(),
    };
    Ok((
        plans,
        Arc::new(files.target(server.settings.access_log.as_ref())?),
        Arc::new(shape),
        level,
    ))
}

/// The `limit_req_zone`s and `limit_conn_zone`s of the http block.
#[derive(Debug, Default)]
pub struct Zones {
    pub req: Vec<Arc<crate::limitreq::Zone>>,
    pub conn: Vec<Arc<crate::limitconn::Zone>>,
}

impl Zones {
    pub fn new(http: &Http) -> Self {
        Self {
            req: http
                .limit_req_zones
                .iter()
                .map(crate::limitreq::Zone::get)
                .collect(),
            conn: http
                .limit_conn_zones
                .iter()
                .map(crate::limitconn::Zone::get)
                .collect(),
        }
    }
}

/// The `limit_req` plan of a level's (inherited) settings.
pub fn limit_plan(
    c: &nginx_conf::model::http::Common,
    zones: &Zones,
) -> Result<crate::limitreq::Plan, String> {
    crate::limitreq::Plan::new(
        c.limit_req.as_ref(),
        c.limit_req_status,
        c.limit_req_log_level.as_deref(),
        c.limit_req_dry_run,
        &zones.req,
    )
}

/// The `limit_conn` plan of a level's (inherited) settings.
pub fn conn_plan(
    c: &nginx_conf::model::http::Common,
    zones: &Zones,
) -> Result<crate::limitconn::Plan, String> {
    crate::limitconn::Plan::new(
        c.limit_conn.as_ref(),
        c.limit_conn_status,
        c.limit_conn_log_level.as_deref(),
        c.limit_conn_dry_run,
        &zones.conn,
    )
}

/// The plan node at `path` (indexes down the location tree).
pub fn node<'a>(plans: &'a [PlanTree], path: &[usize]) -> Option<&'a PlanTree> {
    let (&first, rest) = path.split_first()?;
    let mut t = plans.get(first)?;
    for &i in rest {
        t = t.children.get(i)?;
    }
    Some(t)
}
