//! ipvsadm's command line: its option table, its per-option checks (run in
//! argument order, first failure wins, as ipvsadm's `parse_options`), and
//! the command/option legality table of `process_options`. Pure: the only
//! outside facts are the host and service databases ([`Names`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cvt::{atoi, inet_aton, inet_pton6, string_to_number, strtol};
use crate::names::Names;
use crate::popt::Scanner;
use crate::text;

mod check;
mod table;

pub use table::{Cmd, Opt};
use table::{Tag, OPT_NAMES, TABLE};

/// Listing format flags (`FMT_*`), plus JSON.
pub mod fmt {
    pub const NUMERIC: u32 = 0x0001;
    pub const RULE: u32 = 0x0002;
    pub const STATS: u32 = 0x0004;
    pub const RATE: u32 = 0x0008;
    pub const THRESHOLDS: u32 = 0x0010;
    pub const PERSISTENTCONN: u32 = 0x0020;
    pub const NOSORT: u32 = 0x0040;
    pub const EXACT: u32 = 0x0080;
    pub const TUN_INFO: u32 = 0x0100;
    pub const JSON: u32 = 0x1000;
}

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const F_PERSISTENT: u32 = 0x0001;
pub const F_ONEPACKET: u32 = 0x0004;
pub const F_SCHED1: u32 = 0x0008;
pub const F_SCHED2: u32 = 0x0010;
pub const F_SCHED3: u32 = 0x0020;
pub const FWD_MASQ: u32 = 0;
pub const FWD_TUNNEL: u32 = 2;
pub const FWD_DROUTE: u32 = 3;
const MAX_TIMEOUT: i64 = 86400 * 31;
const SERVICE_ADDR: u8 = 1;
const SERVICE_PORT: u8 = 2;

/// A virtual service as ipvsadm builds it (`ipvs_service_t`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Svc {
    pub af: u16,
    /// 0 (`IPPROTO_IP`) until a service option names one.
    pub protocol: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub fwmark: u32,
    pub sched: String,
    pub flags: u32,
    pub timeout: u32,
    /// IPv4: the mask's bytes in memory order; IPv6: the prefix length.
    pub netmask: u32,
    pub pe: String,
}

/// A real server as ipvsadm builds it (`ipvs_dest_t`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dst {
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub conn_flags: u32,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// A sync daemon as ipvsadm builds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dmn {
    pub state: u32,
    pub ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    pub group: Option<IpAddr>,
    pub port: u16,
    pub ttl: u8,
}

/// Everything one command line says (`struct ipvs_command_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub cmd: Cmd,
    pub svc: Svc,
    pub dest: Dst,
    pub timeouts: [u32; 3],
    pub daemon: Dmn,
    pub options: u64,
    pub format: u32,
}

impl Entry {
    pub fn has(&self, o: Opt) -> bool {
        self.options & (1 << o as u8) != 0
    }
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The process ends with `code` (ipvsadm's `fail`, `exit`), after
    /// printing `stdout` and `stderr`.
    Exit {
        code: i32,
        stdout: String,
        stderr: String,
    },
    /// A popt scanning error: printed, the command's status is -1, and
    /// `-R` goes on with the next line.
    Soft(String),
}

fn fail(msg: impl Into<String>) -> Stop {
    let mut stderr = msg.into();
    stderr.push('\n');
    Stop::Exit {
        code: 2,
        stdout: String::new(),
        stderr,
    }
}

/// `tryhelp_exit(program, -1)`.
pub fn try_help(program: &str) -> Stop {
    Stop::Exit {
        code: 255,
        stdout: String::new(),
        stderr: format!("Try `{program} -h' or '{program} --help' for more information.\n"),
    }
}

fn set_option(options: &mut u64, o: Opt) -> Result<(), Stop> {
    let bit = 1u64 << o as u8;
    if *options & bit != 0 {
        return Err(fail(format!(
            "multiple '{}' options specified",
            OPT_NAMES[o as usize]
        )));
    }
    *options |= bit;
    Ok(())
}

fn proto_of(raw: u16) -> Option<ipvs::Protocol> {
    match raw {
        6 => Some(ipvs::Protocol::Tcp),
        17 => Some(ipvs::Protocol::Udp),
        132 => Some(ipvs::Protocol::Sctp),
        _ => None,
    }
}

/// `parse_service`: `host[:port]`, `[v6]:port`, or a bare IPv6 address.
/// Updates `svc` as it goes (as the C code does) and returns the
/// `SERVICE_ADDR | SERVICE_PORT` bits, 0 on failure.
fn parse_service(buf: &str, svc: &mut Svc, names: &mut Names) -> u8 {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some((h, rest)) = inner.split_once(']') else {
            return 0;
        };
        let Some(p) = rest.strip_prefix(':') else {
            return 0;
        };
        host = h;
        port = Some(p);
    }
    if let Some(a6) = inet_pton6(host) {
        svc.addr = a6.octets();
        svc.af = AF_INET6;
        svc.netmask = 128;
    } else {
        // The C code looks for the port again in what is left.
        port = None;
        if let Some((h, p)) = host.rsplit_once(':') {
            host = h;
            port = Some(p);
        }
        let Some(a4) = inet_aton(host).or_else(|| names.host_to_addr(host)) else {
            return 0;
        };
        svc.addr = [0; 16];
        svc.addr[..4].copy_from_slice(&a4.octets());
        svc.af = AF_INET;
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = port {
        result |= SERVICE_PORT;
        if let Some(n) = string_to_number(p, 0, 65535) {
            svc.port = u16::try_from(n).unwrap_or(0);
        } else if let Some(n) = proto_of(svc.protocol).and_then(|pr| names.service_to_port(p, pr)) {
            svc.port = n;
        } else {
            return 0;
        }
    }
    result
}

fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Stop> {
    let Some(buf) = buf else {
        return Ok(360);
    };
    string_to_number(buf, min, max)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| fail(format!("invalid timeout value `{buf}' specified")))
}

fn parse_fwmark(buf: &str) -> Result<u32, Stop> {
    let (v, used, overflow) = strtol(buf);
    if used == 0 || used != buf.len() || overflow || v == 0 {
        return Err(fail(format!("invalid fwmark value `{buf}' specified")));
    }
    // Negative values are huge as an unsigned long: above UINT_MAX.
    u32::try_from(v).map_err(|_| fail(format!("invalid fwmark value `{buf}' specified")))
}

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Stop> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        let (bit, needs) = match flag {
            "flag-1" => (F_SCHED1, None),
            "flag-2" => (F_SCHED2, None),
            "flag-3" => (F_SCHED3, None),
            "sh-fallback" => (F_SCHED1, Some("sh")),
            "sh-port" => (F_SCHED2, Some("sh")),
            "mh-fallback" => (F_SCHED1, Some("mh")),
            "mh-port" => (F_SCHED2, Some("mh")),
            _ => return Err(fail(format!("invalid scheduler flag `{flag}'"))),
        };
        flags |= bit;
        if needs.is_some_and(|s| s != sched) {
            return Err(fail(format!("incompatible scheduler flag `{flag}'")));
        }
    }
    Ok(flags)
}

/// `strncpy(dst, src, n - 1)` into a NUL-terminated buffer of `n` bytes.
fn truncated(s: &str, max: usize) -> String {
    let s = s.split('\0').next().unwrap_or("");
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn number(arg: &str, min: i64, max: i64, what: &str) -> Result<i64, Stop> {
    string_to_number(arg, min, max).ok_or_else(|| fail(format!("illegal {what} specified")))
}

fn narrow<T: TryFrom<i64> + Default>(v: i64) -> T {
    T::try_from(v).unwrap_or_default()
}

/// Parses one command line (`argv[0]` is the program name), as ipvsadm's
/// `parse_options` then the checks of `process_options` do.
pub fn parse(argv: &[String], names: &mut Names) -> Result<Entry, Stop> {
    let program = argv.first().map_or("ipvsadm", String::as_str);
    let mut sc = Scanner::new(TABLE, argv);
    let mut e = Entry {
        cmd: Cmd::List,
        svc: Svc {
            netmask: u32::MAX,
            ..Svc::default()
        },
        dest: Dst {
            weight: 1,
            conn_flags: FWD_DROUTE,
            ..Dst::default()
        },
        timeouts: [0; 3],
        daemon: Dmn::default(),
        options: 0,
        format: 0,
    };
    let Some(Ok((first, arg))) = sc.next_opt() else {
        return Err(try_help(program));
    };
    e.cmd = match first {
        Tag::Add => Cmd::Add,
        Tag::Edit => Cmd::Edit,
        Tag::Del => Cmd::Del,
        Tag::AddServer => Cmd::AddDest,
        Tag::EditServer => Cmd::EditDest,
        Tag::DelServer => Cmd::DelDest,
        Tag::Clear => Cmd::Flush,
        Tag::List => Cmd::List,
        Tag::Zero => Cmd::Zero,
        Tag::Set => Cmd::Timeout,
        Tag::Restore => Cmd::Restore,
        Tag::Save => Cmd::Save,
        Tag::StartDaemon | Tag::StopDaemon => {
            let start = first == Tag::StartDaemon;
            e.daemon.state = match arg.unwrap_or("") {
                "master" => 1,
                "backup" => 2,
                _ if start => return Err(fail("illegal start-daemon parameter specified")),
                _ => return Err(fail("illegal start_daemon specified")),
            };
            if start {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            }
        }
        Tag::Help => {
            return Err(Stop::Exit {
                code: 0,
                stdout: text::usage(program),
                stderr: String::new(),
            })
        }
        Tag::Version => {
            return Err(Stop::Exit {
                code: 0,
                stdout: text::version(),
                stderr: String::new(),
            })
        }
        _ => return Err(try_help(program)),
    };
    let mut sched_flags = String::new();
    while let Some(next) = sc.next_opt() {
        let (tag, arg) = match next {
            Ok(v) => v,
            Err(err) => {
                return Err(Stop::Soft(format!(
                    "{}: {}\n",
                    sc.bad_option(),
                    err.message()
                )))
            }
        };
        let a = arg.unwrap_or("");
        apply_option(&mut e, tag, arg, a, &mut sched_flags, names).map_err(|stop| {
            stop.unwrap_or_else(|| fail(format!("invalid option `{}'", sc.bad_option())))
        })?;
    }
    if e.cmd == Cmd::Timeout {
        let (Some(a), Some(b), Some(c)) = (sc.leftover(), sc.leftover(), sc.leftover()) else {
            return Err(fail("--set option requires 3 timeout values"));
        };
        e.timeouts = [
            parse_timeout(Some(a), 0, MAX_TIMEOUT)?,
            parse_timeout(Some(b), 0, MAX_TIMEOUT)?,
            parse_timeout(Some(c), 0, MAX_TIMEOUT)?,
        ];
    }
    if let Some(extra) = sc.leftover() {
        return Err(fail(format!("unexpected argument {extra}")));
    }
    if !sched_flags.is_empty() {
        e.svc.flags &= !(F_SCHED1 | F_SCHED2 | F_SCHED3);
        e.svc.flags |= parse_sched_flags(&e.svc.sched, &sched_flags)?;
    }
    check::check(&mut e)?;
    Ok(e)
}

/// One option of the main loop. `Err(None)` is "not an option here".
#[allow(clippy::too_many_lines)]
fn apply_option(
    e: &mut Entry,
    tag: Tag,
    arg: Option<&str>,
    a: &str,
    sched_flags: &mut String,
    names: &mut Names,
) -> Result<(), Option<Stop>> {
    let opts = &mut e.options;
    match tag {
        Tag::Tcp | Tag::Udp | Tag::Sctp => {
            set_option(opts, Opt::Service)?;
            e.svc.protocol = match tag {
                Tag::Tcp => 6,
                Tag::Udp => 17,
                _ => 132,
            };
            if parse_service(a, &mut e.svc, names) & SERVICE_ADDR == 0 {
                return Err(Some(fail(
                    "illegal virtual server address[:port] specified",
                )));
            }
        }
        Tag::Fwmark => {
            set_option(opts, Opt::Service)?;
            e.svc.af = AF_INET;
            e.svc.protocol = 6;
            e.svc.fwmark = parse_fwmark(a)?;
        }
        Tag::Scheduler => {
            set_option(opts, Opt::Scheduler)?;
            e.svc.sched = truncated(a, 15);
        }
        Tag::Persistent => {
            set_option(opts, Opt::Persistent)?;
            e.svc.flags |= F_PERSISTENT;
            e.svc.timeout = parse_timeout(arg, 1, MAX_TIMEOUT)?;
        }
        Tag::Netmask => {
            set_option(opts, Opt::Netmask)?;
            if e.svc.af == AF_INET6 {
                let m = atoi(a);
                if !(1..=128).contains(&m) {
                    return Err(Some(fail("illegal ipv6 netmask specified")));
                }
                e.svc.netmask = m.unsigned_abs();
            } else {
                let Some(m) = inet_aton(a).or_else(|| names.host_to_addr(a)) else {
                    return Err(Some(fail(
                        "illegal virtual server persistent mask specified",
                    )));
                };
                e.svc.netmask = u32::from_ne_bytes(m.octets());
            }
        }
        Tag::RealServer => {
            set_option(opts, Opt::Server)?;
            let mut t = e.svc.clone();
            let parse = parse_service(a, &mut t, names);
            e.dest.af = t.af;
            e.dest.addr = t.addr;
            e.dest.port = t.port;
            if parse & SERVICE_ADDR == 0 {
                return Err(Some(fail("illegal real server address[:port] specified")));
            }
            if parse == SERVICE_ADDR {
                e.dest.port = e.svc.port;
            }
        }
        Tag::Ipip | Tag::Gatewaying | Tag::Masq => {
            set_option(opts, Opt::Forward)?;
            e.dest.conn_flags = match tag {
                Tag::Ipip => FWD_TUNNEL,
                Tag::Gatewaying => FWD_DROUTE,
                _ => FWD_MASQ,
            };
        }
        Tag::Weight => {
            set_option(opts, Opt::Weight)?;
            // Debian's ipvsadm accepts weights up to INT_MAX.
            e.dest.weight = narrow(number(a, 0, i64::from(i32::MAX), "weight")?);
        }
        Tag::UThreshold => {
            set_option(opts, Opt::UThreshold)?;
            e.dest.u_threshold = narrow(number(a, 0, i64::from(i32::MAX), "u_threshold")?);
        }
        Tag::LThreshold => {
            set_option(opts, Opt::LThreshold)?;
            e.dest.l_threshold = narrow(number(a, 0, i64::from(i32::MAX), "l_threshold")?);
        }
        Tag::Connection => set_option(opts, Opt::Connection)?,
        Tag::Numeric => {
            set_option(opts, Opt::Numeric)?;
            e.format |= fmt::NUMERIC;
        }
        Tag::McastInterface => {
            set_option(opts, Opt::Mcast)?;
            e.daemon.ifn = truncated(a, 15);
        }
        Tag::SyncId => {
            set_option(opts, Opt::SyncId)?;
            e.daemon.syncid = narrow(number(a, 0, 255, "syncid")?);
        }
        Tag::Timeout => set_option(opts, Opt::Timeout)?,
        Tag::Daemon => set_option(opts, Opt::Daemon)?,
        Tag::Stats => format_option(e, Opt::Stats, fmt::STATS)?,
        Tag::Rate => format_option(e, Opt::Rate, fmt::RATE)?,
        Tag::Thresholds => format_option(e, Opt::Thresholds, fmt::THRESHOLDS)?,
        Tag::PersistentConn => format_option(e, Opt::PersistentConn, fmt::PERSISTENTCONN)?,
        Tag::NoSort => format_option(e, Opt::NoSort, fmt::NOSORT)?,
        Tag::Sort => {}
        Tag::Exact => format_option(e, Opt::Exact, fmt::EXACT)?,
        Tag::TunInfo => format_option(e, Opt::TunInfo, fmt::TUN_INFO)?,
        Tag::Json => format_option(e, Opt::Json, fmt::JSON)?,
        Tag::Ipv6 => {
            if e.svc.fwmark == 0 {
                return Err(Some(fail("-6 used before -f\n")));
            }
            e.svc.af = AF_INET6;
            e.svc.netmask = 128;
        }
        Tag::Ops => {
            set_option(opts, Opt::OnePacket)?;
            e.svc.flags |= F_ONEPACKET;
        }
        Tag::Pe => {
            set_option(opts, Opt::PersistenceEngine)?;
            e.svc.pe = truncated(a, 15);
        }
        Tag::SchedFlags => {
            set_option(opts, Opt::SchedFlags)?;
            *sched_flags = a.chars().take(127).collect();
        }
        Tag::McastGroup => {
            set_option(opts, Opt::McastGroup)?;
            e.daemon.group = Some(parse_mcast_group(a)?);
        }
        Tag::McastPort => {
            set_option(opts, Opt::McastPort)?;
            e.daemon.port = narrow(number(a, 1, 65535, "mcast-port")?);
        }
        Tag::McastTtl => {
            set_option(opts, Opt::McastTtl)?;
            e.daemon.ttl = narrow(number(a, 1, 255, "mcast-ttl")?);
        }
        Tag::SyncMaxlen => {
            set_option(opts, Opt::SyncMaxlen)?;
            e.daemon.sync_maxlen = narrow(number(a, 1, 65535 - 20 - 8, "sync-maxlen")?);
        }
        Tag::TunType => {
            set_option(opts, Opt::TunType)?;
            e.dest.tun_type = match a {
                "ipip" => 0,
                "gue" => 1,
                "gre" => 2,
                _ => return Err(Some(fail("illegal tunnel type specified"))),
            };
        }
        Tag::TunPort => {
            set_option(opts, Opt::TunPort)?;
            e.dest.tun_port = narrow(number(a, 1, 65535, "tunnel port")?);
        }
        Tag::TunNocsum => set_option(opts, Opt::TunNocsum)?,
        Tag::TunCsum => {
            set_option(opts, Opt::TunCsum)?;
            e.dest.tun_flags |= 1;
        }
        Tag::TunRemcsum => {
            set_option(opts, Opt::TunRemcsum)?;
            e.dest.tun_flags |= 2;
        }
        // A second command, -h, -v: "invalid option".
        _ => return Err(None),
    }
    Ok(())
}

fn format_option(e: &mut Entry, o: Opt, f: u32) -> Result<(), Stop> {
    set_option(&mut e.options, o)?;
    e.format |= f;
    Ok(())
}

fn parse_mcast_group(a: &str) -> Result<IpAddr, Stop> {
    if a.contains(':') {
        match a.parse::<Ipv6Addr>() {
            Ok(g) if g.is_multicast() => Ok(IpAddr::V6(g)),
            _ => Err(fail(format!("invalid IPv6 mcast-group `{a}'"))),
        }
    } else {
        match crate::cvt::inet_pton4(a) {
            Some(g) if g.is_multicast() => Ok(IpAddr::V4(g)),
            _ => Err(fail(format!("invalid IPv4 mcast-group `{a}'"))),
        }
    }
}

/// The address of `addr` bytes in family `af`.
pub fn ip_of(af: u16, addr: &[u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*addr))
    } else {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    }
}

/// The key of the service named on the command line.
pub fn service_key_exact(svc: &Svc) -> ipvs::ServiceKey {
    if svc.fwmark != 0 {
        let family = if svc.af == AF_INET6 {
            ipvs::Family::Inet6
        } else {
            ipvs::Family::Inet
        };
        return ipvs::ServiceKey::Fwmark {
            family,
            mark: svc.fwmark,
        };
    }
    ipvs::ServiceKey::Addr {
        protocol: proto_of(svc.protocol).unwrap_or(ipvs::Protocol::Tcp),
        addr: ip_of(svc.af, &svc.addr),
        port: svc.port,
    }
}

/// The service's key, or `None` for "every service" (fwmark, address and
/// port all zero, as `ipvs_zero_service` decides).
pub fn service_key(svc: &Svc) -> Option<ipvs::ServiceKey> {
    if svc.fwmark == 0 && svc.addr == [0; 16] && svc.port == 0 {
        return None;
    }
    Some(service_key_exact(svc))
}

#[cfg(test)]
mod tests;
