//! global_defs, vrrp_script, track_file, vrrp_sync_group, vrrp_instance and
//! the address, route and rule lines shared with static_*.

#![allow(
    clippy::many_single_char_names,
    reason = "b = builder, n = node, c = child line: the same three names in every handler"
)]

use serde::{Deserialize, Serialize};

use super::{keywords, Builder, Setting};
use crate::tree::Node;
use crate::values::TIMER_MAX;

/// `global_defs`. Defaults are keepalived's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per keepalived on/off keyword"
)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<String>,
    pub vrrp_mcast_group4: String,
    pub vrrp_mcast_group6: String,
    /// Microseconds; 0 means not set.
    pub vrrp_garp_interval: u64,
    pub vrrp_gna_interval: u64,
    pub vrrp_garp_master_delay: u64,
    pub vrrp_garp_master_repeat: u64,
    pub vrrp_garp_master_refresh: u64,
    pub vrrp_garp_master_refresh_repeat: u64,
    pub vrrp_garp_lower_prio_delay: Option<u64>,
    pub vrrp_garp_lower_prio_repeat: Option<u64>,
    pub vrrp_version: u8,
    pub vrrp_strict: bool,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_lower_prio_no_advert: bool,
    pub vrrp_higher_prio_send_advert: bool,
    /// Microseconds.
    pub vrrp_startup_delay: u64,
    pub script_user: Option<Vec<String>>,
    pub enable_script_security: bool,
    pub notify_fifo: Option<Vec<String>>,
    pub notify_fifo_script: Option<String>,
    pub vrrp_notify_fifo: Option<Vec<String>>,
    pub vrrp_notify_fifo_script: Option<String>,
    pub lvs_sync_daemon: Option<Vec<String>>,
    pub lvs_timeouts: Option<Vec<String>>,
    pub lvs_flush: bool,
    pub dynamic_interfaces: bool,
    pub vmac_prefix: Option<String>,
    pub startup_script: Option<String>,
    pub shutdown_script: Option<String>,
    pub other: Vec<Setting>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        Self {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            vrrp_mcast_group4: "224.0.0.18".into(),
            vrrp_mcast_group6: "ff02::12".into(),
            vrrp_garp_interval: 0,
            vrrp_gna_interval: 0,
            vrrp_garp_master_delay: 5,
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: 0,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_version: 2,
            vrrp_strict: false,
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_startup_delay: 0,
            script_user: None,
            enable_script_security: false,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            lvs_sync_daemon: None,
            lvs_timeouts: None,
            lvs_flush: false,
            dynamic_interfaces: false,
            vmac_prefix: None,
            startup_script: None,
            shutdown_script: None,
            other: Vec::new(),
        }
    }
}

pub(crate) fn global_defs(b: &mut Builder<'_>, n: &Node, g: &mut GlobalDefs) {
    for c in n.children() {
        if !b.known(c, keywords::GLOBAL_DEFS) {
            continue;
        }
        let kw = c.keyword();
        let first = || c.arg(0).map(str::to_string);
        if c.args().is_empty() {
            if let Some((_, msg)) = super::missing_values::GLOBAL_VALUE_MISSING
                .iter()
                .find(|(k, _)| *k == kw)
            {
                if kw == "vrrp_vmac_garp_intvl" {
                    b.error(
                        c,
                        "Keyword \"vrrp_vmac_garp_intvl\" is deprecated - please use \"vrrp_garp_extra_if\"",
                    );
                }
                b.error(c, *msg);
                continue;
            }
        }
        match kw {
            "vrrp_iptables" => b.error(
                c,
                "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option",
            ),
            "notification_email" if c.children().is_empty() => {
                b.error(c, "Warning - empty notification_email block");
            }
            "router_id" => {
                g.router_id = first();
                if g.router_id.is_none() {
                    b.error(c, "routerid name missing - ignoring");
                }
            }
            "notification_email" => {
                g.notification_email
                    .extend(c.children().iter().flat_map(|e| e.words.clone()));
            }
            "notification_email_from" => g.notification_email_from = first(),
            "smtp_server" => g.smtp_server = first(),
            "vrrp_mcast_group4" => g.vrrp_mcast_group4 = first().unwrap_or_default(),
            "vrrp_mcast_group6" => g.vrrp_mcast_group6 = first().unwrap_or_default(),
            "vrrp_garp_interval" | "vrrp_gna_interval" => {
                let v = b.timer(c, 0, 1, TIMER_MAX);
                match v {
                    Some(v) if kw == "vrrp_garp_interval" => g.vrrp_garp_interval = v,
                    Some(v) => g.vrrp_gna_interval = v,
                    None => {
                        let a = c.arg(0).unwrap_or("");
                        b.error(c, format!("{kw} '{a}' is invalid"));
                    }
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some(v) = b.unsigned(c, 0, 0, u64::from(u32::MAX)) {
                    g.vrrp_garp_master_delay = v;
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(v) = b.unsigned(c, 0, 1, u64::from(u32::MAX)) {
                    g.vrrp_garp_master_repeat = v;
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(v) = b.unsigned(c, 0, 0, u64::from(u32::MAX)) {
                    g.vrrp_garp_master_refresh = v;
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some(v) = b.unsigned(c, 0, 1, u64::from(u32::MAX)) {
                    g.vrrp_garp_master_refresh_repeat = v;
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                g.vrrp_garp_lower_prio_delay = b.unsigned(c, 0, 0, u64::from(u32::MAX));
            }
            "vrrp_garp_lower_prio_repeat" => {
                g.vrrp_garp_lower_prio_repeat = b.unsigned(c, 0, 0, u64::from(u32::MAX));
            }
            "vrrp_version" => {
                if let Some(v) = b.unsigned(c, 0, 2, 3) {
                    g.vrrp_version = u8::try_from(v).unwrap_or(2);
                }
            }
            "vrrp_strict" => g.vrrp_strict = true,
            "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = true,
            "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = true,
            "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = b.flag(c),
            "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = b.flag(c),
            "vrrp_startup_delay" => {
                if let Some(v) = b.timer(c, 0, 0, TIMER_MAX) {
                    g.vrrp_startup_delay = v;
                }
            }
            "script_user" => g.script_user = Some(c.args().to_vec()),
            "enable_script_security" => g.enable_script_security = true,
            "notify_fifo" => g.notify_fifo = Some(c.args().to_vec()),
            "notify_fifo_script" => g.notify_fifo_script = Some(c.script_text()),
            "vrrp_notify_fifo" => g.vrrp_notify_fifo = Some(c.args().to_vec()),
            "vrrp_notify_fifo_script" => {
                g.vrrp_notify_fifo_script = Some(c.script_text());
            }
            "lvs_sync_daemon" => g.lvs_sync_daemon = Some(c.args().to_vec()),
            "lvs_timeouts" => g.lvs_timeouts = Some(c.args().to_vec()),
            "lvs_flush" => g.lvs_flush = true,
            "dynamic_interfaces" => g.dynamic_interfaces = true,
            "vmac_prefix" => g.vmac_prefix = first(),
            "startup_script" => g.startup_script = Some(c.script_text()),
            "shutdown_script" => g.shutdown_script = Some(c.script_text()),
            _ => g.other.push(Setting::from_node(c)),
        }
    }
}

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpScript {
    pub name: String,
    pub line: usize,
    pub script: Option<String>,
    /// Microseconds (default 1 s).
    pub interval: u64,
    pub timeout: Option<u64>,
    pub weight: i64,
    pub weight_reverse: bool,
    pub rise: u64,
    pub fall: u64,
    pub user: Option<Vec<String>>,
    pub init_fail: bool,
}

pub(crate) fn vrrp_script(b: &mut Builder<'_>, n: &Node) -> VrrpScript {
    let mut s = VrrpScript {
        name: n.arg(0).unwrap_or_default().to_string(),
        line: n.line,
        script: None,
        interval: 1_000_000,
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        init_fail: false,
    };
    let name = s.name.clone();
    for c in n.children() {
        if !b.known(c, keywords::VRRP_SCRIPT) {
            continue;
        }
        let a = c.arg(0).unwrap_or_default().to_string();
        match c.keyword() {
            "script" => s.script = Some(c.script_text()),
            "interval" | "timeout" => {
                let what = c.keyword();
                match crate::values::parse_unsigned(&a, 0, 4294) {
                    Err(e) => {
                        b.number_error(c, e);
                        let msg = if what == "interval" {
                            format!("({name}): vrrp script interval '{a}' must be between 1 and 4294 - ignoring")
                        } else {
                            format!("({name}): vrrp script timeout '{a}' invalid - ignoring")
                        };
                        b.error(c, msg);
                    }
                    Ok(v) => {
                        let v = if v == 0 {
                            b.error(
                                c,
                                format!("({name}): vrrp script {what} must be greater than 0, setting to 1"),
                            );
                            1
                        } else {
                            v
                        };
                        if what == "interval" {
                            s.interval = v * 1_000_000;
                        } else {
                            s.timeout = Some(v * 1_000_000);
                        }
                    }
                }
            }
            "weight" => {
                match crate::values::parse_int(&a, -253, 253) {
                    Ok(v) => s.weight = v,
                    Err(e) => {
                        b.number_error(c, e);
                        b.error(
                            c,
                            format!("vrrp_script {name} weight {a} must be in [-253, 253]"),
                        );
                    }
                }
                match c.arg(1) {
                    Some("reverse") => s.weight_reverse = true,
                    Some(o) => b.error(c, format!("vrrp_script {name} unknown weight option {o}")),
                    None => {}
                }
            }
            "rise" | "fall" => {
                let what = c.keyword();
                let v = match crate::values::parse_unsigned(&a, 1, i32::MAX.unsigned_abs().into()) {
                    Ok(v) => v,
                    Err(e) => {
                        b.number_error(c, e);
                        b.error(
                            c,
                            format!(
                                "({name}): vrrp script {what} value '{a}' invalid, defaulting to 1"
                            ),
                        );
                        1
                    }
                };
                if what == "rise" {
                    s.rise = v;
                } else {
                    s.fall = v;
                }
            }
            "user" => s.user = Some(c.args().to_vec()),
            _ => s.init_fail = true,
        }
    }
    s
}

/// `track_file NAME { file PATH weight N init_file ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackFile {
    pub name: String,
    pub file: Option<String>,
    pub weight: i64,
    pub weight_reverse: bool,
    pub init_file: Option<Vec<String>>,
}

pub(crate) fn track_file(b: &mut Builder<'_>, n: &Node) -> TrackFile {
    let mut t = TrackFile {
        name: n.arg(0).unwrap_or_default().to_string(),
        file: None,
        weight: 1,
        weight_reverse: false,
        init_file: None,
    };
    for c in n.children() {
        if !b.known(c, keywords::TRACK_FILE) {
            continue;
        }
        match c.keyword() {
            "file" => {
                t.file = c.arg(0).map(str::to_string);
                if t.file.is_none() {
                    b.error(c, "track file file name missing");
                }
            }
            "weight" if c.args().is_empty() => b.error(
                c,
                format!("No weight specified for track file {} - ignoring", t.name),
            ),
            "weight" => {
                t.weight = b.int(c, 0, -254, 254).unwrap_or(1);
                t.weight_reverse = c.arg(1) == Some("reverse");
            }
            _ => t.init_file = Some(c.args().to_vec()),
        }
    }
    if t.file.is_none() {
        b.error(
            n,
            format!("No file set for track_file {} - ignoring", t.name),
        );
    }
    t
}

/// A tracked object in `track_interface`, `track_script`, ...: name and weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRef {
    pub name: String,
    pub weight: Option<i64>,
    pub reverse: bool,
    pub line: usize,
}

pub(crate) fn track_refs(b: &mut Builder<'_>, n: &Node) -> Vec<TrackRef> {
    let mut v = Vec::new();
    for c in n.children() {
        let mut t = TrackRef {
            name: c.keyword().to_string(),
            weight: None,
            reverse: false,
            line: c.line,
        };
        if c.arg(0) == Some("weight") {
            t.weight = b.int(c, 1, -254, 254);
            t.reverse = c.arg(2) == Some("reverse");
        }
        v.push(t);
    }
    v
}

/// `vrrp_sync_group NAME { group { ... } ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncGroup {
    pub name: String,
    pub line: usize,
    pub group: Vec<String>,
    pub track_interface: Vec<TrackRef>,
    pub track_script: Vec<TrackRef>,
    pub track_file: Vec<TrackRef>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_fault: Option<String>,
    pub notify_stop: Option<String>,
    pub notify: Option<String>,
    pub other: Vec<Setting>,
}

pub(crate) fn sync_group(b: &mut Builder<'_>, n: &Node) -> SyncGroup {
    let mut g = SyncGroup {
        name: n.arg(0).unwrap_or_default().to_string(),
        line: n.line,
        group: Vec::new(),
        track_interface: Vec::new(),
        track_script: Vec::new(),
        track_file: Vec::new(),
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
        other: Vec::new(),
    };
    for c in n.children() {
        if !b.known(c, keywords::SYNC_GROUP) {
            continue;
        }
        let script = || Some(c.script_text());
        match c.keyword() {
            "group" => g
                .group
                .extend(c.children().iter().flat_map(|m| m.words.clone())),
            "track_interface" => g.track_interface = track_refs(b, c),
            "track_script" => g.track_script = track_refs(b, c),
            "track_file" => g.track_file = track_refs(b, c),
            "notify_master" => g.notify_master = script(),
            "notify_backup" => g.notify_backup = script(),
            "notify_fault" => g.notify_fault = script(),
            "notify_stop" => g.notify_stop = script(),
            "notify" => g.notify = script(),
            _ => g.other.push(Setting::from_node(c)),
        }
    }
    g
}

pub(crate) use super::vrrp_instance::instance;
pub use super::vrrp_instance::VrrpInstance;
