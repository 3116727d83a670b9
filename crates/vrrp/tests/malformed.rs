//! Every malformed or unwanted packet gets its own typed reason (RFC 3768 §7.1,
//! RFC 5798 §7.1); the daemon counts drops by `DropReason::counter`.

use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp::{
    check_ttl, decode, receive, Addresses, AdvertInterval, Advertisement, Auth, DecodeError,
    DropReason, Endpoints, Expectations, Version,
};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const VIP1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);

fn ep() -> Endpoints {
    Endpoints::multicast_v4(SRC)
}

fn v2(auth: Auth) -> Advertisement {
    Advertisement {
        version: Version::V2,
        vrid: 7,
        priority: 100,
        interval: AdvertInterval::from_secs(1).unwrap(),
        auth,
        addresses: Addresses::V4(vec![VIP1, VIP2]),
    }
}

fn v3() -> Advertisement {
    Advertisement {
        version: Version::V3,
        auth: Auth::None,
        ..v2(Auth::None)
    }
}

fn expect(version: Version, auth: Auth) -> Expectations {
    Expectations {
        version,
        vrid: 7,
        auth,
        interval: AdvertInterval::from_secs(1).unwrap(),
        addresses: Some(Addresses::V4(vec![VIP2, VIP1])),
        unicast: false,
        allowed_sources: None,
    }
}

/// Encodes a valid v2 advert, applies `edit`, and recomputes the checksum so that only
/// the edit is wrong.
fn edited_v2(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = v2(Auth::None).encode(&ep()).unwrap();
    edit(&mut bytes);
    bytes[6..8].fill(0);
    let sum = ep().checksum(Version::V2, &bytes);
    bytes[6..8].copy_from_slice(&sum.to_be_bytes());
    bytes
}

#[test]
fn rfc3768_7_1_short_header_is_truncated() {
    for len in 0..8 {
        assert_eq!(
            decode(&vec![0x21; len], &ep()),
            Err(DecodeError::Truncated(len))
        );
    }
}

#[test]
fn rfc3768_7_1_unknown_version_is_rejected() {
    let bytes = edited_v2(|b| b[0] = 0x41);
    assert_eq!(decode(&bytes, &ep()), Err(DecodeError::UnknownVersion(4)));
}

#[test]
fn rfc3768_5_3_2_unknown_type_is_rejected() {
    let bytes = edited_v2(|b| b[0] = 0x22);
    assert_eq!(decode(&bytes, &ep()), Err(DecodeError::UnknownType(2)));
}

#[test]
fn rfc3768_7_1_count_longer_than_message_is_a_length_mismatch() {
    let bytes = edited_v2(|b| b[3] = 3);
    assert_eq!(
        decode(&bytes, &ep()),
        Err(DecodeError::LengthMismatch {
            count: 3,
            expected: 28,
            actual: 24
        })
    );
}

#[test]
fn rfc3768_7_1_trailing_bytes_are_a_length_mismatch() {
    let mut bytes = v2(Auth::None).encode(&ep()).unwrap();
    bytes.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode(&bytes, &ep()),
        Err(DecodeError::LengthMismatch { actual: 26, .. })
    ));
}

#[test]
fn rfc3768_7_1_flipped_bit_fails_the_checksum() {
    let mut bytes = v2(Auth::None).encode(&ep()).unwrap();
    bytes[2] ^= 0x01;
    assert!(matches!(
        decode(&bytes, &ep()),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn rfc3768_5_3_3_vrid_zero_is_rejected() {
    assert_eq!(
        decode(&edited_v2(|b| b[1] = 0), &ep()),
        Err(DecodeError::ZeroVrid)
    );
}

#[test]
fn rfc3768_5_3_6_auth_type_ah_is_unsupported() {
    assert_eq!(
        decode(&edited_v2(|b| b[4] = 2), &ep()),
        Err(DecodeError::UnknownAuthType(2))
    );
}

#[test]
fn rfc3768_5_3_7_zero_interval_is_rejected() {
    assert_eq!(
        decode(&edited_v2(|b| b[5] = 0), &ep()),
        Err(DecodeError::ZeroInterval)
    );
}

#[test]
fn keepalived_v2_over_ipv6_has_no_auth_data_and_no_pass() {
    // keepalived's VRRPv2-over-IPv6 extension: header + addresses, no 8 auth bytes.
    let v6 = Endpoints::multicast_v6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let mut a = v2(Auth::None);
    a.addresses = Addresses::V6(vec![Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)]);
    let bytes = a.encode(&v6).unwrap();
    assert_eq!(bytes.len(), 8 + 16);
    assert_eq!(decode(&bytes, &v6), Ok(a.clone()));
    // Auth type 1 cannot be carried there.
    let mut pass = bytes.clone();
    pass[4] = 1;
    pass[6..8].fill(0);
    let sum = v6.checksum(Version::V2, &pass);
    pass[6..8].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(decode(&pass, &v6), Err(DecodeError::UnknownAuthType(1)));
    a.auth = Auth::password("x");
    assert_eq!(a.encode(&v6), Err(vrrp::EncodeError::AuthOverIpv6));
}

#[test]
fn rfc5798_5_2_7_reserved_interval_bits_are_ignored() {
    let mut bytes = v3().encode(&ep()).unwrap();
    bytes[4] |= 0xf0;
    // Fix the checksum for the changed reserved bits: the sum drops by 0xf000.
    let sum = u16::from_be_bytes([bytes[6], bytes[7]]);
    let fixed = (u32::from(sum) + 0xffff - 0xf000) % 0xffff;
    bytes[6..8].copy_from_slice(&u16::try_from(fixed).unwrap().to_be_bytes());
    assert_eq!(decode(&bytes, &ep()).unwrap().interval.centis(), 100);
}

#[test]
fn rfc5798_7_1_ttl_must_be_255_unless_unicast() {
    assert_eq!(check_ttl(255, false), Ok(()));
    assert_eq!(check_ttl(254, false), Err(DropReason::WrongTtl(254)));
    assert_eq!(
        check_ttl(64, true),
        Ok(()),
        "keepalived skips the TTL check for unicast"
    );
    let bytes = v2(Auth::None).encode(&ep()).unwrap();
    let got = receive(&bytes, 1, &ep(), &expect(Version::V2, Auth::None));
    assert_eq!(got, Err(DropReason::WrongTtl(1)));
    assert_eq!(got.unwrap_err().counter(), "ttl");
}

#[test]
fn rfc3768_7_1_accepts_matching_advert_with_addresses_in_any_order() {
    let bytes = v2(Auth::None).encode(&ep()).unwrap();
    let got = receive(&bytes, 255, &ep(), &expect(Version::V2, Auth::None)).unwrap();
    assert_eq!(got, v2(Auth::None));
}

#[test]
fn rfc5798_7_1_wrong_version_is_dropped() {
    let bytes = v3().encode(&ep()).unwrap();
    let got = receive(&bytes, 255, &ep(), &expect(Version::V2, Auth::None));
    assert_eq!(
        got,
        Err(DropReason::WrongVersion {
            received: 3,
            expected: 2
        })
    );
}

#[test]
fn rfc3768_7_1_wrong_vrid_is_dropped() {
    let bytes = v2(Auth::None).encode(&ep()).unwrap();
    let mut e = expect(Version::V2, Auth::None);
    e.vrid = 8;
    let got = receive(&bytes, 255, &ep(), &e);
    assert_eq!(
        got,
        Err(DropReason::WrongVrid {
            received: 7,
            expected: 8
        })
    );
}

#[test]
fn rfc3768_7_1_auth_type_mismatch_and_wrong_password_are_dropped() {
    let plain = v2(Auth::None).encode(&ep()).unwrap();
    let got = receive(
        &plain,
        255,
        &ep(),
        &expect(Version::V2, Auth::password("pw")),
    );
    assert_eq!(
        got,
        Err(DropReason::AuthTypeMismatch {
            received: 0,
            expected: 1
        })
    );

    let wrong = v2(Auth::password("guess")).encode(&ep()).unwrap();
    let got = receive(
        &wrong,
        255,
        &ep(),
        &expect(Version::V2, Auth::password("secret")),
    );
    assert_eq!(got, Err(DropReason::AuthFailure));
    assert_eq!(got.unwrap_err().counter(), "auth_failure");

    // Only 8 bytes count: passwords equal on their first 8 bytes match.
    let long = v2(Auth::password("secret123")).encode(&ep()).unwrap();
    let e = expect(Version::V2, Auth::password("secret12-and-more"));
    assert!(receive(&long, 255, &ep(), &e).is_ok());
}

#[test]
fn rfc3768_7_1_v2_interval_mismatch_is_dropped_but_v3_learns_it() {
    let mut slow = v2(Auth::None);
    slow.interval = AdvertInterval::from_secs(2).unwrap();
    let bytes = slow.encode(&ep()).unwrap();
    let got = receive(&bytes, 255, &ep(), &expect(Version::V2, Auth::None));
    assert_eq!(
        got,
        Err(DropReason::IntervalMismatch {
            received: 200,
            expected: 100
        })
    );

    let mut slow3 = v3();
    slow3.interval = AdvertInterval::from_centis(250).unwrap();
    let bytes = slow3.encode(&ep()).unwrap();
    assert!(receive(&bytes, 255, &ep(), &expect(Version::V3, Auth::None)).is_ok());
}

#[test]
fn rfc3768_7_1_address_list_mismatch_is_dropped_unless_skipped() {
    let mut other = v3();
    other.addresses = Addresses::V4(vec![VIP1, Ipv4Addr::new(192, 0, 2, 102)]);
    let bytes = other.encode(&ep()).unwrap();
    let got = receive(&bytes, 255, &ep(), &expect(Version::V3, Auth::None));
    assert_eq!(got, Err(DropReason::AddressList));

    let mut fewer = v3();
    fewer.addresses = Addresses::V4(vec![VIP1]);
    let bytes = fewer.encode(&ep()).unwrap();
    let got = receive(&bytes, 255, &ep(), &expect(Version::V3, Auth::None));
    assert_eq!(
        got,
        Err(DropReason::AddressCount {
            received: 1,
            expected: 2
        })
    );

    let mut skip = expect(Version::V3, Auth::None);
    skip.addresses = None;
    assert!(receive(&bytes, 255, &ep(), &skip).is_ok());
}

#[test]
fn malformed_packets_are_counted_under_stable_names() {
    let short = receive(&[0x21], 255, &ep(), &expect(Version::V2, Auth::None)).unwrap_err();
    assert_eq!(short, DropReason::Malformed(DecodeError::Truncated(1)));
    assert_eq!(short.counter(), "packet_length");
    let mut bad = v2(Auth::None).encode(&ep()).unwrap();
    bad[7] ^= 0xff;
    let bad = receive(&bad, 255, &ep(), &expect(Version::V2, Auth::None)).unwrap_err();
    assert_eq!(bad.counter(), "checksum");
}

#[test]
fn encode_rejects_what_the_wire_cannot_carry() {
    use vrrp::EncodeError;
    let mut a = v2(Auth::None);
    a.vrid = 0;
    assert_eq!(a.encode(&ep()), Err(EncodeError::ZeroVrid));
    let mut a = v2(Auth::None);
    a.interval = AdvertInterval::from_centis(150).unwrap();
    assert_eq!(
        a.encode(&ep()),
        Err(EncodeError::IntervalOutOfRange {
            version: 2,
            centis: 150
        })
    );
    let mut a = v3();
    a.interval = AdvertInterval::from_centis(4096).unwrap();
    assert_eq!(
        a.encode(&ep()),
        Err(EncodeError::IntervalOutOfRange {
            version: 3,
            centis: 4096
        })
    );
    let mut a = v3();
    a.auth = Auth::password("x");
    assert_eq!(a.encode(&ep()), Err(EncodeError::AuthOnV3));
    let mut a = v3();
    a.addresses = Addresses::V4(vec![VIP1; 256]);
    assert_eq!(a.encode(&ep()), Err(EncodeError::TooManyAddresses(256)));
    let v6 = Endpoints::multicast_v6(Ipv6Addr::LOCALHOST);
    assert_eq!(v3().encode(&v6), Err(EncodeError::FamilyMismatch));
    let mut a = v2(Auth::password("x"));
    a.addresses = Addresses::V6(vec![]);
    assert_eq!(a.encode(&v6), Err(EncodeError::AuthOverIpv6));
}

#[test]
fn keepalived_multicast_and_unicast_instances_reject_each_others_adverts() {
    let bytes = v3().encode(&ep()).unwrap();
    let mut unicast = expect(Version::V3, Auth::None);
    unicast.unicast = true;
    let got = receive(&bytes, 255, &ep(), &unicast);
    assert_eq!(
        got,
        Err(DropReason::UnexpectedDestination {
            unicast_expected: true
        })
    );

    let to_peer = Endpoints::V4 {
        source: SRC,
        destination: Ipv4Addr::new(192, 0, 2, 2),
        v3_checksum: vrrp::V3Ipv4Checksum::WithPseudoHeader,
    };
    let bytes = v3().encode(&to_peer).unwrap();
    assert!(
        receive(&bytes, 64, &to_peer, &unicast).is_ok(),
        "unicast skips the TTL check"
    );
    let got = receive(&bytes, 255, &to_peer, &expect(Version::V3, Auth::None));
    assert_eq!(
        got,
        Err(DropReason::UnexpectedDestination {
            unicast_expected: false
        })
    );
}

#[test]
fn keepalived_check_unicast_src_drops_unknown_peers() {
    let to_peer = Endpoints::V4 {
        source: SRC,
        destination: Ipv4Addr::new(192, 0, 2, 2),
        v3_checksum: vrrp::V3Ipv4Checksum::WithPseudoHeader,
    };
    let bytes = v3().encode(&to_peer).unwrap();
    let mut e = expect(Version::V3, Auth::None);
    e.unicast = true;
    e.allowed_sources = Some(vec![Ipv4Addr::new(192, 0, 2, 9).into()]);
    let got = receive(&bytes, 255, &to_peer, &e);
    assert_eq!(got, Err(DropReason::UnknownSource(SRC.into())));
    assert_eq!(got.unwrap_err().counter(), "unknown_source");
    e.allowed_sources = Some(vec![SRC.into()]);
    assert!(receive(&bytes, 255, &to_peer, &e).is_ok());
}
