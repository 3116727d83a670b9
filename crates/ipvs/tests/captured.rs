//! The codec against real traffic: testdata/ipvs/ipvsadm-1.31.pcap holds
//! what ipvsadm 1.31 sent to the lab kernel and what the kernel answered
//! (see testdata/ipvs/README.md for how it was recorded).

use std::net::IpAddr;

use ipvs::codec;
use ipvs::message::{attr, Attr, Cmd};
use ipvs::{
    DaemonRole, Destination, Family, ForwardMethod, Name, Netmask, Protocol, Service, ServiceFlags,
    ServiceKey, Timeouts, TunnelChecksum, TunnelType,
};
use netlink_packet_core::Emitable;

/// One netlink message from the capture.
struct Msg {
    kind: u16,
    flags: u16,
    cmd: u8,
    /// The attributes after the genetlink header.
    attrs: Vec<u8>,
}

fn capture() -> Vec<Msg> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ipvs/ipvsadm-1.31.pcap"
    );
    let d = std::fs::read(path).expect("capture file");
    assert_eq!(&d[..4], &0xa1b2_c3d4u32.to_le_bytes(), "little-endian pcap");
    assert_eq!(
        u32::from_le_bytes(d[20..24].try_into().unwrap()),
        253,
        "DLT_NETLINK"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let caplen = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        let pkt = &d[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        let mut m = &pkt[16..];
        while m.len() >= 20 {
            let len = u32::from_le_bytes(m[..4].try_into().unwrap()) as usize;
            let kind = u16::from_le_bytes([m[4], m[5]]);
            let flags = u16::from_le_bytes([m[6], m[7]]);
            out.push(Msg {
                kind,
                flags,
                cmd: m[16],
                attrs: m[20..len].to_vec(),
            });
            m = &m[len.div_ceil(4) * 4..];
        }
    }
    out
}

/// The IPVS family's id: the type of the requests that are not to the
/// controller (0x10).
fn ipvs_family(msgs: &[Msg]) -> u16 {
    msgs.iter()
        .find(|m| m.flags & 1 != 0 && m.kind > 0x10)
        .map(|m| m.kind)
        .expect("IPVS request")
}

fn requests(msgs: &[Msg], cmd: Cmd) -> Vec<&Msg> {
    let fam = ipvs_family(msgs);
    msgs.iter()
        .filter(|m| m.kind == fam && m.flags & 1 != 0 && m.cmd == cmd as u8)
        .collect()
}

fn replies(msgs: &[Msg], cmd: Cmd) -> Vec<&Msg> {
    let fam = ipvs_family(msgs);
    msgs.iter()
        .filter(|m| m.kind == fam && m.flags & 1 == 0 && m.cmd == cmd as u8)
        .collect()
}

fn bytes(attrs: &[Attr]) -> Vec<u8> {
    let mut b = vec![0; attrs.buffer_len()];
    attrs.emit(&mut b);
    b
}

/// The value of top-level attribute `kind` in `buf`, header included.
fn whole_attr(buf: &[u8], kind: u16) -> Vec<u8> {
    let mut o = 0;
    while o + 4 <= buf.len() {
        let len = u16::from_le_bytes([buf[o], buf[o + 1]]) as usize;
        if u16::from_le_bytes([buf[o + 2], buf[o + 3]]) & 0x3fff == kind {
            return buf[o..o + len].to_vec();
        }
        o += len.div_ceil(4) * 4;
    }
    panic!("attribute {kind} missing");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(a),
        port,
    }
}

fn services_of_the_script() -> Vec<Service> {
    let mut a = Service::new(tcp("192.0.2.1", 80));
    a.scheduler = Name::new("rr").unwrap();
    let mut b = Service::new(ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("2001:db8::1"),
        port: 53,
    });
    b.flags = ServiceFlags::PERSISTENT;
    b.timeout = 60;
    b.netmask = Netmask::V6(64);
    let mut c = Service::new(ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 7,
    });
    c.scheduler = Name::new("sh").unwrap();
    c.flags = ServiceFlags::SCHED1 | ServiceFlags::SCHED2;
    let mut d = Service::new(tcp("192.0.2.2", 443));
    d.scheduler = Name::new("wrr").unwrap();
    d.flags = ServiceFlags::PERSISTENT;
    d.timeout = 300;
    d.netmask = Netmask::V4("255.255.255.0".parse().unwrap());
    vec![a, b, c, d]
}

fn dests_of_the_script() -> (Destination, Destination, Destination) {
    let mut nat = Destination::new(ip("198.51.100.1"), 8080);
    nat.weight = 3;
    nat.upper_threshold = 100;
    nat.lower_threshold = 10;
    let mut gue = Destination::new(ip("198.51.100.2"), 80);
    gue.forward = ForwardMethod::Tunnel;
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    gue.tunnel_checksum = TunnelChecksum::RemCsum;
    // `-e -t 192.0.2.1:80 -r 198.51.100.1:8080 -g -w 0`: for every method but
    // NAT ipvsadm replaces the real server's port with the service's, so
    // this names 198.51.100.1:80, which does not exist (the kernel refuses
    // it), with zero thresholds.
    let mut edited = Destination::new(ip("198.51.100.1"), 80);
    edited.forward = ForwardMethod::Route;
    edited.weight = 0;
    (nat, gue, edited)
}

#[test]
fn new_service_requests_are_byte_identical_to_ipvsadm() {
    let msgs = capture();
    let sent = requests(&msgs, Cmd::NewService);
    let ours = services_of_the_script();
    assert_eq!(sent.len(), ours.len());
    for (m, s) in sent.iter().zip(&ours) {
        assert_eq!(bytes(&[codec::service(s)]), m.attrs, "{:?}", s.key);
    }
}

#[test]
fn dest_requests_carry_ipvsadm_s_exact_destination_attributes() {
    let msgs = capture();
    let (nat, gue, edited) = dests_of_the_script();
    let added = requests(&msgs, Cmd::NewDest);
    assert_eq!(added.len(), 2);
    assert_eq!(
        bytes(&[codec::dest(&nat)]),
        whole_attr(&added[0].attrs, attr::CMD_DEST)
    );
    assert_eq!(
        bytes(&[codec::dest(&gue)]),
        whole_attr(&added[1].attrs, attr::CMD_DEST)
    );
    let set = requests(&msgs, Cmd::SetDest);
    assert_eq!(
        bytes(&[codec::dest(&edited)]),
        whole_attr(&set[0].attrs, attr::CMD_DEST)
    );
}

#[test]
fn get_dest_names_services_exactly_as_ipvsadm() {
    let msgs = capture();
    let gets = requests(&msgs, Cmd::GetDest);
    let keys = [
        tcp("192.0.2.1", 80),
        tcp("192.0.2.2", 443),
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: ip("2001:db8::1"),
            port: 53,
        },
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 7,
        },
    ];
    assert_eq!(gets.len(), keys.len());
    for (m, k) in gets.iter().zip(&keys) {
        assert_eq!(bytes(&[codec::service_key(k)]), m.attrs, "{k:?}");
    }
}

#[test]
fn config_and_daemon_requests_are_byte_identical() {
    let msgs = capture();
    let set = requests(&msgs, Cmd::SetConfig);
    assert_eq!(
        bytes(&codec::timeouts(&Timeouts {
            tcp: 1000,
            tcp_fin: 0,
            udp: 30
        })),
        set[0].attrs
    );
    let mut d = ipvs::Daemon::new(DaemonRole::Master, "lo");
    d.sync_id = 9;
    assert_eq!(
        bytes(&[codec::daemon(&d)]),
        requests(&msgs, Cmd::NewDaemon)[0].attrs
    );
}

#[test]
fn kernel_replies_decode_to_what_was_configured() {
    let msgs = capture();
    // GET_SERVICE dump (for `-L -n`): the four services, in the kernel's order.
    let dumped: Vec<Service> = replies(&msgs, Cmd::NewService)
        .iter()
        .map(|m| codec::decode_service(&whole_attr(&m.attrs, attr::CMD_SERVICE)[4..]).unwrap())
        .collect();
    let want = services_of_the_script();
    assert_eq!(dumped.len(), 4);
    for w in &want {
        assert!(
            dumped.iter().any(|d| d.same_config(w)),
            "{:?} not in the dump",
            w.key
        );
    }
    assert!(dumped
        .iter()
        .all(|s| s.flags.contains(ServiceFlags::HASHED)));
    // GET_DEST dump of 192.0.2.1:80 after the (refused) edit.
    let (nat, gue, _) = dests_of_the_script();
    let dests: Vec<Destination> = replies(&msgs, Cmd::NewDest)
        .iter()
        .map(|m| {
            codec::decode_dest(&whole_attr(&m.attrs, attr::CMD_DEST)[4..], Family::Inet).unwrap()
        })
        .collect();
    assert_eq!(dests.len(), 2, "{dests:?}");
    assert!(dests.iter().any(|d| d.same_config(&gue)), "{dests:?}");
    assert!(dests.iter().any(|d| d.same_config(&nat)), "{dests:?}");
    // GET_INFO, GET_CONFIG, GET_DAEMON.
    let info = codec::decode_info(&replies(&msgs, Cmd::SetInfo)[0].attrs).unwrap();
    assert_eq!(
        (info.version_parts(), info.conn_tab_size),
        ((1, 2, 1), 4096)
    );
    let t = codec::decode_timeouts(&replies(&msgs, Cmd::SetConfig)[0].attrs).unwrap();
    assert_eq!(
        t,
        Timeouts {
            tcp: 1000,
            tcp_fin: 120,
            udp: 30
        }
    );
    let d = codec::decode_daemon(
        &whole_attr(&replies(&msgs, Cmd::NewDaemon)[0].attrs, attr::CMD_DAEMON)[4..],
    )
    .unwrap();
    assert_eq!(
        (d.role, d.mcast_ifn.as_str(), d.sync_id),
        (DaemonRole::Master, "lo", 9)
    );
    assert_eq!((d.sync_maxlen, d.mcast_port, d.mcast_ttl), (1472, 8848, 1));
    assert_eq!(d.mcast_group, Some(ip("224.0.0.81")));
}

#[test]
fn truncated_and_garbage_replies_are_errors_not_panics() {
    let msgs = capture();
    for m in replies(&msgs, Cmd::NewService) {
        let inner = &whole_attr(&m.attrs, attr::CMD_SERVICE)[4..];
        for cut in 0..inner.len() {
            let _ = codec::decode_service(&inner[..cut]);
        }
        let mut flipped = inner.to_vec();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = codec::decode_service(&flipped);
            flipped[i] ^= 0xff;
        }
    }
    assert!(
        codec::decode_service(&[]).is_err(),
        "a service needs a family"
    );
}
