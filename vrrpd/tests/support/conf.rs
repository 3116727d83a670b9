//! keepalived.conf text for the interop scenarios: one `Conf` per node, the
//! same text for keepalived and vrrpd.

use std::fmt::Write as _;

use super::{ip4, Lab};

/// A `vrrp_script`.
#[derive(Debug, Clone)]
pub struct Script {
    pub name: &'static str,
    /// The command (keepalived splits it on spaces).
    pub command: String,
    /// Seconds between runs (keepalived takes whole seconds, ≥ 1).
    pub interval: u32,
    /// Priority change while failing (0: the instance goes to FAULT).
    pub weight: i32,
}

/// A `vrrp_instance`.
#[derive(Debug, Clone)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "mirrors keepalived's independent on/off keywords"
)]
pub struct Instance {
    pub name: &'static str,
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// `advert_int` as written, e.g. `"1"` or `"0.1"`.
    pub advert: &'static str,
    /// `state MASTER` instead of `state BACKUP`.
    pub master: bool,
    pub nopreempt: bool,
    /// `preempt_delay` in seconds, as written.
    pub preempt_delay: Option<&'static str>,
    /// `track_interface` names.
    pub track_interfaces: Vec<&'static str>,
    /// `authentication { auth_type PASS auth_pass … }` (VRRPv2 only).
    pub pass: Option<&'static str>,
    /// Unicast peers (node numbers); `unicast_src_ip` is the node's own IPv4
    /// address, or its 2001:db8::N address when the VIPs are IPv6.
    pub unicast_peers: Vec<usize>,
    /// VIPs with prefix, e.g. `198.51.100.1/32`.
    pub vips: Vec<&'static str>,
    /// `virtual_ipaddress_excluded` (added on master, not advertised).
    pub excluded: Vec<&'static str>,
    /// `virtual_routes`, each as written (e.g. `203.0.113.0/24 dev eth0`).
    pub routes: Vec<&'static str>,
    /// `use_vmac` (the VIPs go on interface `vrrp.VRID`).
    pub use_vmac: bool,
    pub track_files: Vec<&'static str>,
    pub track_scripts: Vec<&'static str>,
    /// Run the lab's notify script (`notify`) for this instance.
    pub notify: bool,
    /// Also `notify_master|backup|fault|stop` with the lab's notify script,
    /// which then logs the keyword (e.g. `notify_master`) alone.
    pub state_scripts: bool,
}

impl Instance {
    /// VRRPv3, advert 0.1 s, VRID 51, `state BACKUP`, preempt, notify, one
    /// VIP 198.51.100.1/32.
    pub fn v3(priority: u8) -> Instance {
        Instance {
            name: "VI_1",
            version: 3,
            vrid: 51,
            priority,
            advert: "0.1",
            master: false,
            nopreempt: false,
            preempt_delay: None,
            track_interfaces: Vec::new(),
            pass: None,
            unicast_peers: Vec::new(),
            vips: vec!["198.51.100.1/32"],
            excluded: Vec::new(),
            routes: Vec::new(),
            use_vmac: false,
            track_files: Vec::new(),
            track_scripts: Vec::new(),
            notify: true,
            state_scripts: false,
        }
    }

    /// A second instance beside [`Instance::v3`]: `VI_2`, VRID 52, VIP
    /// 198.51.100.2/32, without the notify script.
    pub fn second(priority: u8) -> Instance {
        Instance {
            name: "VI_2",
            vrid: 52,
            vips: vec!["198.51.100.2/32"],
            notify: false,
            ..Instance::v3(priority)
        }
    }

    /// VRRPv2, advert 1 s, otherwise as [`Instance::v3`].
    pub fn v2(priority: u8) -> Instance {
        Instance {
            version: 2,
            advert: "1",
            ..Instance::v3(priority)
        }
    }
}

/// A node's whole configuration.
#[derive(Debug, Clone, Default)]
pub struct Conf {
    pub scripts: Vec<Script>,
    /// `vrrp_track_file NAME { file PATH }` (weight 1: the number in the file
    /// is added to the priority).
    pub track_files: Vec<(&'static str, String)>,
    pub instances: Vec<Instance>,
    /// `vrrp_sync_group G { group { … } }` over these instance names.
    pub sync_group: Vec<&'static str>,
    /// `vrrp_notify_fifo` in `global_defs`.
    pub notify_fifo: Option<String>,
}

impl Conf {
    pub fn one(instance: Instance) -> Conf {
        Conf {
            instances: vec![instance],
            ..Conf::default()
        }
    }

    /// The text for node `node` of `lab`.
    pub fn render(&self, node: usize, lab: &Lab) -> String {
        let fifo = self
            .notify_fifo
            .as_ref()
            .map(|f| format!("  vrrp_notify_fifo {f}\n"))
            .unwrap_or_default();
        let mut s = format!("global_defs {{\n  router_id n{node}\n{fifo}}}\n");
        for sc in &self.scripts {
            let _ = write!(
                s,
                "vrrp_script {} {{\n  script \"{}\"\n  interval {}\n  weight {}\n  fall 1\n  rise 1\n}}\n",
                sc.name, sc.command, sc.interval, sc.weight
            );
        }
        for (name, path) in &self.track_files {
            let _ = write!(
                s,
                "vrrp_track_file {name} {{\n  file {path}\n  weight 1\n}}\n"
            );
        }
        if !self.sync_group.is_empty() {
            let _ = write!(
                s,
                "vrrp_sync_group G {{\n  group {{\n    {}\n  }}\n}}\n",
                self.sync_group.join("\n    ")
            );
        }
        for i in &self.instances {
            let _ = write!(
                s,
                "vrrp_instance {} {{\n  version {}\n  state {}\n  interface eth0\n  \
                 virtual_router_id {}\n  priority {}\n  advert_int {}\n",
                i.name,
                i.version,
                if i.master { "MASTER" } else { "BACKUP" },
                i.vrid,
                i.priority,
                i.advert
            );
            if i.nopreempt {
                s.push_str("  nopreempt\n");
            }
            if let Some(d) = i.preempt_delay {
                let _ = writeln!(s, "  preempt_delay {d}");
            }
            if !i.track_interfaces.is_empty() {
                let _ = write!(
                    s,
                    "  track_interface {{\n    {}\n  }}\n",
                    i.track_interfaces.join("\n    ")
                );
            }
            if let Some(p) = i.pass {
                let _ = write!(
                    s,
                    "  authentication {{\n    auth_type PASS\n    auth_pass {p}\n  }}\n"
                );
            }
            if !i.unicast_peers.is_empty() {
                let v6 = i.vips.iter().any(|v| v.contains(':'));
                let addr = |n: usize| if v6 { format!("2001:db8::{n}") } else { ip4(n) };
                let _ = writeln!(s, "  unicast_src_ip {}", addr(node));
                s.push_str("  unicast_peer {\n");
                for p in &i.unicast_peers {
                    let _ = writeln!(s, "    {}", addr(*p));
                }
                s.push_str("  }\n");
            }
            if !i.track_scripts.is_empty() {
                let _ = write!(
                    s,
                    "  track_script {{\n    {}\n  }}\n",
                    i.track_scripts.join("\n    ")
                );
            }
            if !i.track_files.is_empty() {
                let _ = write!(
                    s,
                    "  track_file {{\n    {}\n  }}\n",
                    i.track_files.join("\n    ")
                );
            }
            if i.use_vmac {
                s.push_str("  use_vmac\n");
            }
            if i.notify {
                let _ = writeln!(s, "  notify \"{} {node}\"", lab.notify_script());
            }
            if i.state_scripts {
                for kind in ["master", "backup", "fault", "stop"] {
                    let _ = writeln!(
                        s,
                        "  notify_{kind} \"{} {node} notify_{kind}\"",
                        lab.notify_script()
                    );
                }
            }
            s.push_str("  virtual_ipaddress {\n");
            for v in &i.vips {
                if i.use_vmac {
                    let _ = writeln!(s, "    {v}");
                } else {
                    let _ = writeln!(s, "    {v} dev eth0");
                }
            }
            s.push_str("  }\n");
            if !i.excluded.is_empty() {
                s.push_str("  virtual_ipaddress_excluded {\n");
                for v in &i.excluded {
                    let _ = writeln!(s, "    {v} dev eth0");
                }
                s.push_str("  }\n");
            }
            if !i.routes.is_empty() {
                s.push_str("  virtual_routes {\n");
                for r in &i.routes {
                    let _ = writeln!(s, "    {r}");
                }
                s.push_str("  }\n");
            }
            s.push_str("}\n");
        }
        s
    }
}
