//! Classic pcap files (as tcpdump `-w` writes them, Ethernet link type) to
//! VRRP packets. A record still being written at the end is skipped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// One VRRP packet seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Capture time in microseconds since the epoch.
    pub micros: u64,
    /// Ethernet source and destination.
    pub eth_src: [u8; 6],
    pub eth_dst: [u8; 6],
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 TOS / IPv6 traffic class.
    pub tos: u8,
    /// IPv4 identification and flags+fragment offset (0 for IPv6).
    pub id: u16,
    pub frag: u16,
    /// The VRRP message (after the IP header).
    pub payload: Vec<u8>,
}

impl Packet {
    pub fn version(&self) -> u8 {
        self.payload.first().map_or(0, |b| b >> 4)
    }
    pub fn vrid(&self) -> u8 {
        self.payload.get(1).copied().unwrap_or(0)
    }
    pub fn priority(&self) -> u8 {
        self.payload.get(2).copied().unwrap_or(0)
    }
}

fn u16be(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// A gratuitous ARP (sender IP = target IP) or an unsolicited IPv6
/// neighbour advertisement, as sent by a new master for its VIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub micros: u64,
    /// Ethernet source.
    pub mac: [u8; 6],
    /// The announced address.
    pub ip: IpAddr,
}

/// The VRRP packets in `path` (empty if the file is missing or not pcap).
pub fn read(path: &Path) -> Vec<Packet> {
    frames(path)
        .into_iter()
        .filter_map(|(micros, f)| parse_frame(&f, micros))
        .collect()
}

/// Gratuitous ARPs and unsolicited neighbour advertisements in `path`.
pub fn announcements(path: &Path) -> Vec<Announce> {
    frames(path)
        .into_iter()
        .filter_map(|(micros, f)| parse_announce(&f, micros))
        .collect()
}

fn parse_announce(f: &[u8], micros: u64) -> Option<Announce> {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(f.get(6..12)?);
    let l3 = f.get(14..)?;
    match u16be(f, 12) {
        0x0806 if l3.len() >= 28 => {
            let sender = Ipv4Addr::new(l3[14], l3[15], l3[16], l3[17]);
            let target = Ipv4Addr::new(l3[24], l3[25], l3[26], l3[27]);
            (sender == target).then_some(Announce {
                micros,
                mac,
                ip: IpAddr::V4(sender),
            })
        }
        // ICMPv6 (next header 58) type 136, no extension headers.
        0x86dd if l3.len() >= 64 && l3[6] == 58 && l3[40] == 136 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&l3[48..64]);
            Some(Announce {
                micros,
                mac,
                ip: IpAddr::V6(Ipv6Addr::from(a)),
            })
        }
        _ => None,
    }
}

/// (capture time in µs, frame bytes) of every complete record.
fn frames(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let Ok(data) = std::fs::read(path) else {
        return Vec::new();
    };
    if data.len() < 24 {
        return Vec::new();
    }
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return Vec::new(),
    };
    let word = |at: usize| {
        let b = [data[at], data[at + 1], data[at + 2], data[at + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let (sec, frac, len) = (word(at), word(at + 4), word(at + 8) as usize);
        let start = at + 16;
        if start + len > data.len() {
            break;
        }
        let micros = u64::from(sec) * 1_000_000 + u64::from(if nanos { frac / 1000 } else { frac });
        out.push((micros, data[start..start + len].to_vec()));
        at = start + len;
    }
    out
}

fn parse_frame(f: &[u8], micros: u64) -> Option<Packet> {
    if f.len() < 14 {
        return None;
    }
    let (mut eth_src, mut eth_dst) = ([0u8; 6], [0u8; 6]);
    eth_dst.copy_from_slice(&f[0..6]);
    eth_src.copy_from_slice(&f[6..12]);
    let ip = &f[14..];
    match u16be(f, 12) {
        0x0800 if ip.len() >= 20 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = u16be(ip, 2);
            if ip[9] != 112 || total > ip.len() || ihl > total {
                return None;
            }
            Some(Packet {
                micros,
                eth_src,
                eth_dst,
                src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
                ttl: ip[8],
                tos: ip[1],
                id: u16::from_be_bytes([ip[4], ip[5]]),
                frag: u16::from_be_bytes([ip[6], ip[7]]),
                payload: ip[ihl..total].to_vec(),
            })
        }
        0x86dd if ip.len() >= 40 => {
            let len = u16be(ip, 4);
            if ip[6] != 112 || 40 + len > ip.len() {
                return None;
            }
            let addr = |at: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&ip[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            Some(Packet {
                micros,
                eth_src,
                eth_dst,
                src: addr(8),
                dst: addr(24),
                ttl: ip[7],
                tos: ((ip[0] & 0x0f) << 4) | (ip[1] >> 4),
                id: 0,
                frag: 0,
                payload: ip[40..40 + len].to_vec(),
            })
        }
        _ => None,
    }
}

/// Bytes as hex for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
