//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP puts under it.
//!
//! VRRPv2 (RFC 3768 §5.3.8) sums the VRRP message alone. VRRPv3 (RFC 5798 §5.2.8) adds
//! the IP pseudo-header: the IPv6 one of RFC 8200 §8.1 and, for IPv4, the RFC 768-style
//! one (source, destination, zero, protocol 112, length). RFC 9568 §5.2.8 later dropped the
//! pseudo-header for IPv4; keepalived 2.2.7 still includes it, so the IPv4 choice is a
//! per-instance option ([`V3Ipv4Checksum`]).

use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP (RFC 3768 §5.2.4, RFC 5798 §5.1.1.3).
pub const IPPROTO_VRRP: u8 = 112;

/// How a VRRPv3 message over IPv4 is checksummed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V3Ipv4Checksum {
    /// Pseudo-header + message, as RFC 5798 §5.2.8 is written and keepalived 2.2.7 does.
    #[default]
    WithPseudoHeader,
    /// Message only, as RFC 9568 §5.2.8 specifies for IPv4.
    MessageOnly,
    /// Pseudo-header naming 224.0.0.18 as destination even for unicast: keepalived's
    /// `old_unicast_checksum` (the unicast checksum of keepalived before 2.0.?). A
    /// keepalived without the option that fails a unicast checksum retries with this one
    /// and, if it verifies, switches the instance to it; a daemon can do the same.
    MulticastGroupPseudoHeader,
}

/// Running one's-complement sum of 16-bit big-endian words.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sum(u32);

impl Sum {
    pub(crate) fn add(mut self, bytes: &[u8]) -> Self {
        let mut chunks = bytes.chunks_exact(2);
        for word in &mut chunks {
            self.0 += u32::from(u16::from_be_bytes([word[0], word[1]]));
            self.0 = (self.0 & 0xffff) + (self.0 >> 16);
        }
        if let [last] = chunks.remainder() {
            self.0 += u32::from(*last) << 8;
            self.0 = (self.0 & 0xffff) + (self.0 >> 16);
        }
        self
    }

    /// The checksum field value: the complement of the folded sum.
    pub(crate) fn finish(self) -> u16 {
        let mut s = self.0;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        // `s` is folded to 16 bits above; the truncation is the point.
        #[allow(clippy::cast_possible_truncation)]
        let folded = s as u16;
        !folded
    }
}

/// Sum of the IPv4 pseudo-header (source, destination, zero, protocol, length).
pub(crate) fn ipv4_pseudo(src: Ipv4Addr, dst: Ipv4Addr, len: u16) -> Sum {
    let [l0, l1] = len.to_be_bytes();
    Sum::default()
        .add(&src.octets())
        .add(&dst.octets())
        .add(&[0, IPPROTO_VRRP, l0, l1])
}

/// Sum of the IPv6 pseudo-header of RFC 8200 §8.1.
pub(crate) fn ipv6_pseudo(src: Ipv6Addr, dst: Ipv6Addr, len: u16) -> Sum {
    let [l0, l1] = len.to_be_bytes();
    Sum::default()
        .add(&src.octets())
        .add(&dst.octets())
        .add(&[0, 0, l0, l1, 0, 0, 0, IPPROTO_VRRP])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sums_to_ddf2() {
        // RFC 1071 §3 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let s = Sum::default().add(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(s.finish(), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            Sum::default().add(&[0x12]).finish(),
            Sum::default().add(&[0x12, 0]).finish()
        );
    }

    #[test]
    fn split_sums_equal_whole_sum() {
        let data = [1u8, 2, 3, 4, 5, 6, 0xff, 0xfe];
        let whole = Sum::default().add(&data).finish();
        let split = Sum::default().add(&data[..4]).add(&data[4..]).finish();
        assert_eq!(whole, split);
    }
}
