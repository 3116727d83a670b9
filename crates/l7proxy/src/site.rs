//! The loaded configuration, compiled for serving: listeners with their
//! servers, routes, and upstreams with resolved peer addresses.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map by upstream name, looked up on every request: FNV-1a instead of
/// SipHash (the names come from the configuration file, not from clients).
pub type Names<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// A map with FNV-1a hashing (keys that are not chosen to collide).
pub type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use nginx_conf::model::access::AccessRule;
use nginx_conf::model::http::{Http, ProxyPass};
use nginx_conf::model::listen::ListenAddress;
use nginx_conf::model::upstream::{Balancing, Upstream as UpstreamModel};
use nginx_conf::model::Config;

use crate::balance::{Method, PeerConfig};
use crate::peer::Peer;
use crate::route::ServerRoutes;

/// A listening address and the servers on it (indexes into the model).
#[derive(Debug, Clone)]
pub struct Listener {
    pub addr: SocketAddr,
    pub servers: Vec<usize>,
    pub default: usize,
    pub backlog: Option<i32>,
    pub http2: bool,
    /// `listen … ssl`: the TLS configuration (certificates by SNI).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The TLS versions its default server's `ssl_protocols` enables.
    pub protocols: crate::tls::Protocols,
    ssl_line: Option<usize>,
}

/// An upstream group ready for balancing.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    pub method: Method,
    /// `hash KEY`'s key template.
    pub hash_key: Option<String>,
    pub primary: Vec<(PeerConfig, Peer)>,
    pub backup: Vec<(PeerConfig, Peer)>,
    /// `keepalive N`: idle connections cached per worker.
    pub keepalive: usize,
    pub keepalive_requests: u32,
    pub keepalive_timeout: Duration,
}

/// Everything a worker needs, shared read-only between workers.
#[derive(Debug)]
pub struct Site {
    pub http: Http,
    pub routes: Vec<ServerRoutes>,
    /// Per server, what each location does.
    pub plans: Vec<Vec<crate::plan::PlanTree>>,
    /// Per server, the access log of requests no location takes.
    pub server_logs: Vec<Arc<crate::accesslog::Target>>,
    /// Whether any `access_log` is on (else no request's facts are kept).
    pub logs_requests: bool,
    /// Per server, its client-side limits (for requests no location takes,
    /// and `client_header_timeout` of a listener's default server).
    pub server_client: Vec<crate::plan::ClientLimits>,
    /// Per server, the response rules of requests no location takes.
    pub server_shapes: Vec<Arc<crate::shape::Shape>>,
    /// Per server, its files and `error_page` rules (for requests no
    /// location takes).
    pub server_levels: Vec<crate::plan::ServerLevel>,
    pub listeners: Vec<Listener>,
    pub upstreams: Names<UpstreamSpec>,
    pub workers: usize,
    /// `worker_connections` (nginx's default 512).
    pub worker_connections: usize,
    pub pid: Option<String>,
    /// Warnings about the file (logged once the error log is open).
    pub notes: Vec<String>,
    /// `daemon` (nginx's default: on).
    pub daemon: bool,
    /// The main context's `error_log` (none: standard error at `error`).
    pub error_log: Arc<crate::errorlog::Target>,
    /// Per server, its (or http's) `error_log`, if any.
    pub server_errors: Vec<Option<Arc<crate::errorlog::Target>>>,
    /// Every log file opened, by path, for `-s reopen` and for the error
    /// logs of locations.
    pub log_files: Names<Arc<crate::errorlog::LogFile>>,
    /// Per server, its `limit_req`s (for requests no location takes).
    pub server_limit_req: Vec<Arc<crate::limitreq::Plan>>,
    /// Per server, its `limit_conn`s (for requests no location takes).
    pub server_limit_conn: Vec<Arc<crate::limitconn::Plan>>,
    /// Per server, its `gzip` settings (for requests no location takes).
    pub server_gzip: Vec<Arc<crate::gzip::Gzip>>,
    /// Per server, its `allow`/`deny` rules (for requests no location takes).
    pub server_access: Vec<Arc<[AccessRule]>>,
    /// Each server's `auth_basic` and `satisfy`, for requests no location takes.
    pub server_auth: Vec<crate::plan::Guard>,
    /// Per server, its rewrite script (run before a location is chosen).
    pub server_scripts: Vec<crate::rewrite::Script>,
    /// The variables of the `map` blocks.
    pub maps: Arc<crate::map::Maps>,
}

impl Site {
    /// Where a request's error messages go: its location's `error_log`,
    /// else its server's (or http's), else the main one.
    pub fn request_errors(
        &self,
        server: usize,
        location: Option<&nginx_conf::model::http::Location>,
    ) -> Arc<crate::errorlog::Target> {
        if let Some(logs) = location.and_then(|l| l.settings.error_log.as_ref()) {
            let files: Vec<_> = logs
                .iter()
                .filter_map(|l| {
                    let file = self.log_files.get(&l.path)?;
                    let level = l
                        .level
                        .as_deref()
                        .map_or(
                            Ok(crate::errorlog::Level::Error),
                            crate::errorlog::Level::parse,
                        )
                        .ok()?;
                    Some((Arc::clone(file), level))
                })
                .collect();
            if !files.is_empty() {
                return Arc::new(crate::errorlog::Target(files));
            }
        }
        self.server_errors
            .get(server)
            .and_then(Clone::clone)
            .unwrap_or_else(|| Arc::clone(&self.error_log))
    }
}

/// The peers of an upstream `server` address or `proxy_pass` host.
fn peers(text: &str, default_port: u16) -> Result<Vec<Peer>, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        return Ok(vec![Peer::Unix(path.into())]);
    }
    Ok(resolve(text, default_port)?
        .into_iter()
        .map(Peer::Inet)
        .collect())
}

fn resolve(text: &str, default_port: u16) -> Result<Vec<SocketAddr>, String> {
    if text.starts_with("unix:") {
        return Err(format!("unix sockets are not supported yet: \"{text}\""));
    }
    let with_port = if text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !text.ends_with(']')
    {
        text.to_owned()
    } else {
        format!("{text}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| format!("host not found in upstream \"{text}\": {e}"))
}

fn upstream_spec(u: &UpstreamModel) -> Result<UpstreamSpec, String> {
    let (method, hash_key) = match &u.balancing {
        Balancing::RoundRobin => (Method::RoundRobin, None),
        Balancing::LeastConn => (Method::LeastConn, None),
        Balancing::IpHash => (Method::IpHash, None),
        Balancing::Hash {
            key,
            consistent: false,
        } => (Method::Hash, Some(key.clone())),
        Balancing::Hash {
            key,
            consistent: true,
        } => (Method::HashConsistent, Some(key.clone())),
        // `random two least_conn` is `random two`: least_conn is its method.
        Balancing::Random { two, .. } => (Method::Random { two: *two }, None),
    };
    let mut primary = Vec::new();
    let mut backup = Vec::new();
    for s in &u.servers {
        for addr in peers(&s.address, 80)? {
            let peer = PeerConfig {
                server: s.address.clone(),
                weight: s.weight,
                max_fails: s.max_fails,
                fail_timeout: s.fail_timeout.as_secs(),
                max_conns: s.max_conns,
                down: s.down,
            };
            if s.backup {
                backup.push((peer, addr));
            } else {
                primary.push((peer, addr));
            }
        }
    }
    Ok(UpstreamSpec {
        method,
        hash_key,
        primary,
        backup,
        keepalive: u.keepalive.map_or(0, |k| k as usize),
        keepalive_requests: u.keepalive_requests.unwrap_or(1000),
        keepalive_timeout: u.keepalive_timeout.unwrap_or(Duration::from_secs(60)),
    })
}

/// The one-peer group of an implicit upstream at `name` (`HOST[:PORT]`,
/// the port 80 when none): round robin, no keep-alive cache, as nginx's
/// implicit upstreams.
fn one_peer(name: &str, peers: Vec<Peer>) -> UpstreamSpec {
    UpstreamSpec {
        method: Method::RoundRobin,
        hash_key: None,
        primary: peers
            .into_iter()
            .map(|a| (PeerConfig::new(name), a))
            .collect(),
        backup: Vec::new(),
        keepalive: 0,
        keepalive_requests: 1000,
        keepalive_timeout: Duration::from_secs(60),
    }
}

impl Site {
    /// The group `name`: an `upstream` block's or a static `proxy_pass`
    /// URL's, or the one-peer group of an address that `proxy_pass`
    /// variables gave (`IP[:PORT]`, `[IPv6][:PORT]`), made when asked, as
    /// nginx makes one for each such request.
    pub fn spec(&self, name: &str) -> Option<std::borrow::Cow<'_, UpstreamSpec>> {
        if let Some(s) = self.upstreams.get(name) {
            return Some(std::borrow::Cow::Borrowed(s));
        }
        let addr = literal_addr(name)?;
        Some(std::borrow::Cow::Owned(one_peer(
            name,
            vec![Peer::Inet(addr)],
        )))
    }
}

/// `IP[:PORT]` or `[IPv6][:PORT]` (port 80 when none), no name to resolve.
pub fn literal_addr(authority: &str) -> Option<SocketAddr> {
    if let Ok(a) = authority.parse::<SocketAddr>() {
        return Some(a);
    }
    let host = authority
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'));
    let ip = host.unwrap_or(authority).parse::<std::net::IpAddr>().ok()?;
    // A bare IPv6 address is not an authority (nginx wants brackets).
    if ip.is_ipv6() && host.is_none() {
        return None;
    }
    Some(SocketAddr::new(ip, 80))
}

/// The names `set` makes anywhere in `http` (lower case).
fn set_names(http: &Http) -> Vec<String> {
    use nginx_conf::model::rewrite::Op;
    fn ops(list: &[Op], out: &mut Vec<String>) {
        for op in list {
            match op {
                Op::Set(name, _) => out.push(name.to_ascii_lowercase()),
                Op::If(_, inner) => ops(inner, out),
                _ => {}
            }
        }
    }
    fn locations(list: &[nginx_conf::model::http::Location], out: &mut Vec<String>) {
        for l in list {
            ops(&l.script, out);
            locations(&l.locations, out);
        }
    }
    let mut out = Vec::new();
    for s in &http.servers {
        ops(&s.script, &mut out);
        locations(&s.locations, &mut out);
    }
    out
}

/// Upstream groups named by `proxy_pass http://HOST[:PORT]` URLs that are
/// not `upstream` blocks become one-peer groups named `HOST[:PORT]`.
fn implicit_upstreams(http: &Http, out: &mut Names<UpstreamSpec>) -> Result<(), String> {
    fn walk(locs: &[nginx_conf::model::http::Location], acc: &mut Vec<(String, u16)>) {
        for l in locs {
            if let Some(ProxyPass::Url { host, port, .. }) = &l.proxy_pass {
                acc.push((host.clone(), port.unwrap_or(80)));
            }
            walk(&l.locations, acc);
        }
    }
    let mut urls = Vec::new();
    for s in &http.servers {
        walk(&s.locations, &mut urls);
    }
    for (host, port) in urls {
        let name = group_name(&host, Some(port));
        if out.contains_key(&name) {
            continue;
        }
        let addrs = if host.starts_with("unix:") {
            peers(&host, port)?
        } else {
            peers(&format!("{host}:{port}"), port)?
        };
        let spec = one_peer(&name, addrs);
        out.insert(name, spec);
    }
    Ok(())
}

/// Opens the files of the locations' `error_log`s (checking their levels).
fn location_errors(
    locations: &[nginx_conf::model::http::Location],
    files: &mut crate::accesslog::Files,
) -> Result<(), String> {
    for l in locations {
        files.errors(l.settings.error_log.as_ref())?;
        location_errors(&l.locations, files)?;
    }
    Ok(())
}

/// The implicit upstream group of a `proxy_pass` URL's host and port.
pub fn group_name(host: &str, port: Option<u16>) -> String {
    if host.starts_with("unix:") {
        host.to_owned()
    } else {
        proxy_host(host, port)
    }
}

/// Whether any location of `plans` (nested ones too) has an access log.
fn any_log(plans: &[crate::plan::PlanTree]) -> bool {
    plans
        .iter()
        .any(|n| !n.log.0.is_empty() || any_log(&n.children))
}

/// `$proxy_host`: the host, with the port unless it is 80
/// (`localhost` for a unix socket, as nginx's URL parser has it).
pub fn proxy_host(host: &str, port: Option<u16>) -> String {
    if host.starts_with("unix:") {
        return "localhost".to_owned();
    }
    match port {
        Some(p) if p != 80 => format!("{host}:{p}"),
        _ => host.to_owned(),
    }
}

impl Site {
    pub fn new(config: Config) -> Result<Self, String> {
        let http = config.http.ok_or("no \"http\" block")?;
        let maps = Arc::new(
            crate::map::Maps::new(&http.maps, &http.split_clients, &http.geos)?
                .with_sets(set_names(&http)),
        );
        let zones = crate::plan::Zones::new(&http);
        let server_scripts = http
            .servers
            .iter()
            .map(|s| crate::rewrite::Script::new(&s.script))
            .collect::<Result<Vec<_>, _>>()?;
        let routes = http
            .servers
            .iter()
            .map(|s| {
                ServerRoutes::new(s).map_err(|e| format!("pcre: \"{}\": {}", e.pattern, e.message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut listeners: Vec<Listener> = Vec::new();
        for (i, s) in http.servers.iter().enumerate() {
            for l in &s.listen {
                let addrs = match &l.address {
                    ListenAddress::Inet { ip, port } => vec![SocketAddr::new(*ip, *port)],
                    ListenAddress::Host { host, port } => {
                        resolve(&format!("{host}:{port}"), *port)?
                    }
                    ListenAddress::Unix(p) => {
                        return Err(format!("unix sockets are not supported yet: \"unix:{p}\""))
                    }
                };
                for addr in addrs {
                    match listeners.iter_mut().find(|x| x.addr == addr) {
                        Some(x) => {
                            if !x.servers.contains(&i) {
                                x.servers.push(i);
                            }
                            if l.default_server {
                                x.default = i;
                            }
                            x.http2 |= l.http2;
                            if l.ssl && x.ssl_line.is_none() {
                                x.ssl_line = Some(l.line);
                            }
                        }
                        None => listeners.push(Listener {
                            addr,
                            servers: vec![i],
                            default: i,
                            backlog: l.backlog,
                            http2: l.http2,
                            tls: None,
                            protocols: crate::tls::Protocols::of(None),
                            ssl_line: l.ssl.then_some(l.line),
                        }),
                    }
                }
            }
        }
        let worker_connections = config
            .worker_connections
            .map_or(crate::limit::DEFAULT, |n| n as usize);
        // nginx: a place for each listening socket and one for the channel.
        if worker_connections < listeners.len() + 1 {
            return Err(format!(
                "{worker_connections} worker_connections are not enough for {} listening sockets",
                listeners.len()
            ));
        }
        let mut notes = Vec::new();
        for l in &mut listeners {
            if let Some(line) = l.ssl_line {
                let server = &http.servers[l.default];
                let set = server.settings.ssl_protocols.as_ref();
                l.protocols = crate::tls::Protocols::of(set);
                let at = format!("{}:{line}", server.file);
                notes.extend(l.protocols.note(set.is_some(), l.addr, &at));
                l.tls = Some(crate::tls::server_config(
                    &http.servers,
                    &l.servers,
                    l.default,
                    l.http2,
                    line,
                )?);
            }
        }
        let mut upstreams = Names::default();
        for u in &http.upstreams {
            upstreams.insert(u.name.clone(), upstream_spec(u)?);
        }
        implicit_upstreams(&http, &mut upstreams)?;
        let workers = match config.worker_processes {
            Some(nginx_conf::model::WorkerProcesses::Count(n)) => n.max(1) as usize,
            Some(nginx_conf::model::WorkerProcesses::Auto) => {
                std::thread::available_parallelism().map_or(1, Into::into)
            }
            None => 1,
        };
        let mut files = crate::accesslog::Files::with_formats(&http.log_formats, &maps)?;
        notes.extend(files.unsupported());
        let mut plans = Vec::new();
        let mut server_logs = Vec::new();
        let mut server_shapes = Vec::new();
        let mut server_levels = Vec::new();
        for s in &http.servers {
            let (p, log, shape, level) = crate::plan::server_plans(&http, s, &mut files, &zones)?;
            plans.push(p);
            server_logs.push(log);
            server_shapes.push(shape);
            server_levels.push(level);
        }
        let main_errors = if config.error_log.is_empty() {
            files.errors(Some(&vec![nginx_conf::model::ErrorLog {
                path: "stderr".to_owned(),
                level: None,
            }]))?
        } else {
            files.errors(Some(&config.error_log))?
        };
        let error_log = Arc::new(main_errors.unwrap_or_default());
        let mut server_errors = Vec::new();
        for s in &http.servers {
            server_errors.push(files.errors(s.settings.error_log.as_ref())?.map(Arc::new));
            location_errors(&s.locations, &mut files)?;
        }
        let log_files = files
            .all()
            .into_iter()
            .map(|f| (f.path().to_owned(), f))
            .collect();
        let logs_requests =
            server_logs.iter().any(|l| !l.0.is_empty()) || plans.iter().any(|p| any_log(p));
        let server_client = http
            .servers
            .iter()
            .map(|s| crate::plan::ClientLimits::new(&s.settings.client))
            .collect();
        let server_limit_req = http
            .servers
            .iter()
            .map(|s| crate::plan::limit_plan(&s.settings, &zones).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let server_limit_conn = http
            .servers
            .iter()
            .map(|s| crate::plan::conn_plan(&s.settings, &zones).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let server_gzip = http
            .servers
            .iter()
            .map(|s| crate::gzip::Gzip::new(&s.settings.gzip).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let server_access = http
            .servers
            .iter()
            .map(|s| s.settings.access.clone().unwrap_or_default().into())
            .collect();
        let server_auth = http
            .servers
            .iter()
            .map(|s| crate::plan::Guard::new(&s.settings))
            .collect();
        Ok(Self {
            maps,
            server_auth,
            server_limit_req,
            server_limit_conn,
            server_gzip,
            server_access,
            server_scripts,
            http,
            routes,
            plans,
            server_logs,
            logs_requests,
            server_client,
            server_shapes,
            server_levels,
            listeners,
            upstreams,
            workers,
            worker_connections,
            pid: config.pid,
            notes,
            daemon: config.daemon.unwrap_or(true),
            error_log,
            server_errors,
            log_files,
        })
    }
}
