//! keepalived's `no_accept` (RFC 5798 Accept_Mode = False): a master that does
//! not own its addresses (priority < 255) drops the traffic sent to them.
//!
//! keepalived 2.2.7 (built with nftables, as Debian's is) puts the VIPs of such a
//! master in the set `vips` of its own table `keepalived` (families `ip` and
//! `ip6`), whose `in` / `out` chains (priority filter - 1) drop packets to / from
//! that set, and deletes the table at exit. keepalived talks netlink directly; we
//! feed the same table to `nft -f -` (package nftables). A missing or failing
//! `nft` is logged as an error; the VIPs are set anyway.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use tracing::error;

use crate::spec::InstanceSpec;

/// keepalived's default table name (`nftables` in `global_defs` without a name).
pub const TABLE: &str = "keepalived";

/// Whether the instance's VIPs are filtered while it is master: not the
/// address owner and `accept` off (`no_accept`, or the `vrrp_strict` default).
pub fn applies(spec: &InstanceSpec) -> bool {
    spec.priority != 255 && !spec.accept
}

/// The nftables state this daemon owns.
#[derive(Debug, Default)]
pub struct Filter {
    /// Families (`false` = ip, `true` = ip6) whose table was created.
    tables: BTreeSet<bool>,
    /// Addresses currently in a `vips` set.
    dropped: BTreeSet<IpAddr>,
}

fn family(v6: bool) -> &'static str {
    if v6 {
        "ip6"
    } else {
        "ip"
    }
}

/// The table of one family, replacing any left by an earlier run. The layout is
/// keepalived's, as `nft list ruleset` shows it (the IPv6 link-local chains stay
/// empty: link-local VIPs are not filtered, see `add`).
fn table_script(v6: bool) -> String {
    let f = family(v6);
    let hook = "type filter hook {} priority filter - 1; policy accept;";
    let base = |dir: &str, addr: &str, extra: &str| {
        format!(
            "\tchain {dir} {{\n\t\t{}\n{extra}\t\t{f} {addr} @vips drop\n\t}}\n",
            hook.replace("{}", if dir == "in" { "input" } else { "output" })
        )
    };
    let mut s = format!("add table {f} {TABLE}\ndelete table {f} {TABLE}\ntable {f} {TABLE} {{\n");
    if v6 {
        s.push_str(
            "\tset vips {\n\t\ttype ipv6_addr\n\t}\n\
             \tset neighbor-discovery {\n\t\ttype icmpv6_type\n\t\tflags constant\n\
             \t\telements = { nd-neighbor-solicit, nd-neighbor-advert }\n\t}\n",
        );
        let nd = |dir: &str, addr: &str| {
            format!(
                "\t\ticmpv6 type @neighbor-discovery accept\n\
                 \t\tip6 {addr} fe80::/10 goto {dir}_link_local\n"
            )
        };
        s.push_str(&base("out", "saddr", &nd("out", "saddr")));
        s.push_str(&base("in", "daddr", &nd("in", "daddr")));
        s.push_str("\tchain in_link_local {\n\t}\n\tchain out_link_local {\n\t}\n");
    } else {
        s.push_str("\tset vips {\n\t\ttype ipv4_addr\n\t}\n");
        s.push_str(&base("out", "saddr", ""));
        s.push_str(&base("in", "daddr", ""));
    }
    s.push_str("}\n");
    s
}

fn elements(verb: &str, addrs: &[IpAddr]) -> String {
    let mut s = String::new();
    for v6 in [false, true] {
        let list: Vec<String> = addrs
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .map(ToString::to_string)
            .collect();
        if !list.is_empty() {
            let _ = writeln!(
                s,
                "{verb} element {} {TABLE} vips {{ {} }}",
                family(v6),
                list.join(", ")
            );
        }
    }
    s
}

/// IPv6 link-local VIPs: keepalived filters them per interface in the
/// `*_link_local` chains; we leave them unfiltered.
fn link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

impl Filter {
    /// Drops traffic to `addrs` (those not dropped already; not IPv6 link-local).
    pub fn add(&mut self, addrs: &[IpAddr]) {
        let new: Vec<IpAddr> = addrs
            .iter()
            .copied()
            .filter(|a| !self.dropped.contains(a) && !link_local(*a))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if new.is_empty() {
            return;
        }
        let mut script = String::new();
        let mut tables = Vec::new();
        for v6 in [false, true] {
            if new.iter().any(|a| a.is_ipv6() == v6) && !self.tables.contains(&v6) {
                script.push_str(&table_script(v6));
                tables.push(v6);
            }
        }
        script.push_str(&elements("add", &new));
        if nft(&script) {
            self.tables.extend(tables);
            self.dropped.extend(new);
        }
    }

    /// Accepts traffic to `addrs` again.
    pub fn remove(&mut self, addrs: &[IpAddr]) {
        let old: Vec<IpAddr> = addrs
            .iter()
            .copied()
            .filter(|a| self.dropped.contains(a))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if old.is_empty() {
            return;
        }
        nft(&elements("delete", &old));
        // Forgotten even on failure: the next add retries rather than skips it.
        for a in &old {
            self.dropped.remove(a);
        }
    }

    /// At exit: deletes the tables, as keepalived does.
    pub fn clear(&mut self) {
        let mut script = String::new();
        for &v6 in &self.tables {
            let _ = writeln!(script, "delete table {} {TABLE}", family(v6));
        }
        if !script.is_empty() {
            nft(&script);
        }
        self.tables.clear();
        self.dropped.clear();
    }
}

/// Runs `nft -f -` with `script`; logs and returns `false` on any failure.
fn nft(script: &str) -> bool {
    let child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            error!("cannot run nft for the no_accept firewall rules: {e}");
            return false;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        if let Err(e) = stdin.write_all(script.as_bytes()) {
            error!("cannot write to nft: {e}");
        }
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            error!(
                "nft failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            false
        }
        Err(e) => {
            error!("nft: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        let t = table_script(false);
        assert!(t.starts_with("add table ip keepalived\ndelete table ip keepalived\n"));
        assert!(t.contains("ip daddr @vips drop"));
        assert!(t.contains("ip saddr @vips drop"));
        assert!(table_script(true).contains("nd-neighbor-solicit"));
        assert!(link_local("fe80::1".parse().unwrap()));
        assert!(!link_local("2001:db8::1".parse().unwrap()));
        let a: Vec<IpAddr> = vec![
            "192.0.2.100".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            "192.0.2.101".parse().unwrap(),
        ];
        assert_eq!(
            elements("delete", &a),
            "delete element ip keepalived vips { 192.0.2.100, 192.0.2.101 }\n\
             delete element ip6 keepalived vips { 2001:db8::1 }\n"
        );
    }
}
