//! Differential test against the real keepalived 2.2.7: run it in a pair of network
//! namespaces, capture its adverts with tcpdump, and check that our encoder produces the
//! same bytes for the same configuration and that our receive path accepts them
//! (RFC 3768 §5, RFC 5798 §5, including the v3 pseudo-header checksum over IPv4 — multicast
//! and unicast — and over IPv6, where the kernel computes it for keepalived).
//!
//! Needs root, iproute2, tcpdump and keepalived; fails with a clear message without them.

mod common;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use common::{tool, Lab, Side};
use vrrp::{
    ipv4_header, receive, Addresses, AdvertInterval, Advertisement, Auth, Endpoints, Expectations,
    V3Ipv4Checksum, Version,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x} ");
        s
    })
}

struct Case {
    name: &'static str,
    instance: &'static str,
    filter: &'static str,
    advert: Advertisement,
    unicast: bool,
    /// How the VRRPv3 IPv4 checksum is computed.
    checksum: V3Ipv4Checksum,
}

fn v4_vips() -> Addresses {
    Addresses::V4(vec![
        Ipv4Addr::new(192, 0, 2, 100),
        Ipv4Addr::new(192, 0, 2, 101),
    ])
}

fn cases() -> Vec<Case> {
    let base = Advertisement {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::from_secs(1).unwrap(),
        auth: Auth::None,
        addresses: v4_vips(),
    };
    vec![
        Case {
            name: "v2none",
            instance: "vrrp_instance I {\n interface k0\n virtual_router_id 51\n priority 150\n advert_int 1\n virtual_ipaddress {\n  192.0.2.100\n  192.0.2.101\n }\n}\n",
            filter: "ip proto 112",
            advert: base.clone(),
            unicast: false,
            checksum: V3Ipv4Checksum::WithPseudoHeader,
        },
        Case {
            name: "v2pass",
            instance: "vrrp_instance I {\n interface k0\n virtual_router_id 51\n priority 150\n advert_int 1\n authentication {\n  auth_type PASS\n  auth_pass secret123\n }\n virtual_ipaddress {\n  192.0.2.100\n  192.0.2.101\n }\n}\n",
            filter: "ip proto 112",
            advert: Advertisement { auth: Auth::password("secret123"), ..base.clone() },
            unicast: false,
            checksum: V3Ipv4Checksum::WithPseudoHeader,
        },
        Case {
            name: "v3mc4",
            instance: "vrrp_instance I {\n version 3\n interface k0\n virtual_router_id 51\n priority 150\n advert_int 0.1\n virtual_ipaddress {\n  192.0.2.100\n  192.0.2.101\n }\n}\n",
            filter: "ip proto 112",
            advert: Advertisement {
                version: Version::V3,
                interval: AdvertInterval::from_centis(10).unwrap(),
                ..base.clone()
            },
            unicast: false,
            checksum: V3Ipv4Checksum::WithPseudoHeader,
        },
        Case {
            name: "v3uc4",
            instance: "vrrp_instance I {\n version 3\n interface k0\n virtual_router_id 52\n priority 200\n advert_int 0.1\n unicast_src_ip 192.0.2.1\n unicast_peer {\n  192.0.2.2\n }\n virtual_ipaddress {\n  192.0.2.100\n }\n}\n",
            filter: "ip proto 112",
            advert: Advertisement {
                version: Version::V3,
                vrid: 52,
                priority: 200,
                interval: AdvertInterval::from_centis(10).unwrap(),
                auth: Auth::None,
                addresses: Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 100)]),
            },
            unicast: true,
            checksum: V3Ipv4Checksum::WithPseudoHeader,
        },
        Case {
            name: "v3mc6",
            instance: "vrrp_instance I {\n version 3\n interface k0\n virtual_router_id 53\n priority 100\n advert_int 0.1\n virtual_ipaddress {\n  2001:db8::100\n  2001:db8::101\n }\n}\n",
            filter: "ip6 proto 112",
            advert: Advertisement {
                version: Version::V3,
                vrid: 53,
                priority: 100,
                interval: AdvertInterval::from_centis(10).unwrap(),
                auth: Auth::None,
                addresses: Addresses::V6(vec![
                    "2001:db8::100".parse().unwrap(),
                    "2001:db8::101".parse().unwrap(),
                ]),
            },
            unicast: false,
            checksum: V3Ipv4Checksum::WithPseudoHeader,
        },
        // keepalived (non-strict) keeps VRRPv2 for IPv6 when `version 2` comes before the
        // addresses: no auth data, checksum with the IPv6 pseudo-header (by the kernel).
        Case {
            name: "v2mc6",
            instance: "vrrp_instance I {\n version 2\n interface k0\n virtual_router_id 54\n priority 100\n advert_int 1\n virtual_ipaddress {\n  2001:db8::100\n }\n}\n",
            filter: "ip6 proto 112",
            advert: Advertisement {
                version: Version::V2,
                vrid: 54,
                priority: 100,
                interval: AdvertInterval::from_secs(1).unwrap(),
                auth: Auth::None,
                addresses: Addresses::V6(vec!["2001:db8::100".parse().unwrap()]),
            },
            unicast: false,
            checksum: V3Ipv4Checksum::WithPseudoHeader,
        },
        // keepalived's `old_unicast_checksum`: the pseudo-header names 224.0.0.18 even
        // though the advert goes to the unicast peer.
        Case {
            name: "v3uc4old",
            instance: "vrrp_instance I {\n version 3\n interface k0\n virtual_router_id 55\n priority 200\n advert_int 0.1\n unicast_src_ip 192.0.2.1\n unicast_peer {\n  192.0.2.2\n }\n old_unicast_checksum\n virtual_ipaddress {\n  192.0.2.100\n }\n}\n",
            filter: "ip proto 112",
            advert: Advertisement {
                version: Version::V3,
                vrid: 55,
                priority: 200,
                interval: AdvertInterval::from_centis(10).unwrap(),
                auth: Auth::None,
                addresses: Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 100)]),
            },
            unicast: true,
            checksum: V3Ipv4Checksum::MulticastGroupPseudoHeader,
        },
    ]
}

#[test]
fn our_adverts_are_byte_equal_to_keepalived_2_2_7() {
    tool("keepalived");
    tool("tcpdump");
    let captured: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases()
            .into_iter()
            .map(|case| {
                scope.spawn(move || {
                    let mut lab = Lab::new(case.name);
                    let capture = lab.capture(Side::B, case.filter, Some(1), 15);
                    lab.keepalived(Side::A, case.name, case.instance);
                    let records = capture.finish(&lab.log(case.name));
                    let first = records.into_iter().next();
                    (
                        case.name,
                        first.unwrap_or_else(|| panic!("{}: no advert captured", case.name)),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("capture thread"))
            .collect()
    });
    for (case, (name, record)) in cases().into_iter().zip(captured) {
        assert_eq!(case.name, name);
        if let (IpAddr::V4(source), IpAddr::V4(destination)) = (record.source, record.destination) {
            // The whole IPv4 header too, with the id the kernel chose.
            let id = u16::from_be_bytes([record.header[4], record.header[5]]);
            let len = u16::try_from(record.message.len()).unwrap();
            let ours = ipv4_header(source, destination, len, id);
            assert_eq!(
                hex(&ours),
                hex(&record.header),
                "{name}: our IPv4 header vs keepalived's"
            );
        }
        let (src, dst, ttl, message) = (
            record.source,
            record.destination,
            record.ttl,
            record.message,
        );
        assert_eq!(ttl, 255, "{name}: keepalived sends TTL/hop limit 255");
        let endpoints = match (src, dst) {
            (IpAddr::V4(source), IpAddr::V4(destination)) => Endpoints::V4 {
                source,
                destination,
                v3_checksum: case.checksum,
            },
            (IpAddr::V6(source), IpAddr::V6(destination)) => Endpoints::V6 {
                source,
                destination,
            },
            _ => panic!("{name}: mixed families"),
        };
        let ours = case.advert.encode(&endpoints).unwrap();
        assert_eq!(
            hex(&ours),
            hex(&message),
            "{name}: our bytes vs keepalived's"
        );
        let expect = Expectations {
            version: case.advert.version,
            vrid: case.advert.vrid,
            auth: case.advert.auth,
            interval: case.advert.interval,
            addresses: Some(case.advert.addresses.clone()),
            unicast: case.unicast,
            allowed_sources: case.unicast.then(|| vec![src]),
        };
        assert_eq!(
            receive(&message, ttl, &endpoints, &expect),
            Ok(case.advert),
            "{name}"
        );
    }
}
