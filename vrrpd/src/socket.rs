//! Raw IP sockets for protocol 112, one per (interface, family), bound to the device
//! and joined to the VRRP group. IPv4 sends whole packets (`IP_HDRINCL`) so the header
//! is keepalived's; IPv6 sets the source with `IPV6_PKTINFO`.

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use vrrp::packet::{MULTICAST_V4, MULTICAST_V6};

use crate::spec::Family;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;

/// A packet as read from the socket: the VRRP message and its IP facts.
#[derive(Debug, Clone)]
pub struct Packet {
    pub message: Vec<u8>,
    pub ttl: u8,
    pub source: IpAddr,
    pub destination: IpAddr,
}

/// Why a received datagram is not even a VRRP message.
#[derive(Debug)]
pub enum RecvError {
    Io(io::Error),
    /// The IP header is short or its length does not match.
    BadIpHeader,
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        RecvError::Io(e)
    }
}

#[derive(Debug)]
pub struct VrrpSocket {
    pub socket: Socket,
    pub family: Family,
    pub ifindex: u32,
}

impl VrrpSocket {
    pub fn open(family: Family, ifname: &str, ifindex: u32) -> io::Result<Self> {
        let socket = match family {
            Family::V4 => {
                let s =
                    Socket::new_raw(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))?;
                s.bind_device(Some(ifname.as_bytes()))?;
                s.set_header_included_v4(true)?;
                s.set_multicast_loop_v4(false)?;
                s.set_multicast_ttl_v4(255)?;
                s.set_ttl_v4(255)?;
                s.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
                s
            }
            Family::V6 => {
                let s =
                    Socket::new_raw(Domain::IPV6, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))?;
                s.bind_device(Some(ifname.as_bytes()))?;
                s.set_multicast_loop_v6(false)?;
                s.set_multicast_hops_v6(255)?;
                // Unicast hop limit left at the system default (64): keepalived 2.2.7
                // sets only the multicast one, and unicast receivers skip the check.
                s.set_recv_hoplimit_v6(true)?;
                // keepalived sends with traffic class 0xc0 (network control).
                s.set_tclass_v6(0xc0)?;
                s.set_multicast_if_v6(ifindex)?;
                setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
                s.join_multicast_v6(&MULTICAST_V6, ifindex)?;
                s
            }
        };
        socket.set_nonblocking(true)?;
        Ok(VrrpSocket {
            socket,
            family,
            ifindex,
        })
    }

    /// Joins another multicast group (`mcast_dst_ip`, `vrrp_mcast_group4|6`); a
    /// group already joined is fine.
    pub fn join(&self, group: IpAddr) -> io::Result<()> {
        let r = match group {
            IpAddr::V4(g) if g != MULTICAST_V4 => self
                .socket
                .join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.ifindex)),
            IpAddr::V6(g) if g != MULTICAST_V6 => self.socket.join_multicast_v6(&g, self.ifindex),
            _ => Ok(()),
        };
        match r {
            Err(e) if e.raw_os_error() == Some(98) => Ok(()), // EADDRINUSE: joined
            r => r,
        }
    }

    /// Sends one IPv4 packet (header included).
    pub fn send_v4(&self, packet: &[u8], destination: Ipv4Addr) -> io::Result<()> {
        let to = SockAddr::from(SocketAddrV4::new(destination, 0));
        self.socket.send_to(packet, &to).map(drop)
    }

    /// Sends one VRRP message over IPv6 from `source`, with `hop_limit` if given
    /// (`unicast_ttl`; keepalived sets it per packet the same way).
    pub fn send_v6(
        &self,
        message: &[u8],
        source: Ipv6Addr,
        destination: Ipv6Addr,
        hop_limit: Option<u8>,
    ) -> io::Result<()> {
        let info = nix::libc::in6_pktinfo {
            ipi6_addr: nix::libc::in6_addr {
                s6_addr: source.octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        let scope = if destination.is_multicast() || destination.is_unicast_link_local() {
            self.ifindex
        } else {
            0
        };
        let to = SockaddrIn6::from(std::net::SocketAddrV6::new(destination, 0, 0, scope));
        let hops = hop_limit.map(i32::from);
        let mut cmsgs = vec![ControlMessage::Ipv6PacketInfo(&info)];
        if let Some(h) = &hops {
            cmsgs.push(ControlMessage::Ipv6HopLimit(h));
        }
        sendmsg(
            self.socket.as_raw_fd(),
            &[IoSlice::new(message)],
            &cmsgs,
            MsgFlags::empty(),
            Some(&to),
        )
        .map(drop)
        .map_err(io::Error::from)
    }

    /// Reads one packet (non-blocking: `WouldBlock` when none is queued).
    pub fn recv(&self) -> Result<Packet, RecvError> {
        match self.family {
            Family::V4 => self.recv_v4(),
            Family::V6 => self.recv_v6(),
        }
    }

    fn recv_v4(&self) -> Result<Packet, RecvError> {
        let mut buf = [0u8; 4096];
        let n = (&self.socket).read(&mut buf)?;
        parse_ipv4(&buf[..n]).ok_or(RecvError::BadIpHeader)
    }

    fn recv_v6(&self) -> Result<Packet, RecvError> {
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo, i32);
        let (n, source, ttl, destination) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<SockaddrIn6>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )
            .map_err(io::Error::from)?;
            let mut ttl = 0u8;
            let mut destination = IpAddr::V6(MULTICAST_V6);
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::Ipv6HopLimit(h) => {
                            ttl = u8::try_from(h).unwrap_or(0);
                        }
                        ControlMessageOwned::Ipv6PacketInfo(info) => {
                            destination = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                        }
                        _ => {}
                    }
                }
            }
            let source = msg
                .address
                .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |a| IpAddr::V6(a.ip()));
            (msg.bytes, source, ttl, destination)
        };
        Ok(Packet {
            message: buf[..n].to_vec(),
            ttl,
            source,
            destination,
        })
    }
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// Splits a raw IPv4 datagram into header facts and the VRRP message.
pub fn parse_ipv4(b: &[u8]) -> Option<Packet> {
    if b.len() < 20 || b[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
    if ihl < 20 || b.len() < ihl || total != b.len() {
        return None;
    }
    Some(Packet {
        message: b[ihl..].to_vec(),
        ttl: b[8],
        source: IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])),
        destination: IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_is_split_and_checked() {
        let mut p = vrrp::ipv4_header(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(224, 0, 0, 18),
            4,
            1,
        )
        .to_vec();
        p.extend_from_slice(&[1, 2, 3, 4]);
        let got = parse_ipv4(&p).unwrap();
        assert_eq!(got.message, [1, 2, 3, 4]);
        assert_eq!(got.ttl, 255);
        assert_eq!(got.source, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(parse_ipv4(&p[..22]).is_none(), "length mismatch");
        assert!(parse_ipv4(&[0x45; 10]).is_none());
    }
}
