//! Typed, validated values of the IPVS model. No raw integers cross the
//! public API where the kernel's value has a meaning.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Error;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub(crate) const fn raw(self) -> u16 {
        match self {
            Self::Inet => 2,
            Self::Inet6 => 10,
        }
    }

    pub(crate) fn from_raw(raw: u16) -> Result<Self, Error> {
        match raw {
            2 => Ok(Self::Inet),
            10 => Ok(Self::Inet6),
            _ => Err(Error::Decode(format!("unknown address family {raw}"))),
        }
    }

    /// The family of `addr`.
    pub const fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::Inet,
            IpAddr::V6(_) => Self::Inet6,
        }
    }
}

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number.
    pub const fn raw(self) -> u16 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
            Self::Sctp => 132,
        }
    }

    pub(crate) fn from_raw(raw: u16) -> Result<Self, Error> {
        match raw {
            6 => Ok(Self::Tcp),
            17 => Ok(Self::Udp),
            132 => Ok(Self::Sctp),
            _ => Err(Error::Decode(format!("unknown protocol {raw}"))),
        }
    }
}

/// What identifies a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    /// `-t/-u/--sctp-service ADDR:PORT`.
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// `-f MARK` (with `-6` for IPv6).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    /// The service's address family.
    pub const fn family(&self) -> Family {
        match self {
            Self::Addr { addr, .. } => Family::of(addr),
            Self::Fwmark { family, .. } => *family,
        }
    }
}

/// A scheduler or persistence-engine name (at most 15 bytes, no NUL).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Longest name the kernel stores (`IP_VS_SCHEDNAME_MAXLEN` - 1).
    pub const MAX_LEN: usize = 15;

    pub fn new(name: &str) -> Result<Self, Error> {
        if name.is_empty() || name.len() > Self::MAX_LEN || name.contains('\0') {
            return Err(Error::Invalid(format!("invalid name {name:?}")));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Virtual service flags (`IP_VS_SVC_F_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceFlags(u32);

impl ServiceFlags {
    pub const PERSISTENT: Self = Self(0x0001);
    pub const HASHED: Self = Self(0x0002);
    pub const ONEPACKET: Self = Self(0x0004);
    pub const SCHED1: Self = Self(0x0008);
    pub const SCHED2: Self = Self(0x0010);
    pub const SCHED3: Self = Self(0x0020);
    /// Every flag user space may set.
    pub const SETTABLE: Self = Self(0x003d);

    pub const fn empty() -> Self {
        Self(0)
    }
    pub const fn bits(self) -> u32 {
        self.0
    }
    pub const fn from_bits_retain(bits: u32) -> Self {
        Self(bits)
    }
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    #[must_use]
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// The persistence netmask: an IPv4 mask, or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Netmask {
    V4(Ipv4Addr),
    V6(u8),
}

impl Netmask {
    /// The kernel's default for `family`: /32 or /128.
    pub const fn full(family: Family) -> Self {
        match family {
            Family::Inet => Self::V4(Ipv4Addr::BROADCAST),
            Family::Inet6 => Self::V6(128),
        }
    }

    /// The attribute's four bytes: the mask in network order, or the prefix
    /// length in host order (as the kernel reads it).
    pub(crate) fn to_bytes(self) -> [u8; 4] {
        match self {
            Self::V4(mask) => mask.octets(),
            Self::V6(plen) => u32::from(plen).to_ne_bytes(),
        }
    }

    pub(crate) fn from_bytes(family: Family, b: [u8; 4]) -> Self {
        match family {
            Family::Inet => Self::V4(Ipv4Addr::from(b)),
            Family::Inet6 => Self::V6(u8::try_from(u32::from_ne_bytes(b)).unwrap_or(u8::MAX)),
        }
    }
}

/// Traffic counters and rates of a service or destination (the kernel's
/// 64-bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: Name,
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (meaningful with `PERSISTENT`).
    pub timeout: u32,
    pub netmask: Netmask,
    /// Persistence engine, e.g. `sip`.
    pub pe_name: Option<Name>,
    /// Read back from the kernel; ignored when sent.
    pub stats: Stats,
}

impl Service {
    /// A service with scheduler `wlc`, no persistence, full netmask.
    pub fn new(key: ServiceKey) -> Self {
        Self {
            netmask: Netmask::full(key.family()),
            key,
            scheduler: Name("wlc".into()),
            flags: ServiceFlags::empty(),
            timeout: 0,
            pe_name: None,
            stats: Stats::default(),
        }
    }

    /// Whether the configurable parts (not stats, not `HASHED`) are equal.
    pub fn same_config(&self, other: &Self) -> bool {
        let f = |s: &Self| s.flags.without(ServiceFlags::HASHED);
        self.key == other.key
            && self.scheduler == other.scheduler
            && f(self) == f(other)
            && self.timeout == other.timeout
            && self.netmask == other.netmask
            && self.pe_name == other.pe_name
    }
}

/// Packet-forwarding method of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ForwardMethod {
    /// NAT (`-m`).
    Masq,
    /// Local node.
    Local,
    /// IP-in-IP / GUE / GRE tunnel (`-i`).
    Tunnel,
    /// Direct routing (`-g`).
    Route,
    Bypass,
}

impl ForwardMethod {
    pub(crate) const fn raw(self) -> u32 {
        match self {
            Self::Masq => 0,
            Self::Local => 1,
            Self::Tunnel => 2,
            Self::Route => 3,
            Self::Bypass => 4,
        }
    }

    pub(crate) fn from_raw(raw: u32) -> Result<Self, Error> {
        Ok(match raw & 0x7 {
            0 => Self::Masq,
            1 => Self::Local,
            2 => Self::Tunnel,
            3 => Self::Route,
            4 => Self::Bypass,
            _ => return Err(Error::Decode(format!("unknown forwarding method {raw}"))),
        })
    }
}

/// Encapsulation of a tunnel destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

impl TunnelType {
    pub(crate) const fn raw(self) -> u8 {
        match self {
            Self::Ipip => 0,
            Self::Gue => 1,
            Self::Gre => 2,
        }
    }

    pub(crate) fn from_raw(raw: u8) -> Result<Self, Error> {
        match raw {
            0 => Ok(Self::Ipip),
            1 => Ok(Self::Gue),
            2 => Ok(Self::Gre),
            _ => Err(Error::Decode(format!("unknown tunnel type {raw}"))),
        }
    }
}

/// Tunnel checksum options (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelChecksum {
    #[default]
    None,
    Csum,
    RemCsum,
}

impl TunnelChecksum {
    pub(crate) const fn raw(self) -> u16 {
        match self {
            Self::None => 0,
            Self::Csum => 1,
            Self::RemCsum => 2,
        }
    }

    pub(crate) const fn from_raw(raw: u16) -> Self {
        if raw & 2 != 0 {
            Self::RemCsum
        } else if raw & 1 != 0 {
            Self::Csum
        } else {
            Self::None
        }
    }
}

/// A real server of a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: ForwardMethod,
    /// 0 ..= `i32::MAX`; 0 quiesces the server.
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub tunnel_type: TunnelType,
    /// GUE destination port.
    pub tunnel_port: u16,
    pub tunnel_checksum: TunnelChecksum,
    /// Read back from the kernel; ignored when sent.
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

impl Destination {
    /// A destination with weight 1, masquerading, no thresholds.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Self {
            addr,
            port,
            forward: ForwardMethod::Masq,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_checksum: TunnelChecksum::None,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: Stats::default(),
        }
    }

    /// Whether the configurable parts (not counters) are equal.
    pub fn same_config(&self, other: &Self) -> bool {
        self.addr == other.addr
            && self.port == other.port
            && self.forward == other.forward
            && self.weight == other.weight
            && self.upper_threshold == other.upper_threshold
            && self.lower_threshold == other.lower_threshold
            && (self.forward != ForwardMethod::Tunnel
                || (self.tunnel_type == other.tunnel_type
                    && self.tunnel_port == other.tunnel_port
                    && self.tunnel_checksum == other.tunnel_checksum))
    }
}

/// Connection timeouts in seconds (0 leaves a value unchanged when set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Role of a connection-synchronisation daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DaemonRole {
    Master,
    Backup,
}

impl DaemonRole {
    pub(crate) const fn raw(self) -> u32 {
        match self {
            Self::Master => 1,
            Self::Backup => 2,
        }
    }
}

/// A connection-synchronisation daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub role: DaemonRole,
    pub mcast_ifn: String,
    pub sync_id: u32,
    /// 0 lets the kernel choose.
    pub sync_maxlen: u16,
    pub mcast_group: Option<IpAddr>,
    /// 0 lets the kernel choose.
    pub mcast_port: u16,
    /// 0 lets the kernel choose.
    pub mcast_ttl: u8,
}

impl Daemon {
    pub fn new(role: DaemonRole, mcast_ifn: &str) -> Self {
        Self {
            role,
            mcast_ifn: mcast_ifn.to_owned(),
            sync_id: 0,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
        }
    }
}

/// `IPVS_CMD_GET_INFO`: version and connection table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    /// `(major, minor, patch)`.
    pub const fn version_parts(&self) -> (u32, u32, u32) {
        (
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff,
        )
    }
}

/// Sixteen address bytes as the kernel's `nf_inet_addr` carries them.
pub(crate) fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b = a.octets(),
    }
    b
}

pub(crate) fn addr_from(family: Family, b: &[u8]) -> Result<IpAddr, Error> {
    match family {
        Family::Inet if b.len() >= 4 => Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        Family::Inet6 if b.len() >= 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => Err(Error::Decode(format!("address of {} bytes", b.len()))),
    }
}
