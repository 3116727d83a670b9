//! The interop scenarios. Each takes the implementation of node 1 (`a`, the
//! preferred router: higher priority or the one that should win) and of node
//! 2 (`b`), so the same code runs keepalived↔keepalived (calibration),
//! vrrpd↔vrrpd and both mixed pairs.
//!
//! Wait limits are the RFC times plus a margin for a loaded 2-core machine:
//! v3 with advert 0.1 s elects in 3×0.1 + skew ≈ 0.36 s (limit 2 s), v2
//! with advert 1 s in ≈ 3.4 s (limit 6 s).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::pcap::{self, hex, Packet};
use super::{holds_for, ip4, link_local, secs, within, Conf, Impl, Instance, Lab, Script};

pub const VIP1: &str = "198.51.100.1";
pub const VIP2: &str = "198.51.100.2";
pub const VIP6: &str = "2001:db8:100::1";

#[track_caller]
fn check(lab: &Lab, ok: bool, what: &str) {
    assert!(ok, "{what}\n{}", lab.logs());
}

fn notified(lab: &Lab, node: usize, state: &str) -> bool {
    let want = format!("INSTANCE VI_1 {state}");
    lab.notifications(node).iter().any(|l| l.starts_with(&want))
}

/// Starts `a` on n1 and `b` on n2 and waits until n1 alone holds `vip`,
/// stable for 5 advert intervals (`advert` seconds each).
fn elect(lab: &mut Lab, (a, ca): (Impl, &Conf), (b, cb): (Impl, &Conf), vip: &str, advert: f64) {
    lab.start(1, a, ca);
    lab.start(2, b, cb);
    let limit = 3.0 * advert + 1.7;
    check(
        lab,
        within(secs(limit), || lab.has(1, vip)),
        &format!(
            "n1 ({}, higher priority) did not take {vip} within {limit} s",
            a.name()
        ),
    );
    // A precondition for the scenarios: n1 alone holds the VIP for 5 advert
    // intervals in a row. A transient flap (a loaded 2-core machine can
    // stall a daemon past the 0.36 s Master_Down_Interval) is waited out,
    // within a bound; `election` itself checks strictly.
    let stable = within(secs(limit + 2.0), || {
        holds_for(secs(5.0 * advert), || lab.holds((1, 2), vip))
    });
    check(
        lab,
        stable,
        &format!(
            "the election of n1 for {vip} did not settle (n2 {} also holds it?)",
            b.name()
        ),
    );
}

/// Higher priority wins; the loser stays backup; only the master advertises.
pub fn election(a: Impl, b: Impl, version: u8) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    let (ia, ib, advert) = if version == 2 {
        (Instance::v2(150), Instance::v2(100), 1.0)
    } else {
        (Instance::v3(150), Instance::v3(100), 0.1)
    };
    elect(
        &mut lab,
        (a, &Conf::one(ia)),
        (b, &Conf::one(ib)),
        VIP1,
        advert,
    );
    check(
        &lab,
        holds_for(secs((10.0 * advert).min(3.0)), || lab.holds((1, 2), VIP1)),
        "the election was not stable (10 intervals, at most 3 s)",
    );
    check(
        &lab,
        notified(&lab, 1, "MASTER"),
        "n1 did not notify MASTER",
    );
    check(
        &lab,
        notified(&lab, 2, "BACKUP"),
        "n2 did not notify BACKUP",
    );
    // The last 3 intervals on the wire: only n1's adverts, priority 150.
    // Read once tcpdump has written a packet from after the window (it may
    // lag on a loaded machine).
    let end = now_micros();
    let since = end - u64::try_from(secs(3.0 * advert).as_micros()).unwrap();
    within(secs(2.0 * advert + 1.0), || {
        pcap::read(&cap).iter().any(|p| p.micros >= end)
    });
    let recent: Vec<Packet> = pcap::read(&cap)
        .into_iter()
        .filter(|p| (since..end).contains(&p.micros))
        .collect();
    check(
        &lab,
        recent.len() >= 2,
        &format!("only {} adverts in the last 3 intervals", recent.len()),
    );
    for p in &recent {
        check(
            &lab,
            p.src.to_string() == ip4(1)
                && p.dst.to_string() == "224.0.0.18"
                && p.ttl == 255
                && p.version() == version
                && p.vrid() == 51
                && p.priority() == 150,
            &format!("unexpected advert while n1 is master: {p:?}"),
        );
    }
}

fn now_micros() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// SIGTERM to the master: it sends priority 0 and drops the VIP, the
/// backup takes over within skew time (0.06 s; limit 1 s) and announces the
/// VIP with a gratuitous ARP, the old master notifies STOP and exits 0.
/// `notify_master|backup|stop` scripts run on the right nodes.
pub fn graceful_failover(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture_all("sw", "br0", "wire.pcap");
    let with_scripts = |p| Instance {
        state_scripts: true,
        ..Instance::v3(p)
    };
    elect(
        &mut lab,
        (a, &Conf::one(with_scripts(150))),
        (b, &Conf::one(with_scripts(100))),
        VIP1,
        0.1,
    );
    let has_line = |lab: &Lab, node, line: &str| lab.notifications(node).iter().any(|l| l == line);
    check(
        &lab,
        within(secs(1.0), || {
            has_line(&lab, 1, "notify_master") && has_line(&lab, 2, "notify_backup")
        }),
        "notify_master on n1 / notify_backup on n2 did not run",
    );
    // Both pid files hold a live pid while running; both go on exit.
    let (pid, vrrp_pid) = lab.pidfiles(1);
    let live = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .is_some_and(|n| std::path::Path::new(&format!("/proc/{n}")).exists())
    };
    check(
        &lab,
        live(&pid) && live(&vrrp_pid),
        "the running master's -p / -r pid files do not hold live pids",
    );
    let t0 = now_micros();
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.has(2, VIP1)),
        "the backup did not take the VIP within 1 s of SIGTERM",
    );
    check(
        &lab,
        within(secs(1.0), || !lab.has(1, VIP1)),
        "the stopped master kept the VIP",
    );
    let st = lab.wait_exit(1, secs(5.0));
    check(
        &lab,
        st.is_some_and(|s| s.success()),
        &format!("the master's exit after SIGTERM: {st:?} (want 0)"),
    );
    check(
        &lab,
        !pid.exists() && !vrrp_pid.exists(),
        "the stopped master left its pid files behind",
    );
    check(
        &lab,
        within(secs(1.0), || notified(&lab, 2, "MASTER")),
        "n2 did not notify MASTER within 1 s of taking the VIP",
    );
    check(
        &lab,
        within(secs(1.0), || notified(&lab, 1, "STOP")),
        "n1 did not notify STOP on SIGTERM",
    );
    check(
        &lab,
        within(secs(1.0), || {
            has_line(&lab, 2, "notify_master") && has_line(&lab, 1, "notify_stop")
        }),
        "notify_master on n2 / notify_stop on n1 did not run",
    );
    let prio0 = pcap::read(&cap)
        .into_iter()
        .any(|p| p.micros >= t0 && p.src.to_string() == ip4(1) && p.priority() == 0);
    check(&lab, prio0, "n1 sent no priority-0 advert on SIGTERM");
    let garp = || {
        pcap::announcements(&cap)
            .into_iter()
            .any(|g| g.micros >= t0 && g.mac == mac(2) && g.ip.to_string() == VIP1)
    };
    check(
        &lab,
        within(secs(1.0), garp),
        "n2 sent no gratuitous ARP for the VIP after taking over",
    );
    // garp_master_repeat 5 (the default): five in the first burst; the
    // second burst comes after garp_master_delay (5 s), outside this window.
    std::thread::sleep(secs(0.8));
    let garps = pcap::announcements(&cap)
        .into_iter()
        .filter(|g| g.micros >= t0 && g.mac == mac(2) && g.ip.to_string() == VIP1)
        .count();
    check(
        &lab,
        garps == 5,
        &format!("n2 sent {garps} gratuitous ARPs in its first burst (keepalived: 5)"),
    );
    // The generic `notify` lines, in order (the per-state scripts run
    // concurrently, so only their presence is checked above).
    let generic = |node| -> Vec<String> {
        lab.notifications(node)
            .into_iter()
            .filter(|l| l.starts_with("INSTANCE "))
            .collect()
    };
    // n2 may have been master for an instant at start-up, before n1's first
    // advert (legal when it times out first), so its list alternates
    // BACKUP/MASTER, from BACKUP to MASTER.
    let (g1, g2) = (generic(1), generic(2));
    let alternates = g2.windows(2).all(|w| w[0] != w[1]);
    check(
        &lab,
        g1 == [
            "INSTANCE VI_1 BACKUP 150",
            "INSTANCE VI_1 MASTER 150",
            "INSTANCE VI_1 STOP 150",
        ] && g2.first().map(String::as_str) == Some("INSTANCE VI_1 BACKUP 100")
            && g2.last().map(String::as_str) == Some("INSTANCE VI_1 MASTER 100")
            && alternates,
        &format!("notify sequences: n1 {g1:?}, n2 {g2:?}"),
    );
}

fn mac(node: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, u8::try_from(node).unwrap()]
}

/// VRRPv3 backups learn the master's interval: n2 is configured with
/// `advert_int 1` but n1 advertises every 0.1 s, so after a crash n2 takes
/// over after 3×0.1 + skew (0.36 s), not 3.6 s (limit 1.5 s).
pub fn v3_learns_interval(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let slow = Instance {
        advert: "1",
        ..Instance::v3(100)
    };
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(slow)),
        VIP1,
        0.1,
    );
    let t0 = Instant::now();
    lab.crash(1);
    check(
        &lab,
        within(secs(1.5), || lab.has(2, VIP1)),
        "a backup configured with 1 s did not take over within 1.5 s: it did not learn the 0.1 s interval",
    );
    let took = t0.elapsed();
    check(
        &lab,
        took >= Duration::from_millis(200),
        &format!("the backup took over {took:?} after a silent crash: before Master_Down_Interval"),
    );
}

/// `preempt_delay 1`: n1 (150) joins a lower-priority master and takes
/// over no sooner than 1 s after it started (without the delay: 0.36 s).
pub fn preempt_delay(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.start(2, b, &Conf::one(Instance::v3(100)));
    check(
        &lab,
        within(secs(2.0), || lab.has(2, VIP1)),
        "n2 alone did not become master",
    );
    let ia = Instance {
        preempt_delay: Some("1"),
        ..Instance::v3(150)
    };
    let t0 = Instant::now();
    lab.start(1, a, &Conf::one(ia));
    check(
        &lab,
        within(secs(3.0), || lab.holds((1, 2), VIP1)),
        "n1 with preempt_delay 1 did not take over within 3 s",
    );
    let took = t0.elapsed();
    check(
        &lab,
        took >= Duration::from_millis(950),
        &format!("n1 preempted {took:?} after starting, before its preempt_delay of 1 s"),
    );
}

/// `track_interface eth1` on n1: eth1 down puts n1 in FAULT (notify FAULT,
/// VIP to n2); eth1 up brings it back (preempt).
pub fn track_interface(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.topo.veth(("n1", "eth1"), ("sw", "q1")).unwrap();
    let ia = Instance {
        track_interfaces: vec!["eth1"],
        ..Instance::v3(150)
    };
    elect(
        &mut lab,
        (a, &Conf::one(ia)),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    lab.topo.ip("n1", &["link", "set", "eth1", "down"]).unwrap();
    check(
        &lab,
        within(secs(1.5), || lab.holds((2, 1), VIP1)),
        "track_interface down: the VIP did not move to n2 within 1.5 s",
    );
    check(
        &lab,
        within(secs(1.0), || notified(&lab, 1, "FAULT")),
        "track_interface down: n1 did not notify FAULT",
    );
    lab.topo.ip("n1", &["link", "set", "eth1", "up"]).unwrap();
    check(
        &lab,
        within(secs(2.5), || lab.holds((1, 2), VIP1)),
        "track_interface up: n1 did not take the VIP back within 2.5 s",
    );
}

/// SIGKILL + link down of the master: the backup takes over within
/// Master_Down_Interval (3×0.1 + skew = 0.36 s; limit 1.5 s) and keeps it.
pub fn crash_failover(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    let t0 = Instant::now();
    lab.crash(1);
    check(
        &lab,
        within(secs(1.5), || lab.has(2, VIP1)),
        "the backup did not take the VIP within 1.5 s of the crash",
    );
    // The last advert came at most one interval before the crash, so the
    // Master_Down timer cannot expire sooner than 2×0.1 + skew (0.26 s).
    let took = t0.elapsed();
    check(
        &lab,
        took >= Duration::from_millis(200),
        &format!("the backup took over {took:?} after a silent crash: before Master_Down_Interval"),
    );
    check(
        &lab,
        holds_for(secs(0.5), || lab.has(2, VIP1)),
        "the new master lost the VIP",
    );
}

/// The higher priority returns after a graceful stop and takes the VIP back.
pub fn preempt_back(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let ca = Conf::one(Instance::v3(150));
    elect(
        &mut lab,
        (a, &ca),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.has(2, VIP1)),
        "the backup did not take over",
    );
    let exited = lab.wait_exit(1, secs(5.0)).is_some();
    check(&lab, exited, "the master did not exit on SIGTERM");
    lab.start(1, a, &ca);
    check(
        &lab,
        within(secs(2.0), || lab.holds((1, 2), VIP1)),
        "the returning higher priority did not take the VIP back within 2 s",
    );
    check(
        &lab,
        holds_for(secs(0.5), || lab.holds((1, 2), VIP1)),
        "preemption back was not stable",
    );
}

/// `nopreempt`: a higher priority that starts later stays backup; it still
/// takes over when the master stops.
pub fn nopreempt(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.start(2, b, &Conf::one(Instance::v3(100)));
    check(
        &lab,
        within(secs(2.0), || lab.has(2, VIP1)),
        "n2 alone did not become master",
    );
    let ia = Instance {
        nopreempt: true,
        ..Instance::v3(150)
    };
    lab.start(1, a, &Conf::one(ia));
    check(
        &lab,
        within(secs(2.0), || notified(&lab, 1, "BACKUP")),
        "n1 (nopreempt) did not notify BACKUP",
    );
    check(
        &lab,
        holds_for(secs(1.0), || lab.holds((2, 1), VIP1)),
        "n1 with nopreempt took the VIP from a lower-priority master",
    );
    lab.signal(2, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.has(1, VIP1)),
        "n1 (nopreempt) did not take over when the master stopped",
    );
}

/// Equal priorities: n2 is cut off the bridge, both become master, the
/// bridge heals, and the higher address (n2, 192.0.2.2) must stay master
/// alone. Here `b` is the expected winner. (Started together on one
/// segment, the first to time out would simply stay master: a backup
/// accepts an equal priority, RFC 5798 §6.4.2.)
pub fn tie_break(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.partition(2, true);
    lab.start(1, a, &Conf::one(Instance::v3(100)));
    lab.start(2, b, &Conf::one(Instance::v3(100)));
    check(
        &lab,
        within(secs(2.0), || lab.has(1, VIP1) && lab.has(2, VIP1)),
        "equal priority: both partitioned nodes should become master",
    );
    lab.partition(2, false);
    check(
        &lab,
        within(secs(2.0), || lab.holds((2, 1), VIP1)),
        "equal priority: after the partition healed, the higher address (n2) was not alone with the VIP",
    );
    check(
        &lab,
        holds_for(secs(1.0), || lab.holds((2, 1), VIP1)),
        "equal priority: the tie-break was not stable",
    );
}

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
    lab.start(1, a, &Conf::one(ia));
    lab.start(2, b, &Conf::one(ib));
    if same {
        check(
            &lab,
            within(secs(5.0), || lab.holds((1, 2), VIP1)),
            "same password: n1 (150) was not alone with the VIP within 5 s",
        );
        check(
            &lab,
            holds_for(secs(2.5), || lab.holds((1, 2), VIP1)),
            "same password: the election was not stable",
        );
    } else {
        check(
            &lab,
            within(secs(5.0), || lab.has(1, VIP1) && lab.has(2, VIP1)),
            "different passwords: both should hold the VIP",
        );
        check(
            &lab,
            holds_for(secs(3.5), || lab.has(1, VIP1) && lab.has(2, VIP1)),
            "different passwords: one side accepted the other's adverts",
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
    elect(
        &mut lab,
        (a, &Conf::one(v6(150))),
        (b, &Conf::one(v6(100))),
        VIP6,
        0.1,
    );
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

/// `track_script` with weight −60 on n1 (150 → 90 < 100): the VIP moves to
/// n2 while the script fails, and back when it succeeds again.
pub fn track_script(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let fail = lab.path("fail");
    let ca = Conf {
        scripts: vec![Script {
            name: "chk",
            command: format!("/usr/bin/test ! -e {}", fail.display()),
            interval: 1,
            weight: -60,
        }],
        instances: vec![Instance {
            track_scripts: vec!["chk"],
            ..Instance::v3(150)
        }],
        ..Conf::default()
    };
    elect(
        &mut lab,
        (a, &ca),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    std::fs::write(&fail, "").unwrap();
    check(
        &lab,
        within(secs(4.0), || lab.holds((2, 1), VIP1)),
        "the failing track_script (weight -60) did not move the VIP to n2 within 4 s",
    );
    std::fs::remove_file(&fail).unwrap();
    check(
        &lab,
        within(secs(4.0), || lab.holds((1, 2), VIP1)),
        "the recovered track_script did not bring the VIP back to n1 within 4 s",
    );
}

/// A sync group of two instances; a failing track_script (weight 0: FAULT)
/// on one of n1's members moves both VIPs to n2, close together.
pub fn sync_group(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let fail = lab.path("fail");
    let pair = |prio, track: bool| {
        let vi1 = Instance {
            track_scripts: if track { vec!["chk"] } else { Vec::new() },
            ..Instance::v3(prio)
        };
        let vi2 = Instance {
            name: "VI_2",
            vrid: 52,
            vips: vec!["198.51.100.2/32"],
            notify: false,
            ..Instance::v3(prio)
        };
        Conf {
            scripts: if track {
                vec![Script {
                    name: "chk",
                    command: format!("/usr/bin/test ! -e {}", fail.display()),
                    interval: 1,
                    weight: 0,
                }]
            } else {
                Vec::new()
            },
            instances: vec![vi1, vi2],
            sync_group: vec!["VI_1", "VI_2"],
            track_files: Vec::new(),
            notify_fifo: None,
        }
    };
    let cap = lab.capture("sw", "br0", "wire.pcap");
    lab.start(1, a, &pair(150, true));
    lab.start(2, b, &pair(100, false));
    let n1_both = |lab: &Lab| lab.has(1, VIP1) && lab.has(1, VIP2);
    let n2_none = |lab: &Lab| !lab.has(2, VIP1) && !lab.has(2, VIP2);
    check(
        &lab,
        within(secs(2.0), || n1_both(&lab) && n2_none(&lab)),
        "sync group: n1 did not take both VIPs",
    );
    check(
        &lab,
        holds_for(secs(0.5), || n1_both(&lab) && n2_none(&lab)),
        "sync group: the election was not stable",
    );
    let t0 = now_micros();
    std::fs::write(&fail, "").unwrap();
    let (mut got1, mut got2) = (None, None);
    let moved = within(secs(4.0), || {
        let now = Instant::now();
        if got1.is_none() && lab.has(2, VIP1) {
            got1 = Some(now);
        }
        if got2.is_none() && lab.has(2, VIP2) {
            got2 = Some(now);
        }
        got1.is_some() && got2.is_some() && !lab.has(1, VIP1) && !lab.has(1, VIP2)
    });
    check(
        &lab,
        moved,
        "sync group: a faulty member did not move both VIPs to n2 within 4 s",
    );
    let gap = match (got1, got2) {
        (Some(x), Some(y)) if x > y => x - y,
        (Some(x), Some(y)) => y - x,
        _ => Duration::MAX,
    };
    // On the wire: once n1 has sent priority 0 for an instance, it must not
    // advertise that instance with a non-zero priority again (FAULT is silent).
    let wire: Vec<Packet> = pcap::read(&cap)
        .into_iter()
        .filter(|p| p.micros >= t0 && p.src.to_string() == ip4(1))
        .collect();
    let trace: Vec<String> = wire
        .iter()
        .map(|p| format!("{} vrid {} prio {}", p.micros - t0, p.vrid(), p.priority()))
        .collect();
    for vrid in [51, 52] {
        let mine: Vec<u8> = wire
            .iter()
            .filter(|p| p.vrid() == vrid)
            .map(Packet::priority)
            .collect();
        let after_zero = mine.iter().skip_while(|&&p| p != 0).any(|&p| p != 0);
        check(
            &lab,
            mine.contains(&0) && !after_zero,
            &format!(
                "sync group: n1's adverts for VRID {vrid} after the fault should end with priority 0 and stay silent: {trace:?}"
            ),
        );
    }
    check(
        &lab,
        gap <= Duration::from_millis(500),
        &format!("sync group: the two VIPs moved {gap:?} apart; n1 after the fault: {trace:?}"),
    );
}

/// SIGHUP with VI_1 unchanged (and a VI_2 added, to see that the reload
/// happened): no address event for VI_1's VIP on either node during the
/// whole reload window.
pub fn sighup_no_flap(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let ca = Conf::one(Instance::v3(150));
    elect(
        &mut lab,
        (a, &ca),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    let mon1 = lab.monitor(1, "mon-n1");
    let mon2 = lab.monitor(2, "mon-n2");
    let mut reloaded = ca.clone();
    reloaded.instances.push(Instance {
        name: "VI_2",
        vrid: 52,
        vips: vec!["198.51.100.2/32"],
        notify: false,
        ..Instance::v3(150)
    });
    lab.write_conf(1, &reloaded);
    lab.signal(1, "HUP");
    check(
        &lab,
        within(secs(3.0), || lab.has(1, VIP2)),
        "SIGHUP: the added instance VI_2 never took its VIP (reload not applied?)",
    );
    check(
        &lab,
        holds_for(secs(1.0), || lab.holds((1, 2), VIP1)),
        "SIGHUP: VI_1's VIP left n1",
    );
    let running = lab.running(1);
    check(&lab, running, "SIGHUP: the daemon exited");
    let vip = format!(" {VIP1}/");
    let events = |p| std::fs::read_to_string(p).unwrap_or_default();
    let (e1, e2) = (events(&mon1), events(&mon2));
    let flap1: Vec<&str> = e1.lines().filter(|l| l.contains(&vip)).collect();
    let flap2: Vec<&str> = e2.lines().filter(|l| l.contains(&vip)).collect();
    check(
        &lab,
        flap1.iter().all(|l| !l.contains("Deleted")) && flap2.is_empty(),
        &format!("SIGHUP: VI_1's VIP flapped: n1 {flap1:?}, n2 {flap2:?}"),
    );
}

/// SIGHUP with a changed priority: n1 reloaded with priority 50 (< n2's
/// 100) gives the VIP to n2; the daemon keeps running.
pub fn sighup_priority_change(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    lab.write_conf(1, &Conf::one(Instance::v3(50)));
    lab.signal(1, "HUP");
    check(
        &lab,
        within(secs(2.0), || lab.holds((2, 1), VIP1)),
        "SIGHUP to priority 50: the VIP did not move to n2 (100) within 2 s",
    );
    check(
        &lab,
        holds_for(secs(0.5), || lab.holds((2, 1), VIP1)),
        "SIGHUP to priority 50: n1 took the VIP back",
    );
    let running = lab.running(1);
    check(&lab, running, "SIGHUP: the daemon exited");
}

/// Stopping the backup disturbs nothing: the master keeps the VIP and the
/// backup sends no advert once signalled (no priority 0: it was not master).
pub fn backup_stop_is_silent(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    let t0 = now_micros();
    lab.signal(2, "TERM");
    let st = lab.wait_exit(2, secs(5.0));
    check(
        &lab,
        st.is_some_and(|s| s.success()),
        &format!("the backup's exit after SIGTERM: {st:?} (want 0)"),
    );
    check(
        &lab,
        holds_for(secs(0.5), || lab.holds((1, 2), VIP1)),
        "the master lost the VIP when the backup stopped",
    );
    let from_b: Vec<Packet> = pcap::read(&cap)
        .into_iter()
        .filter(|p| p.src.to_string() == ip4(2) && p.micros >= t0)
        .collect();
    check(
        &lab,
        from_b.is_empty(),
        &format!("the backup advertised after SIGTERM: {from_b:?}"),
    );
}

/// VRRPv2 requires equal advert intervals (RFC 3768 §7.1): n1 advertises
/// every 1 s, n2 every 2 s, each drops the other's adverts and both end up
/// master (as keepalived does).
pub fn v2_interval_mismatch(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.start(1, a, &Conf::one(Instance::v2(150)));
    let ib = Instance {
        advert: "2",
        ..Instance::v2(100)
    };
    lab.start(2, b, &Conf::one(ib));
    check(
        &lab,
        within(secs(9.0), || lab.has(1, VIP1) && lab.has(2, VIP1)),
        "v2 interval mismatch: both should hold the VIP",
    );
    check(
        &lab,
        holds_for(secs(2.5), || lab.has(1, VIP1) && lab.has(2, VIP1)),
        "v2 interval mismatch: one side accepted the other's adverts",
    );
}

/// SIGHUP removing an instance: n1 drops VI_2 (VRID 52) from its file; its
/// VIP leaves n1 and n2 takes VI_2 over, while VI_1 stays on n1 without an
/// address event.
pub fn sighup_remove_instance(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let two = |p| {
        let mut c = Conf::one(Instance::v3(p));
        c.instances.push(Instance {
            name: "VI_2",
            vrid: 52,
            vips: vec!["198.51.100.2/32"],
            notify: false,
            ..Instance::v3(p)
        });
        c
    };
    lab.start(1, a, &two(150));
    lab.start(2, b, &two(100));
    let n1_both = |lab: &Lab| lab.has(1, VIP1) && lab.has(1, VIP2);
    check(
        &lab,
        within(secs(2.0), || {
            n1_both(&lab) && !lab.has(2, VIP1) && !lab.has(2, VIP2)
        }),
        "n1 did not take both VIPs",
    );
    let mon1 = lab.monitor(1, "mon-n1");
    lab.write_conf(1, &Conf::one(Instance::v3(150)));
    lab.signal(1, "HUP");
    check(
        &lab,
        within(secs(1.5), || lab.holds((2, 1), VIP2)),
        "SIGHUP removing VI_2: its VIP did not move to n2 within 1.5 s",
    );
    check(
        &lab,
        holds_for(secs(0.5), || lab.holds((1, 2), VIP1) && lab.has(2, VIP2)),
        "SIGHUP removing VI_2: the roles did not settle (VI_1 on n1, VI_2 on n2)",
    );
    let events = std::fs::read_to_string(&mon1).unwrap_or_default();
    let vip1 = format!(" {VIP1}/");
    let flap: Vec<&str> = events.lines().filter(|l| l.contains(&vip1)).collect();
    check(
        &lab,
        flap.is_empty(),
        &format!("SIGHUP removing VI_2: VI_1's VIP had address events on n1: {flap:?}"),
    );
}

/// Same VRID, different VIP lists: each side drops the other's adverts
/// (address list check, RFC 5798 §7.1 may; keepalived does), so both end up
/// master.
pub fn vip_list_mismatch(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.start(1, a, &Conf::one(Instance::v3(150)));
    let ib = Instance {
        vips: vec!["198.51.100.2/32"],
        ..Instance::v3(100)
    };
    lab.start(2, b, &Conf::one(ib));
    check(
        &lab,
        within(secs(2.0), || lab.has(1, VIP1) && lab.has(2, VIP2)),
        "VIP list mismatch: both should become master",
    );
    check(
        &lab,
        holds_for(secs(1.0), || lab.has(1, VIP1) && lab.has(2, VIP2)),
        "VIP list mismatch: one side accepted the other's adverts",
    );
}

/// How a daemon ends up after starting with a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Startup {
    Exited(Option<i32>),
    /// Still running 2 s after the start.
    Running,
}

fn startup(imp: Impl, text: Option<&'static str>) -> Startup {
    let mut lab = Lab::new(1);
    let path = lab.path("n1.conf");
    if let Some(t) = text {
        std::fs::write(&path, t).unwrap();
    }
    lab.start_path(1, imp, &path);
    match lab.wait_exit(1, secs(2.0)) {
        Some(st) => Startup::Exited(st.code()),
        None => Startup::Running,
    }
}

/// Start-up with a broken or odd configuration: the same exit code, or the
/// same "keeps running", as keepalived (with keepalived's values pinned).
pub fn startup_outcomes(subject: Impl) {
    let instance = |iface: &str, vrid: u32| {
        format!(
            "vrrp_instance X {{\n interface {iface}\n virtual_router_id {vrid}\n priority 100\n \
             virtual_ipaddress {{\n  198.51.100.1\n }}\n}}\n"
        )
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let cases: Vec<(&str, Option<&'static str>, Startup)> = vec![
        ("missing file", None, Startup::Exited(Some(6))),
        (
            "unknown interface",
            Some(leak(instance("eth9", 5))),
            Startup::Exited(Some(2)),
        ),
        (
            "VRID 300",
            Some(leak(instance("eth0", 300))),
            Startup::Exited(Some(2)),
        ),
        (
            "unknown keyword",
            Some(leak(
                instance("eth0", 5).replace(" priority 100", " priority 100\n bogus_keyword"),
            )),
            Startup::Running,
        ),
        (
            "no instances",
            Some("global_defs {\n router_id x\n}\n"),
            Startup::Running,
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(name, text, want)| {
            let theirs = std::thread::spawn(move || startup(Impl::Keepalived, text));
            let ours = std::thread::spawn(move || startup(subject, text));
            (name, want, theirs, ours)
        })
        .collect();
    let mut bad = Vec::new();
    for (name, want, theirs, ours) in runs {
        let (theirs, ours) = (theirs.join().unwrap(), ours.join().unwrap());
        if theirs != want || ours != theirs {
            bad.push(format!(
                "{name}: keepalived {theirs:?} (pinned {want:?}), {} {ours:?}",
                subject.name()
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "start-up outcomes differ:\n{}",
        bad.join("\n")
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
    elect(
        &mut lab,
        (a, &Conf::one(inst(150))),
        (b, &Conf::one(inst(100))),
        VIP1,
        0.1,
    );
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

/// `track_file` (weight 1): n1 (150) reads -60 from the file, its priority
/// becomes 90 < 100 and the VIP moves to n2; 0 brings it back.
pub fn track_file(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let file = lab.path("prio");
    std::fs::write(&file, "0\n").unwrap();
    let ca = Conf {
        track_files: vec![("tf", file.display().to_string())],
        instances: vec![Instance {
            track_files: vec!["tf"],
            ..Instance::v3(150)
        }],
        ..Conf::default()
    };
    elect(
        &mut lab,
        (a, &ca),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    std::fs::write(&file, "-60\n").unwrap();
    check(
        &lab,
        within(secs(3.0), || lab.holds((2, 1), VIP1)),
        "track_file -60: the VIP did not move to n2 within 3 s",
    );
    std::fs::write(&file, "0\n").unwrap();
    check(
        &lab,
        within(secs(3.0), || lab.holds((1, 2), VIP1)),
        "track_file 0: the VIP did not come back to n1 within 3 s",
    );
}

/// Priority 255 (address owner, written with `state BACKUP` like every
/// instance here) joins a running master (100) and takes the VIP; its
/// notifies are BACKUP then MASTER, as keepalived's.
pub fn owner_priority_255(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.start(2, b, &Conf::one(Instance::v3(100)));
    check(
        &lab,
        within(secs(2.0), || lab.has(2, VIP1)),
        "n2 alone did not become master",
    );
    lab.start(1, a, &Conf::one(Instance::v3(255)));
    check(
        &lab,
        within(secs(1.0), || lab.holds((1, 2), VIP1)),
        "the owner (255) did not take the VIP within 1 s",
    );
    let generic = || -> Vec<String> {
        lab.notifications(1)
            .into_iter()
            .filter(|l| l.starts_with("INSTANCE "))
            .collect()
    };
    within(secs(1.0), || generic().len() >= 2);
    let n1 = generic();
    check(
        &lab,
        n1 == ["INSTANCE VI_1 BACKUP 255", "INSTANCE VI_1 MASTER 255"],
        &format!("the owner's notify sequence: {n1:?} (want BACKUP, MASTER)"),
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

/// The master's own link goes down (the daemon lives on): n2 takes over,
/// n1 reports FAULT; when the link comes back n1 preempts again.
pub fn link_down_up(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    lab.topo.ip("n1", &["link", "set", "eth0", "down"]).unwrap();
    check(
        &lab,
        within(secs(1.5), || lab.has(2, VIP1)),
        "link down: n2 did not take the VIP within 1.5 s",
    );
    check(
        &lab,
        within(secs(1.0), || notified(&lab, 1, "FAULT")),
        "link down: n1 did not notify FAULT",
    );
    lab.topo.ip("n1", &["link", "set", "eth0", "up"]).unwrap();
    check(
        &lab,
        within(secs(3.0), || lab.holds((1, 2), VIP1)),
        "link up: n1 did not take the VIP back within 3 s",
    );
    let running = lab.running(1);
    check(&lab, running, "link down/up: the daemon exited");
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
    elect(
        &mut lab,
        (a, &ca),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
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

/// SIGHUP adding a VIP to a running instance on both nodes (backup first):
/// the master adds it without touching the old one, the backup takes
/// neither.
pub fn sighup_add_vip(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    let mon1 = lab.monitor(1, "mon-n1");
    let mon2 = lab.monitor(2, "mon-n2");
    let more = |p| {
        Conf::one(Instance {
            vips: vec!["198.51.100.1/32", "198.51.100.2/32"],
            ..Instance::v3(p)
        })
    };
    lab.write_conf(2, &more(100));
    lab.write_conf(1, &more(150));
    lab.signal(2, "HUP");
    lab.signal(1, "HUP");
    check(
        &lab,
        within(secs(2.0), || lab.has(1, VIP2)),
        "SIGHUP adding a VIP: the master did not add it within 2 s",
    );
    check(
        &lab,
        holds_for(secs(1.0), || {
            lab.has(1, VIP1) && lab.has(1, VIP2) && !lab.has(2, VIP1) && !lab.has(2, VIP2)
        }),
        "SIGHUP adding a VIP: the roles changed",
    );
    let events = |p| std::fs::read_to_string(p).unwrap_or_default();
    let (e1, e2) = (events(&mon1), events(&mon2));
    let vip1 = format!(" {VIP1}/");
    let del1: Vec<&str> = e1
        .lines()
        .filter(|l| l.contains(&vip1) && l.contains("Deleted"))
        .collect();
    let any2: Vec<&str> = e2.lines().filter(|l| l.contains(" 198.51.100.")).collect();
    check(
        &lab,
        del1.is_empty() && any2.is_empty(),
        &format!("SIGHUP adding a VIP: n1 deleted the old VIP {del1:?}; n2 events {any2:?}"),
    );
}

/// A client (n3) on the segment follows the VIP: before the failover its
/// neighbour entry for the VIP is n1's MAC; after SIGTERM to n1 the new
/// master's gratuitous ARP (IPv6: unsolicited NA) moves it to n2's MAC
/// within 1 s (the client sends nothing meanwhile), and the VIP answers
/// pings again.
pub fn client_follows_vip(a: Impl, b: Impl, ipv6: bool) {
    let mut lab = Lab::new(3);
    let (vip, net) = if ipv6 {
        (VIP6, "2001:db8:100::/64")
    } else {
        (VIP1, "198.51.100.0/24")
    };
    lab.topo
        .ip("n3", &["route", "add", net, "dev", "eth0"])
        .unwrap();
    let inst = |p| Instance {
        vips: vec![if ipv6 {
            "2001:db8:100::1/64"
        } else {
            "198.51.100.1/32"
        }],
        ..Instance::v3(p)
    };
    elect(
        &mut lab,
        (a, &Conf::one(inst(150))),
        (b, &Conf::one(inst(100))),
        vip,
        0.1,
    );
    let ping = |lab: &Lab| {
        lab.topo
            .exec("n3", &["ping", "-c", "1", "-W", "1", vip])
            .is_ok()
    };
    let lladdr = |lab: &Lab| {
        lab.topo
            .ip("n3", &["neigh", "show", vip, "dev", "eth0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    check(&lab, ping(&lab), "the client cannot ping the VIP on n1");
    check(
        &lab,
        lladdr(&lab).contains("02:00:00:00:00:01"),
        &format!(
            "the client's neighbour entry is not n1's MAC: {}",
            lladdr(&lab)
        ),
    );
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.has(2, vip)),
        "n2 did not take the VIP",
    );
    check(
        &lab,
        within(secs(1.0), || lladdr(&lab).contains("02:00:00:00:00:02")),
        &format!(
            "the client's neighbour entry did not move to n2's MAC: {}",
            lladdr(&lab)
        ),
    );
    check(&lab, ping(&lab), "the client cannot ping the VIP on n2");
}

/// The master keeps its advert schedule: over 3 s, n1's adverts (v3,
/// 0.1 s) come on average every 100 ms ± 2 %, none later than 150 ms after
/// the previous one, and n2 (backup) sends none.
pub fn advert_rate(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    elect(
        &mut lab,
        (a, &Conf::one(Instance::v3(150))),
        (b, &Conf::one(Instance::v3(100))),
        VIP1,
        0.1,
    );
    let t0 = now_micros();
    std::thread::sleep(secs(3.0));
    let t1 = now_micros();
    let wire: Vec<Packet> = pcap::read(&cap)
        .into_iter()
        .filter(|p| (t0..t1).contains(&p.micros))
        .collect();
    let from_b = wire.iter().filter(|p| p.src.to_string() == ip4(2)).count();
    check(
        &lab,
        from_b == 0,
        &format!("the backup sent {from_b} adverts"),
    );
    let times: Vec<u64> = wire
        .iter()
        .filter(|p| p.src.to_string() == ip4(1))
        .map(|p| p.micros)
        .collect();
    check(
        &lab,
        times.len() >= 20,
        &format!("only {} adverts from the master in 3 s", times.len()),
    );
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = (times[times.len() - 1] - times[0]) / (times.len() as u64 - 1);
    let max = gaps.iter().copied().max().unwrap_or(0);
    check(
        &lab,
        (98_000..=102_000).contains(&mean) && max <= 150_000,
        &format!("advert interval: mean {mean} µs (want 100000 ± 2 %), max {max} µs"),
    );
}

/// The byte-equality cases: instance settings for a lone master.
#[derive(Debug, Clone, Copy)]
pub enum Bytes {
    V2None,
    V2Pass,
    V3Ipv4,
    V3Ipv6,
    Unicast,
    /// The priority-0 advert sent on SIGTERM (v3 IPv4).
    V3Shutdown,
    /// `use_vmac`: also the Ethernet source 00:00:5e:00:01:33.
    V3Vmac,
    /// Unicast over IPv6 (2001:db8::1 to 2001:db8::2).
    UnicastIpv6,
}

fn bytes_conf(case: Bytes) -> Conf {
    let v4 = Instance {
        master: true,
        notify: false,
        vips: vec!["198.51.100.1/32", "198.51.100.2/32"],
        ..Instance::v3(150)
    };
    let i = match case {
        Bytes::V2None => Instance {
            version: 2,
            advert: "1",
            ..v4
        },
        Bytes::V2Pass => Instance {
            version: 2,
            advert: "1",
            pass: Some("secret123"),
            ..v4
        },
        Bytes::V3Ipv4 | Bytes::V3Shutdown => v4,
        Bytes::V3Ipv6 => Instance {
            vips: vec!["2001:db8:100::1/64", "2001:db8:100::2/64"],
            ..v4
        },
        Bytes::Unicast => Instance {
            unicast_peers: vec![2],
            ..v4
        },
        Bytes::V3Vmac => Instance {
            use_vmac: true,
            ..v4
        },
        Bytes::UnicastIpv6 => Instance {
            unicast_peers: vec![2],
            vips: vec!["2001:db8:100::1/64", "2001:db8:100::2/64"],
            ..v4
        },
    };
    Conf::one(i)
}

/// Runs `imp` alone on n1 (n2 only answers ARP) with `case` and returns the
/// first advert it sends with priority 150.
fn first_advert(imp: Impl, case: Bytes) -> (Packet, Lab) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "p1", "wire.pcap");
    lab.start(1, imp, &bytes_conf(case));
    let mut got = None;
    within(secs(5.0), || {
        got = pcap::read(&cap).into_iter().find(|p| p.priority() == 150);
        got.is_some()
    });
    let Some(p) = got else {
        panic!(
            "{} sent no advert within 5 s ({case:?})\n{}",
            imp.name(),
            lab.logs()
        )
    };
    if !matches!(case, Bytes::V3Shutdown) {
        return (p, lab);
    }
    lab.signal(1, "TERM");
    assert!(
        lab.wait_exit(1, secs(5.0)).is_some(),
        "{} did not exit on SIGTERM\n{}",
        imp.name(),
        lab.logs()
    );
    let mut zero = None;
    within(secs(1.0), || {
        zero = pcap::read(&cap).into_iter().find(|p| p.priority() == 0);
        zero.is_some()
    });
    let Some(z) = zero else {
        panic!(
            "{} sent no priority-0 advert on SIGTERM\n{}",
            imp.name(),
            lab.logs()
        )
    };
    (z, lab)
}

/// Our adverts are byte-equal to keepalived's for the same configuration
/// and addresses (each daemon run alone, both at once in separate labs).
/// `subject` keepalived is the calibration (the capture is deterministic).
pub fn bytes_equal(subject: Impl, case: Bytes) {
    let reference = std::thread::spawn(move || first_advert(Impl::Keepalived, case));
    let (ours, lab) = first_advert(subject, case);
    let (theirs, _ref_lab) = reference.join().expect("keepalived run");
    check(
        &lab,
        ours.payload == theirs.payload,
        &format!(
            "{case:?}: VRRP payload differs\n keepalived: {}\n {:<10}: {}",
            hex(&theirs.payload),
            subject.name(),
            hex(&ours.payload)
        ),
    );
    // The IP header fields a sender chooses (IPv4 id: keepalived numbers
    // each instance's packets 1, 2, …; fragment field: DF or not).
    let header = |p: &Packet| (p.eth_src, p.src, p.dst, p.ttl, p.tos, p.id, p.frag);
    check(
        &lab,
        header(&ours) == header(&theirs),
        &format!(
            "{case:?}: headers differ (MAC src, src, dst, ttl, tos, id, frag): keepalived {:?}, {} {:?}",
            header(&theirs),
            subject.name(),
            header(&ours)
        ),
    );
}
