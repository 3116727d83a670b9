//! Address, route and rule lines (virtual_ipaddress, virtual_routes,
//! virtual_rules, static_*), authentication and unicast peers.

#![allow(
    clippy::many_single_char_names,
    reason = "b = builder, n = node, c = child line: the same three names in every handler"
)]

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Builder;
use crate::tree::Node;

/// One address line: `IP[/MASK] [brd IP] [dev IF] [scope S] [label L] ...`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per keepalived address flag"
)]
pub struct VirtualAddress {
    pub address: IpAddr,
    pub prefix_len: Option<u8>,
    pub broadcast: Option<String>,
    pub dev: Option<String>,
    pub scope: Option<String>,
    pub label: Option<String>,
    pub peer: Option<String>,
    pub home: bool,
    pub nodad: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub preferred_lft: Option<String>,
    pub line: usize,
}

fn parse_ip_prefix(s: &str) -> Option<(IpAddr, Option<u8>)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        Some(p) => Some(p.parse::<u8>().ok().filter(|v| *v <= max)?),
        None => None,
    };
    Some((addr, prefix))
}

pub(crate) fn address(b: &mut Builder<'_>, n: &Node, _vrrp: bool) -> Option<VirtualAddress> {
    let first = n.keyword();
    let Some((address, prefix_len)) = parse_ip_prefix(first) else {
        b.error(n, format!("VRRP parsed invalid IP {first}. skipping IP..."));
        return None;
    };
    let mut a = VirtualAddress {
        address,
        prefix_len,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        peer: None,
        home: false,
        nodad: false,
        noprefixroute: false,
        autojoin: false,
        no_track: false,
        track_group: None,
        preferred_lft: None,
        line: n.line,
    };
    let args = n.args();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned();
        let missing = val.is_none();
        let takes = matches!(
            args[i].as_str(),
            "brd"
                | "broadcast"
                | "dev"
                | "scope"
                | "label"
                | "peer"
                | "track_group"
                | "preferred_lft"
        );
        match args[i].as_str() {
            "brd" | "broadcast" => a.broadcast = val,
            "dev" => a.dev = val,
            "scope" => a.scope = val,
            "label" => a.label = val,
            "peer" => a.peer = val,
            "track_group" => a.track_group = val,
            "preferred_lft" => a.preferred_lft = val,
            "home" => a.home = true,
            "-nodad" | "nodad" => a.nodad = true,
            "noprefixroute" => a.noprefixroute = true,
            "autojoin" => a.autojoin = true,
            "no_track" => a.no_track = true,
            other => b.error(
                n,
                format!("Unknown configuration entry '{other}' for ip address - ignoring"),
            ),
        }
        if takes && missing {
            b.error(n, format!("No {} parameter specified for {first}", args[i]));
            return None;
        }
        i += if takes { 2 } else { 1 };
    }
    Some(a)
}

/// A route line, kept as words plus what validation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub words: Vec<String>,
    pub destination: Option<String>,
    /// Interfaces named with `dev` (including in nexthops).
    pub devs: Vec<String>,
    pub no_track: bool,
    pub line: usize,
}

const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "local",
    "broadcast",
    "throw",
    "nat",
    "anycast",
    "multicast",
];

pub(crate) fn route(b: &mut Builder<'_>, n: &Node, is_static: bool) -> Option<Route> {
    let mut r = Route {
        words: n.words.clone(),
        destination: None,
        devs: Vec::new(),
        no_track: is_static,
        line: n.line,
    };
    let w = &n.words;
    let mut in_nexthop = false;
    let mut i = 0;
    while i < w.len() {
        match w[i].as_str() {
            "src" | "via" | "table" | "metric" | "proto" | "protocol" | "scope" | "realm"
            | "mtu" | "advmss" | "initcwnd" | "initrwnd" | "tos" | "dsfield" | "pref"
            | "features" | "congctl" | "rtt" | "rttvar" | "window" | "cwnd" | "ssthresh"
            | "quickack" | "hoplimit" | "fastopen_no_cookie" | "ttl-propagate" | "onlink"
            | "encap" | "expires" | "track_group" => {
                if i + 1 >= w.len() {
                    b.stop_missing(n, i);
                    return None;
                }
                i += 2;
            }
            "gw" => {
                b.error(n, "\"gw\" for routes is deprecated. Please use \"via\"");
                if i + 1 >= w.len() {
                    b.stop_missing(n, i);
                    return None;
                }
                i += 2;
            }
            "or" => {
                b.error(n, "\"or\" for routes is deprecated. Please use \"nexthop\"");
                i += 2;
            }
            "dev" | "oif" => {
                let Some(d) = w.get(i + 1) else {
                    b.stop_missing(n, i);
                    return None;
                };
                r.devs.push(d.clone());
                i += 2;
            }
            "no_track" => {
                r.no_track = true;
                i += 1;
            }
            "nexthop" => {
                in_nexthop = true;
                i += 1;
            }
            "to" => i += 1,
            t if ROUTE_TYPES.contains(&t) => i += 1,
            "weight" if in_nexthop => {
                if i + 1 >= w.len() {
                    b.stop_missing(n, i);
                    return None;
                }
                i += 2;
            }
            other => {
                let is_addr = other == "default" || parse_ip_prefix(other).is_some();
                if r.destination.is_none() && is_addr {
                    r.destination = Some(other.to_string());
                } else {
                    if !is_addr {
                        b.error(n, format!("VRRP parsed invalid IP {other}. skipping IP..."));
                    }
                    b.error(n, format!("unknown route keyword {other}"));
                    return None;
                }
                i += 1;
            }
        }
    }
    if r.destination.is_none() {
        b.error(n, "Route must have a destination");
        return None;
    }
    if !r.no_track && r.devs.is_empty() {
        let d = r.destination.clone().unwrap_or_default();
        let d = if d == "default" {
            "0.0.0.0/0".to_string()
        } else {
            d
        };
        b.error(
            n,
            format!("Warning - cannot track route {d} with no interface specified, not tracking"),
        );
    }
    Some(r)
}

/// The words a rule line may use (ip-rule(8) as keepalived reads it).
const RULE_OPTIONS: &[&str] = &[
    "from",
    "to",
    "table",
    "lookup",
    "pref",
    "preference",
    "priority",
    "fwmark",
    "realms",
    "goto",
    "iif",
    "oif",
    "uidrange",
    "sport",
    "dport",
    "ipproto",
    "tos",
    "dsfield",
    "suppress_prefixlength",
    "suppress_ifgroup",
    "protocol",
    "track_group",
    "not",
    "no_track",
    "l3mdev",
];

/// A rule line: `from ADDR`, `to ADDR`, `table N`, `pref N`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub words: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub table: Option<String>,
    pub preference: u32,
    pub line: usize,
}

pub(crate) fn rule(b: &mut Builder<'_>, n: &Node) -> Option<Rule> {
    let mut r = Rule {
        words: n.words.clone(),
        from: None,
        to: None,
        table: None,
        preference: 0,
        line: n.line,
    };
    let w = &n.words;
    let mut has_pref = false;
    let mut i = 0;
    while i < w.len() {
        let val = w.get(i + 1).cloned();
        let takes_value = !matches!(w[i].as_str(), "not" | "no_track" | "l3mdev");
        if !RULE_OPTIONS.contains(&w[i].as_str()) {
            b.error(n, format!("Unknown rule option {}", w[i]));
            return None;
        }
        if takes_value && val.is_none() {
            b.stop_missing(n, i);
            return None;
        }
        match w[i].as_str() {
            "from" | "to" => {
                let v = val.clone().unwrap_or_default();
                if v != "all" && parse_ip_prefix(&v).is_none() {
                    b.error(n, format!("VRRP parsed invalid IP {v}. skipping IP..."));
                    b.error(n, format!("Invalid rule {} address {v}", w[i]));
                    return None;
                }
                if w[i] == "from" {
                    r.from = val;
                } else {
                    r.to = val;
                }
                i += 2;
            }
            "table" | "lookup" => {
                r.table = val;
                i += 2;
            }
            "pref" | "preference" | "priority" => {
                has_pref = true;
                r.preference = val.and_then(|v| v.parse().ok()).unwrap_or(0);
                i += 2;
            }
            "not" | "no_track" | "l3mdev" => i += 1,
            _ => i += 2,
        }
    }
    if !has_pref {
        r.preference = b.next_rule_pref;
        b.error(
            n,
            format!(
                "Rule has no preference specified - setting to {}. This is probably not what you want.",
                r.preference
            ),
        );
        b.next_rule_pref = b.next_rule_pref.saturating_sub(1);
    }
    Some(r)
}

/// `authentication { auth_type PASS|AH auth_pass X }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authentication {
    pub auth_type: Option<String>,
    pub auth_pass: Option<String>,
}

/// A unicast peer with optional TTL bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnicastPeer {
    pub address: String,
    pub min_ttl: Option<u64>,
    pub max_ttl: Option<u64>,
}
