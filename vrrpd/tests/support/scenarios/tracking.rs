//! track_interface, track_script, track_file and sync groups.

#[allow(
    clippy::wildcard_imports,
    reason = "the scenarios share the parent's imports and helpers"
)]
use super::*;

/// `vrrp_script chk` that fails while the file `fail` exists, run every
/// second with `weight`.
fn fails_while_exists(fail: &Path, weight: i32) -> Script {
    Script {
        name: "chk",
        command: format!("/usr/bin/test ! -e {}", fail.display()),
        interval: 1,
        weight,
    }
}

/// n1's tracked condition goes bad (`set_bad(true)`): VIP1 must move to n2
/// alone within `limit` s (else fails with `away`); it goes good again
/// (`set_bad(false)`): VIP1 must come back to n1 alone within `limit` s
/// (else fails with `back`).
#[track_caller]
fn away_and_back(lab: &Lab, limit: f64, mut set_bad: impl FnMut(bool), (away, back): (&str, &str)) {
    set_bad(true);
    check(lab, within(secs(limit), || lab.holds((2, 1), VIP1)), away);
    set_bad(false);
    check(lab, within(secs(limit), || lab.holds((1, 2), VIP1)), back);
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
    elect_over_plain_backup(&mut lab, (a, &Conf::one(ia)), b);
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

/// `track_script` with weight −60 on n1 (150 → 90 < 100): the VIP moves to
/// n2 while the script fails, and back when it succeeds again.
pub fn track_script(a: Impl, b: Impl) {
    let mut lab = Lab::new(2);
    let fail = lab.path("fail");
    let ca = Conf {
        scripts: vec![fails_while_exists(&fail, -60)],
        instances: vec![Instance {
            track_scripts: vec!["chk"],
            ..Instance::v3(150)
        }],
        ..Conf::default()
    };
    elect_over_plain_backup(&mut lab, (a, &ca), b);
    away_and_back(
        &lab,
        4.0,
        |bad| {
            if bad {
                std::fs::write(&fail, "").unwrap();
            } else {
                std::fs::remove_file(&fail).unwrap();
            }
        },
        (
            "the failing track_script (weight -60) did not move the VIP to n2 within 4 s",
            "the recovered track_script did not bring the VIP back to n1 within 4 s",
        ),
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
        Conf {
            scripts: if track {
                vec![fails_while_exists(&fail, 0)]
            } else {
                Vec::new()
            },
            instances: vec![vi1, Instance::second(prio)],
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
    settles(
        &lab,
        (2.0, 0.5),
        || n1_both(&lab) && n2_none(&lab),
        "sync group: n1 did not take both VIPs",
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
    let wire = adverts_from(&cap, 1, t0);
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
    elect_over_plain_backup(&mut lab, (a, &ca), b);
    away_and_back(
        &lab,
        3.0,
        |bad| std::fs::write(&file, if bad { "-60\n" } else { "0\n" }).unwrap(),
        (
            "track_file -60: the VIP did not move to n2 within 3 s",
            "track_file 0: the VIP did not come back to n1 within 3 s",
        ),
    );
}
