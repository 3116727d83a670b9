//! `allow` and `deny` (`ngx_http_access_module`): rules in file order, the
//! first that covers the client decides; a level without rules takes its
//! parent's.

use std::net::IpAddr;

use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// Whom a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    All,
    /// Clients on unix-domain sockets (`unix:`).
    Unix,
    /// An address and prefix length, the bits below it cleared.
    Net(IpAddr, u8),
}

/// One `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRule {
    pub allow: bool,
    pub peer: Peer,
}

/// Reads `allow`/`deny` `stmt` (an address, `CIDR`, `unix:` or `all`).
pub fn parse_rule(stmt: &Stmt, c: &Cursor) -> Result<AccessRule, ModelError> {
    let arg = stmt.args.first().map_or("", String::as_str);
    let invalid = || c.error(stmt, format!("invalid parameter \"{arg}\""));
    let peer = match arg {
        "all" => Peer::All,
        "unix:" => Peer::Unix,
        _ => {
            let (addr, len) = match arg.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (arg, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| invalid())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or_else(invalid)?,
            };
            // nginx warns that the low bits are meaningless and clears them.
            Peer::Net(masked(ip, len), len)
        }
    };
    Ok(AccessRule {
        allow: stmt.directive == "allow",
        peer,
    })
}

/// `ip` with the bits below the first `len` cleared.
#[must_use]
pub fn masked(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v) => {
            let bits = u32::from(v);
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v) => {
            let bits = u128::from(v);
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    }
}

impl AccessRule {
    /// Whether the rule covers a client at `ip` (`None`: a unix socket).
    /// An IPv4-mapped IPv6 client is taken as its IPv4 address, as nginx
    /// does.
    #[must_use]
    pub fn covers(&self, ip: Option<IpAddr>) -> bool {
        let ip = ip.map(|ip| match ip {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        });
        match (self.peer, ip) {
            (Peer::All, _) | (Peer::Unix, None) => true,
            (Peer::Net(net, len), Some(ip)) => {
                net.is_ipv4() == ip.is_ipv4() && masked(ip, len) == net
            }
            _ => false,
        }
    }
}

/// The first rule covering a client at `ip`, if any: whether it allows
/// (nginx's access handler: OK, FORBIDDEN, or DECLINED for none).
#[must_use]
pub fn verdict(rules: &[AccessRule], ip: Option<IpAddr>) -> Option<bool> {
    rules.iter().find(|r| r.covers(ip)).map(|r| r.allow)
}

/// Whether `rules` let a client at `ip` in: the first rule covering it
/// decides; none: allowed.
#[must_use]
pub fn allowed(rules: &[AccessRule], ip: Option<IpAddr>) -> bool {
    rules.iter().find(|r| r.covers(ip)).is_none_or(|r| r.allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, net: &str, len: u8) -> AccessRule {
        AccessRule {
            allow,
            peer: Peer::Net(net.parse().unwrap(), len),
        }
    }

    #[test]
    fn the_first_covering_rule_decides() {
        let rules = [
            rule(true, "127.0.0.2", 32),
            rule(false, "127.0.0.0", 24),
            rule(false, "2001:db8::", 32),
            AccessRule {
                allow: true,
                peer: Peer::All,
            },
        ];
        let ip = |s: &str| Some(s.parse().unwrap());
        assert!(allowed(&rules, ip("127.0.0.2")));
        assert!(!allowed(&rules, ip("127.0.0.3")));
        assert!(!allowed(&rules, ip("::ffff:127.0.0.3")));
        assert!(allowed(&rules, ip("127.0.1.1")));
        assert!(!allowed(&rules, ip("2001:db8::5")));
        assert!(allowed(&rules, None));
        assert!(allowed(&[], ip("127.0.0.3")));
        assert_eq!(
            masked("10.1.2.3".parse().unwrap(), 8),
            "10.0.0.0".parse::<IpAddr>().unwrap()
        );
    }
}
