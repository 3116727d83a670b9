//! From keepalived's address and route lines to rtnetlink requests, with
//! keepalived's defaults (`vrrp_ipaddress.c`, `vrrp_iproute.c`): a VIP without a
//! mask is /32 or /128, on the instance's interface, scope global; IPv6 VIPs are
//! added with `nodad`.

use std::net::{IpAddr, Ipv4Addr};

use keepalived_conf::model::{Route, Rule, VirtualAddress};
use netlink_packet_route::route::RouteType;
use netlink_packet_route::rule::RuleAction;

use crate::rtnl::{AddrSpec, RouteSpec, RuleSpec};

/// `scope` words as iproute2 knows them.
pub fn scope(word: &str) -> Option<u8> {
    match word {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        n => n.parse().ok(),
    }
}

fn broadcast(a: &VirtualAddress, prefix: u8) -> Option<Ipv4Addr> {
    let IpAddr::V4(ip) = a.address else {
        return None;
    };
    match a.broadcast.as_deref()? {
        "-" => None,
        "+" => {
            let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            Some(Ipv4Addr::from(u32::from(ip) | host))
        }
        s => s.parse().ok(),
    }
}

/// The request for one VIP; `index_of` resolves a `dev` name.
pub fn address(
    a: &VirtualAddress,
    default_index: u32,
    index_of: impl Fn(&str) -> Option<u32>,
) -> Option<AddrSpec> {
    let index = match &a.dev {
        Some(d) => index_of(d)?,
        None => default_index,
    };
    let prefix_len = a
        .prefix_len
        .unwrap_or(if a.address.is_ipv4() { 32 } else { 128 });
    Some(AddrSpec {
        index,
        address: a.address,
        prefix_len,
        broadcast: broadcast(a, prefix_len),
        label: a.label.clone(),
        scope: a.scope.as_deref().and_then(scope).unwrap_or(0),
        nodad: a.address.is_ipv6(),
        noprefixroute: a.noprefixroute,
        preferred_lft: preferred_lft(a, prefix_len),
    })
}

/// keepalived: `preferred_lft forever|N`; unset, an IPv6 /128 gets 0.
fn preferred_lft(a: &VirtualAddress, prefix_len: u8) -> Option<u32> {
    if a.address.is_ipv4() {
        return None;
    }
    match a.preferred_lft.as_deref() {
        Some("forever") => None,
        Some(n) => n.parse().ok(),
        None => (prefix_len == 128).then_some(0),
    }
}

fn prefix(s: &str) -> Option<(IpAddr, u8)> {
    if s == "default" {
        return Some((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    }
    let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let p = match p {
        Some(p) => p.parse().ok().filter(|v| *v <= max)?,
        None => max,
    };
    Some((ip, p))
}

/// The request for one `virtual_routes` line (`[TYPE] DEST [src IP] [via|gw GW]
/// [dev IF] [metric N] [table N] [scope S]`); other words are ignored.
/// Without `dev` no interface is set (the kernel finds it), as keepalived does.
pub fn route(r: &Route, index_of: impl Fn(&str) -> Option<u32>) -> Option<RouteSpec> {
    let mut words = r.words.iter().map(String::as_str).peekable();
    let kind = match words.peek().copied() {
        Some("blackhole") => Some(RouteType::BlackHole),
        Some("unreachable") => Some(RouteType::Unreachable),
        Some("prohibit") => Some(RouteType::Prohibit),
        Some("throw") => Some(RouteType::Throw),
        _ => None,
    };
    if kind.is_some() {
        words.next();
    }
    let (destination, prefix_len) = prefix(words.next()?)?;
    let mut spec = RouteSpec {
        destination,
        prefix_len,
        gateway: None,
        source: None,
        oif: None,
        metric: None,
        table: None,
        scope: None,
        kind: kind.unwrap_or(RouteType::Unicast),
    };
    while let Some(w) = words.next() {
        let value = words.next();
        match (w, value) {
            ("via" | "gw", Some(v)) => spec.gateway = v.parse().ok(),
            ("src", Some(v)) => spec.source = v.parse().ok(),
            ("dev" | "oif", Some(v)) => spec.oif = index_of(v),
            ("metric" | "preference" | "priority", Some(v)) => spec.metric = v.parse().ok(),
            ("table", Some(v)) => spec.table = v.parse().ok(),
            ("scope", Some(v)) => spec.scope = scope(v),
            _ => {}
        }
    }
    Some(spec)
}

fn table(word: &str) -> Option<u32> {
    match word {
        "main" => Some(254),
        "local" => Some(255),
        "default" => Some(253),
        n => n.parse().ok(),
    }
}

fn rule_prefix(word: &str) -> Option<(IpAddr, u8)> {
    match word {
        "all" | "any" | "default" => None,
        w => prefix(w),
    }
}

/// The request for one rule line (`from`, `to`, `table|lookup`, `pref`, `iif`,
/// `oif`, `fwmark N[/M]`, `not`, `blackhole|unreachable|prohibit`); other words are
/// ignored. The preference is the model's (keepalived numbers unset ones).
pub fn rule(r: &Rule) -> Option<RuleSpec> {
    let mut spec = RuleSpec {
        ipv6: false,
        from: None,
        to: None,
        table: 0,
        action: RuleAction::ToTable,
        priority: r.preference,
        iif: None,
        oif: None,
        fwmark: None,
        invert: false,
    };
    let mut words = r.words.iter().map(String::as_str);
    while let Some(w) = words.next() {
        match w {
            "not" => spec.invert = true,
            "blackhole" => spec.action = RuleAction::Blackhole,
            "unreachable" => spec.action = RuleAction::Unreachable,
            "prohibit" => spec.action = RuleAction::Prohibit,
            "no_track" | "l3mdev" => {}
            _ => {
                let Some(v) = words.next() else { break };
                match w {
                    "from" => spec.from = rule_prefix(v),
                    "to" => spec.to = rule_prefix(v),
                    "table" | "lookup" => spec.table = table(v)?,
                    "iif" | "dev" => spec.iif = Some(v.to_string()),
                    "oif" => spec.oif = Some(v.to_string()),
                    "fwmark" => {
                        let (m, mask) = v.split_once('/').map_or((v, None), |(m, k)| (m, Some(k)));
                        let num = |s: &str| {
                            s.strip_prefix("0x")
                                .map_or_else(|| s.parse().ok(), |h| u32::from_str_radix(h, 16).ok())
                        };
                        spec.fwmark = Some((num(m)?, mask.and_then(num)));
                    }
                    _ => {}
                }
            }
        }
    }
    spec.ipv6 = spec.from.or(spec.to).is_some_and(|(a, _)| a.is_ipv6());
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(text: &str) -> VirtualAddress {
        let conf = format!(
            "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n \
             virtual_ipaddress {{\n {text}\n }}\n}}\n"
        );
        let opts = keepalived_conf::ReadOptions {
            config_id: "n".into(),
            random_seed: 1,
        };
        let out = keepalived_conf::check_str(
            &conf,
            std::path::Path::new("t"),
            &opts,
            &keepalived_conf::FakeHost::default(),
        );
        out.config.vrrp_instances[0].virtual_ipaddress[0].clone()
    }

    #[test]
    fn defaults_and_options() {
        let a = address(&vip("192.0.2.100"), 3, |_| None).unwrap();
        assert_eq!((a.index, a.prefix_len, a.scope, a.nodad), (3, 32, 0, false));
        let a = address(
            &vip("192.0.2.101/24 brd + dev eth1 scope link label eth1:1"),
            3,
            |n| (n == "eth1").then_some(7),
        )
        .unwrap();
        assert_eq!(a.index, 7);
        assert_eq!(a.broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(a.scope, 253);
        assert_eq!(a.label.as_deref(), Some("eth1:1"));
        let a = address(&vip("2001:db8::1"), 3, |_| None).unwrap();
        assert_eq!((a.prefix_len, a.nodad), (128, true));
        assert_eq!(a.preferred_lft, Some(0), "deprecated, as keepalived's");
        let a = address(&vip("2001:db8::1/64"), 3, |_| None).unwrap();
        assert_eq!(a.preferred_lft, None);
    }

    #[test]
    fn rule_words() {
        let r = Rule {
            words: [
                "from",
                "192.0.2.0/24",
                "table",
                "100",
                "fwmark",
                "0x10/0xff",
            ]
            .map(String::from)
            .to_vec(),
            from: None,
            to: None,
            table: None,
            preference: 16384,
            line: 1,
        };
        let s = rule(&r).unwrap();
        assert_eq!(s.from, Some(("192.0.2.0".parse().unwrap(), 24)));
        assert_eq!((s.table, s.priority, s.ipv6), (100, 16384, false));
        assert_eq!(s.fwmark, Some((16, Some(255))));
        assert_eq!(s.action, RuleAction::ToTable);
    }

    #[test]
    fn route_words() {
        let r = Route {
            words: ["198.51.100.0/24", "via", "192.0.2.254", "metric", "5"]
                .map(String::from)
                .to_vec(),
            destination: None,
            devs: vec![],
            no_track: false,
            line: 1,
        };
        let s = route(&r, |_| None).unwrap();
        assert_eq!(s.prefix_len, 24);
        assert_eq!(s.gateway, Some("192.0.2.254".parse().unwrap()));
        assert_eq!((s.metric, s.oif), (Some(5), None));
    }
}
