//! Differential test against the real keepalived 2.2.7: run it in a pair of network
//! namespaces, capture its adverts with tcpdump, and check that our encoder produces the
//! same bytes for the same configuration and that our receive path accepts them
//! (RFC 3768 §5, RFC 5798 §5, including the v3 pseudo-header checksum over IPv4 — multicast
//! and unicast — and over IPv6, where the kernel computes it for keepalived).
//!
//! Needs root, iproute2, tcpdump and keepalived; fails with a clear message without them.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vrrp::{
    receive, Addresses, AdvertInterval, Advertisement, Auth, Endpoints, Expectations,
    V3Ipv4Checksum, Version,
};

fn tool(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default() + ":/usr/sbin:/sbin:/usr/bin:/bin";
    path.split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is required for the keepalived differential test but is not installed")
        })
}

fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair: keepalived on `k0` in `a`, the capture on `k1` in `b`.
struct Lab {
    ip: PathBuf,
    a: String,
    b: String,
    dir: PathBuf,
    keepalived: Option<Child>,
}

impl Lab {
    fn new(case: &str) -> Lab {
        let ip = tool("ip");
        let tag = format!("vrrpdiff-{}-{case}", std::process::id());
        let dir = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            ip,
            a: format!("{tag}-a"),
            b: format!("{tag}-b"),
            dir,
            keepalived: None,
        };
        for ns in [&lab.a, &lab.b] {
            run(&lab.ip, &["netns", "add", ns]);
            for key in ["all", "default"] {
                let setting = format!("net.ipv6.conf.{key}.accept_dad=0");
                run(&lab.ip, &["netns", "exec", ns, "sysctl", "-qw", &setting]);
            }
        }
        run(
            &lab.ip,
            &[
                "-n", &lab.a, "link", "add", "k0", "type", "veth", "peer", "name", "k1", "netns",
                &lab.b,
            ],
        );
        run(
            &lab.ip,
            &["-n", &lab.a, "addr", "add", "192.0.2.1/24", "dev", "k0"],
        );
        run(
            &lab.ip,
            &["-n", &lab.b, "addr", "add", "192.0.2.2/24", "dev", "k1"],
        );
        run(&lab.ip, &["-n", &lab.a, "link", "set", "k0", "up"]);
        run(&lab.ip, &["-n", &lab.b, "link", "set", "k1", "up"]);
        lab
    }

    /// Starts keepalived with `instance`, returns the first VRRP packet seen on `k1` (the
    /// full IP packet) matching `filter`.
    fn capture(&mut self, instance: &str, filter: &str) -> Vec<u8> {
        let pcap = self.dir.join("capture.pcap");
        let err = self.dir.join("tcpdump.err");
        let tcpdump = Command::new(&self.ip)
            .args(["netns", "exec", &self.b, "timeout", "15"])
            .arg(tool("tcpdump"))
            .args(["-i", "k1", "-U", "-c", "1", "-w"])
            .arg(&pcap)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn tcpdump");
        let ready = Instant::now();
        while !std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("listening on")
        {
            assert!(
                ready.elapsed() < Duration::from_secs(10),
                "tcpdump did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let conf = self.dir.join("keepalived.conf");
        std::fs::write(
            &conf,
            format!("global_defs {{\n  router_id vrrpdiff\n}}\n{instance}"),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.join("keepalived.log")).unwrap();
        self.keepalived = Some(
            Command::new(&self.ip)
                .args(["netns", "exec", &self.a])
                .arg(tool("keepalived"))
                .args(["-n", "-l", "-D", "--vrrp", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(self.dir.join("keepalived.pid"))
                .arg("-r")
                .arg(self.dir.join("vrrp.pid"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("spawn keepalived"),
        );
        let status = tcpdump.wait_with_output().expect("tcpdump").status;
        let logs = std::fs::read_to_string(self.dir.join("keepalived.log")).unwrap_or_default();
        assert!(
            status.success(),
            "no VRRP packet captured; keepalived log:\n{logs}"
        );
        first_ip_packet(&std::fs::read(&pcap).unwrap())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.keepalived.take() {
            // SIGTERM lets keepalived stop its VRRP child too.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new(&self.ip).args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The IP packet of the first record of a classic pcap file with Ethernet framing.
fn first_ip_packet(pcap: &[u8]) -> Vec<u8> {
    assert!(
        pcap.len() > 24 + 16 + 14,
        "capture too short: {} bytes",
        pcap.len()
    );
    let le = match pcap[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("not a pcap file"),
    };
    let word = |at: usize| {
        let b = [pcap[at], pcap[at + 1], pcap[at + 2], pcap[at + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(word(20), 1, "expected Ethernet link type");
    let len = usize::try_from(word(24 + 8)).unwrap();
    let frame = &pcap[40..40 + len];
    frame[14..].to_vec()
}

/// Splits an IP packet into (source, destination, TTL/hop limit, VRRP message).
fn split_ip(packet: &[u8]) -> (IpAddr, IpAddr, u8, Vec<u8>) {
    match packet[0] >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            assert_eq!(packet[9], 112, "IP protocol must be VRRP");
            let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
            let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            (
                src.into(),
                dst.into(),
                packet[8],
                packet[ihl..total].to_vec(),
            )
        }
        6 => {
            assert_eq!(packet[6], 112, "next header must be VRRP");
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).unwrap());
            let len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            (
                src.into(),
                dst.into(),
                packet[7],
                packet[40..40 + len].to_vec(),
            )
        }
        v => panic!("IP version {v}"),
    }
}

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
        },
        Case {
            name: "v2pass",
            instance: "vrrp_instance I {\n interface k0\n virtual_router_id 51\n priority 150\n advert_int 1\n authentication {\n  auth_type PASS\n  auth_pass secret123\n }\n virtual_ipaddress {\n  192.0.2.100\n  192.0.2.101\n }\n}\n",
            filter: "ip proto 112",
            advert: Advertisement { auth: Auth::password("secret123"), ..base.clone() },
            unicast: false,
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
        },
    ]
}

#[test]
fn our_adverts_are_byte_equal_to_keepalived_2_2_7() {
    tool("keepalived");
    tool("tcpdump");
    let captured: Vec<(&'static str, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases()
            .into_iter()
            .map(|case| {
                scope.spawn(move || {
                    let mut lab = Lab::new(case.name);
                    (case.name, lab.capture(case.instance, case.filter))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("capture thread"))
            .collect()
    });
    for (case, (name, packet)) in cases().into_iter().zip(captured) {
        assert_eq!(case.name, name);
        let (src, dst, ttl, message) = split_ip(&packet);
        assert_eq!(ttl, 255, "{name}: keepalived sends TTL/hop limit 255");
        let endpoints = match (src, dst) {
            (IpAddr::V4(source), IpAddr::V4(destination)) => Endpoints::V4 {
                source,
                destination,
                v3_checksum: V3Ipv4Checksum::WithPseudoHeader,
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
        };
        assert_eq!(
            receive(&message, ttl, &endpoints, &expect),
            Ok(case.advert),
            "{name}"
        );
    }
}
