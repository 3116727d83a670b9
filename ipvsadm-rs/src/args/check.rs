//! The checks ipvsadm runs once the whole line is read: the legality
//! table (`generic_opt_check`), the per-command rules of
//! `process_options`, and the tunnel options (`tunnel_opt_check`).

use super::table::{CMD_NAMES, LEGAL, OPT_NAMES};
use super::{fail, Cmd, Entry, Opt, Stop, FWD_DROUTE, FWD_TUNNEL, F_ONEPACKET, F_PERSISTENT};

/// `generic_opt_check`, then the per-command checks of `process_options`.
pub(super) fn check(e: &mut Entry) -> Result<(), Stop> {
    let i = e.cmd as usize;
    let row = LEGAL[i];
    let mut last = None;
    for (j, &rule) in row.iter().enumerate() {
        let set = e.options & (1u64 << j) != 0;
        if !set {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                )));
            }
            continue;
        }
        if rule == b'x' {
            return Err(fail(format!(
                "Illegal '{}' option with the '{}' command",
                OPT_NAMES[j], CMD_NAMES[i]
            )));
        }
        if rule == b'1' {
            if let Some(l) = last {
                return Err(fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' command",
                    OPT_NAMES[j], OPT_NAMES[l], CMD_NAMES[i]
                )));
            }
            last = Some(j);
        }
    }
    if matches!(e.cmd, Cmd::Add | Cmd::Edit) {
        if e.svc.fwmark == 0 && e.svc.port == 0 && e.svc.flags & F_PERSISTENT == 0 {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        if e.svc.flags & F_ONEPACKET != 0 && e.svc.fwmark == 0 && e.svc.protocol != 17 {
            return Err(fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if e.svc.sched.is_empty() {
            e.svc.sched = "wlc".into();
        }
    }
    if e.cmd == Cmd::StartDaemon && e.daemon.ifn.is_empty() {
        e.daemon.ifn = "eth0".into();
    }
    let fwd = e.dest.conn_flags & 7;
    if matches!(e.cmd, Cmd::AddDest | Cmd::EditDest) {
        if e.svc.fwmark == 0 && (fwd == FWD_TUNNEL || fwd == FWD_DROUTE) {
            e.dest.port = e.svc.port;
        }
        if e.dest.af != e.svc.af && fwd != FWD_TUNNEL {
            return Err(fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun = [
            Opt::TunType,
            Opt::TunPort,
            Opt::TunNocsum,
            Opt::TunCsum,
            Opt::TunRemcsum,
        ];
        if tun.iter().any(|o| e.has(*o)) && fwd != FWD_TUNNEL {
            return Err(fail("Tunnel options conflict with forward method"));
        }
        tunnel_check(e)?;
    }
    if e.cmd == Cmd::List {
        let any = |os: &[Opt]| os.iter().any(|o| e.has(*o));
        if (any(&[Opt::Connection, Opt::Timeout, Opt::Daemon])
            && any(&[Opt::Stats, Opt::Rate, Opt::Thresholds]))
            || (any(&[Opt::Timeout, Opt::Daemon]) && e.has(Opt::PersistentConn))
        {
            return Err(fail("options conflicts in the list command"));
        }
    }
    Ok(())
}

/// `tunnel_opt_check` with `tunnel_types_v_options`.
fn tunnel_check(e: &Entry) -> Result<(), Stop> {
    const TYPES: [&str; 3] = ["ipip", "gue", "gre"];
    const OPTS: [Opt; 4] = [Opt::TunPort, Opt::TunNocsum, Opt::TunCsum, Opt::TunRemcsum];
    const RULES: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];
    let t = usize::from(e.dest.tun_type);
    let mut last = None;
    for (j, o) in OPTS.iter().enumerate() {
        let name = OPT_NAMES[*o as usize];
        let rule = RULES[t][j];
        if !e.has(*o) {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{name}' option for the '{}' tunnel type",
                    TYPES[t]
                )));
            }
            continue;
        }
        if rule == b'x' {
            return Err(fail(format!(
                "Illegal '{name}' option with the '{}' tunnel type",
                TYPES[t]
            )));
        }
        if rule == b'1' {
            if let Some(l) = last {
                return Err(fail(format!(
                    "The option '{name}' conflicts with the '{l}' option in the '{}' tunnel type",
                    TYPES[t]
                )));
            }
            last = Some(name);
        }
    }
    Ok(())
}
