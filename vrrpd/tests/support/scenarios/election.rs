//! Election, preemption and advert timing.

#[allow(
    clippy::wildcard_imports,
    reason = "the scenarios share the parent's imports and helpers"
)]
use super::*;

/// Higher priority wins; the loser stays backup; only the master advertises.
pub fn election(a: Impl, b: Impl, version: u8) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    let (inst, advert): (fn(u8) -> Instance, f64) = if version == 2 {
        (Instance::v2, 1.0)
    } else {
        (Instance::v3, 0.1)
    };
    elect_alike(&mut lab, (a, b), inst, VIP1);
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
    crash_takeover(
        &mut lab,
        "a backup configured with 1 s did not take over within 1.5 s: it did not learn the 0.1 s interval",
    );
}

/// `preempt_delay 1`: n1 (150) joins a lower-priority master and takes
/// over no sooner than 1 s after it started (without the delay: 0.36 s).
pub fn preempt_delay(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    n2_master_alone(&mut lab, b);
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

/// The higher priority returns after a graceful stop and takes the VIP back.
pub fn preempt_back(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let ca = Conf::one(Instance::v3(150));
    elect_over_plain_backup(&mut lab, (a, &ca), b);
    lab.signal(1, "TERM");
    check(
        &lab,
        within(secs(1.0), || lab.has(2, VIP1)),
        "the backup did not take over",
    );
    let exited = lab.wait_exit(1, secs(5.0)).is_some();
    check(&lab, exited, "the master did not exit on SIGTERM");
    lab.start(1, a, &ca);
    settles(
        &lab,
        (2.0, 0.5),
        || lab.holds((1, 2), VIP1),
        "the returning higher priority did not take the VIP back within 2 s",
        "preemption back was not stable",
    );
}

/// `nopreempt`: a higher priority that starts later stays backup; it still
/// takes over when the master stops.
pub fn nopreempt(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    n2_master_alone(&mut lab, b);
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
    settles(
        &lab,
        (2.0, 1.0),
        || lab.holds((2, 1), VIP1),
        "equal priority: after the partition healed, the higher address (n2) was not alone with the VIP",
        "equal priority: the tie-break was not stable",
    );
}

/// Priority 255 (address owner, written with `state BACKUP` like every
/// instance here) joins a running master (100) and takes the VIP; its
/// notifies are BACKUP then MASTER, as keepalived's.
pub fn owner_priority_255(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    n2_master_alone(&mut lab, b);
    lab.start(1, a, &Conf::one(Instance::v3(255)));
    check(
        &lab,
        within(secs(1.0), || lab.holds((1, 2), VIP1)),
        "the owner (255) did not take the VIP within 1 s",
    );
    within(secs(1.0), || instance_notifications(&lab, 1).len() >= 2);
    let n1 = instance_notifications(&lab, 1);
    check(
        &lab,
        n1 == ["INSTANCE VI_1 BACKUP 255", "INSTANCE VI_1 MASTER 255"],
        &format!("the owner's notify sequence: {n1:?} (want BACKUP, MASTER)"),
    );
}

/// The master keeps its advert schedule: over 3 s, n1's adverts (v3,
/// 0.1 s) come on average every 100 ms ± 2 %, none later than 150 ms after
/// the previous one, and n2 (backup) sends none.
pub fn advert_rate(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "br0", "wire.pcap");
    elect_alike(&mut lab, (a, b), Instance::v3, VIP1);
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
