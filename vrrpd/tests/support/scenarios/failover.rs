//! Failover: graceful, crash, link down, and what clients and the wire see.

#[allow(
    clippy::wildcard_imports,
    reason = "the scenarios share the parent's imports and helpers"
)]
use super::*;

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
    elect_alike(&mut lab, (a, b), with_scripts, VIP1);
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
    let prio0 = adverts_from(&cap, 1, t0).iter().any(|p| p.priority() == 0);
    check(&lab, prio0, "n1 sent no priority-0 advert on SIGTERM");
    let n2_garps = || {
        pcap::announcements(&cap)
            .into_iter()
            .filter(|g| g.micros >= t0 && g.mac == mac(2) && g.ip.to_string() == VIP1)
            .count()
    };
    check(
        &lab,
        within(secs(1.0), || n2_garps() > 0),
        "n2 sent no gratuitous ARP for the VIP after taking over",
    );
    // garp_master_repeat 5 (the default): five in the first burst; the
    // second burst comes after garp_master_delay (5 s), outside this window.
    std::thread::sleep(secs(0.8));
    let garps = n2_garps();
    check(
        &lab,
        garps == 5,
        &format!("n2 sent {garps} gratuitous ARPs in its first burst (keepalived: 5)"),
    );
    // The generic `notify` lines, in order (the per-state scripts run
    // concurrently, so only their presence is checked above).
    // n2 may have been master for an instant at start-up, before n1's first
    // advert (legal when it times out first), so its list alternates
    // BACKUP/MASTER, from BACKUP to MASTER.
    let (g1, g2) = (
        instance_notifications(&lab, 1),
        instance_notifications(&lab, 2),
    );
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

/// SIGKILL + link down of the master: the backup takes over within
/// Master_Down_Interval (3×0.1 + skew = 0.36 s; limit 1.5 s) and keeps it.
pub fn crash_failover(a: Impl, b: Impl) {
    let mut lab = elected_pair(a, b);
    crash_takeover(
        &mut lab,
        "the backup did not take the VIP within 1.5 s of the crash",
    );
    check(
        &lab,
        holds_for(secs(0.5), || lab.has(2, VIP1)),
        "the new master lost the VIP",
    );
}

/// Stopping the backup disturbs nothing: the master keeps the VIP and the
/// backup sends no advert once signalled (no priority 0: it was not master).
pub fn backup_stop_is_silent(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    elect_alike(&mut lab, (a, b), Instance::v3, VIP1);
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
    let from_b = adverts_from(&cap, 2, t0);
    check(
        &lab,
        from_b.is_empty(),
        &format!("the backup advertised after SIGTERM: {from_b:?}"),
    );
}

/// The master's own link goes down (the daemon lives on): n2 takes over,
/// n1 reports FAULT; when the link comes back n1 preempts again.
pub fn link_down_up(a: Impl, b: Impl) {
    let mut lab = elected_pair(a, b);
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
    elect_alike(&mut lab, (a, b), inst, vip);
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
