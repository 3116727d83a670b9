//! Property tests: decoding never panics on arbitrary bytes; encode → decode round-trips.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp::{
    decode, receive, Addresses, AdvertInterval, Advertisement, Auth, Endpoints, Expectations,
    V3Ipv4Checksum, Version,
};

fn endpoints_v4() -> impl Strategy<Value = Endpoints> {
    (any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(s, d, pseudo)| Endpoints::V4 {
        source: Ipv4Addr::from(s),
        destination: Ipv4Addr::from(d),
        v3_checksum: if pseudo {
            V3Ipv4Checksum::WithPseudoHeader
        } else {
            V3Ipv4Checksum::MessageOnly
        },
    })
}

fn endpoints_v6() -> impl Strategy<Value = Endpoints> {
    (any::<u128>(), any::<u128>()).prop_map(|(s, d)| Endpoints::V6 {
        source: Ipv6Addr::from(s),
        destination: Ipv6Addr::from(d),
    })
}

fn any_endpoints() -> impl Strategy<Value = Endpoints> {
    prop_oneof![endpoints_v4(), endpoints_v6()]
}

fn secs_interval() -> impl Strategy<Value = AdvertInterval> {
    (1u16..=255).prop_map(|secs| AdvertInterval::from_secs(secs).unwrap())
}

fn centis_interval() -> impl Strategy<Value = AdvertInterval> {
    (1u16..=4095).prop_map(|centis| AdvertInterval::from_centis(centis).unwrap())
}

fn addresses_v4() -> impl Strategy<Value = Addresses> {
    proptest::collection::vec(any::<u32>(), 0..20)
        .prop_map(|ips| Addresses::V4(ips.into_iter().map(Ipv4Addr::from).collect()))
}

fn addresses_v6() -> impl Strategy<Value = Addresses> {
    proptest::collection::vec(any::<u128>(), 0..8)
        .prop_map(|ips| Addresses::V6(ips.into_iter().map(Ipv6Addr::from).collect()))
}

/// Adverts of `version` with any VRID and priority and the given parts.
fn adverts(
    version: Version,
    interval: impl Strategy<Value = AdvertInterval>,
    auth: impl Strategy<Value = Auth>,
    addresses: impl Strategy<Value = Addresses>,
    endpoints: impl Strategy<Value = Endpoints>,
) -> impl Strategy<Value = (Advertisement, Endpoints)> {
    (1u8..=255, any::<u8>(), interval, auth, addresses, endpoints).prop_map(
        move |(vrid, priority, interval, auth, addresses, ep)| {
            let advert = Advertisement {
                version,
                vrid,
                priority,
                interval,
                auth,
                addresses,
            };
            (advert, ep)
        },
    )
}

/// A valid advert together with endpoints it can be sent between.
fn advert_and_endpoints() -> impl Strategy<Value = (Advertisement, Endpoints)> {
    let pass =
        proptest::option::of(any::<[u8; 8]>()).prop_map(|p| p.map_or(Auth::None, Auth::Pass));
    let v2 = adverts(
        Version::V2,
        secs_interval(),
        pass,
        addresses_v4(),
        endpoints_v4(),
    );
    let v3_4 = adverts(
        Version::V3,
        centis_interval(),
        Just(Auth::None),
        addresses_v4(),
        endpoints_v4(),
    );
    let v3_6 = adverts(
        Version::V3,
        centis_interval(),
        Just(Auth::None),
        addresses_v6(),
        endpoints_v6(),
    );
    // keepalived's VRRPv2-over-IPv6 extension (no auth data).
    let v2_6 = adverts(
        Version::V2,
        secs_interval(),
        Just(Auth::None),
        addresses_v6(),
        endpoints_v6(),
    );
    prop_oneof![v2, v3_4, v3_6, v2_6]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), ep in any_endpoints()) {
        let _ = decode(&bytes, &ep);
    }

    #[test]
    fn decode_never_panics_on_plausible_headers(
        first in prop_oneof![Just(0x21u8), Just(0x31u8)],
        rest in proptest::collection::vec(any::<u8>(), 0..120),
        ep in any_endpoints(),
    ) {
        let mut bytes = vec![first];
        bytes.extend(rest);
        let _ = decode(&bytes, &ep);
    }

    #[test]
    fn receive_never_panics_and_accepts_only_what_decodes(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        ttl in any::<u8>(),
        (advert, ep) in advert_and_endpoints(),
        unicast in any::<bool>(),
    ) {
        let expect = Expectations {
            version: advert.version,
            vrid: advert.vrid,
            auth: advert.auth,
            interval: advert.interval,
            addresses: Some(advert.addresses.clone()),
            unicast,
            allowed_sources: None,
        };
        if let Ok(got) = receive(&bytes, ttl, &ep, &expect) {
            prop_assert_eq!(Ok(got), decode(&bytes, &ep));
        }
        // The advert's own bytes pass exactly when TTL and destination fit the instance.
        let own = advert.encode(&ep).unwrap();
        let multicast = match ep {
            Endpoints::V4 { destination, .. } => destination.is_multicast(),
            Endpoints::V6 { destination, .. } => destination.is_multicast(),
        };
        let fits = (unicast || ttl == 255) && multicast != unicast;
        prop_assert_eq!(receive(&own, ttl, &ep, &expect).is_ok(), fits);
    }

    #[test]
    fn encode_then_decode_round_trips((advert, ep) in advert_and_endpoints()) {
        let bytes = advert.encode(&ep).unwrap();
        prop_assert_eq!(bytes.len(), advert.encoded_len());
        prop_assert_eq!(decode(&bytes, &ep).unwrap(), advert);
    }

    #[test]
    fn any_single_bit_flip_is_detected_or_changes_the_advert(
        (advert, ep) in advert_and_endpoints(),
        bit in any::<usize>(),
    ) {
        let mut bytes = advert.encode(&ep).unwrap();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        // The checksum catches every single-bit error, so the flipped message never
        // decodes to the original advert.
        prop_assert_ne!(decode(&bytes, &ep).ok(), Some(advert));
    }
}
