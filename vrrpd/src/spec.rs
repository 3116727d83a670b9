//! What one `vrrp_instance` asks for, resolved from the keepalived-conf model with
//! keepalived 2.2.7's defaults. Pure: no sockets, no clock. Two specs compare equal
//! exactly when a reload must leave the instance alone.

use std::net::IpAddr;
use std::time::Duration;

use keepalived_conf::complete;
use keepalived_conf::model::{GlobalDefs, Route, Rule, TrackRef, VirtualAddress, VrrpInstance};
use keepalived_conf::Config;
use vrrp::{AdvertInterval, Auth, InitialState, V3Ipv4Checksum, Version};

/// The address family an instance advertises in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
}

/// Gratuitous ARP / NA schedule (keepalived's `garp_master_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garp {
    /// Second burst after becoming master (0: none). keepalived default 5 s.
    pub delay: Duration,
    /// Messages per address per burst. Default 5.
    pub repeat: u32,
    /// Periodic refresh while master (0: off).
    pub refresh: Duration,
    /// Messages per address per refresh. Default 1.
    pub refresh_repeat: u32,
    /// A master hearing a lower priority announces again: this many per address
    /// (`garp_lower_prio_repeat`, default the global garp repeat; 0 in strict mode)…
    pub lower_prio_repeat: u32,
    /// …and again after this delay (`garp_lower_prio_delay`, default the global delay).
    pub lower_prio_delay: Duration,
}

/// Notify scripts, each as argv.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scripts {
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    pub generic: Option<Vec<String>>,
    pub master_rx_lower_pri: Option<Vec<String>>,
    /// `notify_deleted [script]`: a removed instance reports DELETED, not FAULT.
    pub notify_deleted: bool,
    pub deleted: Option<Vec<String>>,
}

/// One instance, resolved.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per keepalived instance switch"
)]
pub struct InstanceSpec {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub family: Family,
    pub version: Version,
    /// Configured priority (before tracking weights).
    pub priority: u8,
    pub interval: AdvertInterval,
    pub auth: Auth,
    pub preempt: bool,
    pub preempt_delay: Duration,
    pub initial_state: InitialState,
    /// `unicast_src_ip` / `mcast_src_ip` (one field in keepalived).
    pub unicast_src: Option<IpAddr>,
    pub peers: Vec<IpAddr>,
    /// `unicast_ttl`: TTL / hop limit of unicast adverts (keepalived: 255 over IPv4,
    /// the system default over IPv6, when unset).
    pub unicast_ttl: Option<u8>,
    /// The multicast group (`mcast_dst_ip`, else `vrrp_mcast_group4|6`).
    pub group: IpAddr,
    pub vips: Vec<VirtualAddress>,
    pub excluded: Vec<VirtualAddress>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    pub garp: Garp,
    pub scripts: Scripts,
    pub track_interfaces: Vec<TrackRef>,
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub use_vmac: Option<String>,
    pub accept: bool,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub down_timer_adverts: u32,
    pub check_unicast_src: bool,
    pub skip_check_adv_addr: bool,
    pub v3_checksum: V3Ipv4Checksum,
    /// The sync group this instance belongs to.
    pub sync_group: Option<String>,
    /// Do not go to FAULT when the instance's own interface is down.
    pub dont_track_primary: bool,
}

impl InstanceSpec {
    /// Where the instance's socket lives: a new one is needed when this changes.
    pub fn socket_key(&self) -> (String, Family) {
        (self.send_interface(), self.family)
    }

    /// The interface adverts go out on: the VMAC interface when `use_vmac` is set.
    pub fn send_interface(&self) -> String {
        match &self.use_vmac {
            Some(name) if !name.is_empty() => name.clone(),
            Some(_) => format!("vrrp.{}", self.vrid),
            None => self.interface.clone(),
        }
    }

    /// The VIPs carried in adverts (the instance's family only).
    pub fn advert_addresses(&self) -> vrrp::Addresses {
        match self.family {
            Family::V4 => vrrp::Addresses::V4(
                self.vips
                    .iter()
                    .filter_map(|a| match a.address {
                        IpAddr::V4(v) => Some(v),
                        IpAddr::V6(_) => None,
                    })
                    .collect(),
            ),
            Family::V6 => vrrp::Addresses::V6(
                self.vips
                    .iter()
                    .filter_map(|a| match a.address {
                        IpAddr::V6(v) => Some(v),
                        IpAddr::V4(_) => None,
                    })
                    .collect(),
            ),
        }
    }

    /// The core's configuration for this spec and its primary address.
    pub fn machine_config(&self, primary: IpAddr, priority: u8) -> vrrp::Config {
        let mut c = vrrp::Config::new(self.version, priority, self.interval, primary);
        c.preempt = self.preempt;
        c.preempt_delay = self.preempt_delay;
        c.lower_prio_no_advert = self.lower_prio_no_advert;
        c.higher_prio_send_advert = self.higher_prio_send_advert;
        c.down_timer_adverts = self.down_timer_adverts;
        c.initial_state = self.initial_state;
        c
    }

    /// What the receive checks expect.
    pub fn expectations(&self) -> vrrp::Expectations {
        vrrp::Expectations {
            version: self.version,
            vrid: self.vrid,
            auth: self.auth,
            interval: self.interval,
            addresses: Some(self.advert_addresses()),
            unicast: !self.peers.is_empty(),
            allowed_sources: self.check_unicast_src.then(|| self.peers.clone()),
        }
    }
}

/// Splits a script command line as keepalived does (quotes and escapes).
pub fn argv(text: &str) -> Option<Vec<String>> {
    let words = keepalived_conf::lexer::split_escaped(text)
        .unwrap_or_else(|_| text.split_whitespace().map(str::to_string).collect());
    (!words.is_empty()).then_some(words)
}

fn script(text: Option<&String>) -> Option<Vec<String>> {
    text.and_then(|t| argv(t))
}

fn interval(version: Version, micros: u64) -> AdvertInterval {
    let fallback = AdvertInterval::from_secs(1).expect("1 s is a valid interval");
    match version {
        Version::V2 => {
            let secs = micros.div_ceil(1_000_000).clamp(1, 255);
            AdvertInterval::from_secs(u16::try_from(secs).unwrap_or(1)).unwrap_or(fallback)
        }
        Version::V3 => {
            let centis = (micros / 10_000).clamp(1, u64::from(AdvertInterval::MAX_V3_CENTIS));
            AdvertInterval::from_centis(u16::try_from(centis).unwrap_or(100)).unwrap_or(fallback)
        }
    }
}

fn auth(v: &VrrpInstance, version: Version, family: Family) -> Auth {
    if version != Version::V2 || family != Family::V4 {
        return Auth::None;
    }
    match &v.authentication {
        Some(a) if a.auth_type.as_deref() == Some("PASS") => {
            Auth::password(a.auth_pass.as_deref().unwrap_or_default())
        }
        _ => Auth::None,
    }
}

fn secs(v: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(v.unwrap_or(default))
}

fn count(v: Option<u64>, default: u64) -> u32 {
    u32::try_from(v.unwrap_or(default)).unwrap_or(u32::MAX)
}

fn group(family: Family, instance: Option<&str>, g: &GlobalDefs) -> IpAddr {
    let global = match family {
        Family::V4 => g.vrrp_mcast_group4.as_str(),
        Family::V6 => g.vrrp_mcast_group6.as_str(),
    };
    instance
        .and_then(|s| s.parse::<IpAddr>().ok())
        .filter(|a| Family::of(*a) == family && a.is_multicast())
        .or_else(|| global.parse::<IpAddr>().ok().filter(IpAddr::is_multicast))
        .unwrap_or(match family {
            Family::V4 => IpAddr::V4(vrrp::packet::MULTICAST_V4),
            Family::V6 => IpAddr::V6(vrrp::packet::MULTICAST_V6),
        })
}

/// Resolves one instance; `None` when it lacks an interface or VRID (keepalived
/// refuses to start those).
pub fn instance(v: &VrrpInstance, config: &Config) -> Option<InstanceSpec> {
    let g: &GlobalDefs = &config.global_defs;
    let interface = v.interface.clone()?;
    let vrid = v.virtual_router_id?;
    let family = v
        .virtual_ipaddress
        .first()
        .map(|a| Family::of(a.address))
        .or_else(|| {
            v.unicast_src_ip
                .as_deref()
                .and_then(|s| s.parse().ok())
                .map(Family::of)
        })
        .unwrap_or(Family::V4);
    let version = if complete::effective_version(v, g) == 2 {
        Version::V2
    } else {
        Version::V3
    };
    let priority = complete::effective_priority(v);
    let initial_master = match v.state.as_deref() {
        Some(s) => s == "MASTER",
        None => priority == 255,
    };
    let peers: Vec<IpAddr> = v
        .unicast_peer
        .iter()
        .filter_map(|p| p.address.parse().ok())
        .collect();
    let opts = &v.options;
    let strict = v.strict_mode.unwrap_or(g.vrrp_strict);
    let sync_group = config
        .vrrp_sync_groups
        .iter()
        .find(|s| s.group.contains(&v.name))
        .map(|s| s.name.clone());
    let checksum = if opts.old_unicast_checksum.is_some() {
        V3Ipv4Checksum::MulticastGroupPseudoHeader
    } else {
        V3Ipv4Checksum::WithPseudoHeader
    };
    Some(InstanceSpec {
        name: v.name.clone(),
        interface,
        vrid,
        family,
        version,
        priority,
        interval: interval(version, v.advert_int),
        auth: auth(v, version, family),
        preempt: !v.nopreempt,
        preempt_delay: Duration::from_micros(v.preempt_delay),
        initial_state: if initial_master {
            InitialState::Master
        } else {
            InitialState::Backup
        },
        unicast_src: v
            .unicast_src_ip
            .as_deref()
            .or(v.mcast_src_ip.as_deref())
            .and_then(|s| s.parse().ok()),
        peers,
        group: group(family, opts.mcast_dst_ip.as_deref(), g),
        unicast_ttl: opts.unicast_ttl.and_then(|t| u8::try_from(t).ok()),
        // keepalived ignores VIPs of the other family ("address family must match").
        vips: v
            .virtual_ipaddress
            .iter()
            .filter(|a| Family::of(a.address) == family)
            .cloned()
            .collect(),
        excluded: v.virtual_ipaddress_excluded.clone(),
        routes: v.virtual_routes.clone(),
        rules: v.virtual_rules.clone(),
        garp: Garp {
            delay: secs(v.garp_master_delay, g.vrrp_garp_master_delay),
            repeat: count(v.garp_master_repeat, g.vrrp_garp_master_repeat),
            refresh: secs(v.garp_master_refresh, g.vrrp_garp_master_refresh),
            refresh_repeat: count(
                v.garp_master_refresh_repeat,
                g.vrrp_garp_master_refresh_repeat,
            ),
            lower_prio_repeat: if strict {
                0
            } else {
                count(
                    opts.garp_lower_prio_repeat
                        .or(g.vrrp_garp_lower_prio_repeat),
                    g.vrrp_garp_master_repeat,
                )
            },
            lower_prio_delay: if strict {
                Duration::ZERO
            } else {
                secs(
                    opts.garp_lower_prio_delay.or(g.vrrp_garp_lower_prio_delay),
                    g.vrrp_garp_master_delay,
                )
            },
        },
        scripts: Scripts {
            master: script(v.notify_master.as_ref()),
            backup: script(v.notify_backup.as_ref()),
            fault: script(v.notify_fault.as_ref()),
            stop: script(v.notify_stop.as_ref()),
            generic: script(v.notify.as_ref()),
            master_rx_lower_pri: script(v.notify_master_rx_lower_pri.as_ref()),
            notify_deleted: v.notify_deleted.is_some(),
            deleted: script(v.notify_deleted.as_ref()),
        },
        track_interfaces: v.track_interface.clone(),
        track_scripts: v.track_script.clone(),
        track_files: v.track_file.clone(),
        use_vmac: v.use_vmac.clone(),
        // keepalived: the owner and non-strict instances accept by default;
        // strict VRRPv2 never accepts (RFC 3768 has no Accept_Mode).
        accept: v.accept.unwrap_or(priority == 255 || !strict)
            && !(strict && version == Version::V2 && priority != 255),
        lower_prio_no_advert: opts
            .lower_prio_no_advert
            .unwrap_or(g.vrrp_lower_prio_no_advert),
        higher_prio_send_advert: opts
            .higher_prio_send_advert
            .unwrap_or(g.vrrp_higher_prio_send_advert),
        down_timer_adverts: opts
            .down_timer_adverts
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(3),
        check_unicast_src: opts.check_unicast_src || g.vrrp_check_unicast_src,
        skip_check_adv_addr: opts
            .skip_check_adv_addr
            .unwrap_or(g.vrrp_skip_check_adv_addr),
        v3_checksum: checksum,
        sync_group,
        dont_track_primary: opts.dont_track_primary,
    })
}

/// Every instance of the file that can run, in file order.
pub fn instances(config: &Config) -> Vec<InstanceSpec> {
    config
        .vrrp_instances
        .iter()
        .filter_map(|v| instance(v, config))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_conf::{check_str, FakeHost, ReadOptions};
    use std::path::Path;

    fn specs(text: &str) -> Vec<InstanceSpec> {
        let opts = ReadOptions {
            config_id: "n".into(),
            random_seed: 1,
        };
        let out = check_str(text, Path::new("t.conf"), &opts, &FakeHost::default());
        instances(&out.config)
    }

    #[test]
    fn defaults_are_keepalived_s() {
        let s = specs(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {\n 192.0.2.100\n 2001:db8::1\n }\n}\n",
        );
        let s = &s[0];
        assert_eq!(s.priority, 100);
        assert_eq!(s.version, Version::V2);
        assert_eq!(s.interval.centis(), 100);
        assert_eq!(s.garp.delay, Duration::from_secs(5));
        assert_eq!(s.garp.repeat, 5);
        assert_eq!(s.garp.refresh, Duration::ZERO);
        assert_eq!(
            s.vips.len(),
            1,
            "the IPv6 VIP is ignored in an IPv4 instance"
        );
        assert_eq!(s.initial_state, InitialState::Backup);
        assert!(s.preempt);
        assert_eq!(s.group, IpAddr::V4(vrrp::packet::MULTICAST_V4));
    }

    #[test]
    fn mcast_src_ip_and_groups() {
        let s = specs(
            "global_defs {\n vrrp_mcast_group4 224.0.0.100\n}\n             vrrp_instance A {\n interface eth0\n virtual_router_id 1\n mcast_src_ip 192.0.2.9\n              virtual_ipaddress {\n 192.0.2.1\n }\n}\n             vrrp_instance B {\n interface eth0\n virtual_router_id 2\n mcast_dst_ip 224.0.0.101\n              virtual_ipaddress {\n 192.0.2.2\n }\n}\n",
        );
        assert_eq!(s[0].unicast_src, Some("192.0.2.9".parse().unwrap()));
        assert_eq!(s[0].group, "224.0.0.100".parse::<IpAddr>().unwrap());
        assert_eq!(s[1].group, "224.0.0.101".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn same_text_same_spec() {
        let t = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 150\n \
                 notify \"/bin/echo x\"\n virtual_ipaddress {\n 192.0.2.1/24 label eth0:1\n }\n}\n";
        assert_eq!(specs(t), specs(t));
        assert_eq!(
            specs(t)[0].scripts.generic,
            Some(vec!["/bin/echo".to_string(), "x".to_string()])
        );
    }
}
