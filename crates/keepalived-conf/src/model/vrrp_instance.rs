//! `vrrp_instance NAME { ... }`.

#![allow(
    clippy::many_single_char_names,
    reason = "b = builder, n = node, c = child line: the same three names in every handler"
)]

use serde::{Deserialize, Serialize};

use super::instance_options::InstanceOptions;
use super::ipconf::{address, route, rule, Authentication, UnicastPeer};
use super::vrrp::track_refs;
use super::{keywords, Builder, Route, Rule, Setting, TrackRef, VirtualAddress};
use crate::tree::Node;
use crate::values::TIMER_MAX;

/// A VRRP instance. Defaults are keepalived's (advert_int 1 s; an unset
/// priority is 255 for `state MASTER` and 100 otherwise, see
/// [`crate::complete::effective_priority`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    pub line: usize,
    pub state: Option<String>,
    pub state_line: usize,
    pub interface: Option<String>,
    pub interface_line: usize,
    pub virtual_router_id: Option<u8>,
    pub priority: Option<u8>,
    /// Microseconds.
    pub advert_int: u64,
    pub version: Option<u8>,
    pub virtual_ipaddress: Vec<VirtualAddress>,
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    pub virtual_routes: Vec<Route>,
    pub virtual_rules: Vec<Rule>,
    pub unicast_src_ip: Option<String>,
    pub unicast_peer: Vec<UnicastPeer>,
    pub mcast_src_ip: Option<String>,
    pub track_interface: Vec<TrackRef>,
    pub track_script: Vec<TrackRef>,
    pub track_file: Vec<TrackRef>,
    pub track_process: Vec<TrackRef>,
    pub nopreempt: bool,
    /// Microseconds.
    pub preempt_delay: u64,
    pub authentication: Option<Authentication>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_fault: Option<String>,
    pub notify_stop: Option<String>,
    pub notify_deleted: Option<String>,
    pub notify: Option<String>,
    pub notify_master_rx_lower_pri: Option<String>,
    pub use_vmac: Option<String>,
    pub accept: Option<bool>,
    pub strict_mode: Option<bool>,
    pub garp_master_delay: Option<u64>,
    pub garp_master_repeat: Option<u64>,
    pub garp_master_refresh: Option<u64>,
    pub garp_master_refresh_repeat: Option<u64>,
    pub lvs_sync_daemon_interface: Option<String>,
    /// The less common keywords, typed.
    pub options: InstanceOptions,
    /// Keywords keepalived knows that have no typed field, as written.
    pub other: Vec<Setting>,
}

pub(crate) fn instance(b: &mut Builder<'_>, n: &Node) -> VrrpInstance {
    let mut v = VrrpInstance {
        name: n.arg(0).unwrap_or_default().to_string(),
        line: n.line,
        state: None,
        state_line: 0,
        interface: None,
        interface_line: 0,
        virtual_router_id: None,
        priority: None,
        advert_int: 1_000_000,
        version: None,
        virtual_ipaddress: Vec::new(),
        virtual_ipaddress_excluded: Vec::new(),
        virtual_routes: Vec::new(),
        virtual_rules: Vec::new(),
        unicast_src_ip: None,
        unicast_peer: Vec::new(),
        mcast_src_ip: None,
        track_interface: Vec::new(),
        track_script: Vec::new(),
        track_file: Vec::new(),
        track_process: Vec::new(),
        nopreempt: false,
        preempt_delay: 0,
        authentication: None,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify_deleted: None,
        notify: None,
        notify_master_rx_lower_pri: None,
        use_vmac: None,
        accept: None,
        strict_mode: None,
        garp_master_delay: None,
        garp_master_repeat: None,
        garp_master_refresh: None,
        garp_master_refresh_repeat: None,
        lvs_sync_daemon_interface: None,
        options: InstanceOptions::default(),
        other: Vec::new(),
    };
    let iname = v.name.clone();
    for c in n.children() {
        if !b.known(c, keywords::VRRP_INSTANCE) {
            continue;
        }
        match c.keyword() {
            "state" => {
                let s = c.arg(0).unwrap_or_default();
                if s == "BACKUP" && v.state.as_deref() == Some("MASTER") {
                    b.error(
                        c,
                        format!("({iname}) state previously set as MASTER - ignoring BACKUP"),
                    );
                } else if s != "MASTER" && s != "BACKUP" {
                    b.error(
                        c,
                        format!("({iname}) unknown state '{s}', defaulting to BACKUP"),
                    );
                    v.state = Some("BACKUP".to_string());
                    v.state_line = c.line;
                } else {
                    v.state = Some(s.to_string());
                    v.state_line = c.line;
                }
            }
            "interface" => {
                v.interface = c.arg(0).map(str::to_string);
                v.interface_line = c.line;
            }
            "virtual_router_id" => {
                let a = c.arg(0).unwrap_or_default();
                match crate::values::parse_unsigned(a, 1, 255) {
                    Ok(id) => v.virtual_router_id = u8::try_from(id).ok(),
                    Err(e) => {
                        b.number_error(c, e);
                        b.error(
                            c,
                            format!("({iname}): VRID '{a}' not valid - must be between 1 & 255"),
                        );
                    }
                }
            }
            "priority" => {
                let a = c.arg(0).unwrap_or_default();
                match crate::values::parse_unsigned(a, 1, 255) {
                    Ok(p) => v.priority = u8::try_from(p).ok(),
                    Err(e) => {
                        b.number_error(c, e);
                        b.error(
                        c,
                        format!(
                                "({iname}) Priority not valid! must be between 1 & 255. Using default 100"
                            ),
                        );
                    }
                }
            }
            "advert_int" => {
                let a = c.arg(0).unwrap_or_default();
                match crate::values::parse_timer(a, 10_000, 255_000_000) {
                    Ok(t) => v.advert_int = t,
                    Err(e) => {
                        b.number_error(c, e);
                        b.error(
                            c,
                            format!(
                                "({iname}) Advert interval ({a}) not valid! Must be > 0 - ignoring"
                            ),
                        );
                    }
                }
            }
            "version" => v.version = b.unsigned(c, 0, 2, 3).and_then(|x| u8::try_from(x).ok()),
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                let excluded = c.keyword() == "virtual_ipaddress_excluded";
                let mut addrs = Vec::new();
                for a in c.children() {
                    if let Some(addr) = address(b, a, true) {
                        addrs.push(addr);
                    }
                }
                if excluded {
                    v.virtual_ipaddress_excluded.extend(addrs);
                } else {
                    v.virtual_ipaddress.extend(addrs);
                }
            }
            "virtual_routes" => {
                for r in c.children() {
                    if let Some(r) = route(b, r, false) {
                        v.virtual_routes.push(r);
                    }
                }
            }
            "virtual_rules" => {
                for r in c.children() {
                    if let Some(r) = rule(b, r) {
                        v.virtual_rules.push(r);
                    }
                }
            }
            "unicast_src_ip" => {
                let a = c.arg(0).unwrap_or_default();
                if a.parse::<std::net::IpAddr>().is_ok() {
                    v.unicast_src_ip = Some(a.to_string());
                } else {
                    b.error(
                        c,
                        format!("Configuration error: VRRP instance[{iname}] malformed src address[{a}]. Skipping..."),
                    );
                }
            }
            "mcast_src_ip" => v.mcast_src_ip = c.arg(0).map(str::to_string),
            "unicast_peer" => {
                if c.children().is_empty() {
                    // keepalived still counts it as a unicast keyword.
                    v.other.push(Setting::from_node(c));
                }
                for p in c.children() {
                    if p.keyword().parse::<std::net::IpAddr>().is_err() {
                        b.error(
                            p,
                            format!(
                                "Configuration error: VRRP instance[{iname}] malformed unicast peer address[{}]. Skipping...",
                                p.keyword()
                            ),
                        );
                        continue;
                    }
                    let mut peer = UnicastPeer {
                        address: p.keyword().to_string(),
                        min_ttl: None,
                        max_ttl: None,
                    };
                    let mut i = 0;
                    while i < p.args().len() {
                        match p.args()[i].as_str() {
                            "min_ttl" => peer.min_ttl = b.unsigned(p, i + 1, 0, 255),
                            "max_ttl" => peer.max_ttl = b.unsigned(p, i + 1, 0, 255),
                            other => b.error(p, format!("Unknown unicast_peer option {other}")),
                        }
                        i += 2;
                    }
                    v.unicast_peer.push(peer);
                }
            }
            "track_interface" => v.track_interface = track_refs(b, c),
            "track_script" => v.track_script = track_refs(b, c),
            "track_file" => v.track_file = track_refs(b, c),
            "track_process" => v.track_process = track_refs(b, c),
            "nopreempt" => v.nopreempt = true,
            "preempt" => v.nopreempt = false,
            "preempt_delay" => {
                if let Some(t) = b.timer(c, 0, 0, 1_000_000_000) {
                    v.preempt_delay = t;
                }
            }
            "authentication" => {
                let mut auth = Authentication {
                    auth_type: None,
                    auth_pass: None,
                };
                for a in c.children() {
                    if !b.known(a, keywords::AUTHENTICATION) {
                        continue;
                    }
                    if a.keyword() == "auth_type" {
                        let t = a.arg(0).unwrap_or_default();
                        if t == "PASS" || t == "AH" {
                            auth.auth_type = Some(t.to_string());
                        } else {
                            b.error(a, format!("({iname}) unknown authentication type '{t}'"));
                        }
                    } else {
                        let pass = a.arg(0).unwrap_or_default();
                        if pass.len() > 8 {
                            b.error(a, "Truncating auth_pass to 8 characters");
                        }
                        auth.auth_pass = Some(pass.chars().take(8).collect());
                    }
                }
                v.authentication = Some(auth);
            }
            "notify_master" => v.notify_master = Some(c.script_text()),
            "notify_backup" => v.notify_backup = Some(c.script_text()),
            "notify_fault" => v.notify_fault = Some(c.script_text()),
            "notify_stop" => v.notify_stop = Some(c.script_text()),
            "notify_deleted" => v.notify_deleted = Some(c.script_text()),
            "notify" => v.notify = Some(c.script_text()),
            "notify_master_rx_lower_pri" => v.notify_master_rx_lower_pri = Some(c.script_text()),
            "use_vmac" => v.use_vmac = Some(c.arg(0).unwrap_or_default().to_string()),
            "accept" => v.accept = Some(true),
            "no_accept" => v.accept = Some(false),
            "strict_mode" => v.strict_mode = Some(b.flag(c)),
            "garp_master_delay" => v.garp_master_delay = b.unsigned(c, 0, 0, u64::from(u32::MAX)),
            "garp_master_repeat" => v.garp_master_repeat = b.unsigned(c, 0, 1, u64::from(u32::MAX)),
            "garp_master_refresh" => {
                v.garp_master_refresh = b.unsigned(c, 0, 0, u64::from(u32::MAX));
            }
            "garp_master_refresh_repeat" => {
                v.garp_master_refresh_repeat = b.unsigned(c, 0, 1, u64::from(u32::MAX));
            }
            "lvs_sync_daemon_interface" => {
                v.lvs_sync_daemon_interface = c.arg(0).map(str::to_string);
                b.error(
                    c,
                    format!("({iname}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated."),
                );
                b.error(c, "        Please use global lvs_sync_daemon");
            }
            kw => {
                instance_keyword_checks(b, c, &iname, kw, &v.virtual_ipaddress);
                if !v.options.set(b, c) {
                    v.other.push(Setting::from_node(c));
                }
            }
        }
    }
    let _ = TIMER_MAX;
    if v.options.unicast_ttl.is_some() && v.unicast_peer.is_empty() {
        b.error(
            n,
            format!("({iname}): Cannot use unicast_ttl without unicast peers - resetting"),
        );
    }
    v
}

/// Parse-time messages for keywords kept as settings.
fn instance_keyword_checks(
    b: &mut Builder<'_>,
    c: &Node,
    iname: &str,
    kw: &str,
    vips: &[VirtualAddress],
) {
    match kw {
        "native_ipv6" if vips.iter().any(|a| a.address.is_ipv4()) => {
            b.error(c, format!("({iname}) Cannot specify native_ipv6 with IPv4 addresses"));
        }
        "linkbeat_use_polling" => b.error(
            c,
            format!("({iname}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block"),
        ),
        "garp_extra_if" | "vmac_garp_intvl" => {
            if kw == "vmac_garp_intvl" {
                b.error(c, "Keyword \"vmac_garp_intvl\" is deprecated - please use \"garp_extra_if\"");
            }
            if c.args().is_empty() {
                b.error(c, format!("({iname}): {kw} specified without time - ignoring"));
            }
        }
        "kernel_rx_buf_size" if c.args().is_empty() => {
            b.error(c, format!("({iname}) invalid kernel_rx_buf_size specified"));
        }
        _ => {}
    }
}
