//! SIGHUP: reloads that change nothing, a priority, an instance or a VIP.

#[allow(
    clippy::wildcard_imports,
    reason = "the scenarios share the parent's imports and helpers"
)]
use super::*;

/// n1's usual instance (VI_1, VRID 51) and a second one (VI_2, VRID 52), at
/// priority `prio`.
fn vi1_and_vi2(prio: u8) -> Conf {
    Conf {
        instances: vec![Instance::v3(prio), Instance::second(prio)],
        ..Conf::default()
    }
}

/// The lines of the `ip monitor address` output `path` that contain `needle`.
fn address_events(path: &Path, needle: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// SIGHUP with VI_1 unchanged (and a VI_2 added, to see that the reload
/// happened): no address event for VI_1's VIP on either node during the
/// whole reload window.
pub fn sighup_no_flap(a: Impl, b: Impl) {
    let mut lab = elected_pair(a, b);
    let mon1 = lab.monitor(1, "mon-n1");
    let mon2 = lab.monitor(2, "mon-n2");
    lab.write_conf(1, &vi1_and_vi2(150));
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
    let (flap1, flap2) = (address_events(&mon1, &vip), address_events(&mon2, &vip));
    check(
        &lab,
        flap1.iter().all(|l| !l.contains("Deleted")) && flap2.is_empty(),
        &format!("SIGHUP: VI_1's VIP flapped: n1 {flap1:?}, n2 {flap2:?}"),
    );
}

/// SIGHUP with a changed priority: n1 reloaded with priority 50 (< n2's
/// 100) gives the VIP to n2; the daemon keeps running.
pub fn sighup_priority_change(a: Impl, b: Impl) {
    let mut lab = elected_pair(a, b);
    lab.write_conf(1, &Conf::one(Instance::v3(50)));
    lab.signal(1, "HUP");
    settles(
        &lab,
        (2.0, 0.5),
        || lab.holds((2, 1), VIP1),
        "SIGHUP to priority 50: the VIP did not move to n2 (100) within 2 s",
        "SIGHUP to priority 50: n1 took the VIP back",
    );
    let running = lab.running(1);
    check(&lab, running, "SIGHUP: the daemon exited");
}

/// SIGHUP removing an instance: n1 drops VI_2 (VRID 52) from its file; its
/// VIP leaves n1 and n2 takes VI_2 over, while VI_1 stays on n1 without an
/// address event.
pub fn sighup_remove_instance(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    lab.start(1, a, &vi1_and_vi2(150));
    lab.start(2, b, &vi1_and_vi2(100));
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
    let flap = address_events(&mon1, &format!(" {VIP1}/"));
    check(
        &lab,
        flap.is_empty(),
        &format!("SIGHUP removing VI_2: VI_1's VIP had address events on n1: {flap:?}"),
    );
}

/// SIGHUP adding a VIP to a running instance on both nodes (backup first):
/// the master adds it without touching the old one, the backup takes
/// neither.
pub fn sighup_add_vip(a: Impl, b: Impl) {
    let mut lab = elected_pair(a, b);
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
    let del1: Vec<String> = address_events(&mon1, &format!(" {VIP1}/"))
        .into_iter()
        .filter(|l| l.contains("Deleted"))
        .collect();
    let any2 = address_events(&mon2, " 198.51.100.");
    check(
        &lab,
        del1.is_empty() && any2.is_empty(),
        &format!("SIGHUP adding a VIP: n1 deleted the old VIP {del1:?}; n2 events {any2:?}"),
    );
}
