//! One running instance: its spec, its `Machine`, what the receive checks expect,
//! what tracking says, and the adverts it sends.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use vrrp::{Advertisement, Endpoints, Expectations, Machine};

use crate::spec::InstanceSpec;

#[derive(Debug)]
pub struct Instance {
    pub spec: InstanceSpec,
    pub machine: Machine,
    /// Index of the interface adverts go out on (the VMAC one with use_vmac).
    pub ifindex: u32,
    /// Index of the configured interface.
    pub base_ifindex: u32,
    pub primary: IpAddr,
    pub expect: Expectations,
    /// keepalived numbers IPv4 header ids per instance 1, 2, … skipping 0.
    ip_id: u16,
    /// Dropped packets by `DropReason::counter()`.
    pub drops: BTreeMap<&'static str, u64>,
    pub last_drop_log: Option<std::time::Instant>,
    /// Tracked objects (without weight) that are down; non-empty means FAULT.
    pub faults: BTreeSet<String>,
    /// Weight contributed by each tracked object with a weight.
    pub weights: BTreeMap<String, i32>,
    /// The VIPs are on the interface (so a reload can diff them).
    pub addresses_set: bool,
    pub stats: crate::stats::Stats,
    /// A state has been announced (keepalived logs the first BACKUP with "(init)").
    pub announced: bool,
}

impl Instance {
    pub fn new(spec: InstanceSpec, ifindex: u32, base_ifindex: u32, primary: IpAddr) -> Self {
        let machine = Machine::new(spec.machine_config(primary, spec.priority));
        let expect = spec.expectations();
        Instance {
            spec,
            machine,
            ifindex,
            base_ifindex,
            primary,
            expect,
            ip_id: 0,
            drops: BTreeMap::new(),
            last_drop_log: None,
            faults: BTreeSet::new(),
            weights: BTreeMap::new(),
            addresses_set: false,
            stats: crate::stats::Stats::default(),
            announced: false,
        }
    }

    /// Configured priority plus tracking weights, as keepalived computes it.
    pub fn effective_priority(&self) -> u8 {
        let total: i32 = self.weights.values().sum();
        vrrp::effective_priority(self.spec.priority, total)
    }

    pub fn advert(&self, priority: u8) -> Advertisement {
        Advertisement {
            version: self.spec.version,
            vrid: self.spec.vrid,
            priority,
            interval: self.spec.interval,
            auth: self.spec.auth,
            addresses: self.spec.advert_addresses(),
        }
    }

    /// Where adverts go: the group, or every unicast peer.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if self.spec.peers.is_empty() {
            vec![self.spec.group]
        } else {
            self.spec.peers.clone()
        }
    }

    /// The endpoints of a packet between `source` and `destination`.
    pub fn endpoints(&self, source: IpAddr, destination: IpAddr) -> Option<Endpoints> {
        match (source, destination) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Some(Endpoints::V4 {
                source: s,
                destination: d,
                v3_checksum: self.spec.v3_checksum,
            }),
            (IpAddr::V6(s), IpAddr::V6(d)) => Some(Endpoints::V6 {
                source: s,
                destination: d,
            }),
            _ => None,
        }
    }

    /// The packets for one advert: (destination, bytes). IPv4 packets carry their
    /// IP header (keepalived's), IPv6 ones are the bare message.
    pub fn packets(&mut self, priority: u8) -> Vec<(IpAddr, Vec<u8>)> {
        let advert = self.advert(priority);
        let mut out = Vec::new();
        for dst in self.destinations() {
            let Some(endpoints) = self.endpoints(self.primary, dst) else {
                continue;
            };
            let Ok(message) = advert.encode(&endpoints) else {
                continue;
            };
            match (self.primary, dst) {
                (IpAddr::V4(src), IpAddr::V4(d)) => {
                    self.ip_id = self.ip_id.wrapping_add(1);
                    if self.ip_id == 0 {
                        self.ip_id = 1;
                    }
                    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
                    let mut p = vrrp::ipv4_header(src, d, len, self.ip_id).to_vec();
                    if let (Some(ttl), false) = (self.spec.unicast_ttl, self.spec.peers.is_empty())
                    {
                        p[8] = ttl; // the kernel recomputes the header checksum
                    }
                    p.extend_from_slice(&message);
                    out.push((dst, p));
                }
                _ => out.push((dst, message)),
            }
        }
        out
    }

    /// The receive expectations for a packet from `source`: keepalived's
    /// `skip_check_adv_addr` skips the address list for the known master.
    pub fn expectations_for(&self, source: IpAddr) -> std::borrow::Cow<'_, Expectations> {
        if self.spec.skip_check_adv_addr
            && self.machine.master().is_some_and(|m| m.source == source)
        {
            let mut e = self.expect.clone();
            e.addresses = None;
            return std::borrow::Cow::Owned(e);
        }
        std::borrow::Cow::Borrowed(&self.expect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn v4_packets_number_ids_from_one() {
        let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
                    priority 150\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n";
        let opts = keepalived_conf::ReadOptions {
            config_id: "n".into(),
            random_seed: 1,
        };
        let out = keepalived_conf::check_str(
            text,
            std::path::Path::new("t"),
            &opts,
            &keepalived_conf::FakeHost::default(),
        );
        let spec = crate::spec::instances(&out.config).remove(0);
        let me = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mut i = Instance::new(spec, 2, 2, me);
        let p = i.packets(150);
        assert_eq!(p.len(), 1);
        let (dst, bytes) = &p[0];
        assert_eq!(*dst, IpAddr::V4(vrrp::packet::MULTICAST_V4));
        assert_eq!(&bytes[4..6], &[0, 1], "first id is 1");
        assert_eq!(bytes[8], 255, "TTL");
        assert_eq!(bytes[20 + 2], 150, "priority");
        assert_eq!(&i.packets(150)[0].1[4..6], &[0, 2]);
    }
}
