//! `upstream` blocks.

use std::time::Duration;

use super::values::{parse_seconds, parse_size};
use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// How an upstream picks a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Balancing {
    RoundRobin,
    LeastConn,
    IpHash,
    Hash { key: String, consistent: bool },
    Random { two: bool, least_conn: bool },
}

/// One `server` of an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamServer {
    pub address: String,
    pub weight: u32,
    pub max_fails: u32,
    pub fail_timeout: Duration,
    pub max_conns: u32,
    pub backup: bool,
    pub down: bool,
    pub line: usize,
}

/// An `upstream NAME { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    pub servers: Vec<UpstreamServer>,
    pub balancing: Balancing,
    pub keepalive: Option<u32>,
    pub keepalive_timeout: Option<Duration>,
    pub keepalive_requests: Option<u32>,
    /// `zone NAME [SIZE]`.
    pub zone: Option<(String, Option<u64>)>,
    pub file: String,
    pub line: usize,
}

/// Checks an upstream server address as nginx's URL parser would (names are not
/// resolved; one that cannot be a host name is "not found").
pub fn check_upstream_address(address: &str) -> Result<(), String> {
    if address.starts_with("unix:") {
        return Ok(());
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => {
                (None, tail.strip_prefix(':'))
            }
            _ => return Err(format!("invalid IPv6 address in upstream \"{address}\"")),
        }
    } else {
        match address.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(address), None),
        }
    };
    if let Some(p) = port {
        if !super::listen::valid_port(p) {
            return Err(format!("invalid port in upstream \"{address}\""));
        }
    }
    match host {
        Some("") => Err(format!("no host in upstream \"{address}\"")),
        Some(h) if super::listen::parse_ipv4(h).is_none() && !super::listen::plausible_host(h) => {
            Err(format!("host not found in upstream \"{address}\""))
        }
        _ => Ok(()),
    }
}

/// Parses the arguments of an upstream `server`; `Err` is nginx's message.
pub fn parse_server_args(args: &[String], line: usize) -> Result<UpstreamServer, String> {
    let mut server = UpstreamServer {
        address: args.first().cloned().unwrap_or_default(),
        weight: 1,
        max_fails: 1,
        fail_timeout: Duration::from_secs(10),
        max_conns: 0,
        backup: false,
        down: false,
        line,
    };
    let invalid = |arg: &str| format!("invalid parameter \"{arg}\"");
    let number = |v: &str, arg: &str| v.parse::<u32>().map_err(|_| invalid(arg));
    for arg in args.iter().skip(1) {
        if let Some(v) = arg.strip_prefix("weight=") {
            server.weight = number(v, arg)?;
            if server.weight == 0 {
                return Err(invalid(arg));
            }
        } else if let Some(v) = arg.strip_prefix("max_fails=") {
            server.max_fails = number(v, arg)?;
        } else if let Some(v) = arg.strip_prefix("max_conns=") {
            server.max_conns = number(v, arg)?;
        } else if let Some(v) = arg.strip_prefix("fail_timeout=") {
            server.fail_timeout = parse_seconds(v).ok_or_else(|| invalid(arg))?;
        } else if arg == "backup" {
            server.backup = true;
        } else if arg == "down" {
            server.down = true;
        } else {
            return Err(invalid(arg));
        }
    }
    check_upstream_address(&server.address)?;
    Ok(server)
}

fn parse_server(stmt: &Stmt, c: &Cursor) -> Result<UpstreamServer, ModelError> {
    parse_server_args(&stmt.args, stmt.line).map_err(|m| c.error(stmt, m))
}

fn invalid_value(stmt: &Stmt, c: &Cursor) -> ModelError {
    c.error(
        stmt,
        format!("\"{}\" directive invalid value", stmt.directive),
    )
}

/// Reads an `upstream` block.
pub fn parse_upstream(stmt: &Stmt, c: &Cursor) -> Result<Upstream, ModelError> {
    let mut up = Upstream {
        name: stmt.args.first().cloned().unwrap_or_default(),
        servers: Vec::new(),
        balancing: Balancing::RoundRobin,
        keepalive: None,
        keepalive_timeout: None,
        keepalive_requests: None,
        zone: None,
        file: c.file(stmt),
        line: stmt.line,
    };
    for d in stmt.block.as_deref().unwrap_or_default() {
        let arg = |i: usize| d.args.get(i).map(String::as_str);
        match d.directive.as_str() {
            "server" => up.servers.push(parse_server(d, c)?),
            "least_conn" => up.balancing = Balancing::LeastConn,
            "ip_hash" => up.balancing = Balancing::IpHash,
            "hash" => {
                let consistent = match arg(1) {
                    None => false,
                    Some("consistent") => true,
                    Some(other) => {
                        return Err(c.error(d, format!("invalid parameter \"{other}\"")));
                    }
                };
                up.balancing = Balancing::Hash {
                    key: arg(0).unwrap_or_default().to_owned(),
                    consistent,
                };
            }
            "random" => {
                let two = arg(0) == Some("two");
                if let Some(other) = arg(0).filter(|a| *a != "two") {
                    return Err(c.error(d, format!("invalid parameter \"{other}\"")));
                }
                let least_conn = match arg(1) {
                    None => false,
                    Some("least_conn") => true,
                    Some(other) => {
                        return Err(c.error(d, format!("invalid parameter \"{other}\"")));
                    }
                };
                up.balancing = Balancing::Random { two, least_conn };
            }
            "keepalive" => {
                up.keepalive = Some(
                    arg(0)
                        .and_then(|v| v.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            c.error(
                                d,
                                format!(
                                    "invalid value \"{}\" in \"keepalive\" directive",
                                    arg(0).unwrap_or_default()
                                ),
                            )
                        })?,
                );
            }
            "keepalive_timeout" => {
                up.keepalive_timeout = Some(
                    arg(0)
                        .and_then(super::values::parse_duration)
                        .ok_or_else(|| invalid_value(d, c))?,
                );
            }
            "keepalive_requests" => {
                up.keepalive_requests = Some(
                    arg(0)
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| invalid_value(d, c))?,
                );
            }
            "zone" => {
                let size = match arg(1) {
                    None => None,
                    Some(s) => Some(
                        parse_size(s)
                            .ok_or_else(|| c.error(d, format!("invalid zone size \"{s}\"")))?,
                    ),
                };
                up.zone = Some((arg(0).unwrap_or_default().to_owned(), size));
            }
            _ => {}
        }
    }
    let hashing = matches!(
        up.balancing,
        Balancing::IpHash | Balancing::Hash { .. } | Balancing::Random { .. }
    );
    if hashing {
        if let Some(s) = up.servers.iter().find(|s| s.backup) {
            let at = Stmt::new("server", s.line);
            let mut at = at;
            at.file = Some(up.file.clone());
            return Err(c.error(
                &at,
                "balancing method does not support parameter \"backup\"".into(),
            ));
        }
    }
    Ok(up)
}
