//! Carrying out the machine's actions: adverts, addresses, gratuitous ARP/NA,
//! notifies, timers. Log lines follow keepalived's wording.

use std::net::IpAddr;
use std::time::Instant;

use tracing::{debug, info, warn};
use vrrp::{Action, Notify, Timer};

use crate::notify::{self, Event};
use crate::run::{Daemon, TimerKey};
use crate::spec::InstanceSpec;

fn key(timer: Timer, name: &str) -> TimerKey {
    match timer {
        Timer::Advert => TimerKey::Advert(name.to_string()),
        Timer::MasterDown => TimerKey::MasterDown(name.to_string()),
    }
}

impl Daemon {
    /// Executes `actions` for instance `name`, in order.
    pub fn execute(&mut self, name: &str, actions: &[Action], now: Instant) {
        for action in actions {
            match *action {
                Action::SendAdvert { priority } => send_advert(self, name, priority),
                Action::AddAddresses => set_addresses(self, name, true),
                Action::RemoveAddresses => set_addresses(self, name, false),
                Action::SendGratuitous => start_gratuitous(self, name, now),
                Action::Notify(Notify::MasterRxLowerPriority) => {
                    notify_state(self, name, Notify::MasterRxLowerPriority);
                    garp_lower_prio(self, name, true, now);
                    let group = self
                        .instances
                        .get(name)
                        .and_then(|i| i.spec.sync_group.clone());
                    let members = group
                        .and_then(|g| self.groups.get(&g))
                        .map(|g| g.members.clone())
                        .unwrap_or_default();
                    for m in members.iter().filter(|m| *m != name) {
                        garp_lower_prio(self, m, true, now);
                    }
                }
                Action::Notify(n) => notify_state(self, name, n),
                Action::ArmTimer { timer, after, .. } => {
                    self.timers.arm(key(timer, name), now + after);
                }
                Action::CancelTimer(timer) => self.timers.cancel(&key(timer, name)),
            }
        }
    }
}

fn send_advert(d: &mut Daemon, name: &str, priority: u8) {
    let Some(inst) = d.instances.get_mut(name) else {
        return;
    };
    let packets = inst.packets(priority);
    inst.stats.advert_sent += 1;
    if priority == 0 {
        inst.stats.pri_zero_sent += 1;
    }
    let primary = inst.primary;
    let hop_limit = if inst.spec.peers.is_empty() {
        None
    } else {
        inst.spec.unicast_ttl
    };
    let Some(sock) = d.sockets.get(&(inst.ifindex, inst.spec.family)) else {
        return;
    };
    for (dst, bytes) in packets {
        let sent = match (primary, dst) {
            (IpAddr::V4(_), IpAddr::V4(d4)) => sock.socket.get_ref().send_v4(&bytes, d4),
            (IpAddr::V6(s6), IpAddr::V6(d6)) => {
                sock.socket.get_ref().send_v6(&bytes, s6, d6, hop_limit)
            }
            _ => continue,
        };
        if let Err(e) = sent {
            debug!("({name}) advert to {dst}: {e}");
        }
    }
    if priority == 0 {
        info!("({name}) sent 0 priority");
    }
}

/// Every address request of an instance: VIPs then excluded VIPs.
fn address_specs(d: &Daemon, spec: &InstanceSpec, ifindex: u32) -> Vec<crate::rtnl::AddrSpec> {
    spec.vips
        .iter()
        .chain(&spec.excluded)
        .filter_map(|a| crate::vips::address(a, ifindex, |n| d.index_of(n)))
        .collect()
}

fn route_specs(d: &Daemon, spec: &InstanceSpec) -> Vec<crate::rtnl::RouteSpec> {
    spec.routes
        .iter()
        .filter_map(|r| crate::vips::route(r, |n| d.index_of(n)))
        .collect()
}

fn rule_specs(spec: &InstanceSpec) -> Vec<crate::rtnl::RuleSpec> {
    spec.rules.iter().filter_map(crate::vips::rule).collect()
}

fn set_addresses(d: &mut Daemon, name: &str, add: bool) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let addrs = address_specs(d, &inst.spec, inst.ifindex);
    let routes = route_specs(d, &inst.spec);
    let rules = rule_specs(&inst.spec);
    let has_excluded = !inst.spec.excluded.is_empty();
    let filtered = crate::filter::applies(&inst.spec).then(|| announced(&inst.spec));
    if add {
        if let Some(vips) = &filtered {
            info!("({name}) setting firewall drop rule");
            d.filter.add(vips);
        }
        info!("({name}) setting VIPs.");
        if has_excluded {
            info!("({name}) setting E-VIPs.");
        }
        for a in &addrs {
            if let Err(e) = d.rtnl.add_address(a) {
                warn!("({name}) cannot add {}: {e}", a.address);
            }
        }
        for r in &routes {
            if let Err(e) = d.rtnl.add_route(r) {
                warn!("({name}) cannot add route to {}: {e}", r.destination);
            }
        }
        for r in &rules {
            if let Err(e) = d.rtnl.add_rule(r) {
                warn!("({name}) cannot add rule {}: {e}", r.priority);
            }
        }
    } else {
        info!("({name}) removing VIPs.");
        if has_excluded {
            info!("({name}) removing E-VIPs.");
        }
        for r in &rules {
            if let Err(e) = d.rtnl.del_rule(r) {
                debug!("({name}) cannot remove rule {}: {e}", r.priority);
            }
        }
        for r in &routes {
            if let Err(e) = d.rtnl.del_route(r) {
                debug!("({name}) cannot remove route to {}: {e}", r.destination);
            }
        }
        for a in &addrs {
            if let Err(e) = d.rtnl.del_address(a) {
                warn!("({name}) cannot remove {}: {e}", a.address);
            }
        }
        if let Some(vips) = &filtered {
            info!("({name}) removing firewall drop rule");
            d.filter.remove(vips);
        }
        d.timers.cancel(&TimerKey::Garp(name.to_string()));
        d.timers.cancel(&TimerKey::GarpRefresh(name.to_string()));
        d.timers.cancel(&TimerKey::GarpLowerPrio(name.to_string()));
    }
    if let Some(inst) = d.instances.get_mut(name) {
        inst.addresses_set = add;
    }
}

/// At start, as keepalived: addresses left by an earlier run are removed
/// (nothing is logged when there are none).
pub fn clear_stale_addresses(d: &mut Daemon, name: &str) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    for a in &address_specs(d, &inst.spec, inst.ifindex) {
        let present = d
            .addrs
            .iter()
            .any(|x| x.index == a.index && x.address == a.address);
        if present {
            info!("({name}) removing stale address {}", a.address);
            let _ = d.rtnl.del_address(a);
        }
    }
}

/// After a reload of a master: removes the addresses no longer wanted and adds
/// the new ones, leaving the others untouched (no flap).
pub fn swap_addresses(d: &mut Daemon, name: &str, old: &InstanceSpec) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    if !inst.addresses_set {
        return;
    }
    let filtered = |s: &InstanceSpec| {
        if crate::filter::applies(s) {
            announced(s)
        } else {
            Vec::new()
        }
    };
    let (drop_before, drop_after) = (filtered(old), filtered(&inst.spec));
    let before = address_specs(d, old, inst.ifindex);
    let after = address_specs(d, &inst.spec, inst.ifindex);
    let routes_before = route_specs(d, old);
    let routes_after = route_specs(d, &inst.spec);
    let added: Vec<IpAddr> = drop_after
        .iter()
        .copied()
        .filter(|a| !drop_before.contains(a))
        .collect();
    d.filter.add(&added);
    for a in before.iter().filter(|a| !after.contains(a)) {
        let _ = d.rtnl.del_address(a);
    }
    let removed: Vec<IpAddr> = drop_before
        .iter()
        .copied()
        .filter(|a| !drop_after.contains(a))
        .collect();
    d.filter.remove(&removed);
    for a in after.iter().filter(|a| !before.contains(a)) {
        if let Err(e) = d.rtnl.add_address(a) {
            warn!("({name}) cannot add {}: {e}", a.address);
        }
    }
    for r in routes_before.iter().filter(|r| !routes_after.contains(r)) {
        let _ = d.rtnl.del_route(r);
    }
    for r in routes_after.iter().filter(|r| !routes_before.contains(r)) {
        let _ = d.rtnl.add_route(r);
    }
    let (rules_before, rules_after) = (rule_specs(old), rule_specs(&inst.spec));
    for r in rules_before.iter().filter(|r| !rules_after.contains(r)) {
        let _ = d.rtnl.del_rule(r);
    }
    for r in rules_after.iter().filter(|r| !rules_before.contains(r)) {
        let _ = d.rtnl.add_rule(r);
    }
}

/// The addresses announced: VIPs and excluded VIPs.
fn announced(spec: &InstanceSpec) -> Vec<IpAddr> {
    spec.vips
        .iter()
        .chain(&spec.excluded)
        .map(|a| a.address)
        .collect()
}

fn announce(d: &mut Daemon, name: &str, repeat: u32, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let ifname = inst.spec.send_interface();
    let addrs = announced(&inst.spec);
    for a in &addrs {
        let what = if a.is_ipv4() {
            "gratuitous ARPs"
        } else {
            "Unsolicited Neighbour Adverts"
        };
        info!("({name}) Sending/queueing {what} on {ifname} for {a}");
    }
    let Some(mac) = crate::vmac::mac(&inst.spec).or_else(|| {
        d.links
            .values()
            .find(|l| l.index == inst.ifindex)
            .and_then(|l| l.mac)
    }) else {
        warn!("({name}) no MAC address on {ifname} for gratuitous ARP/NA");
        return;
    };
    let ifindex = inst.ifindex;
    match d.announcer.announce(&ifname, ifindex, mac, &addrs, repeat) {
        Ok(queued) => {
            for ((index, ipv6), after) in queued {
                d.timers.arm(
                    TimerKey::GarpQueue(index, ipv6, ifname.clone(), mac),
                    now + after,
                );
            }
        }
        Err(e) => warn!("({name}) gratuitous ARP/NA on {ifname}: {e}"),
    }
}

/// The next paced gratuitous ARP / NA of an interface.
pub fn garp_queue(d: &mut Daemon, key: (u32, bool), ifname: String, mac: [u8; 6], now: Instant) {
    match d.announcer.send_next(&ifname, key, mac) {
        Ok(Some(after)) => d
            .timers
            .arm(TimerKey::GarpQueue(key.0, key.1, ifname, mac), now + after),
        Ok(None) => {}
        Err(e) => warn!("gratuitous ARP/NA on {ifname}: {e}"),
    }
}

/// Becoming master: one burst now, one after garp_master_delay, then refreshes.
fn start_gratuitous(d: &mut Daemon, name: &str, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let garp = inst.spec.garp.clone();
    announce(d, name, garp.repeat, now);
    if !garp.delay.is_zero() {
        d.timers
            .arm(TimerKey::Garp(name.to_string()), now + garp.delay);
    }
    if !garp.refresh.is_zero() {
        d.timers
            .arm(TimerKey::GarpRefresh(name.to_string()), now + garp.refresh);
    }
}

/// The garp_master_delay burst.
pub fn garp_burst(d: &mut Daemon, name: &str, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    if inst.machine.state() == vrrp::State::Master {
        let repeat = inst.spec.garp.repeat;
        announce(d, name, repeat, now);
    }
}

/// garp_master_refresh: announce again and re-arm while master.
pub fn garp_refresh(d: &mut Daemon, name: &str, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    if inst.machine.state() != vrrp::State::Master {
        return;
    }
    let garp = inst.spec.garp.clone();
    announce(d, name, garp.refresh_repeat, now);
    d.timers
        .arm(TimerKey::GarpRefresh(name.to_string()), now + garp.refresh);
}

/// keepalived's answer to a lower-priority advert while master: a burst of
/// `garp_lower_prio_repeat` now (`first`) and another after `garp_lower_prio_delay`.
pub fn garp_lower_prio(d: &mut Daemon, name: &str, first: bool, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let garp = inst.spec.garp.clone();
    if inst.machine.state() != vrrp::State::Master || garp.lower_prio_repeat == 0 {
        return;
    }
    announce(d, name, garp.lower_prio_repeat, now);
    if first && !garp.lower_prio_delay.is_zero() {
        d.timers.arm(
            TimerKey::GarpLowerPrio(name.to_string()),
            now + garp.lower_prio_delay,
        );
    }
}

fn notify_state(d: &mut Daemon, name: &str, n: Notify) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let event = match n {
        Notify::Master => {
            info!("({name}) Entering MASTER STATE");
            Event::Master
        }
        Notify::Backup => {
            let init = if inst.announced { "" } else { " (init)" };
            info!("({name}) Entering BACKUP STATE{init}");
            Event::Backup
        }
        Notify::Fault => {
            info!("({name}) Entering FAULT STATE");
            Event::Fault
        }
        Notify::Stop => match &d.deleting {
            Some((n, before)) if n == name => {
                if inst.spec.scripts.notify_deleted {
                    Event::Deleted
                } else if *before == vrrp::State::Fault {
                    return;
                } else {
                    Event::Fault
                }
            }
            _ => Event::Stop,
        },
        Notify::MasterRxLowerPriority => Event::MasterRxLowerPri,
    };
    let priority = inst.machine.priority();
    let children = notify::instance(&inst.spec.scripts, name, event, priority, d.run_as);
    if event == Event::Stop {
        d.stop_children.extend(children);
    }
    if let Some(f) = d.fifo.as_mut() {
        f.write("INSTANCE", name, event, priority);
    }
    if let Some(inst) = d.instances.get_mut(name) {
        inst.announced = true;
    }
}
