//! virtual_server_group, virtual_server, real_server and the checkers.

#![allow(
    clippy::many_single_char_names,
    reason = "b = builder, n = node, c = child line: the same three names in every handler"
)]

use serde::{Deserialize, Serialize};

use super::{keywords, Builder, Setting};
use crate::tree::Node;
use crate::values::TIMER_MAX;

/// The IPVS schedulers keepalived 2.2.7 accepts.
const LVS_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

/// How a virtual server is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VsAddress {
    IpPort { ip: String, port: Option<String> },
    Fwmark(u32),
    Group(String),
}

/// `virtual_server_group NAME { IP PORT | IP-RANGE PORT | fwmark N ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub members: Vec<Vec<String>>,
}

pub(crate) fn virtual_server_group(b: &mut Builder<'_>, n: &Node) -> VirtualServerGroup {
    let name = n.arg(0).unwrap_or_default().to_string();
    let mut members = Vec::new();
    for c in n.children() {
        match group_entry_error(&name, &c.words) {
            Some(e) => {
                for line in e.lines() {
                    b.error(c, line.to_string());
                }
            }
            None => members.push(c.words.clone()),
        }
    }
    VirtualServerGroup { name, members }
}

/// One `url { path digest status_code ... }` of HTTP_GET / SSL_GET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlCheck {
    pub path: Option<String>,
    pub digest: Option<String>,
    pub status_code: Vec<String>,
    pub virtualhost: Option<String>,
    pub other: Vec<Setting>,
}

/// A health checker block of a real server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checker {
    /// HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, SMTP_CHECK, DNS_CHECK,
    /// UDP_CHECK, PING_CHECK, FILE_CHECK or BFD_CHECK.
    pub kind: String,
    pub connect_ip: Option<String>,
    pub connect_port: Option<u16>,
    /// Microseconds (default 5 s).
    pub connect_timeout: u64,
    pub retry: Option<u64>,
    pub delay_before_retry: Option<u64>,
    pub delay_loop: Option<u64>,
    pub url: Vec<UrlCheck>,
    pub misc_path: Option<String>,
    pub misc_timeout: Option<u64>,
    pub misc_dynamic: bool,
    pub other: Vec<Setting>,
}

/// `real_server IP PORT { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealServer {
    pub ip: String,
    pub port: Option<String>,
    pub line: usize,
    pub weight: i64,
    pub inhibit_on_failure: bool,
    pub notify_up: Option<String>,
    pub notify_down: Option<String>,
    pub uthreshold: Option<u64>,
    pub lthreshold: Option<u64>,
    pub checkers: Vec<Checker>,
    pub other: Vec<Setting>,
}

/// `virtual_server IP PORT | fwmark N | group NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualServer {
    pub address: VsAddress,
    pub line: usize,
    pub lb_algo: Option<String>,
    pub lb_kind: Option<String>,
    /// TUN options after `lb_kind TUN` (`type`, `port`, `csum`).
    pub lb_kind_options: Vec<String>,
    pub persistence_timeout: Option<u64>,
    pub persistence_granularity: Option<String>,
    pub persistence_engine: Option<String>,
    pub protocol: Option<String>,
    pub delay_loop: Option<u64>,
    pub sorry_server: Option<Vec<String>>,
    pub quorum: Option<u64>,
    pub hysteresis: Option<u64>,
    pub alpha: bool,
    pub omega: bool,
    pub ha_suspend: bool,
    pub virtualhost: Option<String>,
    pub real_servers: Vec<RealServer>,
    pub other: Vec<Setting>,
}

pub(crate) fn virtual_server(
    b: &mut Builder<'_>,
    n: &Node,
    track_files: &[String],
) -> VirtualServer {
    let address = match n.arg(0) {
        Some("fwmark") => VsAddress::Fwmark(
            b.unsigned(n, 1, 1, u64::from(u32::MAX))
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
        ),
        Some("group") => VsAddress::Group(n.arg(1).unwrap_or_default().to_string()),
        Some(ip) => VsAddress::IpPort {
            ip: ip.to_string(),
            port: n.arg(1).map(str::to_string),
        },
        None => {
            b.arg(n, 0);
            VsAddress::IpPort {
                ip: String::new(),
                port: None,
            }
        }
    };
    let mut vs = VirtualServer {
        address,
        line: n.line,
        lb_algo: None,
        lb_kind: None,
        lb_kind_options: Vec::new(),
        persistence_timeout: None,
        persistence_granularity: None,
        persistence_engine: None,
        protocol: None,
        delay_loop: None,
        sorry_server: None,
        quorum: None,
        hysteresis: None,
        alpha: false,
        omega: false,
        ha_suspend: false,
        virtualhost: None,
        real_servers: Vec::new(),
        other: Vec::new(),
    };
    for c in n.children() {
        if !b.known(c, keywords::VIRTUAL_SERVER) {
            continue;
        }
        let first = || c.arg(0).map(str::to_string);
        match c.keyword() {
            "lb_algo" | "lvs_sched" => {
                let a = c.arg(0).unwrap_or_default();
                if LVS_SCHEDULERS.contains(&a) {
                    vs.lb_algo = first();
                } else {
                    b.error(c, format!("Invalid lvs_scheduler '{a}' - ignoring"));
                }
            }
            "lb_kind" | "lvs_method" => {
                let kind = c.arg(0).unwrap_or_default();
                if matches!(kind, "NAT" | "DR" | "TUN") {
                    vs.lb_kind = first();
                    vs.lb_kind_options = c.args().iter().skip(1).cloned().collect();
                } else {
                    b.error(
                        c,
                        format!("PARSER : unknown [{kind}] routing method for virtual server."),
                    );
                }
            }
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                let wanted = &c.keyword()[..2];
                if vs.lb_algo.as_deref() == Some(wanted) {
                    vs.other.push(Setting::from_node(c));
                } else if !matches!(vs.lb_algo.as_deref(), Some("sh" | "mh")) {
                    b.error(
                        c,
                        format!("{} only applies to sh scheduler - ignoring", c.keyword()),
                    );
                }
            }
            "persistence_timeout" => {
                vs.persistence_timeout = b.unsigned(c, 0, 1, u64::from(u32::MAX));
            }
            "persistence_granularity" => vs.persistence_granularity = first(),
            "persistence_engine" => vs.persistence_engine = first(),
            "protocol" => {
                let p = c.arg(0).unwrap_or_default();
                if matches!(p, "TCP" | "UDP" | "SCTP") {
                    vs.protocol = first();
                } else {
                    b.error(c, format!("Unknown protocol {p} - ignoring"));
                }
            }
            "delay_loop" => vs.delay_loop = b.timer(c, 0, 1, TIMER_MAX),
            "sorry_server" => vs.sorry_server = Some(c.args().to_vec()),
            "quorum" => vs.quorum = b.unsigned(c, 0, 1, u64::from(u32::MAX)),
            "hysteresis" => vs.hysteresis = b.unsigned(c, 0, 0, u64::from(u32::MAX)),
            "alpha" => vs.alpha = true,
            "omega" => vs.omega = true,
            "ha_suspend" => vs.ha_suspend = true,
            "virtualhost" => vs.virtualhost = first(),
            "real_server" => {
                let ip = c.arg(0).unwrap_or_default();
                let port = c.arg(1);
                if !valid_ip_port(ip, port) {
                    b.error(
                        c,
                        format!(
                            "Invalid real server ip address/port {ip}/{} - skipping",
                            port.unwrap_or("(null)")
                        ),
                    );
                } else if b.needs_block(c) {
                    vs.real_servers.push(real_server(b, c, track_files));
                }
            }
            _ => vs.other.push(Setting::from_node(c)),
        }
    }
    vs
}

fn real_server(b: &mut Builder<'_>, n: &Node, track_files: &[String]) -> RealServer {
    let mut rs = RealServer {
        ip: n.arg(0).unwrap_or_default().to_string(),
        port: n.arg(1).map(str::to_string),
        line: n.line,
        weight: 1,
        inhibit_on_failure: false,
        notify_up: None,
        notify_down: None,
        uthreshold: None,
        lthreshold: None,
        checkers: Vec::new(),
        other: Vec::new(),
    };
    for c in n.children() {
        if !b.known(c, keywords::REAL_SERVER) {
            continue;
        }
        match c.keyword() {
            "weight" => rs.weight = b.int(c, 0, 0, 65535).unwrap_or(1),
            "inhibit_on_failure" => rs.inhibit_on_failure = b.flag(c),
            "notify_up" => rs.notify_up = Some(c.script_text()),
            "notify_down" => rs.notify_down = Some(c.script_text()),
            "lvs_method" => {
                let kind = c.arg(0).unwrap_or_default();
                if matches!(kind, "NAT" | "DR" | "TUN") {
                    rs.other.push(Setting::from_node(c));
                } else {
                    b.error(
                        c,
                        format!("PARSER : unknown [{kind}] routing method for real server."),
                    );
                }
            }
            "uthreshold" => rs.uthreshold = b.unsigned(c, 0, 0, u64::from(u32::MAX)),
            "lthreshold" => rs.lthreshold = b.unsigned(c, 0, 0, u64::from(u32::MAX)),
            k if k.ends_with("_CHECK") || k == "HTTP_GET" || k == "SSL_GET" => {
                if b.needs_block(c) {
                    rs.checkers.push(checker(b, c, track_files));
                }
            }
            _ => rs.other.push(Setting::from_node(c)),
        }
    }
    rs
}

fn checker(b: &mut Builder<'_>, n: &Node, track_files: &[String]) -> Checker {
    let kind = n.keyword().to_string();
    let known = keywords::checker_keywords(&kind);
    let mut ck = Checker {
        kind,
        connect_ip: None,
        connect_port: None,
        connect_timeout: 5_000_000,
        retry: None,
        delay_before_retry: None,
        delay_loop: None,
        url: Vec::new(),
        misc_path: None,
        misc_timeout: None,
        misc_dynamic: false,
        other: Vec::new(),
    };
    for c in n.children() {
        if !b.known(c, &known) {
            continue;
        }
        match c.keyword() {
            "connect_ip" => ck.connect_ip = c.arg(0).map(str::to_string),
            "connect_port" => {
                ck.connect_port = b
                    .unsigned(c, 0, 1, 65535)
                    .and_then(|p| u16::try_from(p).ok());
            }
            "connect_timeout" => {
                if let Some(t) = b.timer(c, 0, 1, TIMER_MAX) {
                    ck.connect_timeout = t;
                }
            }
            "retry" | "nb_get_retry" => ck.retry = b.unsigned(c, 0, 0, u64::from(u32::MAX)),
            "delay_before_retry" => ck.delay_before_retry = b.timer(c, 0, 0, TIMER_MAX),
            "delay_loop" => ck.delay_loop = b.timer(c, 0, 1, TIMER_MAX),
            "misc_path" => ck.misc_path = Some(c.script_text()),
            "misc_timeout" => ck.misc_timeout = b.unsigned(c, 0, 0, u64::from(u32::MAX)),
            "misc_dynamic" => ck.misc_dynamic = true,
            "url" => ck.url.push(url(b, c)),
            "track_file" if ck.kind == "FILE_CHECK" => {
                let name = c.arg(0).unwrap_or_default();
                if track_files.iter().any(|t| t == name) {
                    ck.other.push(Setting::from_node(c));
                } else {
                    b.error(c, format!("track_file {name} not found"));
                }
            }
            "weight" if ck.kind == "FILE_CHECK" => match c.arg(0) {
                None => b.error(c, "track file weight missing"),
                Some(w)
                    if w.parse::<i64>()
                        .is_ok_and(|w| (-65535..=65535).contains(&w)) =>
                {
                    ck.other.push(Setting::from_node(c));
                }
                Some(_) => b.error(
                    c,
                    "weight for track file must be in [-2147483647..2147483647] inclusive. Ignoring...",
                ),
            },
            _ => ck.other.push(Setting::from_node(c)),
        }
    }
    if ck.kind == "FILE_CHECK" && !ck.other.iter().any(|o| o.keyword == "track_file") {
        b.error(n, "FILE_CHECK has no track_file specified - ignoring");
    }
    ck
}

fn url(b: &mut Builder<'_>, n: &Node) -> UrlCheck {
    let mut u = UrlCheck {
        path: None,
        digest: None,
        status_code: Vec::new(),
        virtualhost: None,
        other: Vec::new(),
    };
    for c in n.children() {
        if !b.known(c, keywords::URL) {
            continue;
        }
        match c.keyword() {
            "path" => u.path = c.arg(0).map(str::to_string),
            "digest" => u.digest = c.arg(0).map(str::to_string),
            "status_code" => {
                for code in c.args() {
                    if valid_status_code(code) {
                        u.status_code.push(code.clone());
                    } else {
                        b.error(c, format!("Invalid HTTP_GET status code '{code}'"));
                    }
                }
            }
            "virtualhost" => u.virtualhost = c.arg(0).map(str::to_string),
            _ => u.other.push(Setting::from_node(c)),
        }
    }
    u
}

/// `NNN` or `NNN-MMM` within 100..=599.
fn valid_status_code(code: &str) -> bool {
    let (lo, hi) = code.split_once('-').unwrap_or((code, code));
    let num = |s: &str| {
        s.bytes().all(|b| b.is_ascii_digit())
            && !s.is_empty()
            && s.parse::<u32>().is_ok_and(|n| (100..=599).contains(&n))
    };
    num(lo) && num(hi) && lo.parse::<u32>().ok() <= hi.parse::<u32>().ok()
}

/// keepalived's `alloc_vsg_entry` checks on one group line.
pub(crate) fn group_entry_error(group: &str, words: &[String]) -> Option<String> {
    let first = words.first()?;
    if first == "fwmark" {
        let mark = words.get(1).map_or("", String::as_str);
        if mark.parse::<u32>().is_err() {
            return Some(format!(
                "({group}): fwmark '{mark}' must be in [0, {}] - ignoring",
                u32::MAX
            ));
        }
        return None;
    }
    let port = words.get(1).filter(|p| !p.bytes().all(|b| b == b'0'));
    let addr = first.split('/').next().unwrap_or(first);
    let base = match addr.rsplit_once('-') {
        Some((b, _)) if b.parse::<std::net::IpAddr>().is_ok() => b,
        _ => addr,
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    if base.parse::<std::net::IpAddr>().is_err() || !port_ok {
        if let Some(p) = port.filter(|_| !port_ok) {
            return Some(format!(
                "invalid number '{p}'\nInvalid virtual server group IP address {first} /port/{p} - skipping"
            ));
        }
        let suffix = port.map_or(String::new(), |p| format!("/port/{p}"));
        return Some(format!(
            "Invalid virtual server group IP address {first} {suffix} - skipping"
        ));
    }
    None
}

/// keepalived's `inet_stosockaddr` on an address and optional port (a port
/// of zeros counts as none).
pub(crate) fn valid_ip_port(ip: &str, port: Option<&str>) -> bool {
    let port_ok = match port {
        None => true,
        Some(p) if p.bytes().all(|b| b == b'0') => true,
        Some(p) => p.parse::<u16>().is_ok(),
    };
    ip.parse::<std::net::IpAddr>().is_ok() && port_ok
}
