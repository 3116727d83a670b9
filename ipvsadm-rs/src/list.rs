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
    let mut s = String::new();
    push_addrport(&mut s, addr, port, proto, format, names);
    s
}

/// [`addrport`], appended to `out`.
fn push_addrport(
    out: &mut String,
    addr: &IpAddr,
    port: u16,
    proto: Option<ipvs::Protocol>,
    format: u32,
    names: &mut Names,
) {
    let start = out.len();
    let v6 = addr.is_ipv6();
    if v6 {
        out.push('[');
    }
    if format & fmt::NUMERIC != 0 {
        push_ip(out, addr);
        out.push_str(if v6 { "]:" } else { ":" });
        push_num(out, u64::from(port));
    } else {
        match names.addr_to_host(addr) {
            Some(host) => out.push_str(&host),
            None => push_ip(out, addr),
        }
        out.push_str(if v6 { "]:" } else { ":" });
        match proto.and_then(|p| names.port_to_service(port, p)) {
            Some(serv) => out.push_str(&serv),
            None => push_num(out, u64::from(port)),
        }
    }
    cut_from(out, start, 60);
}

/// The C `snprintf(buf, n, …)` cut (at most `n - 1` bytes) applied to
/// what `out` holds from `start` on.
fn cut_from(out: &mut String, start: usize, n: usize) {
    if out.len() - start >= n {
        let mut end = start + n - 1;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
}

/// C's `%-Ns`: spaces until what `out` holds from `start` on is `width`
/// bytes long (C counts bytes, not characters).
fn pad_from(out: &mut String, start: usize, width: usize) {
    let len = out.len() - start;
    if len < width {
        out.extend(std::iter::repeat_n(' ', width - len));
    }
}

/// `s` padded on the right to `width` bytes.
fn push_left(out: &mut String, s: &str, width: usize) {
    let start = out.len();
    out.push_str(s);
    pad_from(out, start, width);
}

/// A number in decimal.
fn push_num(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // n % 10 < 10: the cast keeps every bit.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// A number in decimal, padded on the right to `width` bytes.
fn push_num_left(out: &mut String, n: u64, width: usize) {
    let start = out.len();
    push_num(out, n);
    pad_from(out, start, width);
}

/// The last columns of a destination line: each number after a space,
/// padded on the right to its width (C's `" %-Nu"`), then the line's end.
fn push_num_columns(out: &mut String, columns: &[(u32, usize)]) {
    for &(n, width) in columns {
        out.push(' ');
        push_num_left(out, u64::from(n), width);
    }
    out.push('\n');
}

/// An address as `inet_ntop` writes it.
fn push_ip(out: &mut String, addr: &IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_num(out, u64::from(o));
            }
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
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
    let mut out = String::with_capacity(48);
    match s.key {
        ServiceKey::Fwmark { family, mark } => {
            out.push_str(if format & fmt::RULE != 0 {
                "-f "
            } else {
                "FWM  "
            });
            push_num(&mut out, u64::from(mark));
            if family == Family::Inet6 {
                out.push_str(if format & fmt::RULE != 0 {
                    " -6"
                } else {
                    " IPv6"
                });
            }
        }
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let rule = format & fmt::RULE != 0;
            out.push_str(match (rule, protocol) {
                (true, ipvs::Protocol::Tcp) => "-t ",
                (true, ipvs::Protocol::Udp) => "-u ",
                (true, ipvs::Protocol::Sctp) => "--sctp-service ",
                (false, ipvs::Protocol::Tcp) => "TCP  ",
                (false, ipvs::Protocol::Udp) => "UDP  ",
                (false, ipvs::Protocol::Sctp) => "SCTP ",
            });
            push_addrport(&mut out, &addr, port, Some(protocol), format, names);
            cut_from(&mut out, 0, 1024);
            if !rule && addr.is_ipv4() && out.len() > 33 {
                cut_from(&mut out, 0, 34);
            }
        }
    }
    out
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

/// One service and its destinations (`print_service_entry`), appended to
/// `out`.
pub fn service_entry(
    out: &mut String,
    s: &Service,
    dests: &[Destination],
    format: u32,
    names: &mut Names,
) {
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
        out.push_str("-A ");
        out.push_str(&name);
        out.push_str(" -s ");
        out.push_str(s.scheduler.as_str());
        if persistent {
            out.push_str(" -p ");
            push_num(out, u64::from(s.timeout));
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
        push_left(out, &name, 33);
        stats(out, &s.stats, format & fmt::STATS == 0);
    } else {
        out.push_str(&name);
        out.push(' ');
        out.push_str(s.scheduler.as_str());
        if has_sched_flags(s) {
            let _ = write!(out, " ({})", sched_flags(s));
        }
        if persistent {
            out.push_str(" persistent ");
            push_num(out, u64::from(s.timeout));
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
    let mut dests: Vec<&Destination> = dests.iter().collect();
    if format & fmt::NOSORT == 0 {
        msort(&mut dests, &|a: &&Destination, b: &&Destination| {
            cmp_dests(a, b)
        });
    }
    let proto = proto_raw(&s.key);
    for e in dests {
        destination_row(out, &name, e, proto, format, names, &stats);
    }
}

/// One destination's line of [`service_entry`].
fn destination_row(
    out: &mut String,
    name: &str,
    e: &Destination,
    proto: Option<ipvs::Protocol>,
    format: u32,
    names: &mut Names,
    stats: &impl Fn(&mut String, &ipvs::Stats, bool),
) {
    let line = out.len();
    if format & fmt::RULE != 0 {
        out.push_str("-a ");
        out.push_str(name);
        out.push_str(" -r ");
        push_addrport(out, &e.addr, e.port, proto, format, names);
        out.push(' ');
        out.push_str(fwd_switch(e.forward));
        out.push_str(" -w ");
        push_num(out, u64::from(e.weight));
        if e.forward == ForwardMethod::Tunnel {
            out.push_str(" --tun-type ");
            out.push_str(tun_name(e.tunnel_type));
            match e.tunnel_type {
                TunnelType::Gre => {
                    out.push(' ');
                    out.push_str(tun_flag_opt(e.tunnel_checksum));
                }
                TunnelType::Gue => {
                    out.push_str(" --tun-port ");
                    push_num(out, u64::from(e.tunnel_port));
                    out.push(' ');
                    out.push_str(tun_flag_opt(e.tunnel_checksum));
                }
                TunnelType::Ipip => {}
            }
        }
        out.push('\n');
        return;
    }
    out.push_str("  -> ");
    let dname = out.len();
    push_addrport(out, &e.addr, e.port, proto, format, names);
    if e.addr.is_ipv4() && out.len() - dname > 28 {
        cut_from(out, dname, 29);
    }
    pad_from(out, dname, 28);
    let fwd = fwd_name(e.forward);
    if format & fmt::STATS != 0 {
        stats(out, &e.stats, false);
        out.push('\n');
    } else if format & fmt::RATE != 0 {
        let st = &e.stats;
        let _ = writeln!(
            out,
            " {:>8} {:>8} {:>8}{}{}",
            st.cps,
            st.inpps,
            st.outpps,
            largenum(st.inbps, format),
            largenum(st.outbps, format)
        );
    } else if format & fmt::THRESHOLDS != 0 {
        push_num_columns(
            out,
            &[
                (e.upper_threshold, 10),
                (e.lower_threshold, 10),
                (e.active_conns, 10),
                (e.inactive_conns, 10),
            ],
        );
    } else if format & fmt::PERSISTENTCONN != 0 {
        push_num_columns(
            out,
            &[
                (e.weight, 9),
                (e.persistent_conns, 11),
                (e.active_conns, 10),
                (e.inactive_conns, 10),
            ],
        );
    } else {
        out.push(' ');
        push_left(out, fwd, 7);
        if format & fmt::TUN_INFO != 0 {
            out.push(' ');
            push_left(out, &tun_info(e), 13);
        }
        push_num_columns(
            out,
            &[(e.weight, 6), (e.active_conns, 10), (e.inactive_conns, 10)],
        );
    }
    debug_assert!(out.len() > line);
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
/// values more than 2^31 apart, give the same order as ipvsadm. Sorts
/// cheap copies (references), with one scratch buffer.
pub fn msort<T: Copy>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let mut tmp = v.to_vec();
    msort_with(v, &mut tmp, cmp);
}

fn msort_with<T: Copy>(v: &mut [T], tmp: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    let len = v.len();
    if len <= 1 {
        return;
    }
    let mid = len / 2;
    msort_with(&mut v[..mid], tmp, cmp);
    msort_with(&mut v[mid..], tmp, cmp);
    let (mut left, mut right, mut out) = (0, mid, 0);
    while left < mid && right < len {
        if cmp(&v[left], &v[right]) <= 0 {
            tmp[out] = v[left];
            left += 1;
        } else {
            tmp[out] = v[right];
            right += 1;
        }
        out += 1;
    }
    // What is left of the right half is in place already.
    while left < mid {
        tmp[out] = v[left];
        left += 1;
        out += 1;
    }
    v[..out].copy_from_slice(&tmp[..out]);
}

/// Sorts references (cheap to move) into ipvsadm's service order.
pub fn sort_services(v: &mut [&Service]) {
    msort(v, &|a: &&Service, b: &&Service| cmp_services(a, b));
}

/// Sorts destinations into ipvsadm's order.
pub fn sort_dests(v: &mut Vec<Destination>) {
    let mut refs: Vec<&Destination> = v.iter().collect();
    msort(&mut refs, &|a: &&Destination, b: &&Destination| {
        cmp_dests(a, b)
    });
    let sorted: Vec<Destination> = refs.into_iter().cloned().collect();
    *v = sorted;
}

#[cfg(test)]
mod tests;
