//! rtnetlink: links, addresses, routes and VMAC interfaces (netlink-packet-route over
//! netlink-sys). Requests are synchronous: the kernel answers them inside `sendmsg`.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up and carrier present (keepalived's "running").
    pub up: bool,
    pub mac: Option<[u8; 6]>,
}

/// One address on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    pub secondary: bool,
}

/// An address to add or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    pub broadcast: Option<std::net::Ipv4Addr>,
    pub label: Option<String>,
    pub scope: u8,
    pub nodad: bool,
    pub noprefixroute: bool,
    /// IPv6 preferred lifetime (`None`: forever; keepalived gives /128 VIPs 0, so
    /// they are deprecated and never chosen as a source address).
    pub preferred_lft: Option<u32>,
}

/// A route to add or remove (the subset of `ip route` words vrrpd understands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub destination: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    pub source: Option<IpAddr>,
    pub oif: Option<u32>,
    pub metric: Option<u32>,
    pub table: Option<u32>,
    pub scope: Option<u8>,
    pub kind: RouteType,
}

/// A policy-routing rule to add or remove (`virtual_rules`, `static_rules`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub ipv6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    /// 0 with an action other than a table lookup.
    pub table: u32,
    pub action: RuleAction,
    pub priority: u32,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<(u32, Option<u32>)>,
    pub invert: bool,
}

/// The request socket.
#[derive(Debug)]
pub struct Rtnl {
    socket: Socket,
    seq: u32,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn family(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

/// Parses one datagram of rtnetlink messages.
pub fn parse(buf: &[u8]) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..]) else {
            break;
        };
        let len = msg.header.length as usize;
        out.push(msg);
        if len == 0 {
            break;
        }
        offset += (len + 3) & !3;
    }
    out
}

/// A link message's view.
pub fn link_of(m: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name.clone_from(n),
            LinkAttribute::Address(b) if b.len() == 6 => {
                let mut m = [0u8; 6];
                m.copy_from_slice(b);
                mac = Some(m);
            }
            _ => {}
        }
    }
    let f = m.header.flags;
    Link {
        index: m.header.index,
        name,
        up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::Running),
        mac,
    }
}

fn addr_of(m: &AddressMessage) -> Option<Addr> {
    let mut local = None;
    let mut address = None;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    Some(Addr {
        index: m.header.index,
        address: local.or(address)?,
        prefix_len: m.header.prefix_len,
        secondary: m.header.flags.contains(AddressHeaderFlags::Secondary),
    })
}

impl Rtnl {
    pub fn new() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // The kernel answers inside sendmsg; a missing answer must not hang the loop.
        socket2::SockRef::from(&socket)
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        Ok(Rtnl { socket, seq: 1 })
    }

    /// A socket that receives link and address changes.
    pub fn monitor() -> io::Result<Socket> {
        const RTMGRP_LINK: u32 = 1;
        const RTMGRP_IPV4_IFADDR: u32 = 0x10;
        const RTMGRP_IPV6_IFADDR: u32 = 0x100;
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(
            0,
            RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
        ))?;
        socket.set_non_blocking(true)?;
        Ok(socket)
    }

    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        self.seq = self.seq.wrapping_add(1);
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut out = Vec::new();
        // Bounded: a dump ends with Done, a request with its ACK.
        for _ in 0..100_000 {
            let (data, _) = self.socket.recv_from_full()?;
            for m in parse(&data) {
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(_) => Err(e.to_io()),
                        };
                    }
                    NetlinkPayload::InnerMessage(inner) => {
                        out.push(inner);
                        if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
        Err(other("netlink: no end of reply"))
    }

    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
                _ => None,
            })
            .collect())
    }

    pub fn addresses(&mut self) -> io::Result<Vec<Addr>> {
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => addr_of(a),
                _ => None,
            })
            .collect())
    }

    fn address_message(a: &AddrSpec) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = family(a.address);
        m.header.prefix_len = a.prefix_len;
        m.header.scope = AddressScope::from(a.scope);
        m.header.index = a.index;
        m.attributes.push(AddressAttribute::Local(a.address));
        m.attributes.push(AddressAttribute::Address(a.address));
        if let Some(b) = a.broadcast {
            m.attributes.push(AddressAttribute::Broadcast(b));
        }
        if let Some(l) = &a.label {
            m.attributes.push(AddressAttribute::Label(l.clone()));
        }
        if let Some(p) = a.preferred_lft {
            let mut info = CacheInfo::default();
            info.ifa_preferred = p;
            info.ifa_valid = u32::MAX;
            m.attributes.push(AddressAttribute::CacheInfo(info));
        }
        let mut flags = AddressFlags::empty();
        if a.nodad {
            flags |= AddressFlags::Nodad;
        }
        if a.noprefixroute {
            flags |= AddressFlags::Noprefixroute;
        }
        if !flags.is_empty() {
            m.attributes.push(AddressAttribute::Flags(flags));
        }
        m
    }

    /// Adds an address; an address already there is fine (idempotent).
    pub fn add_address(&mut self, a: &AddrSpec) -> io::Result<()> {
        let m = Self::address_message(a);
        match self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.raw_os_error() == Some(libc_eexist()) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Removes an address; an address already gone is fine.
    pub fn del_address(&mut self, a: &AddrSpec) -> io::Result<()> {
        let mut m = Self::address_message(a);
        m.attributes
            .retain(|x| matches!(x, AddressAttribute::Local(_) | AddressAttribute::Address(_)));
        match self.request(RouteNetlinkMessage::DelAddress(m), NLM_F_ACK) {
            Err(e) if matches!(e.raw_os_error(), Some(99 | 2 | 19)) => Ok(()),
            r => r.map(drop),
        }
    }

    /// keepalived's `netlink_route`: protocol `keepalived` (18), scope universe
    /// unless given (nowhere when deleting).
    fn route_message(r: &RouteSpec, delete: bool) -> RouteMessage {
        const RTPROT_KEEPALIVED: u8 = 18;
        let mut m = RouteMessage::default();
        m.header.address_family = family(r.destination);
        m.header.destination_prefix_length = r.prefix_len;
        m.header.protocol = RouteProtocol::from(RTPROT_KEEPALIVED);
        m.header.kind = r.kind;
        m.header.scope = match r.scope {
            Some(s) => RouteScope::from(s),
            None if delete => RouteScope::NoWhere,
            None => RouteScope::Universe,
        };
        let table = r.table.unwrap_or(254);
        m.header.table = u8::try_from(table).unwrap_or(252);
        if table > 255 {
            m.attributes.push(RouteAttribute::Table(table));
        }
        if r.prefix_len > 0 {
            m.attributes
                .push(RouteAttribute::Destination(addr(r.destination)));
        }
        if let Some(g) = r.gateway {
            m.attributes.push(RouteAttribute::Gateway(addr(g)));
        }
        if let Some(s) = r.source {
            m.attributes.push(RouteAttribute::PrefSource(addr(s)));
        }
        if let Some(i) = r.oif {
            m.attributes.push(RouteAttribute::Oif(i));
        }
        if let Some(p) = r.metric {
            m.attributes.push(RouteAttribute::Priority(p));
        }
        m
    }

    pub fn add_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        match self.request(
            RouteNetlinkMessage::NewRoute(Self::route_message(r, false)),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.raw_os_error() == Some(libc_eexist()) => Ok(()),
            res => res.map(drop),
        }
    }

    pub fn del_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        match self.request(
            RouteNetlinkMessage::DelRoute(Self::route_message(r, true)),
            NLM_F_ACK,
        ) {
            Err(e) if matches!(e.raw_os_error(), Some(3 | 2 | 19)) => Ok(()),
            res => res.map(drop),
        }
    }

    /// keepalived's `netlink_rule`: a table below 256 goes in the header (0 means
    /// main), a larger one in FRA_TABLE.
    fn rule_message(r: &RuleSpec) -> RuleMessage {
        const RT_TABLE_MAIN: u8 = 254;
        let mut m = RuleMessage::default();
        m.header.family = if r.ipv6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        m.header.action = r.action;
        if r.action == RuleAction::ToTable {
            match u8::try_from(r.table) {
                Ok(0) => m.header.table = RT_TABLE_MAIN,
                Ok(t) => m.header.table = t,
                Err(_) => m.attributes.push(RuleAttribute::Table(r.table)),
            }
        }
        if r.invert {
            m.header.flags = RuleFlags::Invert;
        }
        if let Some((a, len)) = r.from {
            m.header.src_len = len;
            m.attributes.push(RuleAttribute::Source(a));
        }
        if let Some((a, len)) = r.to {
            m.header.dst_len = len;
            m.attributes.push(RuleAttribute::Destination(a));
        }
        m.attributes.push(RuleAttribute::Priority(r.priority));
        if let Some(i) = &r.iif {
            m.attributes.push(RuleAttribute::Iifname(i.clone()));
        }
        if let Some(o) = &r.oif {
            m.attributes.push(RuleAttribute::Oifname(o.clone()));
        }
        if let Some((mark, mask)) = r.fwmark {
            m.attributes.push(RuleAttribute::FwMark(mark));
            if let Some(mask) = mask {
                m.attributes.push(RuleAttribute::FwMask(mask));
            }
        }
        m
    }

    pub fn add_rule(&mut self, r: &RuleSpec) -> io::Result<()> {
        match self.request(
            RouteNetlinkMessage::NewRule(Self::rule_message(r)),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.raw_os_error() == Some(libc_eexist()) => Ok(()),
            res => res.map(drop),
        }
    }

    pub fn del_rule(&mut self, r: &RuleSpec) -> io::Result<()> {
        match self.request(
            RouteNetlinkMessage::DelRule(Self::rule_message(r)),
            NLM_F_ACK,
        ) {
            Err(e) if matches!(e.raw_os_error(), Some(2)) => Ok(()),
            res => res.map(drop),
        }
    }

    /// Creates a macvlan (private mode, as keepalived's VMAC) on `parent`, down.
    pub fn add_macvlan(&mut self, parent: u32, name: &str, mac: [u8; 6]) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Link(parent));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Private,
            )])),
        ]));
        match self.request(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.raw_os_error() == Some(libc_eexist()) => Ok(()),
            r => r.map(drop),
        }
    }

    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK)
            .map(drop)
    }

    pub fn del_link(&mut self, index: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK)
            .map(drop)
    }
}

fn addr(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v) => RouteAddress::Inet(v),
        IpAddr::V6(v) => RouteAddress::Inet6(v),
    }
}

const fn libc_eexist() -> i32 {
    17
}
