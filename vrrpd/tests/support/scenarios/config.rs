//! Configuration variants: auth, unicast, IPv6, mismatches, excluded VIPs and routes, VMAC, the notify FIFO.

#[allow(
    clippy::wildcard_imports,
    reason = "the scenarios share the parent's imports and helpers"
)]
use super::*;

/// VRRPv2 PASS authentication (`state MASTER` on both; keepalived 2.2.7
/// still starts them in BACKUP). Same password: only n1 (150) becomes
/// master. Different passwords: each drops the other's adverts, so both
/// become and stay master (as keepalived does).
pub fn auth_pass(a: Impl, b: Impl, same: bool) {
    let mut lab = Lab::new(2);
    let ia = Instance {
        master: true,
        pass: Some("secret1"),
        ..Instance::v2(150)
    };
    let ib = Instance {
        master: true,
        pass: Some(if same { "secret1" } else { "other1" }),
        ..Instance::v2(100)
    };
    let (ca, cb) = (Conf::one(ia), Conf::one(ib));
    if same {
        lab.start(1, a, &ca);
        lab.start(2, b, &cb);
        settles(
            &lab,
            (5.0, 2.5),
            || lab.holds((1, 2), VIP1),
            "same password: n1 (150) was not alone with the VIP within 5 s",
            "same password: the election was not stable",
        );
    } else {
        both_stay_master(
            &mut lab,
            ((a, &ca), (b, &cb)),
            (VIP1, VIP1),
            (5.0, 3.5),
            "different passwords",
        );
    }
}

/// Unicast peers (IPv4, or IPv6 from 2001:db8::N): election and graceful
/// failover, every advert unicast to the peer (none to a multicast group).
/// keepalived sends IPv6 unicast adverts with hop limit 64 (IPv4: TTL 255);
/// unicast receivers do not check it.
pub fn unicast(a: Impl, b: Impl, ipv6: bool) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    let (vip, addr): (&str, fn(usize) -> String) = if ipv6 {
        (VIP6, |n| format!("2001:db8::{n}"))
    } else {
        (VIP1, ip4)
    };
    let vips = if ipv6 {
        vec!["2001:db8:100::1/64"]
    } else {
        vec!["198.51.100.1/32"]
    };
    let ia = Instance {
        unicast_peers: vec![2],
        vips: vips.clone(),
        ..Instance::v3(150)
    };
    let ib = Instance {
        unicast_peers: vec![1],
        vips,
        ..Instance::v3(100)
    };
    elect(&mut lab, (a, &Conf::one(ia)), (b, &Conf::one(ib)), vip, 0.1);
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.holds((2, 1), vip)),
        "unicast: the VIP did not move to n2 within 1 s of SIGTERM",
    );
    check(
        &lab,
        holds_for(secs(0.3), || lab.has(2, vip)),
        "unicast: n2 lost the VIP",
    );
    let packets = pcap::read(&cap);
    let from = |n: usize| {
        packets
            .iter()
            .filter(|p| p.src.to_string() == addr(n))
            .count()
    };
    check(
        &lab,
        from(1) >= 3 && from(2) >= 1,
        &format!("unicast: adverts from n1 {} / n2 {}", from(1), from(2)),
    );
    for p in &packets {
        let peer = if p.src.to_string() == addr(1) { 2 } else { 1 };
        check(
            &lab,
            p.dst.to_string() == addr(peer),
            &format!("unicast: advert not sent to the peer: {p:?}"),
        );
    }
}

/// An IPv6 VIP (VRRPv3 over IPv6 from the link-local address to ff02::12):
/// election, graceful failover, and an unsolicited NA from the new master.
pub fn ipv6(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture_all("sw", "br0", "wire.pcap");
    let v6 = |p| Instance {
        vips: vec!["2001:db8:100::1/64"],
        ..Instance::v3(p)
    };
    elect_alike(&mut lab, (a, b), v6, VIP6);
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.holds((2, 1), VIP6)),
        "IPv6: the VIP did not move to n2 within 1 s of SIGTERM",
    );
    let na = || {
        pcap::announcements(&cap)
            .into_iter()
            .any(|g| g.mac == mac(2) && g.ip.to_string() == VIP6)
    };
    check(
        &lab,
        within(secs(1.0), na),
        "IPv6: n2 sent no unsolicited neighbour advertisement for the VIP",
    );
    let packets = pcap::read(&cap);
    check(
        &lab,
        packets.iter().any(|p| p.src.to_string() == link_local(1)),
        "IPv6: no advert from n1's link-local address",
    );
    for p in &packets {
        check(
            &lab,
            matches!(p.src, IpAddr::V6(_))
                && p.dst.to_string() == "ff02::12"
                && p.ttl == 255
                && p.version() == 3,
            &format!("IPv6: unexpected advert {p:?}"),
        );
    }
}

/// VRRPv2 requires equal advert intervals (RFC 3768 §7.1): n1 advertises
/// every 1 s, n2 every 2 s, each drops the other's adverts and both end up
/// master (as keepalived does).
pub fn v2_interval_mismatch(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let ib = Instance {
        advert: "2",
        ..Instance::v2(100)
    };
    both_stay_master(
        &mut lab,
        ((a, &Conf::one(Instance::v2(150))), (b, &Conf::one(ib))),
        (VIP1, VIP1),
        (9.0, 2.5),
        "v2 interval mismatch",
    );
}

/// Same VRID, different VIP lists: each side drops the other's adverts
/// (address list check, RFC 5798 §7.1 may; keepalived does), so both end up
/// master.
pub fn vip_list_mismatch(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let ib = Instance {
        vips: vec!["198.51.100.2/32"],
        ..Instance::v3(100)
    };
    both_stay_master(
        &mut lab,
        ((a, &Conf::one(Instance::v3(150))), (b, &Conf::one(ib))),
        (VIP1, VIP2),
        (2.0, 1.0),
        "VIP list mismatch",
    );
}

/// `virtual_ipaddress_excluded` and `virtual_routes` follow the master:
/// on n1 while it is master, on n2 after a graceful failover; the excluded
/// address is not in the adverts (one address: the VIP).
pub fn excluded_and_routes(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    let inst = |p| Instance {
        excluded: vec!["198.51.100.9/32"],
        routes: vec!["203.0.113.0/24 dev eth0"],
        ..Instance::v3(p)
    };
    elect_alike(&mut lab, (a, b), inst, VIP1);
    let (ex, net) = ("198.51.100.9", "203.0.113.0/24");
    check(
        &lab,
        within(secs(1.0), || {
            lab.has(1, ex) && !lab.route(1, net).is_empty()
        }),
        "the master lacks the excluded address or the virtual route",
    );
    check(
        &lab,
        !lab.has(2, ex) && lab.route(2, net).is_empty(),
        "the backup holds the excluded address or the virtual route",
    );
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.5), || {
            lab.has(2, ex) && !lab.route(2, net).is_empty() && !lab.has(1, ex)
        }),
        "the excluded address and the virtual route did not follow the VIP to n2",
    );
    check(
        &lab,
        within(secs(1.0), || lab.route(1, net).is_empty()),
        "the stopped master kept the virtual route",
    );
    let adverts = pcap::read(&cap);
    check(
        &lab,
        !adverts.is_empty() && adverts.iter().all(|p| p.payload.get(3) == Some(&1)),
        "adverts must count one address (the excluded one is not advertised)",
    );
}

/// `use_vmac`: the master creates `vrrp.51` with the VRRP MAC
/// 00:00:5e:00:01:33, puts the VIP there and sends its adverts from that MAC;
/// after a graceful failover n2 does the same.
pub fn vmac(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture_all("sw", "br0", "wire.pcap");
    let inst = |p| Instance {
        use_vmac: true,
        ..Instance::v3(p)
    };
    lab.start(1, a, &Conf::one(inst(150)));
    lab.start(2, b, &Conf::one(inst(100)));
    let on_vmac = |lab: &Lab, n| lab.addresses_on(n, "vrrp.51").iter().any(|x| x == VIP1);
    check(
        &lab,
        within(secs(2.0), || on_vmac(&lab, 1) && !on_vmac(&lab, 2)),
        "use_vmac: n1 did not put the VIP on vrrp.51",
    );
    check(
        &lab,
        lab.link(1, "vrrp.51").contains("00:00:5e:00:01:33"),
        &format!(
            "use_vmac: n1's vrrp.51 has not the VRRP MAC: {}",
            lab.link(1, "vrrp.51")
        ),
    );
    check(
        &lab,
        !lab.has(1, VIP1),
        "use_vmac: the VIP is on eth0, not on vrrp.51",
    );
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.5), || on_vmac(&lab, 2)),
        "use_vmac: n2 did not put the VIP on its vrrp.51",
    );
    let garp_from_vmac = || {
        pcap::announcements(&cap)
            .into_iter()
            .any(|g| g.mac == [0, 0, 0x5e, 0, 1, 0x33] && g.ip.to_string() == VIP1)
    };
    check(
        &lab,
        within(secs(1.0), garp_from_vmac),
        "use_vmac: no gratuitous ARP for the VIP from 00:00:5e:00:01:33",
    );
}

/// The same VRID over IPv4 and IPv6 is two routers: n1 masters both, a
/// graceful stop moves both to n2.
pub fn same_vrid_ipv4_and_ipv6(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let both = |p| {
        let mut c = Conf::one(Instance::v3(p));
        c.instances.push(Instance {
            name: "VI_6",
            vips: vec!["2001:db8:100::1/64"],
            notify: false,
            ..Instance::v3(p)
        });
        c
    };
    lab.start(1, a, &both(150));
    lab.start(2, b, &both(100));
    check(
        &lab,
        within(secs(2.0), || {
            lab.has(1, VIP1) && lab.has(1, VIP6) && !lab.has(2, VIP1) && !lab.has(2, VIP6)
        }),
        "VRID 51 over IPv4 and IPv6: n1 did not master both",
    );
    check(
        &lab,
        holds_for(secs(0.5), || !lab.has(2, VIP1) && !lab.has(2, VIP6)),
        "VRID 51 over IPv4 and IPv6: n2 took one of them",
    );
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.has(2, VIP1) && lab.has(2, VIP6)),
        "VRID 51 over IPv4 and IPv6: both did not move to n2",
    );
}

/// `vrrp_notify_fifo`: the master writes its state changes into the FIFO
/// in keepalived's format, up to STOP on SIGTERM.
pub fn notify_fifo(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let (fifo, out) = lab.fifo_reader("fifo-n1");
    let ca = Conf {
        notify_fifo: Some(fifo.display().to_string()),
        ..Conf::one(Instance::v3(150))
    };
    elect_over_plain_backup(&mut lab, (a, &ca), b);
    lab.signal(1, "TERM");
    let exited = lab.wait_exit(1, secs(5.0)).is_some();
    check(&lab, exited, "the master did not exit on SIGTERM");
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    within(secs(1.0), || lines().iter().any(|l| l.contains(" STOP ")));
    // MASTER_RX_LOWER_PRI appears when n2 was master for an instant at
    // start-up (it may time out first); it is not a state change.
    let got: Vec<String> = lines()
        .into_iter()
        .filter(|l| !l.ends_with("MASTER_RX_LOWER_PRI 150"))
        .collect();
    check(
        &lab,
        got == [
            "INSTANCE \"VI_1\" BACKUP 150",
            "INSTANCE \"VI_1\" MASTER 150",
            "INSTANCE \"VI_1\" STOP 150",
        ],
        &format!("notify FIFO lines: {got:?}"),
    );
}
