//! Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisements (IPv6), framed
//! with pnet as keepalived's `vrrp_arp.c` / `vrrp_ndisc.c` build them: an ARP
//! request from the VIP to the VIP with the broadcast target hardware address,
//! and an NA to ff02::1 with hop limit 255, the Override flag (Router too when the
//! interface forwards) and the target link-layer address option.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::IntoRawFd;
use std::time::Duration;

use pnet_datalink::{Channel, Config, DataLinkSender, MacAddr, NetworkInterface};
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::{Icmpv6Code, Icmpv6Types, MutableIcmpv6Packet};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;

const ETH_LEN: usize = 14;
const ARP_LEN: usize = 28;
/// NA: type, code, checksum, flags (4), target (16), option type, length, MAC.
const NA_LEN: usize = 4 + 4 + 16 + 2 + 6;
const IPV6_LEN: usize = 40;

fn mac(m: [u8; 6]) -> MacAddr {
    MacAddr::new(m[0], m[1], m[2], m[3], m[4], m[5])
}

/// The gratuitous ARP frame for `ip` from `src`.
pub fn arp_frame(src: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; ETH_LEN + ARP_LEN];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("buffer fits");
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(mac(src));
        eth.set_ethertype(EtherTypes::Arp);
    }
    let mut arp = MutableArpPacket::new(&mut buf[ETH_LEN..]).expect("buffer fits");
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(mac(src));
    arp.set_sender_proto_addr(ip);
    arp.set_target_hw_addr(MacAddr::broadcast());
    arp.set_target_proto_addr(ip);
    buf
}

/// The unsolicited NA frame for `ip` from `src`.
pub fn na_frame(src: [u8; 6], ip: Ipv6Addr, router: bool) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut buf = vec![0u8; ETH_LEN + IPV6_LEN + NA_LEN];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("buffer fits");
        eth.set_destination(MacAddr::new(0x33, 0x33, 0, 0, 0, 1));
        eth.set_source(mac(src));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    {
        let mut ip6 = MutableIpv6Packet::new(&mut buf[ETH_LEN..]).expect("buffer fits");
        ip6.set_version(6);
        ip6.set_payload_length(u16::try_from(NA_LEN).unwrap_or(0));
        ip6.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip6.set_hop_limit(255);
        ip6.set_source(ip);
        ip6.set_destination(all_nodes);
    }
    let icmp = &mut buf[ETH_LEN + IPV6_LEN..];
    icmp[4] = 0x20 | if router { 0x80 } else { 0 };
    icmp[8..24].copy_from_slice(&ip.octets());
    icmp[24] = 2; // target link-layer address
    icmp[25] = 1; // 8 bytes
    icmp[26..32].copy_from_slice(&src);
    let mut p = MutableIcmpv6Packet::new(icmp).expect("buffer fits");
    p.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
    p.set_icmpv6_code(Icmpv6Code::new(0));
    let sum = pnet_packet::icmpv6::checksum(&p.to_immutable(), &ip, &all_nodes);
    p.set_checksum(sum);
    buf
}

fn forwarding(ifname: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding"))
        .is_ok_and(|s| s.trim() == "1")
}

/// One AF_PACKET sender per interface, kept open: closing a packet socket waits
/// for an RCU grace period (`synchronize_net`, ~16 ms here), which made 100
/// instances becoming master take 1.6 s. A drop-everything BPF filter keeps the
/// socket from queueing the interface's received frames.
#[derive(Default)]
pub struct Announcer {
    senders: HashMap<u32, Box<dyn DataLinkSender>>,
    /// Frames waiting for their turn, per (interface, IPv6), when
    /// `vrrp_garp_interval` / `vrrp_gna_interval` space them out.
    queues: HashMap<(u32, bool), VecDeque<Vec<u8>>>,
    /// `vrrp_garp_interval` (ARP) and `vrrp_gna_interval` (NA); zero: back to back.
    pub garp_interval: Duration,
    pub gna_interval: Duration,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("interfaces", &self.senders.keys().collect::<Vec<_>>())
            .field("queues", &self.queues.keys().collect::<Vec<_>>())
            .field("garp_interval", &self.garp_interval)
            .field("gna_interval", &self.gna_interval)
            .finish()
    }
}

fn open_sender(ifname: &str, ifindex: u32, src: [u8; 6]) -> io::Result<Box<dyn DataLinkSender>> {
    const BPF_RET_K: u16 = 0x06;
    let socket = socket2::Socket::new(socket2::Domain::PACKET, socket2::Type::RAW, None)?;
    socket.attach_filter(&[socket2::SockFilter::new(BPF_RET_K, 0, 0, 0)])?;
    let iface = NetworkInterface {
        name: ifname.to_string(),
        description: String::new(),
        index: ifindex,
        mac: Some(mac(src)),
        ips: Vec::new(),
        flags: 0,
    };
    let config = Config {
        promiscuous: false,
        read_buffer_size: 64,
        socket_fd: Some(socket.into_raw_fd()),
        ..Config::default()
    };
    match pnet_datalink::channel(&iface, config)? {
        Channel::Ethernet(tx, _rx) => Ok(tx),
        _ => Err(io::Error::other("not an Ethernet channel")),
    }
}

impl Announcer {
    fn interval(&self, ipv6: bool) -> Duration {
        if ipv6 {
            self.gna_interval
        } else {
            self.garp_interval
        }
    }

    fn send(&mut self, ifname: &str, ifindex: u32, src: [u8; 6], frame: &[u8]) -> io::Result<()> {
        let tx = match self.senders.entry(ifindex) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(open_sender(ifname, ifindex, src)?)
            }
        };
        if let Some(Err(e)) = tx.send_to(frame, None) {
            // The interface may be gone (a VMAC): open afresh next time.
            self.senders.remove(&ifindex);
            return Err(e);
        }
        Ok(())
    }

    /// Sends `repeat` announcements for each address on interface `ifname` (index
    /// `ifindex`) from `src` (its MAC, or the VMAC), in keepalived's order (each
    /// round covers every address). With an interval set, only the first frame
    /// goes now and the rest wait in a queue; returns the queues that need a
    /// [`Announcer::send_next`] after their interval.
    pub fn announce(
        &mut self,
        ifname: &str,
        ifindex: u32,
        src: [u8; 6],
        addrs: &[IpAddr],
        repeat: u32,
    ) -> io::Result<Vec<((u32, bool), Duration)>> {
        let router = forwarding(ifname);
        let mut due = Vec::new();
        for _ in 0..repeat {
            for a in addrs {
                let frame = match a {
                    IpAddr::V4(v) => arp_frame(src, *v),
                    IpAddr::V6(v) => na_frame(src, *v, router),
                };
                let key = (ifindex, a.is_ipv6());
                let interval = self.interval(key.1);
                if interval.is_zero() {
                    self.send(ifname, ifindex, src, &frame)?;
                    continue;
                }
                let queue = self.queues.entry(key).or_default();
                let idle = queue.is_empty() && !due.iter().any(|(k, _)| *k == key);
                if idle {
                    self.send(ifname, ifindex, src, &frame)?;
                    due.push((key, interval));
                } else {
                    queue.push_back(frame);
                }
            }
        }
        let queues = &self.queues;
        due.retain(|(k, _)| queues.get(k).is_some_and(|q| !q.is_empty()));
        Ok(due)
    }

    /// Sends the next queued frame; returns the interval to wait if more remain.
    pub fn send_next(
        &mut self,
        ifname: &str,
        key: (u32, bool),
        src: [u8; 6],
    ) -> io::Result<Option<Duration>> {
        let Some(frame) = self.queues.get_mut(&key).and_then(VecDeque::pop_front) else {
            return Ok(None);
        };
        self.send(ifname, key.0, src, &frame)?;
        let more = self.queues.get(&key).is_some_and(|q| !q.is_empty());
        Ok(more.then(|| self.interval(key.1)))
    }

    /// Closes the sender of an interface that goes away.
    pub fn forget(&mut self, ifindex: u32) {
        self.senders.remove(&ifindex);
        self.queues.retain(|(i, _), _| *i != ifindex);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_is_a_request_from_the_vip_to_the_vip() {
        let f = arp_frame([2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[28..32], &[192, 0, 2, 100]);
        assert_eq!(&f[32..38], &[0xff; 6]);
        assert_eq!(&f[38..42], &[192, 0, 2, 100]);
    }

    #[test]
    fn na_has_override_and_a_valid_checksum() {
        let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let f = na_frame([2, 0, 0, 0, 0, 1], ip, false);
        let icmp = &f[ETH_LEN + IPV6_LEN..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4], 0x20);
        assert_eq!(f[ETH_LEN + 7], 255, "hop limit");
        let p = pnet_packet::icmpv6::Icmpv6Packet::new(icmp).unwrap();
        let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        assert_eq!(
            pnet_packet::icmpv6::checksum(&p, &ip, &all),
            p.get_checksum()
        );
    }
}
