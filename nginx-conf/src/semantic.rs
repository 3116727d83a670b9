//! nginx's checks of directive values, made where nginx makes them (at the
//! directive, in file order), with nginx's messages. Used by `check`; the typed
//! model uses the same parsers.

use std::collections::HashSet;

use crate::analyzer::Context;
use crate::model::listen::{parse_listen, ListenAddress};
use crate::model::upstream::parse_server_args;
use crate::model::values::{bad_next_upstream, parse_duration, parse_size};

/// State of the block being checked.
#[derive(Debug, Default)]
pub(crate) struct BlockState {
    /// Addresses this `server` listens on.
    listens: HashSet<ListenAddress>,
    /// The balancing method set in this `upstream`, if any.
    method: Option<String>,
    /// The location this block is, if it is one.
    pub(crate) location: Option<LocationInfo>,
    /// `server` directives seen in this `upstream`.
    pub(crate) upstream_servers: usize,
    /// The locations of this `server` or `location` block.
    pub(crate) locations: Vec<LocationNode>,
    /// Whether a `proxy_pass` came before (for `proxy_redirect default`).
    proxy_pass: bool,
}

/// A location and its nested locations, for nginx's end-of-`http` checks.
#[derive(Debug, Clone)]
pub(crate) struct LocationNode {
    info: LocationInfo,
    file: String,
    line: usize,
    pub(crate) children: Vec<LocationNode>,
}

/// nginx's `duplicate location` check (`ngx_http_join_exact_locations`): the
/// static (exact and prefix) locations of a level in nginx's sort order, nested
/// levels first; a repeated name that is exact twice or prefix twice.
fn duplicate_location(level: &[LocationNode]) -> Option<(String, String, usize)> {
    let mut sorted: Vec<&LocationNode> = level
        .iter()
        .filter(|n| !n.info.regex && !n.info.named)
        .collect();
    sorted.sort_by(|a, b| {
        a.info
            .name
            .as_bytes()
            .cmp(b.info.name.as_bytes())
            .then(b.info.exact.cmp(&a.info.exact))
    });
    for node in &sorted {
        if let Some(found) = duplicate_location(&node.children) {
            return Some(found);
        }
    }
    let mut prev: Option<(&str, bool, bool)> = None;
    for node in sorted {
        let (exact, inclusive) = (node.info.exact, !node.info.exact);
        match prev {
            Some((name, p_exact, p_inclusive)) if name == node.info.name => {
                if (p_exact && exact) || (p_inclusive && inclusive) {
                    let message = format!("duplicate location \"{name}\"");
                    return Some((message, node.file.clone(), node.line));
                }
                prev = Some((name, p_exact, inclusive));
            }
            _ => prev = Some((&node.info.name, exact, inclusive)),
        }
    }
    None
}

/// A location's name as nginx keeps it (modifier removed) and its kind.
#[derive(Debug, Clone, Default)]
#[allow(clippy::struct_excessive_bools, reason = "nginx's own location flags")]
pub(crate) struct LocationInfo {
    name: String,
    exact: bool,
    named: bool,
    regex: bool,
}

/// Reads `location`'s arguments the way `ngx_http_core_location` does.
pub(crate) fn location_info(args: &[String]) -> LocationInfo {
    let info = |name: &str, exact: bool, regex: bool| LocationInfo {
        name: name.to_owned(),
        exact,
        named: false,
        regex,
    };
    if let [modifier, name] = args {
        return info(name, modifier == "=", modifier == "~" || modifier == "~*");
    }
    let name = args.first().map_or("", String::as_str);
    if let Some(rest) = name.strip_prefix('=') {
        info(rest, true, false)
    } else if let Some(rest) = name.strip_prefix("^~") {
        info(rest, false, false)
    } else if let Some(rest) = name.strip_prefix('~') {
        info(rest.strip_prefix('*').unwrap_or(rest), false, true)
    } else {
        LocationInfo {
            named: name.starts_with('@'),
            ..info(name, false, false)
        }
    }
}

fn nested_location(parent: &LocationInfo, child: &LocationInfo) -> Result<(), String> {
    let (c, p) = (&child.name, &parent.name);
    if parent.exact {
        return Err(format!(
            "location \"{c}\" cannot be inside the exact location \"{p}\""
        ));
    }
    if parent.named {
        return Err(format!(
            "location \"{c}\" cannot be inside the named location \"{p}\""
        ));
    }
    if child.named {
        return Err(format!(
            "named location \"{c}\" can be on the server level only"
        ));
    }
    if !child.regex && !c.starts_with(p.as_str()) {
        return Err(format!("location \"{c}\" is outside location \"{p}\""));
    }
    Ok(())
}

/// State across the configuration.
#[derive(Debug, Default)]
pub(crate) struct Semantics {
    socket_options: HashSet<ListenAddress>,
    default_servers: HashSet<ListenAddress>,
    upstreams: HashSet<String>,
    /// `proxy_pass` hosts to look up among the upstreams at the end: (host, file, line).
    proxy_hosts: Vec<(String, String, usize)>,
    /// Each server's locations, in file order.
    pub(crate) servers: Vec<Vec<LocationNode>>,
}

fn is_http_level(ctx: Context) -> bool {
    matches!(
        ctx,
        Context::Http
            | Context::HttpServer
            | Context::HttpLocation
            | Context::HttpServerIf
            | Context::HttpLocationIf
            | Context::HttpLimitExcept
    )
}

impl Semantics {
    /// Checks one directive that passed the grammar checks.
    pub(crate) fn directive(
        &mut self,
        block: &mut BlockState,
        ctx: Context,
        name: &str,
        args: &[String],
        at: (&str, usize),
    ) -> Result<(), String> {
        let first = args.first().map_or("", String::as_str);
        let invalid_value = || format!("\"{name}\" directive invalid value");
        let invalid_number = || format!("\"{name}\" directive invalid number");
        match (ctx, name) {
            (Context::Main, "worker_processes") if first != "auto" => {
                first.parse::<u32>().map_err(|_| invalid_value())?;
            }
            (Context::Events, "worker_connections") => {
                first
                    .parse::<u32>()
                    .map_err(|_| format!("invalid number \"{first}\""))?;
            }
            (Context::Http, "upstream") => self.upstream(first)?,
            (Context::HttpServer, "listen") => self.listen(block, args)?,
            (Context::HttpUpstream, "server") => {
                let server = parse_server_args(args, at.1)?;
                block.upstream_servers += 1;
                let hashing =
                    matches!(block.method.as_deref(), Some("ip_hash" | "hash" | "random"));
                if server.backup && hashing {
                    return Err("balancing method does not support parameter \"backup\"".into());
                }
            }
            (Context::HttpUpstream, "ip_hash" | "least_conn") => block.method = Some(name.into()),
            (Context::HttpUpstream, "hash") => {
                if let Some(p) = args.get(1).filter(|p| *p != "consistent") {
                    return Err(format!("invalid parameter \"{p}\""));
                }
                block.method = Some(name.into());
            }
            (Context::HttpUpstream, "random") => {
                if let Some(p) = args.first().filter(|p| *p != "two") {
                    return Err(format!("invalid parameter \"{p}\""));
                }
                if let Some(p) = args.get(1).filter(|p| *p != "least_conn") {
                    return Err(format!("invalid parameter \"{p}\""));
                }
                block.method = Some(name.into());
            }
            (Context::HttpUpstream, "keepalive") => {
                first
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        format!("invalid value \"{first}\" in \"keepalive\" directive")
                    })?;
            }
            (Context::HttpUpstream, "keepalive_timeout") => {
                parse_duration(first).ok_or_else(invalid_value)?;
            }
            (Context::HttpUpstream, "keepalive_requests") => {
                first.parse::<u32>().map_err(|_| invalid_number())?;
            }
            (Context::HttpUpstream, "zone") => {
                if let Some(size) = args.get(1) {
                    parse_size(size).ok_or_else(|| format!("invalid zone size \"{size}\""))?;
                }
            }
            (ctx, _) if is_http_level(ctx) => self.http_level(block, name, args, at)?,
            _ => {}
        }
        Ok(())
    }

    fn http_level(
        &mut self,
        block: &mut BlockState,
        name: &str,
        args: &[String],
        at: (&str, usize),
    ) -> Result<(), String> {
        let first = args.first().map_or("", String::as_str);
        match name {
            "proxy_connect_timeout"
            | "proxy_read_timeout"
            | "proxy_send_timeout"
            | "proxy_next_upstream_timeout" => {
                parse_duration(first)
                    .ok_or_else(|| format!("\"{name}\" directive invalid value"))?;
            }
            "proxy_next_upstream_tries" => {
                first
                    .parse::<u32>()
                    .map_err(|_| format!("\"{name}\" directive invalid number"))?;
            }
            "proxy_http_version" if first != "1.0" && first != "1.1" => {
                return Err(format!("invalid value \"{first}\""));
            }
            "proxy_next_upstream" => {
                if let Some(bad) = bad_next_upstream(args) {
                    return Err(format!("invalid value \"{bad}\""));
                }
            }
            "return" => {
                let code_like = first.bytes().all(|b| b.is_ascii_digit());
                let url = ["http://", "https://", "$scheme"]
                    .iter()
                    .any(|p| first.starts_with(p));
                let ok = if code_like {
                    first.parse::<u16>().is_ok_and(|c| c <= 999)
                } else {
                    url && args.len() == 1
                };
                if !ok {
                    return Err(format!("invalid return code \"{first}\""));
                }
            }
            "proxy_pass" => {
                block.proxy_pass = true;
                self.proxy_pass(first, at)?;
            }
            "proxy_redirect" if args.len() == 1 && first == "default" && !block.proxy_pass => {
                return Err(
                    "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive"
                        .into(),
                );
            }
            "location" if args.len() == 2 && !["=", "~", "~*", "^~"].contains(&first) => {
                return Err(format!("invalid location modifier \"{first}\""));
            }
            "location" => {
                let info = location_info(args);
                if let Some(parent) = &block.location {
                    nested_location(parent, &info)?;
                }
                let (file, line) = (at.0.to_owned(), at.1);
                block.locations.push(LocationNode {
                    info,
                    file,
                    line,
                    children: Vec::new(),
                });
            }
            "add_header" => {
                if let Some(p) = args.get(2).filter(|p| *p != "always") {
                    return Err(format!("invalid parameter \"{p}\""));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn upstream(&mut self, name: &str) -> Result<(), String> {
        if self.upstreams.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(format!("duplicate upstream \"{name}\""))
        }
    }

    fn listen(&mut self, block: &mut BlockState, args: &[String]) -> Result<(), String> {
        let listen = parse_listen(args)?;
        let text = listen.address.text();
        if listen.socket_options && !self.socket_options.insert(listen.address.clone()) {
            return Err(format!("duplicate listen options for {text}"));
        }
        if listen.default_server && !self.default_servers.insert(listen.address.clone()) {
            return Err(format!("a duplicate default server for {text}"));
        }
        if !block.listens.insert(listen.address) {
            return Err(format!("a duplicate listen {text}"));
        }
        Ok(())
    }

    fn proxy_pass(&mut self, url: &str, at: (&str, usize)) -> Result<(), String> {
        if url.contains('$') {
            return Ok(());
        }
        let Some(rest) = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
        else {
            return Err("invalid URL prefix".into());
        };
        if rest.starts_with("unix:") {
            return Ok(());
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(format!("no host in upstream \"{authority}\""));
        }
        let (host, port) = crate::model::listen::split_host_port(authority);
        if port.is_some_and(|p| !crate::model::listen::valid_port(p)) {
            return Err(format!("invalid port in upstream \"{authority}\""));
        }
        let literal = host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
        if !literal {
            self.proxy_hosts
                .push((authority.to_owned(), at.0.to_owned(), at.1));
        }
        Ok(())
    }

    /// The checks nginx makes when the `http` block ends, in its order:
    /// `proxy_pass` hosts that are neither an upstream nor plausibly resolvable,
    /// then duplicate locations. Returns the first failure as (message, file, line).
    pub(crate) fn finish(&self) -> Option<(String, String, usize)> {
        self.unknown_proxy_host()
            .or_else(|| self.servers.iter().find_map(|l| duplicate_location(l)))
    }

    fn unknown_proxy_host(&self) -> Option<(String, String, usize)> {
        self.proxy_hosts.iter().find_map(|(authority, file, line)| {
            let known = self.upstreams.contains(authority);
            let (host, _) = crate::model::listen::split_host_port(authority);
            let resolvable = crate::model::listen::parse_ipv4(host).is_some()
                || crate::model::listen::plausible_host(host);
            (!known && !resolvable).then(|| {
                (
                    format!("host not found in upstream \"{authority}\""),
                    file.clone(),
                    *line,
                )
            })
        })
    }
}
