//! VRRP advertisement messages: the types, and encoding (RFC 3768 §5.3, RFC 5798 §5.2).
//!
//! Decoding lives in [`mod@crate::decode`]. Both work on the VRRP message alone (what a raw
//! socket hands over after the IP header); the IP addresses it travels between are given
//! as [`Endpoints`] because the VRRPv3 checksum covers them.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum::{ipv4_pseudo, ipv6_pseudo, Sum, V3Ipv4Checksum};

/// Length of the fixed VRRP header (version/type through checksum).
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data (RFC 3768 §5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type (RFC 3768 §5.3.2, RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// IPv4 multicast group for VRRP (RFC 5798 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group for VRRP (RFC 5798 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit adverts are sent with and must arrive with (RFC 5798 §5.1.1.3).
pub const TTL: u8 = 255;

/// Protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768 (IPv4 only).
    V2,
    /// VRRPv3, RFC 5798.
    V3,
}

impl Version {
    /// The number carried in the version nibble.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). VRRPv3 has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0.
    None,
    /// Auth type 1: a clear-text password, zero padded and cut to 8 bytes.
    Pass([u8; AUTH_DATA_LEN]),
}

impl Auth {
    /// A PASS authentication from a configured password; like keepalived's `auth_pass`, only
    /// the first 8 bytes count and shorter passwords are zero padded.
    pub fn password(password: &str) -> Self {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (slot, byte) in data.iter_mut().zip(password.bytes()) {
            *slot = byte;
        }
        Auth::Pass(data)
    }

    /// The auth type number on the wire.
    pub fn type_number(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
        }
    }
}

/// The advertisement interval, in centiseconds.
///
/// VRRPv2 carries whole seconds in 8 bits (1..=255 s); VRRPv3 carries centiseconds in 12 bits
/// (1..=4095 cs). A zero interval is rejected by both encoder and decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdvertInterval(u16);

impl AdvertInterval {
    /// Largest VRRPv3 interval, 4095 cs (12 bits).
    pub const MAX_V3_CENTIS: u16 = 0x0fff;

    /// An interval of `centis` hundredths of a second (None for zero).
    pub const fn from_centis(centis: u16) -> Option<Self> {
        if centis == 0 {
            None
        } else {
            Some(AdvertInterval(centis))
        }
    }

    /// An interval of whole seconds (None for zero or more than 655 s).
    pub const fn from_secs(secs: u16) -> Option<Self> {
        match secs.checked_mul(100) {
            Some(c) if c > 0 => Some(AdvertInterval(c)),
            _ => None,
        }
    }

    /// Hundredths of a second.
    pub const fn centis(self) -> u16 {
        self.0
    }

    /// As a duration.
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.0) * 10)
    }
}

/// The virtual addresses an advert lists; all of one family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// IPv4 addresses.
    V4(Vec<Ipv4Addr>),
    /// IPv6 addresses.
    V6(Vec<Ipv6Addr>),
}

impl Addresses {
    /// How many addresses.
    pub fn len(&self) -> usize {
        match self {
            Addresses::V4(a) => a.len(),
            Addresses::V6(a) => a.len(),
        }
    }

    /// No address at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_v6(&self) -> bool {
        matches!(self, Addresses::V6(_))
    }
}

/// The IP source and destination of an advert, needed for the VRRPv3 pseudo-header, and
/// the IPv4 checksum variant in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Over IPv4.
    V4 {
        /// IP source (the sender's primary address).
        source: Ipv4Addr,
        /// IP destination (224.0.0.18 or a unicast peer).
        destination: Ipv4Addr,
        /// Whether the VRRPv3 checksum includes the pseudo-header.
        v3_checksum: V3Ipv4Checksum,
    },
    /// Over IPv6.
    V6 {
        /// IP source (the sender's link-local address).
        source: Ipv6Addr,
        /// IP destination (ff02::12 or a unicast peer).
        destination: Ipv6Addr,
    },
}

impl Endpoints {
    /// Multicast IPv4 from `source` to 224.0.0.18 with keepalived 2.2.7's checksum.
    pub fn multicast_v4(source: Ipv4Addr) -> Self {
        Endpoints::V4 {
            source,
            destination: MULTICAST_V4,
            v3_checksum: V3Ipv4Checksum::WithPseudoHeader,
        }
    }

    /// Multicast IPv6 from `source` to ff02::12.
    pub fn multicast_v6(source: Ipv6Addr) -> Self {
        Endpoints::V6 {
            source,
            destination: MULTICAST_V6,
        }
    }

    pub(crate) fn is_v6(&self) -> bool {
        matches!(self, Endpoints::V6 { .. })
    }

    /// The checksum field for `message` (whose checksum bytes must be zero, or hold the
    /// received value when verifying: then the result is 0 for a correct message).
    pub fn checksum(&self, version: Version, message: &[u8]) -> u16 {
        // Messages are at most 8 + 255 * 16 + 8 bytes, far below u16::MAX.
        let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
        let base = match (version, self) {
            // IPv6 always has the pseudo-header: RFC 5798 for VRRPv3, and the kernel's
            // IPV6_CHECKSUM for keepalived's VRRPv2-over-IPv6.
            (
                _,
                Endpoints::V6 {
                    source,
                    destination,
                },
            ) => ipv6_pseudo(*source, *destination, len),
            (Version::V2, Endpoints::V4 { .. })
            | (
                Version::V3,
                Endpoints::V4 {
                    v3_checksum: V3Ipv4Checksum::MessageOnly,
                    ..
                },
            ) => Sum::default(),
            (
                Version::V3,
                Endpoints::V4 {
                    source,
                    destination,
                    v3_checksum: V3Ipv4Checksum::WithPseudoHeader,
                },
            ) => ipv4_pseudo(*source, *destination, len),
            (
                Version::V3,
                Endpoints::V4 {
                    source,
                    v3_checksum: V3Ipv4Checksum::MulticastGroupPseudoHeader,
                    ..
                },
            ) => ipv4_pseudo(*source, MULTICAST_V4, len),
        };
        base.add(message).finish()
    }
}

/// Length of the authentication data: 8 bytes for VRRPv2 over IPv4 (RFC 3768 §5.3.10); none
/// for VRRPv3, nor for keepalived's VRRPv2-over-IPv6 extension.
pub(crate) fn auth_data_len(version: Version, ipv6: bool) -> usize {
    if version == Version::V2 && !ipv6 {
        AUTH_DATA_LEN
    } else {
        0
    }
}

/// One VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advertisement {
    /// Protocol version.
    pub version: Version,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// Sender's priority: 255 owner, 1..=254 backup, 0 master stopping.
    pub priority: u8,
    /// (Max) advertisement interval.
    pub interval: AdvertInterval,
    /// Authentication, VRRPv2 only ([`Auth::None`] for VRRPv3).
    pub auth: Auth,
    /// Virtual addresses.
    pub addresses: Addresses,
}

/// Why an advert cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// VRID 0 is reserved.
    #[error("VRID 0 is not a valid virtual router id")]
    ZeroVrid,
    /// More than 255 addresses.
    #[error("{0} virtual addresses do not fit the 8-bit count")]
    TooManyAddresses(usize),
    /// The interval is not representable in this version.
    #[error("advert interval of {centis} cs cannot be carried by VRRPv{version}")]
    IntervalOutOfRange {
        /// Version number.
        version: u8,
        /// The interval asked for.
        centis: u16,
    },
    /// Addresses of the other family than the endpoints.
    #[error("virtual address family differs from the IP family the advert is sent over")]
    FamilyMismatch,
    /// VRRPv2 over IPv6 (a keepalived extension) carries no authentication data.
    #[error("VRRPv2 over IPv6 carries no authentication")]
    AuthOverIpv6,
    /// RFC 5798 removed authentication.
    #[error("VRRPv3 has no authentication")]
    AuthOnV3,
}

impl Advertisement {
    /// Length of the encoded message.
    pub fn encoded_len(&self) -> usize {
        let per = if self.addresses.is_v6() { 16 } else { 4 };
        HEADER_LEN
            + per * self.addresses.len()
            + auth_data_len(self.version, self.addresses.is_v6())
    }

    /// The VRRP message bytes, checksum included.
    pub fn encode(&self, endpoints: &Endpoints) -> Result<Vec<u8>, EncodeError> {
        if self.vrid == 0 {
            return Err(EncodeError::ZeroVrid);
        }
        let count = u8::try_from(self.addresses.len())
            .map_err(|_| EncodeError::TooManyAddresses(self.addresses.len()))?;
        if self.addresses.is_v6() != endpoints.is_v6() {
            return Err(EncodeError::FamilyMismatch);
        }
        let interval_bytes = match self.version {
            Version::V2 => {
                if endpoints.is_v6() && self.auth != Auth::None {
                    return Err(EncodeError::AuthOverIpv6);
                }
                let centis = self.interval.centis();
                let secs = u8::try_from(centis / 100)
                    .ok()
                    .filter(|_| centis.is_multiple_of(100));
                let Some(secs) = secs else {
                    return Err(EncodeError::IntervalOutOfRange { version: 2, centis });
                };
                [self.auth.type_number(), secs]
            }
            Version::V3 => {
                if self.auth != Auth::None {
                    return Err(EncodeError::AuthOnV3);
                }
                let centis = self.interval.centis();
                if centis > AdvertInterval::MAX_V3_CENTIS {
                    return Err(EncodeError::IntervalOutOfRange { version: 3, centis });
                }
                centis.to_be_bytes()
            }
        };
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(self.version.number() << 4 | TYPE_ADVERTISEMENT);
        out.extend_from_slice(&[self.vrid, self.priority, count]);
        out.extend_from_slice(&interval_bytes);
        out.extend_from_slice(&[0, 0]);
        match &self.addresses {
            Addresses::V4(a) => a.iter().for_each(|ip| out.extend_from_slice(&ip.octets())),
            Addresses::V6(a) => a.iter().for_each(|ip| out.extend_from_slice(&ip.octets())),
        }
        if auth_data_len(self.version, endpoints.is_v6()) > 0 {
            match self.auth {
                Auth::None => out.extend_from_slice(&[0; AUTH_DATA_LEN]),
                Auth::Pass(data) => out.extend_from_slice(&data),
            }
        }
        let sum = endpoints.checksum(self.version, &out);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(out)
    }
}

/// Type of service keepalived puts on adverts: 0xc0, internetwork control.
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

/// The IPv4 header keepalived 2.2.7 sends adverts with (`IP_HDRINCL`): version 4, IHL 5,
/// TOS 0xc0, no fragmentation, TTL 255, protocol 112, and the header checksum. keepalived
/// numbers its adverts' `id` itself, 1, 2, … (skipping 0 on wrap-around, since the kernel
/// would replace a 0); the kernel recomputes the checksum under `IP_HDRINCL` anyway.
pub fn ipv4_header(source: Ipv4Addr, destination: Ipv4Addr, message_len: u16, id: u16) -> [u8; 20] {
    let total = message_len.saturating_add(20).to_be_bytes();
    let id = id.to_be_bytes();
    let mut header = [0u8; 20];
    header[..12].copy_from_slice(&[
        0x45,
        TOS_INTERNETWORK_CONTROL,
        total[0],
        total[1],
        id[0],
        id[1],
        0,
        0,
        TTL,
        crate::checksum::IPPROTO_VRRP,
        0,
        0,
    ]);
    header[12..16].copy_from_slice(&source.octets());
    header[16..].copy_from_slice(&destination.octets());
    let sum = Sum::default().add(&header).finish();
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    header
}
