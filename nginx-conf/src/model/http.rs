//! `http`, `server`, `location` and the proxy settings, with nginx's inheritance.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::answers::error_page;
pub use super::answers::{ErrorPage, Return};
use super::limit::{limit_level, limit_status};
use super::listen::{parse_listen, parse_server_name, Listen, ListenAddress, ServerName};
use super::logs::{check_access_log, parse_log_format};
pub use super::logs::{AccessLog, LogFormat};
use super::rewrite::parse_script;
use super::upstream::{parse_upstream, Upstream};
use super::values::{bad_next_upstream, parse_duration, parse_offset, parse_seconds};
use super::{error_log, flag, Cursor, ErrorLog, ModelError};
use crate::payload::Stmt;

/// Where `proxy_pass` sends requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyPass {
    /// To an `upstream` block by name.
    Upstream {
        scheme: String,
        name: String,
        uri: Option<String>,
    },
    /// To an address (IP, host name or `unix:` socket) and optional port.
    Url {
        scheme: String,
        host: String,
        port: Option<u16>,
        uri: Option<String>,
    },
    /// Contains variables; resolved per request.
    Dynamic(String),
}

/// Fills an unset value from the parent level.
fn take<T: Clone>(v: &mut Option<T>, p: Option<&T>) {
    if v.is_none() {
        *v = p.cloned();
    }
}

/// Proxy settings of one level; `None` means "inherited".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxySettings {
    /// `proxy_set_header`: a level that sets none inherits all of its parent's.
    pub set_headers: Option<Vec<(String, String)>>,
    pub http_version: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub send_timeout: Option<Duration>,
    pub next_upstream: Option<Vec<String>>,
    pub next_upstream_tries: Option<u32>,
    pub next_upstream_timeout: Option<Duration>,
    pub buffering: Option<bool>,
    /// `proxy_redirect`: the level's rules in order; `Some(empty)` is
    /// `off`; `None` inherits (and, in a location with `proxy_pass`,
    /// means `default`).
    pub redirects: Option<Vec<Redirect>>,
    /// `proxy_hide_header` names (inherited as a whole when unset).
    pub hide_headers: Option<Vec<String>>,
    /// `proxy_pass_header` names (inherited as a whole when unset).
    pub pass_headers: Option<Vec<String>>,
    /// `proxy_intercept_errors`.
    pub intercept_errors: Option<bool>,
}

/// One `proxy_redirect` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `proxy_redirect default`: from the location's `proxy_pass`.
    Default,
    /// `proxy_redirect REDIRECT REPLACEMENT` (a prefix, may hold variables).
    Prefix {
        pattern: String,
        replacement: String,
    },
}

/// `add_header NAME VALUE [always]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddHeader {
    pub name: String,
    pub value: String,
    pub always: bool,
}

impl ProxySettings {
    /// This level's settings with the unset ones taken from `parent`.
    #[must_use]
    pub fn inherit(mut self, parent: &ProxySettings) -> ProxySettings {
        take(&mut self.set_headers, parent.set_headers.as_ref());
        take(&mut self.http_version, parent.http_version.as_ref());
        take(&mut self.connect_timeout, parent.connect_timeout.as_ref());
        take(&mut self.read_timeout, parent.read_timeout.as_ref());
        take(&mut self.send_timeout, parent.send_timeout.as_ref());
        take(&mut self.next_upstream, parent.next_upstream.as_ref());
        take(
            &mut self.next_upstream_tries,
            parent.next_upstream_tries.as_ref(),
        );
        take(
            &mut self.next_upstream_timeout,
            parent.next_upstream_timeout.as_ref(),
        );
        take(&mut self.buffering, parent.buffering.as_ref());
        take(&mut self.redirects, parent.redirects.as_ref());
        take(&mut self.hide_headers, parent.hide_headers.as_ref());
        take(&mut self.pass_headers, parent.pass_headers.as_ref());
        take(&mut self.intercept_errors, parent.intercept_errors.as_ref());
        self
    }
}

/// The client side's timeouts and keep-alive limits (`ngx_http_core_module`);
/// `None` means "inherited" (then nginx's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientSettings {
    /// `keepalive_timeout` (default 75s; 0 turns keep-alive off).
    pub keepalive_timeout: Option<Duration>,
    /// `keepalive_timeout`'s optional second argument (the `Keep-Alive:
    /// timeout=N` response header); read, not used by l7proxy.
    pub keepalive_header: Option<Duration>,
    /// `keepalive_requests` (default 1000).
    pub keepalive_requests: Option<u32>,
    /// `client_header_timeout` (default 60s; http and server levels).
    pub header_timeout: Option<Duration>,
    /// `client_body_timeout` (default 60s).
    pub body_timeout: Option<Duration>,
    /// `send_timeout` (default 60s).
    pub send_timeout: Option<Duration>,
    /// `client_max_body_size` in bytes (default 1m; 0: no limit).
    pub max_body_size: Option<u64>,
}

impl ClientSettings {
    /// This level's settings with the unset ones taken from `parent`.
    #[must_use]
    pub fn inherit(mut self, parent: &ClientSettings) -> ClientSettings {
        take(
            &mut self.keepalive_timeout,
            parent.keepalive_timeout.as_ref(),
        );
        take(&mut self.keepalive_header, parent.keepalive_header.as_ref());
        take(
            &mut self.keepalive_requests,
            parent.keepalive_requests.as_ref(),
        );
        take(&mut self.header_timeout, parent.header_timeout.as_ref());
        take(&mut self.body_timeout, parent.body_timeout.as_ref());
        take(&mut self.send_timeout, parent.send_timeout.as_ref());
        take(&mut self.max_body_size, parent.max_body_size.as_ref());
        self
    }
}

/// Settings every level has, already inherited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Common {
    pub root: Option<String>,
    pub access_log: Option<Vec<AccessLog>>,
    pub error_log: Option<Vec<ErrorLog>>,
    pub proxy: ProxySettings,
    pub client: ClientSettings,
    pub ssl_certificate: Option<Vec<String>>,
    pub ssl_certificate_key: Option<Vec<String>>,
    pub ssl_protocols: Option<Vec<String>>,
    /// `http2_max_concurrent_streams` (http and server levels).
    pub http2_max_concurrent_streams: Option<u32>,
    /// `add_header`: a level that adds none inherits all of its parent's.
    pub add_headers: Option<Vec<AddHeader>>,
    /// `absolute_redirect`, `server_name_in_redirect`, `port_in_redirect`.
    pub absolute_redirect: Option<bool>,
    pub server_name_in_redirect: Option<bool>,
    pub port_in_redirect: Option<bool>,
    /// `allow` and `deny`, in order: a level with none takes its parent's.
    pub access: Option<Vec<super::access::AccessRule>>,
    /// `gzip` and its settings.
    pub gzip: super::gzip::GzipSettings,
    /// `limit_req`s: a level with none takes its parent's.
    pub limit_req: Option<Vec<super::limit::LimitReq>>,
    /// `limit_req_status` (default 503).
    pub limit_req_status: Option<u16>,
    /// `limit_req_log_level` (default `error`).
    pub limit_req_log_level: Option<String>,
    /// `limit_req_dry_run`.
    pub limit_req_dry_run: Option<bool>,
    /// `limit_conn`s: a level with none takes its parent's.
    pub limit_conn: Option<Vec<super::limit::LimitConn>>,
    /// `limit_conn_status`, `limit_conn_log_level`, `limit_conn_dry_run`.
    pub limit_conn_status: Option<u16>,
    pub limit_conn_log_level: Option<String>,
    pub limit_conn_dry_run: Option<bool>,
    /// `index` files, in order (nginx's default: `index.html`).
    pub index: Option<Vec<String>>,
    /// `types { TYPE EXT…; }` blocks of the level, as (lower-case
    /// extension, type), a later one winning; a level with none inherits.
    pub types: Option<Vec<(String, String)>>,
    /// `default_type` (nginx's compiled default: `text/plain`).
    pub default_type: Option<String>,
    /// `error_page` lines of the level; a level with none inherits.
    pub error_pages: Option<Vec<ErrorPage>>,
    /// `auth_basic` (a realm with variables, or `off`) and
    /// `auth_basic_user_file`.
    pub auth_basic: Option<String>,
    pub auth_basic_user_file: Option<String>,
    /// `satisfy any` (true) or `all`.
    pub satisfy_any: Option<bool>,
    /// `limit_rate` and `limit_rate_after`, in bytes.
    pub limit_rate: Option<u64>,
    pub limit_rate_after: Option<u64>,
}

impl Common {
    fn inherit(mut self, parent: &Common) -> Common {
        take(&mut self.root, parent.root.as_ref());
        take(&mut self.access_log, parent.access_log.as_ref());
        take(&mut self.error_log, parent.error_log.as_ref());
        take(&mut self.ssl_certificate, parent.ssl_certificate.as_ref());
        take(
            &mut self.ssl_certificate_key,
            parent.ssl_certificate_key.as_ref(),
        );
        take(&mut self.ssl_protocols, parent.ssl_protocols.as_ref());
        take(
            &mut self.http2_max_concurrent_streams,
            parent.http2_max_concurrent_streams.as_ref(),
        );
        take(&mut self.add_headers, parent.add_headers.as_ref());
        take(
            &mut self.absolute_redirect,
            parent.absolute_redirect.as_ref(),
        );
        take(
            &mut self.server_name_in_redirect,
            parent.server_name_in_redirect.as_ref(),
        );
        take(&mut self.port_in_redirect, parent.port_in_redirect.as_ref());
        take(&mut self.access, parent.access.as_ref());
        take(&mut self.auth_basic, parent.auth_basic.as_ref());
        take(
            &mut self.auth_basic_user_file,
            parent.auth_basic_user_file.as_ref(),
        );
        take(&mut self.satisfy_any, parent.satisfy_any.as_ref());
        take(&mut self.limit_rate, parent.limit_rate.as_ref());
        take(&mut self.limit_rate_after, parent.limit_rate_after.as_ref());
        take(&mut self.limit_req, parent.limit_req.as_ref());
        take(&mut self.limit_req_status, parent.limit_req_status.as_ref());
        take(
            &mut self.limit_req_log_level,
            parent.limit_req_log_level.as_ref(),
        );
        take(
            &mut self.limit_req_dry_run,
            parent.limit_req_dry_run.as_ref(),
        );
        self.gzip = self.gzip.inherit(&parent.gzip);
        take(&mut self.index, parent.index.as_ref());
        take(&mut self.types, parent.types.as_ref());
        take(&mut self.default_type, parent.default_type.as_ref());
        take(&mut self.error_pages, parent.error_pages.as_ref());
        self.proxy = self.proxy.inherit(&parent.proxy);
        self.client = self.client.inherit(&parent.client);
        self
    }
}

/// How a location matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationMatch {
    /// `= /path`
    Exact(String),
    /// `^~ /path`: prefix that stops the regex search.
    PrefixNoRegex(String),
    /// `~ re`
    Regex(String),
    /// `~* re`
    RegexCaseless(String),
    /// `/path`
    Prefix(String),
    /// `@name`
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub matcher: LocationMatch,
    pub proxy_pass: Option<ProxyPass>,
    /// The `proxy_pass` argument as written (`proxy_redirect default`
    /// matches it).
    pub proxy_pass_url: Option<String>,
    /// The rewrite module's directives (`return` among them), in order.
    pub script: Vec<super::rewrite::Op>,
    /// `stub_status`: the location answers with the server's counters.
    pub stub_status: bool,
    /// `alias PATH` (this location only).
    pub alias: Option<String>,
    /// `try_files FILE… URI|=CODE|@named` (this location only).
    pub try_files: Option<Vec<String>>,
    /// `internal`: only internal redirects reach it.
    pub internal: bool,
    pub settings: Common,
    pub locations: Vec<Location>,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub listen: Vec<Listen>,
    pub server_names: Vec<ServerName>,
    /// The rewrite module's directives (`return` among them), in order.
    pub script: Vec<super::rewrite::Op>,
    /// `try_files` of the server (for requests no location takes).
    pub try_files: Option<Vec<String>>,
    pub settings: Common,
    pub locations: Vec<Location>,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Http {
    pub upstreams: Vec<Upstream>,
    /// `map` blocks, in file order (a later one defining the same
    /// variable wins, as in nginx).
    pub maps: Vec<super::map::Map>,
    /// `split_clients` blocks.
    pub split_clients: Vec<super::split::SplitClients>,
    /// `geo` blocks.
    pub geos: Vec<super::geo::Geo>,
    /// `limit_req_zone`s and `limit_conn_zone`s.
    pub limit_req_zones: Vec<super::limit::LimitReqZone>,
    pub limit_conn_zones: Vec<super::limit::LimitConnZone>,
    pub log_formats: Vec<LogFormat>,
    pub servers: Vec<Server>,
    pub settings: Common,
}

pub(crate) fn invalid(stmt: &Stmt, c: &Cursor) -> ModelError {
    c.error(
        stmt,
        format!("\"{}\" directive invalid value", stmt.directive),
    )
}

fn duration(stmt: &Stmt, c: &Cursor) -> Result<Option<Duration>, ModelError> {
    stmt.args
        .first()
        .and_then(|a| parse_duration(a))
        .map(Some)
        .ok_or_else(|| invalid(stmt, c))
}

/// Reads the level's own settings (not inherited yet).
fn common(stmt: &Stmt, out: &mut Common, c: &Cursor) -> Result<(), ModelError> {
    if out.gzip.read(stmt, c)? {
        return Ok(());
    }
    let args = &stmt.args;
    let first = || args.first().cloned().unwrap_or_default();
    let p = &mut out.proxy;
    match stmt.directive.as_str() {
        "root" => out.root = Some(first()),
        "access_log" => {
            let entry = if first() == "off" {
                AccessLog::Off
            } else {
                AccessLog::Path {
                    path: first(),
                    format: args.get(1).filter(|a| !a.contains('=')).cloned(),
                    condition: args
                        .iter()
                        .skip(1)
                        .find_map(|a| a.strip_prefix("if=").map(str::to_owned)),
                }
            };
            out.access_log.get_or_insert_with(Vec::new).push(entry);
        }
        "error_log" => out
            .error_log
            .get_or_insert_with(Vec::new)
            .push(error_log(stmt)),
        "ssl_certificate" => out
            .ssl_certificate
            .get_or_insert_with(Vec::new)
            .push(first()),
        "ssl_certificate_key" => out
            .ssl_certificate_key
            .get_or_insert_with(Vec::new)
            .push(first()),
        "ssl_protocols" => out.ssl_protocols = Some(args.clone()),
        "http2_max_concurrent_streams" => {
            out.http2_max_concurrent_streams = Some(first().parse().map_err(|_| {
                c.error(
                    stmt,
                    "\"http2_max_concurrent_streams\" directive invalid number".to_owned(),
                )
            })?);
        }
        "proxy_set_header" => p
            .set_headers
            .get_or_insert_with(Vec::new)
            .push((first(), args.get(1).cloned().unwrap_or_default())),
        "proxy_http_version" => {
            if first() != "1.0" && first() != "1.1" {
                return Err(c.error(stmt, format!("invalid value \"{}\"", first())));
            }
            p.http_version = Some(first());
        }
        "proxy_connect_timeout" => p.connect_timeout = duration(stmt, c)?,
        "proxy_read_timeout" => p.read_timeout = duration(stmt, c)?,
        "proxy_send_timeout" => p.send_timeout = duration(stmt, c)?,
        "proxy_next_upstream_timeout" => p.next_upstream_timeout = duration(stmt, c)?,
        "proxy_next_upstream_tries" => {
            p.next_upstream_tries = Some(first().parse().map_err(|_| invalid(stmt, c))?);
        }
        "proxy_next_upstream" => {
            if let Some(bad) = bad_next_upstream(args) {
                return Err(c.error(stmt, format!("invalid value \"{bad}\"")));
            }
            p.next_upstream = Some(args.clone());
        }
        "proxy_buffering" => p.buffering = Some(flag(stmt, c)?),
        "proxy_intercept_errors" => p.intercept_errors = Some(flag(stmt, c)?),
        "keepalive_timeout" => {
            out.client.keepalive_timeout = duration(stmt, c)?;
            if let Some(h) = args.get(1) {
                out.client.keepalive_header =
                    Some(parse_seconds(h).ok_or_else(|| invalid(stmt, c))?);
            }
        }
        "keepalive_requests" => {
            out.client.keepalive_requests = Some(first().parse().map_err(|_| invalid(stmt, c))?);
        }
        "client_header_timeout" => out.client.header_timeout = duration(stmt, c)?,
        "client_body_timeout" => out.client.body_timeout = duration(stmt, c)?,
        "send_timeout" => out.client.send_timeout = duration(stmt, c)?,
        "client_max_body_size" => {
            // nginx keeps an offset within `off_t`.
            let size = parse_offset(&first()).filter(|&n| i64::try_from(n).is_ok());
            out.client.max_body_size = Some(size.ok_or_else(|| invalid(stmt, c))?);
        }
        "add_header" => out
            .add_headers
            .get_or_insert_with(Vec::new)
            .push(AddHeader {
                name: first(),
                value: args.get(1).cloned().unwrap_or_default(),
                // The semantic check refused any other third argument.
                always: args.get(2).is_some_and(|a| a == "always"),
            }),
        "proxy_redirect" => {
            let rules = p.redirects.get_or_insert_with(Vec::new);
            match args.as_slice() {
                [off] if off == "off" => rules.clear(),
                [d] if d == "default" => rules.push(Redirect::Default),
                [pattern, replacement] => rules.push(Redirect::Prefix {
                    pattern: pattern.clone(),
                    replacement: replacement.clone(),
                }),
                _ => return Err(invalid(stmt, c)),
            }
        }
        "absolute_redirect" => out.absolute_redirect = Some(flag(stmt, c)?),
        "server_name_in_redirect" => out.server_name_in_redirect = Some(flag(stmt, c)?),
        "port_in_redirect" => out.port_in_redirect = Some(flag(stmt, c)?),
        "limit_req" => out
            .limit_req
            .get_or_insert_with(Vec::new)
            .push(super::limit::parse_limit(stmt, c)?),
        "limit_req_status" => out.limit_req_status = Some(limit_status(stmt, c)?),
        "limit_conn_status" => out.limit_conn_status = Some(limit_status(stmt, c)?),
        "limit_req_log_level" => out.limit_req_log_level = Some(limit_level(stmt, c)?),
        "limit_conn_log_level" => out.limit_conn_log_level = Some(limit_level(stmt, c)?),
        "limit_req_dry_run" => out.limit_req_dry_run = Some(flag(stmt, c)?),
        "limit_conn_dry_run" => out.limit_conn_dry_run = Some(flag(stmt, c)?),
        "limit_conn" => {
            let level = out.limit_conn.get_or_insert_with(Vec::new);
            let l = super::limit::parse_conn(stmt, level, c)?;
            level.push(l);
        }
        "allow" | "deny" => out
            .access
            .get_or_insert_with(Vec::new)
            .push(super::access::parse_rule(stmt, c)?),
        "limit_rate" | "limit_rate_after" => {
            let size = super::values::parse_size(&first()).ok_or_else(|| invalid(stmt, c))?;
            if stmt.directive == "limit_rate" {
                out.limit_rate = Some(size);
            } else {
                out.limit_rate_after = Some(size);
            }
        }
        "auth_basic" => out.auth_basic = Some(first()),
        "auth_basic_user_file" => out.auth_basic_user_file = Some(first()),
        "satisfy" => {
            out.satisfy_any = Some(match first().to_ascii_lowercase().as_str() {
                "all" => false,
                "any" => true,
                _ => return Err(c.error(stmt, format!("invalid value \"{}\"", first()))),
            });
        }
        "proxy_hide_header" => p.hide_headers.get_or_insert_with(Vec::new).push(first()),
        "proxy_pass_header" => p.pass_headers.get_or_insert_with(Vec::new).push(first()),
        "index" => out
            .index
            .get_or_insert_with(Vec::new)
            .extend(args.iter().cloned()),
        "default_type" => out.default_type = Some(first()),
        "types" => {
            let types = out.types.get_or_insert_with(Vec::new);
            for t in stmt.block.as_deref().unwrap_or_default() {
                for ext in &t.args {
                    let ext = ext.to_ascii_lowercase();
                    types.retain(|(e, _)| *e != ext);
                    types.push((ext, t.directive.clone()));
                }
            }
        }
        "error_page" => {
            let page = error_page(stmt, c)?;
            out.error_pages.get_or_insert_with(Vec::new).push(page);
        }
        _ => {}
    }
    Ok(())
}

fn parse_proxy_pass(
    stmt: &Stmt,
    c: &Cursor,
    upstreams: &HashMap<String, usize>,
) -> Result<ProxyPass, ModelError> {
    let url = stmt.args.first().map_or("", String::as_str);
    if url.contains('$') {
        return Ok(ProxyPass::Dynamic(url.to_owned()));
    }
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "http" || *s == "https")
        .ok_or_else(|| c.error(stmt, format!("invalid URL prefix in \"{url}\"")))?;
    let (authority, uri) = if let Some(path) = rest.strip_prefix("unix:") {
        match path.split_once(':') {
            Some((sock, uri)) => (format!("unix:{sock}"), Some(uri.to_owned())),
            None => (format!("unix:{path}"), None),
        }
    } else {
        match rest.find('/') {
            Some(i) => (rest[..i].to_owned(), Some(rest[i..].to_owned())),
            None => (rest.to_owned(), None),
        }
    };
    let scheme = scheme.to_owned();
    if upstreams.contains_key(&authority) {
        return Ok(ProxyPass::Upstream {
            scheme,
            name: authority,
            uri,
        });
    }
    let (host, port) = if authority.starts_with("unix:") {
        (authority.clone(), None)
    } else {
        let (h, p) = super::listen::split_host_port(&authority);
        let port = match p {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                c.error(stmt, format!("invalid port in upstream \"{authority}\""))
            })?),
        };
        (h.to_owned(), port)
    };
    let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok();
    if !literal && !host.contains('.') && !host.starts_with("unix:") && host != "localhost" {
        return Err(c.error(stmt, format!("host not found in upstream \"{authority}\"")));
    }
    Ok(ProxyPass::Url {
        scheme,
        host,
        port,
        uri,
    })
}

fn location_match(stmt: &Stmt, c: &Cursor) -> Result<LocationMatch, ModelError> {
    let a = |i: usize| stmt.args.get(i).cloned().unwrap_or_default();
    Ok(match (stmt.args.len(), a(0).as_str()) {
        (2, "=") => LocationMatch::Exact(a(1)),
        (2, "^~") => LocationMatch::PrefixNoRegex(a(1)),
        (2, "~") => LocationMatch::Regex(a(1)),
        (2, "~*") => LocationMatch::RegexCaseless(a(1)),
        (2, m) => return Err(c.error(stmt, format!("invalid location modifier \"{m}\""))),
        (_, p) if p.starts_with('@') => LocationMatch::Named(p[1..].to_owned()),
        (_, p) if p.starts_with('=') => LocationMatch::Exact(p[1..].to_owned()),
        (_, p) if p.starts_with("^~") => LocationMatch::PrefixNoRegex(p[2..].to_owned()),
        (_, p) if p.starts_with("~*") => LocationMatch::RegexCaseless(p[2..].to_owned()),
        (_, p) if p.starts_with('~') => LocationMatch::Regex(p[1..].to_owned()),
        (_, p) => LocationMatch::Prefix(p.to_owned()),
    })
}

struct Scope<'a> {
    c: &'a Cursor,
    upstreams: &'a HashMap<String, usize>,
    formats: &'a [LogFormat],
}

/// The body of a `server` or `location` block: every statement's common
/// settings and `access_log` check, then `own` for the block's own
/// directives; returns the settings (inheriting from `parent`) and the
/// nested locations, parsed after the whole body as nginx merges them.
fn parse_block(
    stmt: &Stmt,
    parent: &Common,
    s: &Scope<'_>,
    mut own: impl FnMut(&Stmt) -> Result<(), ModelError>,
) -> Result<(Common, Vec<Location>), ModelError> {
    let mut settings = Common::default();
    let block = stmt.block.as_deref().unwrap_or_default();
    for d in block {
        common(d, &mut settings, s.c)?;
        check_access_log(d, s.formats, s.c)?;
        own(d)?;
    }
    let settings = settings.inherit(parent);
    let locations = block
        .iter()
        .filter(|d| d.directive == "location")
        .map(|d| parse_location(d, &settings, s))
        .collect::<Result<_, _>>()?;
    Ok((settings, locations))
}

fn parse_location(stmt: &Stmt, parent: &Common, s: &Scope<'_>) -> Result<Location, ModelError> {
    let mut loc = Location {
        matcher: location_match(stmt, s.c)?,
        proxy_pass: None,
        proxy_pass_url: None,
        script: Vec::new(),
        stub_status: false,
        alias: None,
        try_files: None,
        internal: false,
        settings: Common::default(),
        locations: Vec::new(),
        file: s.c.file(stmt),
        line: stmt.line,
    };
    loc.script = parse_script(stmt.block.as_deref().unwrap_or_default(), s.c)?;
    (loc.settings, loc.locations) = parse_block(stmt, parent, s, |d| {
        match d.directive.as_str() {
            "alias" => loc.alias = d.args.first().cloned(),
            "try_files" => loc.try_files = Some(d.args.clone()),
            "internal" => loc.internal = true,
            "stub_status" => loc.stub_status = true,
            "proxy_pass" => {
                loc.proxy_pass = Some(parse_proxy_pass(d, s.c, s.upstreams)?);
                loc.proxy_pass_url = d.args.first().cloned();
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(loc)
}

fn parse_server(stmt: &Stmt, parent: &Common, s: &Scope<'_>) -> Result<Server, ModelError> {
    let mut server = Server {
        listen: Vec::new(),
        server_names: Vec::new(),
        script: Vec::new(),
        try_files: None,
        settings: Common::default(),
        locations: Vec::new(),
        file: s.c.file(stmt),
        line: stmt.line,
    };
    server.script = parse_script(stmt.block.as_deref().unwrap_or_default(), s.c)?;
    (server.settings, server.locations) = parse_block(stmt, parent, s, |d| {
        match d.directive.as_str() {
            "listen" => {
                let mut listen = parse_listen(&d.args).map_err(|m| s.c.error(d, m))?;
                listen.line = d.line;
                server.listen.push(listen);
            }
            "server_name" => server
                .server_names
                .extend(d.args.iter().map(|n| parse_server_name(n))),
            "try_files" => server.try_files = Some(d.args.clone()),
            _ => {}
        }
        Ok(())
    })?;
    if server.listen.is_empty() {
        server
            .listen
            .push(parse_listen(&["80".to_owned()]).map_err(|m| s.c.error(stmt, m))?);
    }
    Ok(server)
}

/// nginx's checks across servers: one set of socket options and one default
/// server per address.
fn check_listens(servers: &[Server], c: &Cursor) -> Result<(), ModelError> {
    let mut options: HashSet<ListenAddress> = HashSet::new();
    let mut defaults: HashSet<ListenAddress> = HashSet::new();
    for server in servers {
        let mut own: HashSet<&ListenAddress> = HashSet::new();
        for l in &server.listen {
            let at = || {
                let mut s = Stmt::new("listen", l.line);
                s.file = Some(server.file.clone());
                s
            };
            if l.socket_options && !options.insert(l.address.clone()) {
                return Err(c.error(
                    &at(),
                    format!("duplicate listen options for {}", l.address.text()),
                ));
            }
            if l.default_server && !defaults.insert(l.address.clone()) {
                return Err(c.error(
                    &at(),
                    format!("a duplicate default server for {}", l.address.text()),
                ));
            }
            if !own.insert(&l.address) {
                return Err(c.error(&at(), format!("a duplicate listen {}", l.address.text())));
            }
        }
    }
    Ok(())
}

/// Reads the `http` block.
pub fn parse_http(stmt: &Stmt, c: &Cursor) -> Result<Http, ModelError> {
    let block = stmt.block.as_deref().unwrap_or_default();
    let mut http = Http::default();
    for d in block {
        common(d, &mut http.settings, c)?;
        check_access_log(d, &http.log_formats, c)?;
        if d.directive == "upstream" {
            http.upstreams.push(parse_upstream(d, c)?);
        }
        if d.directive == "map" {
            http.maps.push(super::map::parse_map(d, c)?);
        }
        if d.directive == "geo" {
            http.geos.push(super::geo::parse_geo(d, c)?);
        }
        if d.directive == "split_clients" {
            http.split_clients.push(super::split::parse_split(d, c)?);
        }
        if d.directive == "limit_conn_zone" {
            let zone = super::limit::parse_conn_zone(d, &http.limit_conn_zones, c)?;
            http.limit_conn_zones.push(zone);
        }
        if d.directive == "limit_req_zone" {
            let zone = super::limit::parse_zone(d, &http.limit_req_zones, c)?;
            http.limit_req_zones.push(zone);
        }
        if d.directive == "log_format" {
            http.log_formats
                .push(parse_log_format(d, &http.log_formats, c)?);
        }
    }
    let upstreams: HashMap<String, usize> = http
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, u)| (u.name.clone(), i))
        .collect();
    let scope = Scope {
        c,
        upstreams: &upstreams,
        formats: &http.log_formats,
    };
    for d in block.iter().filter(|d| d.directive == "server") {
        http.servers.push(parse_server(d, &http.settings, &scope)?);
    }
    check_listens(&http.servers, c)?;
    Ok(http)
}
