//! Golden packets captured from keepalived 2.2.7 (issue 6): VRID 51, priority 150,
//! VIPs 10.99.0.100 and 10.99.0.101, advert_int 1, sent from 10.99.0.1 to 224.0.0.18.
//! (These addresses come from the capture in the issue and are kept byte for byte.)

use std::net::Ipv4Addr;

use vrrp::{
    decode, Addresses, AdvertInterval, Advertisement, Auth, DecodeError, Endpoints, V3Ipv4Checksum,
    Version,
};

const SOURCE: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

const V2_NO_AUTH: [u8; 24] = [
    0x21, 0x33, 0x96, 0x02, 0x00, 0x01, 0x33, 0x3a, 0x0a, 0x63, 0x00, 0x64, 0x0a, 0x63, 0x00, 0x65,
    0, 0, 0, 0, 0, 0, 0, 0,
];
const V2_PASS: [u8; 24] = [
    0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0xc4, 0xbb, 0x0a, 0x63, 0x00, 0x64, 0x0a, 0x63, 0x00, 0x65,
    0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
];
const V3: [u8; 16] = [
    0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x37, 0xe0, 0x0a, 0x63, 0x00, 0x64, 0x0a, 0x63, 0x00, 0x65,
];

fn advert(version: Version, auth: Auth) -> Advertisement {
    Advertisement {
        version,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::from_secs(1).unwrap(),
        auth,
        addresses: Addresses::V4(vec![
            Ipv4Addr::new(10, 99, 0, 100),
            Ipv4Addr::new(10, 99, 0, 101),
        ]),
    }
}

#[test]
fn rfc3768_5_3_v2_without_auth_matches_keepalived_bytes() {
    let ep = Endpoints::multicast_v4(SOURCE);
    assert_eq!(
        advert(Version::V2, Auth::None).encode(&ep).unwrap(),
        V2_NO_AUTH
    );
    assert_eq!(
        decode(&V2_NO_AUTH, &ep).unwrap(),
        advert(Version::V2, Auth::None)
    );
}

#[test]
fn rfc3768_5_3_6_v2_pass_is_truncated_to_8_bytes_like_keepalived() {
    let ep = Endpoints::multicast_v4(SOURCE);
    let ours = advert(Version::V2, Auth::password("secret123"))
        .encode(&ep)
        .unwrap();
    assert_eq!(ours, V2_PASS);
    assert_eq!(
        decode(&V2_PASS, &ep).unwrap().auth,
        Auth::password("secret12")
    );
}

#[test]
fn rfc3768_5_3_8_v2_checksum_ignores_ip_endpoints() {
    // v2 sums the message only: any source/destination decodes the same bytes.
    let elsewhere = Endpoints::V4 {
        source: Ipv4Addr::new(192, 0, 2, 7),
        destination: Ipv4Addr::new(198, 51, 100, 9),
        v3_checksum: V3Ipv4Checksum::WithPseudoHeader,
    };
    assert!(decode(&V2_NO_AUTH, &elsewhere).is_ok());
}

#[test]
fn rfc5798_5_2_8_v3_ipv4_pseudo_header_matches_keepalived_bytes() {
    let ep = Endpoints::multicast_v4(SOURCE);
    assert_eq!(advert(Version::V3, Auth::None).encode(&ep).unwrap(), V3);
    let back = decode(&V3, &ep).unwrap();
    assert_eq!(back, advert(Version::V3, Auth::None));
    assert_eq!(back.interval.centis(), 100);
}

#[test]
fn rfc5798_5_2_8_v3_pseudo_header_depends_on_source() {
    // The same bytes from another source fail the pseudo-header checksum.
    let other = Endpoints::multicast_v4(Ipv4Addr::new(10, 99, 0, 2));
    assert!(matches!(
        decode(&V3, &other),
        Err(DecodeError::BadChecksum {
            received: 0x37e0,
            ..
        })
    ));
}

#[test]
fn rfc9568_5_2_8_v3_ipv4_message_only_checksum_is_selectable() {
    let ep = Endpoints::V4 {
        source: SOURCE,
        destination: vrrp::packet::MULTICAST_V4,
        v3_checksum: V3Ipv4Checksum::MessageOnly,
    };
    let bytes = advert(Version::V3, Auth::None).encode(&ep).unwrap();
    assert_eq!(bytes[..6], V3[..6]);
    assert_ne!(
        bytes[6..8],
        V3[6..8],
        "RFC 9568 checksum must differ from keepalived's"
    );
    assert_eq!(
        decode(&bytes, &ep).unwrap(),
        advert(Version::V3, Auth::None)
    );
    // keepalived 2.2.7's packet does not verify under the RFC 9568 rule, and vice versa.
    assert!(matches!(
        decode(&V3, &ep),
        Err(DecodeError::BadChecksum { .. })
    ));
    assert!(matches!(
        decode(&bytes, &Endpoints::multicast_v4(SOURCE)),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn rfc3768_5_2_ipv4_header_matches_a_keepalived_capture() {
    // Captured from keepalived 2.2.7 (v2 PASS advert, 24-byte message) sent from
    // 192.0.2.1: TOS 0xc0, id 1 (chosen by the kernel), TTL 255, protocol 112.
    let captured = [
        0x45, 0xc0, 0x00, 0x2c, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x8d, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12,
    ];
    let ours = vrrp::ipv4_header(
        Ipv4Addr::new(192, 0, 2, 1),
        vrrp::packet::MULTICAST_V4,
        24,
        1,
    );
    assert_eq!(ours, captured);
}

#[test]
fn keepalived_old_unicast_checksum_uses_the_group_as_pseudo_header_destination() {
    let to_peer = |v3_checksum| Endpoints::V4 {
        source: SOURCE,
        destination: Ipv4Addr::new(10, 99, 0, 2),
        v3_checksum,
    };
    let old = advert(Version::V3, Auth::None)
        .encode(&to_peer(V3Ipv4Checksum::MulticastGroupPseudoHeader))
        .unwrap();
    // Same bytes as the multicast advert of the issue: the group is in the pseudo-header.
    assert_eq!(old, V3);
    let new = advert(Version::V3, Auth::None)
        .encode(&to_peer(V3Ipv4Checksum::WithPseudoHeader))
        .unwrap();
    assert_ne!(new, old);
    assert!(matches!(
        decode(&old, &to_peer(V3Ipv4Checksum::WithPseudoHeader)),
        Err(DecodeError::BadChecksum { .. })
    ));
}
