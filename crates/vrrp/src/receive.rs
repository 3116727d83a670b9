//! Receive-side checks that depend on the instance: TTL/hop limit, version, VRID,
//! authentication, interval and address list (RFC 3768 §7.1, RFC 5798 §7.1, with
//! keepalived 2.2.7's choices where the RFCs leave room).
//!
//! [`receive`] runs everything in keepalived's order and returns either the advert or one
//! [`DropReason`] the daemon can log and count with [`DropReason::counter`].

use std::net::IpAddr;

use crate::decode::{decode, DecodeError};
use crate::packet::{Addresses, AdvertInterval, Advertisement, Auth, Endpoints, Version, TTL};

/// Why a received packet is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DropReason {
    /// The message itself is malformed.
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    /// Multicast advert whose TTL / hop limit is not 255.
    #[error("TTL/hop limit {0}, expected 255")]
    WrongTtl(u8),
    /// Version other than the instance's.
    #[error("VRRPv{received} advert, instance runs VRRPv{expected}")]
    WrongVersion {
        /// Received version number.
        received: u8,
        /// The instance's version number.
        expected: u8,
    },
    /// Advert for another virtual router.
    #[error("VRID {received}, instance has VRID {expected}")]
    WrongVrid {
        /// Received VRID.
        received: u8,
        /// The instance's VRID.
        expected: u8,
    },
    /// VRRPv2 auth type differs from the instance's.
    #[error("auth type {received}, expected {expected}")]
    AuthTypeMismatch {
        /// Received auth type.
        received: u8,
        /// The instance's auth type.
        expected: u8,
    },
    /// VRRPv2 PASS with a wrong password.
    #[error("wrong authentication password")]
    AuthFailure,
    /// VRRPv2 advert interval differs from the instance's (RFC 3768 §7.1).
    #[error("advert interval {received} cs, configured {expected} cs")]
    IntervalMismatch {
        /// Received interval, centiseconds.
        received: u16,
        /// Configured interval, centiseconds.
        expected: u16,
    },
    /// Number of virtual addresses differs from the instance's.
    #[error("{received} virtual addresses, expected {expected}")]
    AddressCount {
        /// Received count.
        received: usize,
        /// Configured count.
        expected: usize,
    },
    /// A configured virtual address is missing from the advert.
    #[error("configured virtual address missing from the advert")]
    AddressList,
    /// A multicast advert for a unicast instance, or a unicast one for a multicast instance.
    #[error("expected a {} advert, received a {} one", if *.unicast_expected { "unicast" } else { "multicast" }, if *.unicast_expected { "multicast" } else { "unicast" })]
    UnexpectedDestination {
        /// Whether the instance uses unicast peers.
        unicast_expected: bool,
    },
    /// Unicast advert from an address that is not a configured peer (keepalived's
    /// `check_unicast_src`).
    #[error("source {0} is not a unicast peer")]
    UnknownSource(IpAddr),
}

impl DropReason {
    /// A stable, low-cardinality name for counting drops by reason.
    pub fn counter(&self) -> &'static str {
        match self {
            DropReason::Malformed(e) => match e {
                DecodeError::Truncated(_) | DecodeError::LengthMismatch { .. } => "packet_length",
                DecodeError::UnknownVersion(_) => "version",
                DecodeError::UnknownType(_) => "packet_type",
                DecodeError::BadChecksum { .. } => "checksum",
                DecodeError::ZeroVrid => "vrid",
                DecodeError::UnknownAuthType(_) => "auth_type_invalid",
                DecodeError::ZeroInterval => "interval",
            },
            DropReason::WrongTtl(_) => "ttl",
            DropReason::WrongVersion { .. } => "version",
            DropReason::WrongVrid { .. } => "vrid",
            DropReason::AuthTypeMismatch { .. } => "auth_type_mismatch",
            DropReason::AuthFailure => "auth_failure",
            DropReason::IntervalMismatch { .. } => "interval",
            DropReason::AddressCount { .. }
            | DropReason::AddressList
            | DropReason::UnexpectedDestination { .. } => "address_list",
            DropReason::UnknownSource(_) => "unknown_source",
        }
    }
}

/// What an instance expects of the adverts it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// The instance's version.
    pub version: Version,
    /// The instance's VRID.
    pub vrid: u8,
    /// The instance's authentication (VRRPv2).
    pub auth: Auth,
    /// The configured interval; compared for VRRPv2 only (VRRPv3 backups learn it).
    pub interval: AdvertInterval,
    /// The configured virtual addresses, or None to skip the (optional, RFC 3768 §7.1
    /// "MAY") address-list check, as keepalived's `skip_check_adv_addr` does for adverts from
    /// the master it already knows.
    pub addresses: Option<Addresses>,
    /// The instance uses unicast peers: adverts must arrive unicast, and the TTL is not
    /// checked (keepalived behaviour). Otherwise they must arrive on the multicast group.
    pub unicast: bool,
    /// keepalived's `check_unicast_src`: the unicast peers an advert may come from. None
    /// accepts any source.
    pub allowed_sources: Option<Vec<IpAddr>>,
}

/// RFC 3768 §7.1 / RFC 5798 §7.1: a multicast advert must arrive with TTL / hop limit 255.
/// Unicast adverts are exempt, as in keepalived.
pub fn check_ttl(ttl: u8, unicast: bool) -> Result<(), DropReason> {
    if unicast || ttl == TTL {
        Ok(())
    } else {
        Err(DropReason::WrongTtl(ttl))
    }
}

/// Checks a decoded advert against the instance.
pub fn check_advert(advert: &Advertisement, expect: &Expectations) -> Result<(), DropReason> {
    if advert.version != expect.version {
        return Err(DropReason::WrongVersion {
            received: advert.version.number(),
            expected: expect.version.number(),
        });
    }
    if advert.vrid != expect.vrid {
        return Err(DropReason::WrongVrid {
            received: advert.vrid,
            expected: expect.vrid,
        });
    }
    if advert.version == Version::V2 {
        if advert.auth.type_number() != expect.auth.type_number() {
            return Err(DropReason::AuthTypeMismatch {
                received: advert.auth.type_number(),
                expected: expect.auth.type_number(),
            });
        }
        if let (Auth::Pass(got), Auth::Pass(want)) = (advert.auth, expect.auth) {
            if !constant_time_eq(got, want) {
                return Err(DropReason::AuthFailure);
            }
        }
        if advert.interval != expect.interval {
            return Err(DropReason::IntervalMismatch {
                received: advert.interval.centis(),
                expected: expect.interval.centis(),
            });
        }
    }
    if let Some(mine) = &expect.addresses {
        if advert.addresses.len() != mine.len() {
            return Err(DropReason::AddressCount {
                received: advert.addresses.len(),
                expected: mine.len(),
            });
        }
        let all_present = match (mine, &advert.addresses) {
            (Addresses::V4(m), Addresses::V4(a)) => m.iter().all(|ip| a.contains(ip)),
            (Addresses::V6(m), Addresses::V6(a)) => m.iter().all(|ip| a.contains(ip)),
            _ => false,
        };
        if !all_present {
            return Err(DropReason::AddressList);
        }
    }
    Ok(())
}

/// Everything for one received message, in keepalived's order: TTL, decoding (length,
/// checksum, ...), multicast vs unicast destination, the instance checks, and the unicast
/// source.
pub fn receive(
    message: &[u8],
    ttl: u8,
    endpoints: &Endpoints,
    expect: &Expectations,
) -> Result<Advertisement, DropReason> {
    check_ttl(ttl, expect.unicast)?;
    let advert = decode(message, endpoints)?;
    let (source, destination): (IpAddr, IpAddr) = match *endpoints {
        Endpoints::V4 {
            source,
            destination,
            ..
        } => (source.into(), destination.into()),
        Endpoints::V6 {
            source,
            destination,
        } => (source.into(), destination.into()),
    };
    if destination.is_multicast() == expect.unicast {
        return Err(DropReason::UnexpectedDestination {
            unicast_expected: expect.unicast,
        });
    }
    check_advert(&advert, expect)?;
    if let Some(peers) = &expect.allowed_sources {
        if !peers.contains(&source) {
            return Err(DropReason::UnknownSource(source));
        }
    }
    Ok(advert)
}

/// Compares passwords without an early exit, so timing does not leak the matching prefix.
fn constant_time_eq(a: [u8; 8], b: [u8; 8]) -> bool {
    a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
