//! Receive-side checks that depend on the instance: TTL/hop limit, version, VRID,
//! authentication, interval and address list (RFC 3768 §7.1, RFC 5798 §7.1, with
//! keepalived 2.2.7's choices where the RFCs leave room).
//!
//! [`receive`] runs everything in keepalived's order and returns either the advert or one
//! [`DropReason`] the daemon can log and count with [`DropReason::counter`].

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
}

impl DropReason {
    /// A stable, low-cardinality name for counting drops by reason.
    pub fn counter(&self) -> &'static str {
        match self {
            DropReason::Malformed(e) => match e {
                DecodeError::Truncated(_) | DecodeError::LengthMismatch { .. } => "packet_length",
                DecodeError::UnknownVersion(_) | DecodeError::V2OverIpv6 => "version",
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
            DropReason::AddressCount { .. } | DropReason::AddressList => "address_list",
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
    /// "MAY") address-list check, as keepalived's `skip_check_adv_addr` does.
    pub addresses: Option<Addresses>,
    /// Unicast peers: the TTL is not checked (keepalived behaviour).
    pub unicast: bool,
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

/// Everything for one received message: TTL, decoding, and the instance checks.
pub fn receive(
    message: &[u8],
    ttl: u8,
    endpoints: &Endpoints,
    expect: &Expectations,
) -> Result<Advertisement, DropReason> {
    check_ttl(ttl, expect.unicast)?;
    let advert = decode(message, endpoints)?;
    check_advert(&advert, expect)?;
    Ok(advert)
}

/// Compares passwords without an early exit, so timing does not leak the matching prefix.
fn constant_time_eq(a: [u8; 8], b: [u8; 8]) -> bool {
    a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
