//! Carrying out a parsed command against the kernel (ipvsadm's
//! `process_options` switch and listing functions).

use std::io::Write;

use ipvs::{
    Client, Daemon, DaemonRole, Destination, Family, ForwardMethod, Name, Netmask, Op, Service,
    ServiceFlags, ServiceKey, Timeouts, TunnelChecksum, TunnelType,
};

use crate::args::{self, fmt, Cmd, Entry, Opt, Stop};
use crate::list;
use crate::names::Names;
use crate::text::{ipvs_strerror, Func};

/// Output streams: stdout buffered like C's (flushed at exit), stderr not.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

impl Io<'_> {
    pub fn out(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }
    pub fn err(&mut self, s: &str) {
        let _ = self.err.write_all(s.as_bytes());
    }
}

/// How a command ended: a status for `main` (or for `-R`'s next line), or
/// an immediate process exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Status(i32),
    Exit(i32),
}

/// The state shared by the commands of one process.
#[derive(Debug)]
pub struct Ctx {
    pub client: Client,
    pub info: ipvs::Info,
    pub names: Names,
    pub program: String,
}

/// Prints a parse stop; returns how the process goes on.
pub fn report_stop(stop: Stop, io: &mut Io) -> Flow {
    match stop {
        Stop::Exit {
            code,
            stdout,
            stderr,
        } => {
            io.out(&stdout);
            io.err(&stderr);
            Flow::Exit(code)
        }
        Stop::Soft(msg) => {
            io.err(&msg);
            Flow::Status(-1)
        }
    }
}

fn kernel_error(func: Func, e: &ipvs::Error) -> String {
    match e.errno() {
        Some(errno) => ipvs_strerror(func, errno),
        None => e.to_string(),
    }
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap_or_else(|_| Name::new("wlc").expect("wlc is a valid name"))
}

/// The service `e` describes, for add and edit.
pub fn service(e: &Entry) -> Service {
    let key = service_key_exact(e);
    let mut s = Service::new(key);
    s.scheduler = name(&e.svc.sched);
    s.flags = ServiceFlags::from_bits_retain(e.svc.flags);
    s.timeout = e.svc.timeout;
    s.netmask = if key.family() == Family::Inet6 {
        Netmask::V6(u8::try_from(e.svc.netmask).unwrap_or(128))
    } else {
        Netmask::V4(e.svc.netmask.to_ne_bytes().into())
    };
    s.pe_name = (!e.svc.pe.is_empty()).then(|| name(&e.svc.pe));
    s
}

fn service_key_exact(e: &Entry) -> ServiceKey {
    args::service_key_exact(&e.svc)
}

/// The destination `e` describes.
pub fn destination(e: &Entry) -> Destination {
    let mut d = Destination::new(args::ip_of(e.dest.af, &e.dest.addr), e.dest.port);
    d.forward = match e.dest.conn_flags & 7 {
        0 => ForwardMethod::Masq,
        2 => ForwardMethod::Tunnel,
        _ => ForwardMethod::Route,
    };
    d.weight = e.dest.weight;
    d.upper_threshold = e.dest.u_threshold;
    d.lower_threshold = e.dest.l_threshold;
    d.tunnel_type = match e.dest.tun_type {
        1 => TunnelType::Gue,
        2 => TunnelType::Gre,
        _ => TunnelType::Ipip,
    };
    d.tunnel_port = e.dest.tun_port;
    d.tunnel_checksum = match e.dest.tun_flags {
        0 => TunnelChecksum::None,
        1 => TunnelChecksum::Csum,
        _ => TunnelChecksum::RemCsum,
    };
    d
}

/// The table change `e` asks for, if it is one `-R` may pipeline.
pub fn table_op(e: &Entry) -> Option<(Op, Func)> {
    let key = service_key_exact(e);
    Some(match e.cmd {
        Cmd::Add => (Op::AddService(service(e)), Func::AddService),
        Cmd::Edit => (Op::EditService(service(e)), Func::EditService),
        Cmd::Del => (Op::DelService(key), Func::DelService),
        Cmd::AddDest => (Op::AddDest(key, destination(e)), Func::AddDest),
        Cmd::EditDest => (Op::EditDest(key, destination(e)), Func::EditDest),
        Cmd::DelDest => {
            let d = destination(e);
            (Op::DelDest(key, d.addr, d.port), Func::DelDest)
        }
        _ => return None,
    })
}

/// Runs one parsed command (not `-R`).
pub fn execute(e: &Entry, ctx: &mut Ctx, io: &mut Io) -> Flow {
    let result: Result<(), (Func, ipvs::Error)> = match e.cmd {
        Cmd::List => return list(e, ctx, io),
        Cmd::Save => return list_all(e.format | fmt::RULE, ctx, io),
        Cmd::Restore => return Flow::Exit(255),
        Cmd::Flush => ctx.client.flush().map_err(|x| (Func::Other, x)),
        Cmd::Zero => ctx
            .client
            .zero(args::service_key(&e.svc).as_ref())
            .map_err(|x| (Func::Zero, x)),
        Cmd::Timeout => {
            let [tcp, tcp_fin, udp] = e.timeouts;
            ctx.client
                .set_timeouts(&Timeouts { tcp, tcp_fin, udp })
                .map_err(|x| (Func::Other, x))
        }
        Cmd::StartDaemon => {
            let role = if e.daemon.state == 2 {
                DaemonRole::Backup
            } else {
                DaemonRole::Master
            };
            let mut d = Daemon::new(role, &e.daemon.ifn);
            d.sync_id = e.daemon.syncid;
            d.sync_maxlen = e.daemon.sync_maxlen;
            d.mcast_group = e.daemon.group;
            d.mcast_port = e.daemon.port;
            d.mcast_ttl = e.daemon.ttl;
            ctx.client
                .start_daemon(&d)
                .map_err(|x| (Func::StartDaemon, x))
        }
        Cmd::StopDaemon => {
            let role = if e.daemon.state == 2 {
                DaemonRole::Backup
            } else {
                DaemonRole::Master
            };
            ctx.client
                .stop_daemon(role)
                .map_err(|x| (Func::StopDaemon, x))
        }
        _ => match table_op(e) {
            Some((op, func)) => match ctx.client.apply_ops(&[op]).pop() {
                Some(Err(x)) => Err((func, x)),
                _ => Ok(()),
            },
            None => Ok(()),
        },
    };
    match result {
        Ok(()) => Flow::Status(0),
        Err((func, x)) => {
            io.err(&format!("{}\n", kernel_error(func, &x)));
            Flow::Status(-1)
        }
    }
}

fn list(e: &Entry, ctx: &mut Ctx, io: &mut Io) -> Flow {
    let json = e.format & fmt::JSON != 0;
    if e.has(Opt::Connection) {
        if json {
            io.err("--json is not available with --connection\n");
            return Flow::Exit(2);
        }
        return crate::conn::list(e.format, &mut ctx.names, io);
    }
    if e.has(Opt::Service) {
        let key = service_key_exact(e);
        let svc = match ctx.client.service(&key) {
            Ok(s) => s,
            Err(x) => {
                io.err(&format!("{}\n", kernel_error(Func::GetService, &x)));
                return Flow::Exit(1);
            }
        };
        let dests = match ctx.client.destinations(&svc.key) {
            Ok(d) => d,
            Err(x) => {
                io.err(&format!("{}\n", kernel_error(Func::GetDests, &x)));
                return Flow::Exit(1);
            }
        };
        let mut table = vec![(svc, dests)];
        if json {
            io.out(&crate::json::table(ctx.info, &mut table, e.format));
        } else {
            io.out(&list::title(e.format));
            let (s, d) = &table[0];
            let mut text = String::new();
            list::service_entry(&mut text, s, d, e.format, &mut ctx.names);
            io.out(&text);
        }
        return Flow::Status(0);
    }
    if e.has(Opt::Timeout) {
        return match ctx.client.timeouts() {
            Ok(t) if json => {
                io.out(&crate::json::timeouts(&t));
                Flow::Status(0)
            }
            Ok(t) => {
                io.out(&list::timeouts(&t));
                Flow::Status(0)
            }
            Err(_) => Flow::Exit(1),
        };
    }
    if e.has(Opt::Daemon) {
        return match ctx.client.daemons() {
            Ok(d) if json => {
                io.out(&crate::json::daemons(&d));
                Flow::Status(0)
            }
            Ok(d) => {
                io.out(&list::daemons(&d));
                Flow::Status(0)
            }
            Err(_) => Flow::Exit(1),
        };
    }
    list_all(e.format, ctx, io)
}

/// `list_all`: the header, the titles and every service (or the rules).
///
/// As ipvsadm: one service dump, sorted, then each service's destinations
/// in that order; a failure to get them prints the error after the
/// services already listed and exits 1. The destinations come from
/// `/proc/net/ip_vs` (the whole table in a few reads) wherever that text
/// tells everything the format prints, and from the kernel's per-service
/// dump otherwise (see `ipvs::procfs` and docs/ipvsadm.md).
pub fn list_all(format: u32, ctx: &mut Ctx, io: &mut Io) -> Flow {
    let json = format & fmt::JSON != 0;
    if format & (fmt::RULE | fmt::JSON) == 0 {
        io.out(&list::header(ctx.info));
    }
    let services = match ctx.client.services() {
        Ok(s) => s,
        Err(x) => {
            io.err(&format!("{}\n", kernel_error(Func::GetServices, &x)));
            return Flow::Exit(1);
        }
    };
    // Counters, thresholds and persistent connections are not in /proc.
    let detailed = fmt::STATS | fmt::RATE | fmt::THRESHOLDS | fmt::PERSISTENTCONN | fmt::JSON;
    let from_proc = if format & detailed == 0 && !services.is_empty() {
        ipvs::ProcDestinations::read_for(&services).ok()
    } else {
        None
    };
    let tunnel_params = format & (fmt::RULE | fmt::TUN_INFO) != 0;
    let mut services: Vec<&Service> = services.iter().collect();
    if format & fmt::NOSORT == 0 {
        list::sort_services(&mut services);
    }
    let dests_of = |client: &mut Client, s: &Service| {
        from_proc
            .as_ref()
            .and_then(|p| p.destinations(&s.key, tunnel_params))
            .map_or_else(|| client.destinations(&s.key), Ok)
    };
    if json {
        let mut table = Vec::with_capacity(services.len());
        for s in services {
            match dests_of(&mut ctx.client, s) {
                Ok(d) => table.push((s.clone(), d)),
                Err(x) => {
                    io.err(&format!("{}\n", kernel_error(Func::GetDests, &x)));
                    return Flow::Exit(1);
                }
            }
        }
        io.out(&crate::json::table(ctx.info, &mut table, format));
        return Flow::Status(0);
    }
    io.out(&list::title(format));
    let mut text = String::with_capacity(64 * 1024);
    for s in services {
        match dests_of(&mut ctx.client, s) {
            Ok(d) => list::service_entry(&mut text, s, &d, format, &mut ctx.names),
            Err(x) => {
                io.out(&text);
                io.err(&format!("{}\n", kernel_error(Func::GetDests, &x)));
                return Flow::Exit(1);
            }
        }
        if text.len() >= 60 * 1024 {
            io.out(&text);
            text.clear();
        }
    }
    io.out(&text);
    Flow::Status(0)
}
