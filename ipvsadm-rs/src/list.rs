//! The listing formats of `-L` and `-S` (ipvsadm's `print_title`,
//! `print_service_entry`, `list_all` …), and their sort order. Pure: takes
//! the table read from the kernel and returns text.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipvs::{
    Daemon, DaemonRole, Destination, Family, ForwardMethod, Info, Netmask, Service, ServiceFlags,
    ServiceKey, Timeouts, TunnelChecksum, TunnelType,
};

use crate::args::fmt;
use crate::names::Names;

/// `IP Virtual Server version 1.2.1 (size=4096)`.
pub fn header(info: Info) -> String {
    let (a, b, c) = info.version_parts();
    format!(
        "IP Virtual Server version {a}.{b}.{c} (size={})\n",
        info.conn_tab_size
    )
}

/// The column titles for `format` (empty for rules).
pub fn title(format: u32) -> String {
    let t = |cols: [&str; 5]| {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", cols[0], cols[1], cols[2], cols[3], cols[4]
        )
    };
    if format & fmt::STATS != 0 {
        t(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"])
    } else if format & fmt::RATE != 0 {
        t(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"])
    } else if format & fmt::THRESHOLDS != 0 {
        format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if format & fmt::PERSISTENTCONN != 0 {
        format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if format & fmt::TUN_INFO != 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".to_owned()
    } else if format & fmt::RULE == 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_owned()
    } else {
        String::new()
    }
}

/// `print_largenum`: a 9-column counter, scaled to K/M/G/T unless exact.
pub fn largenum(i: u64, format: u32) -> String {
    if format & fmt::EXACT != 0 {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        return format!("{i:>w$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

/// The C `snprintf(buf, n, …)` cut: at most `n - 1` bytes.
fn cut(mut s: String, n: usize) -> String {
    if s.len() >= n {
        let mut end = n - 1;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn proto_raw(key: &ServiceKey) -> Option<ipvs::Protocol> {
    match key {
        ServiceKey::Addr { protocol, .. } => Some(*protocol),
        ServiceKey::Fwmark { .. } => None,
    }
}

/// `addrport_to_anyname`: `addr:port` or `[addr]:port`, with names unless
/// numeric (a fwmark service's ports never get names: no protocol).
pub fn addrport(
    addr: &IpAddr,
    port: u16,
    proto: Option<ipvs::Protocol>,
    format: u32,
    names: &mut Names,
) -> String {
    let (l, r) = if addr.is_ipv4() { ("", "") } else { ("[", "]") };
    let s = if format & fmt::NUMERIC != 0 {
        format!("{l}{addr}{r}:{port}")
    } else {
        let host = names.addr_to_host(addr).unwrap_or_else(|| addr.to_string());
        let serv = proto
            .and_then(|p| names.port_to_service(port, p))
            .unwrap_or_else(|| port.to_string());
        format!("{l}{host}{r}:{serv}")
    };
    cut(s, 60)
}

const fn fwd_name(f: ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masq => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel => "Tunnel",
        ForwardMethod::Route => "Route",
        ForwardMethod::Bypass => "(null)",
    }
}

const fn fwd_switch(f: ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masq => "-m",
        ForwardMethod::Tunnel => "-i",
        ForwardMethod::Local | ForwardMethod::Route => "-g",
        ForwardMethod::Bypass => "(null)",
    }
}

const fn tun_name(t: TunnelType) -> &'static str {
    match t {
        TunnelType::Ipip => "ipip",
        TunnelType::Gue => "gue",
        TunnelType::Gre => "gre",
    }
}

const fn tun_flag(c: TunnelChecksum) -> &'static str {
    match c {
        TunnelChecksum::None => "-c",
        TunnelChecksum::Csum => "+c",
        TunnelChecksum::RemCsum => "r+c",
    }
}

const fn tun_flag_opt(c: TunnelChecksum) -> &'static str {
    match c {
        TunnelChecksum::None => "--tun-nocsum",
        TunnelChecksum::Csum => "--tun-csum",
        TunnelChecksum::RemCsum => "--tun-remcsum",
    }
}

fn tun_info(d: &Destination) -> String {
    if d.forward != ForwardMethod::Tunnel {
        return "n/a".into();
    }
    match d.tunnel_type {
        TunnelType::Ipip => "ipip".into(),
        TunnelType::Gue => format!("gue:{}:{}", d.tunnel_port, tun_flag(d.tunnel_checksum)),
        TunnelType::Gre => format!("gre:{}", tun_flag(d.tunnel_checksum)),
    }
}

/// `print_sched_flags`: the names of the scheduler flags, comma-separated.
fn sched_flags(s: &Service) -> String {
    let f = s.flags;
    let names: [(ServiceFlags, &str); 3] = match s.scheduler.as_str() {
        "sh" => [
            (ServiceFlags::SCHED1, "sh-fallback"),
            (ServiceFlags::SCHED2, "sh-port"),
            (ServiceFlags::empty(), ""),
        ],
        "mh" => [
            (ServiceFlags::SCHED1, "mh-fallback"),
            (ServiceFlags::SCHED2, "mh-port"),
            (ServiceFlags::empty(), ""),
        ],
        _ => [
            (ServiceFlags::SCHED1, "flag-1"),
            (ServiceFlags::SCHED2, "flag-2"),
            (ServiceFlags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(bit, n)| !n.is_empty() && f.contains(*bit))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn has_sched_flags(s: &Service) -> bool {
    s.flags.bits() & (ServiceFlags::SCHED1 | ServiceFlags::SCHED2 | ServiceFlags::SCHED3).bits()
        != 0
}

/// The service column: `TCP  addr:port`, `FWM  7`, or the rule's
/// `-t addr:port` / `-f 7 -6`.
fn service_name(s: &Service, format: u32, names: &mut Names) -> String {
    match s.key {
        ServiceKey::Fwmark { family, mark } => {
            let v6 = family == Family::Inet6;
            match (format & fmt::RULE != 0, v6) {
                (true, true) => format!("-f {mark} -6"),
                (true, false) => format!("-f {mark}"),
                (false, true) => format!("FWM  {mark} IPv6"),
                (false, false) => format!("FWM  {mark}"),
            }
        }
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let vname = addrport(&addr, port, Some(protocol), format, names);
            if format & fmt::RULE != 0 {
                let opt = match protocol {
                    ipvs::Protocol::Tcp => "-t",
                    ipvs::Protocol::Udp => "-u",
                    ipvs::Protocol::Sctp => "--sctp-service",
                };
                cut(format!("{opt} {vname}"), 1024)
            } else {
                let name = match protocol {
                    ipvs::Protocol::Tcp => "TCP",
                    ipvs::Protocol::Udp => "UDP",
                    ipvs::Protocol::Sctp => "SCTP",
                };
                let mut s = cut(format!("{name:<4} {vname}"), 1024);
                if addr.is_ipv4() && s.len() > 33 {
                    s = cut(s, 34);
                }
                s
            }
        }
    }
}

fn v4_mask_text(s: &Service) -> Option<String> {
    match s.netmask {
        Netmask::V4(m) if m.octets() != [255; 4] && s.key.family() == Family::Inet => {
            Some(m.to_string())
        }
        Netmask::V6(p) if p != 128 && s.key.family() == Family::Inet6 => Some(p.to_string()),
        _ => None,
    }
}

/// One service and its destinations (`print_service_entry`).
pub fn service_entry(s: &Service, dests: &[Destination], format: u32, names: &mut Names) -> String {
    let mut out = String::new();
    let name = service_name(s, format, names);
    let persistent = s.flags.contains(ServiceFlags::PERSISTENT);
    let stats = |out: &mut String, st: &ipvs::Stats, rate: bool| {
        let v = if rate {
            [st.cps, st.inpps, st.outpps, st.inbps, st.outbps]
        } else {
            [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes]
        };
        for x in v {
            out.push_str(&largenum(x, format));
        }
    };
    if format & fmt::RULE != 0 {
        let _ = write!(out, "-A {name} -s {}", s.scheduler);
        if persistent {
            let _ = write!(out, " -p {}", s.timeout);
            if let Some(m) = v4_mask_text(s) {
                let _ = write!(out, " -M {m}");
            }
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(out, " --pe {pe}");
        }
        if s.flags.contains(ServiceFlags::ONEPACKET) {
            out.push_str(" -o");
        }
        if has_sched_flags(s) {
            let _ = write!(out, " -b {}", sched_flags(s));
        }
    } else if format & (fmt::STATS | fmt::RATE) != 0 {
        let _ = write!(out, "{name:<33}");
        stats(&mut out, &s.stats, format & fmt::STATS == 0);
    } else {
        let _ = write!(out, "{name} {}", s.scheduler);
        if has_sched_flags(s) {
            let _ = write!(out, " ({})", sched_flags(s));
        }
        if persistent {
            let _ = write!(out, " persistent {}", s.timeout);
            if let Some(m) = v4_mask_text(s) {
                let _ = write!(out, " mask {m}");
            }
            if let Some(pe) = &s.pe_name {
                let _ = write!(out, " pe {pe}");
            }
        }
        if s.flags.contains(ServiceFlags::ONEPACKET) {
            out.push_str(" ops");
        }
    }
    out.push('\n');
    let mut dests = dests.to_vec();
    if format & fmt::NOSORT == 0 {
        sort_dests(&mut dests);
    }
    let proto = proto_raw(&s.key);
    for e in &dests {
        let mut dname = addrport(&e.addr, e.port, proto, format, names);
        if format & fmt::RULE == 0 && e.addr.is_ipv4() && dname.len() > 28 {
            dname = cut(dname, 29);
        }
        let fwd = fwd_name(e.forward);
        if format & fmt::RULE != 0 {
            let sw = fwd_switch(e.forward);
            let w = e.weight;
            let _ = write!(out, "-a {name} -r {dname} {sw} -w {w}");
            if e.forward == ForwardMethod::Tunnel {
                let t = tun_name(e.tunnel_type);
                let _ = write!(out, " --tun-type {t}");
                match e.tunnel_type {
                    TunnelType::Gre => {
                        let _ = write!(out, " {}", tun_flag_opt(e.tunnel_checksum));
                    }
                    TunnelType::Gue => {
                        let c = tun_flag_opt(e.tunnel_checksum);
                        let _ = write!(out, " --tun-port {} {c}", e.tunnel_port);
                    }
                    TunnelType::Ipip => {}
                }
            }
            out.push('\n');
        } else if format & fmt::STATS != 0 {
            let _ = write!(out, "  -> {dname:<28}");
            stats(&mut out, &e.stats, false);
            out.push('\n');
        } else if format & fmt::RATE != 0 {
            let st = &e.stats;
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}{}{}",
                st.cps,
                st.inpps,
                st.outpps,
                largenum(st.inbps, format),
                largenum(st.outbps, format)
            );
        } else if format & fmt::THRESHOLDS != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                e.upper_threshold, e.lower_threshold, e.active_conns, e.inactive_conns
            );
        } else if format & fmt::PERSISTENTCONN != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                e.weight, e.persistent_conns, e.active_conns, e.inactive_conns
            );
        } else if format & fmt::TUN_INFO != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {fwd:<7} {:<13} {:<6} {:<10} {:<10}",
                tun_info(e),
                e.weight,
                e.active_conns,
                e.inactive_conns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {fwd:<7} {:<6} {:<10} {:<10}",
                e.weight, e.active_conns, e.inactive_conns
            );
        }
    }
    out
}

/// `Timeout (tcp tcpfin udp): 900 120 300`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp, t.tcp_fin, t.udp
    )
}

/// `list_daemon`: one line per running daemon, in the kernel's order.
pub fn daemons(ds: &[Daemon]) -> String {
    let mut out = String::new();
    for d in ds.iter().take(2) {
        let role = match d.role {
            DaemonRole::Master => "master",
            DaemonRole::Backup => "backup",
        };
        let _ = write!(
            out,
            "{role} sync daemon (mcast={}, syncid={}",
            d.mcast_ifn, d.sync_id
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        if let Some(g) = d.mcast_group {
            let _ = write!(out, ", group={g}");
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
}

// ---- sorting: libipvs's comparators, run by glibc's merge sort ----

/// A C `int` difference of two unsigned values (wraps, as in libipvs).
#[allow(clippy::cast_possible_wrap)] // the wrap is the point
fn cdiff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn words(addr: &IpAddr) -> [u32; 4] {
    let b = match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    };
    std::array::from_fn(|i| {
        u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
    })
}

fn addr_cmp(first_is_v6: bool, a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (words(a), words(b));
    let n = if first_is_v6 { 4 } else { 1 };
    (0..n)
        .map(|i| cdiff(wa[i], wb[i]))
        .find(|r| *r != 0)
        .unwrap_or(0)
}

fn svc_fields(s: &Service) -> (u32, u32, u32, Option<IpAddr>, u16) {
    let af = match s.key.family() {
        Family::Inet => 2,
        Family::Inet6 => 10,
    };
    match s.key {
        ServiceKey::Fwmark { mark, .. } => (mark, af, 0, None, 0),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (0, af, u32::from(protocol.raw()), Some(addr), port),
    }
}

/// `ipvs_cmp_services`.
pub fn cmp_services(a: &Service, b: &Service) -> i32 {
    let (fa, afa, pa, aa, pta) = svc_fields(a);
    let (fb, afb, pb, ab, ptb) = svc_fields(b);
    let unspec: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    [cdiff(fa, fb), cdiff(afa, afb), cdiff(pa, pb)]
        .into_iter()
        .find(|r| *r != 0)
        .unwrap_or_else(|| {
            let r = addr_cmp(afa == 10, &aa.unwrap_or(unspec), &ab.unwrap_or(unspec));
            if r != 0 {
                r
            } else {
                i32::from(pta) - i32::from(ptb)
            }
        })
}

/// `ipvs_cmp_dests`.
pub fn cmp_dests(a: &Destination, b: &Destination) -> i32 {
    let r = addr_cmp(a.addr.is_ipv6(), &a.addr, &b.addr);
    if r != 0 {
        r
    } else {
        i32::from(a.port) - i32::from(b.port)
    }
}

/// glibc's `qsort` (a top-down merge sort taking from the left half on
/// ties), so that libipvs's comparators, which are not transitive for
/// values more than 2^31 apart, give the same order as ipvsadm.
pub fn msort<T: Clone>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut v[..n1], cmp);
    msort(&mut v[n1..], cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            merged.push(v[i].clone());
            i += 1;
        } else {
            merged.push(v[j].clone());
            j += 1;
        }
    }
    merged.extend_from_slice(&v[i..n1]);
    merged.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&merged);
}

pub fn sort_services(v: &mut [(Service, Vec<Destination>)]) {
    msort(v, &|a: &(Service, Vec<Destination>), b| {
        cmp_services(&a.0, &b.0)
    });
}

pub fn sort_dests(v: &mut [Destination]) {
    msort(v, &cmp_dests);
}

#[cfg(test)]
mod tests;
