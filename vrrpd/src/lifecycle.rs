//! Instances coming and going: start (interface, VMAC, primary address, socket,
//! Startup), apply a configuration (start, reconfigure, delete, or leave alone),
//! stop.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tracing::{info, warn};
use vrrp::Input;

use crate::instance::Instance;
use crate::notify::RunAs;
use crate::run::{register, spawn_reader, Daemon, SocketEntry, SocketKey, TimerKey};
use crate::socket::VrrpSocket;
use crate::spec::{self, Family, InstanceSpec};

impl Daemon {
    /// The address adverts come from: `unicast_src_ip`, else the interface's first
    /// IPv4 address, or its IPv6 link-local address.
    pub(crate) fn primary_address(&self, spec: &InstanceSpec, index: u32) -> Option<IpAddr> {
        if let Some(a) = spec.unicast_src {
            return Some(a);
        }
        self.addrs
            .iter()
            .filter(|a| a.index == index && !a.secondary)
            .map(|a| a.address)
            .find(|a| match (spec.family, a) {
                (Family::V4, IpAddr::V4(_)) => true,
                (Family::V6, IpAddr::V6(v)) => v.is_unicast_link_local(),
                _ => false,
            })
    }

    pub(crate) fn socket_for(
        &mut self,
        ifname: &str,
        index: u32,
        family: Family,
    ) -> std::io::Result<()> {
        let key = (index, family);
        if self.sockets.contains_key(&key) {
            return Ok(());
        }
        let socket = Arc::new(register(VrrpSocket::open(family, ifname, index)?)?);
        let task = spawn_reader(key, socket.clone(), self.packet_tx.clone(), self.tx.clone());
        self.sockets.insert(key, SocketEntry { socket, task });
        Ok(())
    }

    /// Starts a new instance: socket, machine, Startup.
    pub(crate) fn start_instance(&mut self, spec: InstanceSpec, now: Instant) {
        let name = spec.name.clone();
        let Some(base) = self.index_of(&spec.interface) else {
            warn!(
                "({name}) interface {} does not exist - ignoring instance",
                spec.interface
            );
            return;
        };
        let ifindex = match crate::vmac::ensure(self, &spec, base) {
            Ok(i) => i,
            Err(e) => {
                warn!("({name}) cannot create the VMAC interface: {e}");
                return;
            }
        };
        let Some(primary) = self.primary_address(&spec, base) else {
            warn!(
                "({name}) no address on {} for the advert source - waiting for one",
                spec.interface
            );
            self.waiting.insert(name, spec);
            return;
        };
        let send_if = spec.send_interface();
        if let Err(e) = self.socket_for(&send_if, ifindex, spec.family) {
            warn!("({name}) cannot open the VRRP socket on {send_if}: {e}");
            return;
        }
        if let Some(s) = self.sockets.get(&(ifindex, spec.family)) {
            if let Err(e) = s.socket.get_ref().join(spec.group) {
                warn!("({name}) cannot join {} on {send_if}: {e}", spec.group);
            }
        }
        let instance = Instance::new(spec, ifindex, base, primary);
        self.instances.insert(name.clone(), instance);
        crate::actions::clear_stale_addresses(self, &name);
        // The machine learns a fault first, so Startup leads to FAULT.
        crate::track::recompute(self, &name, now);
        self.feed(&name, Input::Startup, now);
        self.update_priority(&name, now);
    }

    /// Applies a configuration: starts what is new, reconfigures what changed,
    /// stops what is gone, and leaves identical instances alone.
    pub fn apply(&mut self, config: &keepalived_conf::Config) {
        let now = Instant::now();
        self.run_as = RunAs::from_config(config.global_defs.script_user.as_ref());
        self.announcer.garp_interval =
            std::time::Duration::from_micros(config.global_defs.vrrp_garp_interval);
        self.announcer.gna_interval =
            std::time::Duration::from_micros(config.global_defs.vrrp_gna_interval);
        crate::notify::apply_fifo(self, &config.global_defs);
        crate::sync::apply(self, config);
        crate::track::apply_scripts(self, config, now);
        let specs = spec::instances(config);
        let wanted: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        self.waiting.clear();
        let gone: Vec<String> = self
            .instances
            .keys()
            .filter(|n| !wanted.contains(n))
            .cloned()
            .collect();
        for name in gone {
            self.delete_instance(&name, now);
        }
        for spec in specs {
            let name = spec.name.clone();
            match self.instances.get(&name) {
                None => self.start_instance(spec, now),
                Some(old) if old.spec == spec => {}
                Some(old)
                    if old.spec.socket_key() != spec.socket_key()
                        || old.spec.vrid != spec.vrid
                        || old.spec.interface != spec.interface
                        || old.spec.unicast_src != spec.unicast_src
                        || old.spec.group != spec.group
                        || old.spec.track_interfaces != spec.track_interfaces
                        || old.spec.track_scripts != spec.track_scripts
                        || old.spec.track_files != spec.track_files =>
                {
                    self.delete_instance(&name, now);
                    self.start_instance(spec, now);
                }
                Some(_) => self.reconfigure(spec, now),
            }
        }
        self.close_unused_sockets();
        // vrrp_script and track_file blocks may have changed under unchanged
        // instances: recompute their weights (this feeds only real changes).
        let tracking: Vec<String> = self
            .instances
            .values()
            .filter(|i| !i.spec.track_scripts.is_empty() || !i.spec.track_files.is_empty())
            .map(|i| i.spec.name.clone())
            .collect();
        for name in tracking {
            crate::track::recompute(self, &name, now);
        }
    }

    pub(crate) fn reconfigure(&mut self, spec: InstanceSpec, now: Instant) {
        let name = spec.name.clone();
        let vnow = self.vnow(now);
        let Some(inst) = self.instances.get_mut(&name) else {
            return;
        };
        info!("({name}) configuration changed - reconfiguring");
        let old_spec = std::mem::replace(&mut inst.spec, spec);
        inst.expect = inst.spec.expectations();
        let priority = inst.effective_priority();
        let config = inst.spec.machine_config(inst.primary, priority);
        let actions = inst.machine.reconfigure(vnow, config);
        let holding = inst.addresses_set;
        self.execute(&name, &actions, now);
        if holding {
            crate::actions::swap_addresses(self, &name, &old_spec);
        }
        self.update_priority(&name, now);
    }

    /// A reload removes an instance.
    pub(crate) fn delete_instance(&mut self, name: &str, now: Instant) {
        let state = self.instances.get(name).map(|i| i.machine.state());
        self.deleting = state.map(|s| (name.to_string(), s));
        self.stop_instance(name, now);
        self.deleting = None;
    }

    pub(crate) fn stop_instance(&mut self, name: &str, now: Instant) {
        self.feed(name, Input::Shutdown, now);
        let gone = self.instances.remove(name);
        self.timers.retain(|k| match k {
            TimerKey::Advert(n)
            | TimerKey::MasterDown(n)
            | TimerKey::Garp(n)
            | TimerKey::GarpRefresh(n)
            | TimerKey::GarpLowerPrio(n) => n != name,
            TimerKey::Script(_) | TimerKey::Files | TimerKey::GarpQueue(..) => true,
        });
        if let Some(inst) = gone {
            crate::vmac::remove(self, &inst);
        }
    }

    pub(crate) fn close_unused_sockets(&mut self) {
        let used: Vec<SocketKey> = self
            .instances
            .values()
            .map(|i| (i.ifindex, i.spec.family))
            .collect();
        self.sockets.retain(|k, s| {
            let keep = used.contains(k);
            if !keep {
                s.task.abort();
            }
            keep
        });
    }

    /// Starts the instances that were waiting for an address on their interface.
    pub(crate) fn start_waiting(&mut self, now: Instant) {
        let ready: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, spec)| {
                self.index_of(&spec.interface)
                    .and_then(|i| self.primary_address(spec, i))
                    .is_some()
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in ready {
            if let Some(spec) = self.waiting.remove(&name) {
                info!(
                    "({name}) an address appeared on {}: starting",
                    spec.interface
                );
                self.start_instance(spec, now);
            }
        }
    }
}
