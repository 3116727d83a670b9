//! Decoding and structural validation of received VRRP messages (RFC 3768 §7.1,
//! RFC 5798 §7.1). Every malformed message gives a [`DecodeError`]; nothing here panics.
//!
//! Checks that depend on the receiving instance (its VRID, version, password, interval,
//! addresses) and the TTL check are in [`mod@crate::receive`].

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::packet::{
    auth_data_len, Addresses, AdvertInterval, Advertisement, Auth, Endpoints, Version,
    AUTH_DATA_LEN, HEADER_LEN, TYPE_ADVERTISEMENT,
};

/// Why a received message is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the 8-byte fixed header.
    #[error("message of {0} bytes is shorter than the VRRP header")]
    Truncated(usize),
    /// Version nibble neither 2 nor 3.
    #[error("unknown VRRP version {0}")]
    UnknownVersion(u8),
    /// Type nibble other than 1 (ADVERTISEMENT).
    #[error("unknown VRRP packet type {0}")]
    UnknownType(u8),
    /// The length does not match the address count.
    #[error("message is {actual} bytes but {count} addresses need {expected}")]
    LengthMismatch {
        /// Address count from the header.
        count: u8,
        /// Length that count implies.
        expected: usize,
        /// Length received.
        actual: usize,
    },
    /// Checksum does not verify.
    #[error("bad checksum {received:#06x}, expected {expected:#06x}")]
    BadChecksum {
        /// Checksum field as received.
        received: u16,
        /// What it should have been.
        expected: u16,
    },
    /// VRID 0.
    #[error("VRID 0 is not a valid virtual router id")]
    ZeroVrid,
    /// VRRPv2 auth type other than 0 (none) or 1 (PASS; IPv4 only); 2 (IP AH) is not
    /// supported.
    #[error("unsupported VRRPv2 auth type {0}")]
    UnknownAuthType(u8),
    /// Advert interval 0.
    #[error("advertisement interval is zero")]
    ZeroInterval,
}

/// Decodes one VRRP message received between `endpoints`.
pub fn decode(message: &[u8], endpoints: &Endpoints) -> Result<Advertisement, DecodeError> {
    let Some(header) = message.first_chunk::<HEADER_LEN>() else {
        return Err(DecodeError::Truncated(message.len()));
    };
    let version = match header[0] >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        other => return Err(DecodeError::UnknownVersion(other)),
    };
    let packet_type = header[0] & 0x0f;
    if packet_type != TYPE_ADVERTISEMENT {
        return Err(DecodeError::UnknownType(packet_type));
    }
    let [_, vrid, priority, count, b4, b5, c0, c1] = *header;
    let per_address = if endpoints.is_v6() { 16 } else { 4 };
    let auth_len = auth_data_len(version, endpoints.is_v6());
    let expected = HEADER_LEN + per_address * usize::from(count) + auth_len;
    if message.len() != expected {
        return Err(DecodeError::LengthMismatch {
            count,
            expected,
            actual: message.len(),
        });
    }
    if endpoints.checksum(version, message) != 0 {
        let mut zeroed = message.to_vec();
        zeroed[6..8].fill(0);
        return Err(DecodeError::BadChecksum {
            received: u16::from_be_bytes([c0, c1]),
            expected: endpoints.checksum(version, &zeroed),
        });
    }
    if vrid == 0 {
        return Err(DecodeError::ZeroVrid);
    }
    let address_bytes = &message[HEADER_LEN..expected - auth_len];
    let addresses = if endpoints.is_v6() {
        Addresses::V6(
            address_bytes
                .chunks_exact(16)
                .map(|c| Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap_or_default()))
                .collect(),
        )
    } else {
        Addresses::V4(
            address_bytes
                .chunks_exact(4)
                .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                .collect(),
        )
    };
    let (auth, centis) = match version {
        Version::V2 => {
            let auth = match b4 {
                0 => Auth::None,
                // PASS needs the auth data, which VRRPv2 over IPv6 does not carry.
                1 if auth_len == AUTH_DATA_LEN => {
                    let mut data = [0u8; AUTH_DATA_LEN];
                    data.copy_from_slice(&message[expected - AUTH_DATA_LEN..]);
                    Auth::Pass(data)
                }
                other => return Err(DecodeError::UnknownAuthType(other)),
            };
            (auth, u16::from(b5) * 100)
        }
        // The top 4 bits are reserved: sent as zero, ignored on receipt (RFC 5798 §5.2.7).
        Version::V3 => (
            Auth::None,
            u16::from_be_bytes([b4, b5]) & AdvertInterval::MAX_V3_CENTIS,
        ),
    };
    let interval = AdvertInterval::from_centis(centis).ok_or(DecodeError::ZeroInterval)?;
    Ok(Advertisement {
        version,
        vrid,
        priority,
        interval,
        auth,
        addresses,
    })
}
