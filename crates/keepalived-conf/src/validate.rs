//! The checks keepalived makes after reading the file: references between
//! blocks, VRRP rules, script security and, through [`Host`], whether the
//! interfaces and scripts named exist on this machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostics, Location, Severity};
pub use crate::host::{FakeHost, Host, SystemHost};
use crate::model::{Config, VirtualAddress, VsAddress};
pub use crate::security::start_stop_scripts;
use crate::security::{
    check_script_security, default_user, no_default_script_user, vrrp_script_security, DefaultUser,
};

struct Ctx<'a> {
    diags: &'a mut Diagnostics,
    file: Option<PathBuf>,
}

impl<'a> Ctx<'a> {
    fn in_file(diags: &'a mut Diagnostics, main_file: &Path) -> Self {
        Ctx {
            diags,
            file: Some(main_file.to_path_buf()),
        }
    }

    fn at(&mut self, line: usize, msg: String) {
        let loc = Location {
            file: self.file.clone(),
            line,
        };
        self.diags.report(Severity::GeneralError, &loc, msg);
    }
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
    let mut cx = Ctx::in_file(diags, main_file);
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
    let mut cx = Ctx::in_file(diags, main_file);
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
/// Reports each address whose `dev` is not an interface; true if any.
fn missing_address_devs<'a>(
    cx: &mut Ctx<'_>,
    addresses: impl IntoIterator<Item = &'a VirtualAddress>,
    exists: &impl Fn(&str) -> bool,
) -> bool {
    let mut missing = false;
    for a in addresses {
        if let Some(dev) = a.dev.as_deref().filter(|d| !exists(d)) {
            // keepalived writes the prefix as the line gave it, if it did.
            let prefix = a.prefix_len.map(|p| format!("/{p}")).unwrap_or_default();
            cx.at(
                a.line,
                format!(
                    "WARNING - interface {dev} for ip address {}{prefix} doesn't exist",
                    a.address
                ),
            );
            missing = true;
        }
    }
    missing
}

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

    bad_if |= missing_address_devs(cx, &cfg.static_ipaddress, &exists);
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
        let addresses = v.virtual_ipaddress.iter();
        bad_if |= missing_address_devs(cx, addresses.chain(&v.virtual_ipaddress_excluded), &exists);
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
