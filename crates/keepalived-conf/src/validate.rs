//! The checks keepalived makes after reading the file: references between
//! blocks, VRRP rules, script security and, through [`Host`], whether the
//! interfaces and scripts named exist on this machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostics, Location, Severity};
use crate::lexer::split_escaped;
use crate::model::{Config, VsAddress};

/// What validation needs to know about the machine it runs on.
pub trait Host {
    fn interface_exists(&self, name: &str) -> bool;
    /// Whether a script command's executable resolves to an existing file
    /// (bare names are searched in `PATH`).
    fn script_exists(&self, program: &str) -> bool;
    /// Whether a user account exists (keepalived's default script user is
    /// `keepalived_script`).
    fn user_exists(&self, name: &str) -> bool;
    /// For an existing script path: whether it is a regular file (keepalived
    /// disables a directory or device "due to insecure").
    fn script_is_regular_file(&self, _program: &str) -> bool {
        true
    }
}

/// The machine we run on: `/sys/class/net` and `PATH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

impl Host for SystemHost {
    fn interface_exists(&self, name: &str) -> bool {
        !name.is_empty()
            && !name.contains('/')
            && name != "."
            && name != ".."
            && Path::new("/sys/class/net").join(name).exists()
    }

    fn script_exists(&self, program: &str) -> bool {
        if program.contains('/') {
            // Anything that exists counts: keepalived then finds a directory
            // insecure rather than missing (see `script_is_regular_file`).
            return Path::new(program).exists();
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).any(|d| d.join(program).is_file())
    }

    fn script_is_regular_file(&self, program: &str) -> bool {
        !program.contains('/') || Path::new(program).is_file()
    }

    fn user_exists(&self, name: &str) -> bool {
        std::fs::read_to_string("/etc/passwd")
            .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
    }
}

/// A host with a fixed set of interfaces and scripts, for tests.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    pub interfaces: BTreeSet<String>,
    pub scripts: BTreeSet<String>,
    pub users: BTreeSet<String>,
}

impl Host for FakeHost {
    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.contains(name)
    }
    fn script_exists(&self, program: &str) -> bool {
        self.scripts.contains(program)
    }
    fn user_exists(&self, name: &str) -> bool {
        self.users.contains(name)
    }
}

struct Ctx<'a> {
    diags: &'a mut Diagnostics,
    file: Option<PathBuf>,
}

impl Ctx<'_> {
    fn at(&mut self, line: usize, msg: String) {
        let loc = Location {
            file: self.file.clone(),
            line,
        };
        self.diags.report(Severity::GeneralError, &loc, msg);
    }
}

/// Is this script actually run (an existing executable, not a `</path` test)?
/// The program of a script command line, unless it is a `</path` test.
fn program(command: &str) -> Option<String> {
    let args = split_escaped(command).ok()?;
    let prog = args.into_iter().next()?;
    match prog.strip_prefix('<') {
        Some(rest) if rest.trim_start_matches([' ', '\t']).starts_with('/') => None,
        _ => Some(prog),
    }
}

fn is_script<H: Host + ?Sized>(host: &H, command: &str) -> bool {
    let Ok(args) = split_escaped(command) else {
        return false;
    };
    let Some(prog) = args.first() else {
        return false;
    };
    if let Some(rest) = prog.strip_prefix('<') {
        if rest.trim_start_matches([' ', '\t']).starts_with('/') {
            return false;
        }
    }
    host.script_exists(prog)
}

/// The VRRP process's checks. It stops right after reading if an interface
/// named in the file does not exist (`Non-existent interface specified in
/// configuration`), skipping its later checks, as vrrp_daemon.c does.
pub fn vrrp<H: Host + ?Sized>(
    cfg: &mut Config,
    host: &H,
    main_file: &Path,
    diags: &mut Diagnostics,
) {
    let mut cx = Ctx {
        diags,
        file: Some(main_file.to_path_buf()),
    };
    if vrrp_while_reading(cfg, host, &mut cx) {
        cx.diags.report_global(
            Severity::BadInterface,
            "Non-existent interface specified in configuration",
        );
    } else {
        vrrp_after_reading(cfg, host, &mut cx);
    }
}

/// The checker process's checks on virtual servers and check scripts.
pub fn checker<H: Host + ?Sized>(
    cfg: &Config,
    host: &H,
    main_file: &Path,
    diags: &mut Diagnostics,
) {
    let mut cx = Ctx {
        diags,
        file: Some(main_file.to_path_buf()),
    };
    let has_check_script = cfg
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .any(|r| {
            r.notify_up.is_some()
                || r.notify_down.is_some()
                || r.checkers.iter().any(|c| c.misc_path.is_some())
        });
    if has_check_script && no_default_script_user(cfg, host) {
        cx.at(
            0,
            "Unable to set default user keepalived_script for script".to_string(),
        );
    }
    virtual_servers(cfg, &mut cx);
    check_script_security(cfg, host, cx.diags);
}

/// The checks keepalived's VRRP handlers make while reading. Returns true
/// when an interface does not exist.
fn vrrp_while_reading<H: Host + ?Sized>(cfg: &mut Config, host: &H, cx: &mut Ctx<'_>) -> bool {
    let dynamic = cfg.global_defs.dynamic_interfaces;
    let exists = |name: &str| dynamic || host.interface_exists(name);
    let mut bad_if = false;

    // vrrp_script blocks without a script, or without a user to run as
    // under script security, are removed.
    let no_user = default_user(cfg, host) != DefaultUser::Found;
    // Only the missing keepalived_script account is an error of its own.
    let mut user_reported = !no_default_script_user(cfg, host);
    let mut kept = Vec::new();
    for s in std::mem::take(&mut cfg.vrrp_scripts) {
        if s.script.is_none() {
            cx.at(
                s.line,
                format!("No script set for vrrp_script {} - removing", s.name),
            );
        } else if no_user && s.user.is_none() {
            if !user_reported {
                cx.at(
                    s.line,
                    "Unable to set default user keepalived_script for script".to_string(),
                );
                user_reported = true;
            }
            cx.at(
                s.line,
                format!(
                    "Unable to set default user for vrrp script {} - removing",
                    s.name
                ),
            );
        } else {
            kept.push(s);
        }
    }
    cfg.vrrp_scripts = kept;
    let has_notify = cfg.vrrp_instances.iter().any(|v| {
        [
            &v.notify_master,
            &v.notify_backup,
            &v.notify_fault,
            &v.notify_stop,
            &v.notify,
        ]
        .iter()
        .any(|n| n.is_some())
    });
    if no_default_script_user(cfg, host) && !user_reported && has_notify {
        cx.at(
            0,
            "Unable to set default user keepalived_script for script".to_string(),
        );
    }

    for a in &cfg.static_ipaddress {
        if let Some(dev) = a.dev.as_deref().filter(|d| !exists(d)) {
            cx.at(
                a.line,
                format!(
                    "WARNING - interface {dev} for ip address {} doesn't exist",
                    a.address
                ),
            );
            bad_if = true;
        }
    }
    for r in &cfg.static_routes {
        for dev in r.devs.iter().filter(|d| !exists(d)) {
            cx.at(
                r.line,
                format!("WARNING - interface {dev} for VROUTE nexthop doesn't exist"),
            );
            bad_if = true;
        }
    }

    for v in &cfg.vrrp_instances {
        let name = &v.name;
        if let Some(ifname) = v.interface.as_deref().filter(|i| !exists(i)) {
            cx.at(
                v.interface_line,
                format!("WARNING - interface {ifname} for vrrp_instance {name} doesn't exist"),
            );
            bad_if = true;
        }
        for t in v.track_interface.iter().filter(|t| !exists(&t.name)) {
            cx.at(
                t.line,
                format!("({name}) tracked interface {} doesn't exist", t.name),
            );
            bad_if = true;
        }
        for t in &v.track_script {
            if !cfg.vrrp_scripts.iter().any(|s| s.name == t.name) {
                cx.at(
                    t.line,
                    format!("({name}) track script {} not found, ignoring...", t.name),
                );
            }
        }
        for a in v
            .virtual_ipaddress
            .iter()
            .chain(&v.virtual_ipaddress_excluded)
        {
            if let Some(dev) = a.dev.as_deref().filter(|d| !exists(d)) {
                cx.at(
                    a.line,
                    format!(
                        "WARNING - interface {dev} for ip address {} doesn't exist",
                        a.address
                    ),
                );
                bad_if = true;
            }
        }
        if let Some(first) = v.virtual_ipaddress.first() {
            let fam = first.address.is_ipv4();
            for a in v
                .virtual_ipaddress
                .iter()
                .filter(|a| a.address.is_ipv4() != fam)
            {
                let text = match a.prefix_len {
                    Some(p) => format!("{}/{p}", a.address),
                    None => a.address.to_string(),
                };
                cx.at(
                    a.line,
                    format!(
                        "({name}): address family must match VRRP instance [{text}] - ignoring"
                    ),
                );
            }
        }
        for r in &v.virtual_routes {
            for dev in r.devs.iter().filter(|d| !exists(d)) {
                cx.at(
                    r.line,
                    format!("WARNING - interface {dev} for VROUTE nexthop doesn't exist"),
                );
                bad_if = true;
            }
        }
    }
    bad_if
}

/// keepalived's `vrrp_complete_init`: runs only when every interface exists.
fn vrrp_after_reading<H: Host + ?Sized>(cfg: &mut Config, host: &H, cx: &mut Ctx<'_>) {
    // Script security comes first in vrrp_complete_init.
    vrrp_script_security(cfg, host, cx.diags);
    // chk_min_cfg: the first incomplete instance ends the VRRP checks.
    for v in &cfg.vrrp_instances {
        if v.virtual_router_id.is_none() {
            cx.at(0, format!("({}) the virtual router id must be set", v.name));
            return;
        }
        if v.interface.is_none() && v.unicast_peer.is_empty() {
            cx.at(0, format!("({}) Unknown interface!", v.name));
            return;
        }
    }
    let instance_names: BTreeSet<String> =
        cfg.vrrp_instances.iter().map(|v| v.name.clone()).collect();
    let mut in_group: BTreeSet<&str> = BTreeSet::new();
    for g in &cfg.vrrp_sync_groups {
        if g.group.is_empty() {
            cx.at(
                0,
                format!("Sync group {} has no virtual router(s). removing", g.name),
            );
            continue;
        }
        let mut members = 0;
        for m in &g.group {
            if !instance_names.contains(m) {
                cx.at(
                    0,
                    format!(
                        "Virtual router {m} specified in sync group {} doesn't exist - ignoring",
                        g.name
                    ),
                );
            } else if !in_group.insert(m.as_str()) {
                cx.at(
                    0,
                    format!(
                        "Virtual router {m} cannot exist in more than one sync group; ignoring {}",
                        g.name
                    ),
                );
            } else {
                members += 1;
            }
        }
        if members == 0 {
            cx.at(0, format!("Sync group {}, no matching virtual router found in group declaration - removing", g.name));
        } else if members == 1 {
            cx.at(0, format!("Sync group {} has only 1 virtual router(s) - this probably isn't what you want", g.name));
        }
    }
    for v in &mut cfg.vrrp_instances {
        for m in crate::complete::instance(v, &cfg.global_defs) {
            cx.at(0, m);
        }
    }
    duplicate_vrids(cfg, host, cx);
}

/// The checker process's `check_data` checks on virtual servers.
fn virtual_servers(cfg: &Config, cx: &mut Ctx<'_>) {
    for vs in &cfg.virtual_servers {
        let mut name = format_vs(vs);
        if vs.real_servers.is_empty() {
            cx.at(
                0,
                format!("Virtual server {name} has no real servers - ignoring"),
            );
            continue;
        }
        let is_fwmark = |m: &Vec<String>| m.first().is_some_and(|w| w == "fwmark");
        let (any_fwmark, any_addr) = match &vs.address {
            VsAddress::Fwmark(_) => (true, false),
            VsAddress::Group(g) => {
                let members: Vec<&Vec<String>> = cfg
                    .virtual_server_groups
                    .iter()
                    .filter(|grp| &grp.name == g)
                    .flat_map(|grp| grp.members.iter())
                    .collect();
                (
                    members.iter().any(|m| is_fwmark(m)),
                    members.iter().any(|m| !is_fwmark(m)),
                )
            }
            VsAddress::IpPort { .. } => (false, true),
        };
        if vs.ha_suspend && any_fwmark {
            cx.at(0, format!("Virtual server {name}: cannot use ha_suspend with fwmarks - clearing ha_suspend"));
        }
        if vs.protocol.is_some() && any_fwmark && !any_addr {
            cx.at(0, format!("Warning: Virtual server {name}: protocol specified for fwmark - protocol will be ignored"));
        }
        if vs.persistence_timeout.is_none() {
            let zero = |p: Option<&String>| p.is_none_or(|p| p.bytes().all(|b| b == b'0'));
            let zero_port = match &vs.address {
                VsAddress::IpPort { port, .. } => zero(port.as_ref()),
                VsAddress::Group(g) => cfg
                    .virtual_server_groups
                    .iter()
                    .filter(|grp| &grp.name == g)
                    .flat_map(|grp| grp.members.iter())
                    .any(|m| !is_fwmark(m) && zero(m.get(1))),
                VsAddress::Fwmark(_) => false,
            };
            if zero_port {
                cx.at(0, format!("Virtual server {name}: zero port only valid for persistent services - setting"));
            }
        }
        if any_addr && vs.protocol.is_none() {
            cx.at(
                0,
                format!("Virtual server {name}: no protocol set - defaulting to UDP"),
            );
            name = name.replacen(":none:", ":udp:", 1);
        }
        let rs_without_method = vs
            .real_servers
            .iter()
            .any(|rs| !rs.other.iter().any(|o| o.keyword == "lvs_method"));
        if vs.lb_kind.is_none() && rs_without_method {
            cx.at(
                0,
                format!("Virtual server {name}: no forwarding method set, setting default NAT"),
            );
        }
        if vs.lb_algo.is_none() {
            cx.at(
                0,
                format!("Virtual server {name}: no scheduler set, setting default 'wlc'"),
            );
        }
    }
}

/// Whether keepalived can find the user to run scripts as: `script_user`
/// if given (it must exist), else `keepalived_script` if it exists, else
/// root unless script security is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultUser {
    Found,
    /// `script_user` names no account.
    ConfiguredMissing,
    /// Script security needs `keepalived_script` and it does not exist.
    DefaultMissing,
}

fn default_user<H: Host + ?Sized>(cfg: &Config, host: &H) -> DefaultUser {
    match cfg.global_defs.script_user.as_ref().and_then(|u| u.first()) {
        Some(user) if host.user_exists(user) => DefaultUser::Found,
        Some(_) => DefaultUser::ConfiguredMissing,
        None if host.user_exists("keepalived_script") => DefaultUser::Found,
        None if cfg.global_defs.enable_script_security => DefaultUser::DefaultMissing,
        None => DefaultUser::Found,
    }
}

fn no_default_script_user<H: Host + ?Sized>(cfg: &Config, host: &H) -> bool {
    default_user(cfg, host) == DefaultUser::DefaultMissing
}

/// keepalived's `FMT_VS`: `[ip]:proto:port`, `FWM n` or `[group]:0`.
fn format_vs(vs: &crate::model::VirtualServer) -> String {
    match &vs.address {
        VsAddress::Fwmark(m) => format!("FWM {m}"),
        VsAddress::Group(g) => format!("[{g}]:0"),
        VsAddress::IpPort { ip, port } => {
            let proto = match vs.protocol.as_deref() {
                Some("TCP") => "tcp",
                Some("UDP") => "udp",
                Some("SCTP") => "sctp",
                _ => "none",
            };
            format!("[{ip}]:{proto}:{}", port.as_deref().unwrap_or("0"))
        }
    }
}

/// Two instances may not share a VRID on one interface and address family
/// (multicast), or with a common unicast peer.
fn duplicate_vrids<H: Host + ?Sized>(cfg: &Config, host: &H, cx: &mut Ctx<'_>) {
    use std::collections::BTreeMap;
    let mut by_key: BTreeMap<(String, u8, u8), Vec<usize>> = BTreeMap::new();
    for (i, v) in cfg.vrrp_instances.iter().enumerate() {
        let (Some(ifname), Some(vrid)) = (&v.interface, v.virtual_router_id) else {
            continue;
        };
        if !host.interface_exists(ifname) {
            continue;
        }
        let family = match v.virtual_ipaddress.first() {
            Some(a) if a.address.is_ipv6() => 6,
            _ => 4,
        };
        by_key
            .entry((ifname.clone(), family, vrid))
            .or_default()
            .push(i);
    }
    for ((ifname, family, vrid), members) in &by_key {
        for (n, &a) in members.iter().enumerate() {
            for &b in &members[n + 1..] {
                let (va, vb) = (&cfg.vrrp_instances[a], &cfg.vrrp_instances[b]);
                match (va.unicast_peer.is_empty(), vb.unicast_peer.is_empty()) {
                    (true, true) => cx.at(
                        0,
                        format!(
                            "{} and {} both use VRID {vrid} with IPv{family} on interface {ifname}",
                            va.name, vb.name
                        ),
                    ),
                    (false, false) => {
                        let shared = va
                            .unicast_peer
                            .iter()
                            .any(|p| vb.unicast_peer.iter().any(|q| q.address == p.address));
                        if shared {
                            cx.at(
                                0,
                                format!(
                                    "({}) duplicate VRID conflict with {} VRID {vrid}",
                                    va.name, vb.name
                                ),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn vrrp_script_security<H: Host + ?Sized>(cfg: &Config, host: &H, diags: &mut Diagnostics) {
    // keepalived checks VRRP scripts only when there are VRRP instances.
    if cfg.vrrp_instances.is_empty() {
        return;
    }
    let g = &cfg.global_defs;
    for s in &cfg.vrrp_scripts {
        if let Some(cmd) = &s.script {
            if is_system_check(cmd) {
                continue;
            }
            if !is_script(host, cmd) {
                diags.report_global(
                    Severity::GeneralError,
                    format!(
                        "Disabling track script {} since not found/accessible",
                        s.name
                    ),
                );
            } else if program(cmd).is_some_and(|p| !host.script_is_regular_file(&p)) {
                diags.report_global(
                    Severity::GeneralError,
                    format!("Disabling track script {} due to insecure", s.name),
                );
            }
        }
    }
    if g.enable_script_security {
        return;
    }
    let mut scripts: Vec<&String> = cfg
        .vrrp_scripts
        .iter()
        .filter_map(|s| s.script.as_ref())
        .collect();
    // Without a user to run them as, keepalived drops notify scripts
    // ("Failed to set default user ... - ignoring"), so they run nowhere.
    let notify_dropped = default_user(cfg, host) != DefaultUser::Found;
    for v in cfg.vrrp_instances.iter().filter(|_| !notify_dropped) {
        scripts.extend(
            [
                &v.notify_master,
                &v.notify_backup,
                &v.notify_fault,
                &v.notify_stop,
                &v.notify_deleted,
                &v.notify,
                &v.notify_master_rx_lower_pri,
            ]
            .into_iter()
            .flatten(),
        );
    }
    for s in cfg.vrrp_sync_groups.iter().filter(|_| !notify_dropped) {
        scripts.extend(
            [
                &s.notify_master,
                &s.notify_backup,
                &s.notify_fault,
                &s.notify_stop,
                &s.notify,
            ]
            .into_iter()
            .flatten(),
        );
    }
    scripts.extend(
        [&g.notify_fifo_script, &g.vrrp_notify_fifo_script]
            .into_iter()
            .flatten(),
    );
    if scripts.iter().any(|s| is_script(host, s)) {
        diags.report_global(
            Severity::Security,
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        );
    }
}

/// Checker scripts (checked whatever the VRRP side did).
fn check_script_security<H: Host + ?Sized>(cfg: &Config, host: &H, diags: &mut Diagnostics) {
    let g = &cfg.global_defs;
    if g.enable_script_security {
        return;
    }
    let mut check_scripts: Vec<&String> = Vec::new();
    for vs in &cfg.virtual_servers {
        for rs in &vs.real_servers {
            check_scripts.extend([&rs.notify_up, &rs.notify_down].into_iter().flatten());
            check_scripts.extend(rs.checkers.iter().filter_map(|c| c.misc_path.as_ref()));
        }
    }
    if check_scripts.iter().any(|s| is_script(host, s)) {
        diags.report_global(
            Severity::Security,
            "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.",
        );
    }
}

/// keepalived's main process: startup and shutdown scripts.
pub fn start_stop_scripts<H: Host + ?Sized>(cfg: &Config, host: &H, diags: &mut Diagnostics) {
    let g = &cfg.global_defs;
    if g.enable_script_security {
        return;
    }
    if [&g.startup_script, &g.shutdown_script]
        .into_iter()
        .flatten()
        .any(|s| is_script(host, s))
    {
        diags.report_global(
            Severity::Security,
            "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.",
        );
    }
}

/// `</path`: a check that a file can be opened, not a program to run.
fn is_system_check(command: &str) -> bool {
    let Ok(args) = split_escaped(command) else {
        return false;
    };
    args.first()
        .and_then(|p| p.strip_prefix('<'))
        .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('/'))
}
