//! The interop scenarios. Each takes the implementation of node 1 (`a`, the
//! preferred router: higher priority or the one that should win) and of node
//! 2 (`b`), so the same code runs keepalived↔keepalived (calibration),
//! vrrpd↔vrrpd and both mixed pairs.
//!
//! Wait limits are the RFC times plus a margin for a loaded 2-core machine:
//! v3 with advert 0.1 s elects in 3×0.1 + skew ≈ 0.36 s (limit 2 s), v2
//! with advert 1 s in ≈ 3.4 s (limit 6 s).

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::pcap::{self, hex, Packet};
use super::{holds_for, ip4, link_local, secs, within, Conf, Impl, Instance, Lab, Script};

pub mod config;
pub mod election;
pub mod failover;
pub mod reload;
pub mod single;
pub mod tracking;

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

/// The usual pair: n1 runs `a` at priority 150 and n2 runs `b` at 100, both
/// with the instance `inst` makes (e.g. `Instance::v3`), and n1 is elected
/// for `vip` (see [`elect`]; the advert interval is n1's `advert_int`).
fn elect_alike(lab: &mut Lab, (a, b): (Impl, Impl), inst: impl Fn(u8) -> Instance, vip: &str) {
    let (ia, ib) = (inst(150), inst(100));
    let advert = ia.advert.parse().expect("advert_int is a number");
    elect(lab, (a, &Conf::one(ia)), (b, &Conf::one(ib)), vip, advert);
}

/// A two-node lab where n1 (`a`, `Instance::v3(150)`) is elected master
/// over n2 (`b`, `Instance::v3(100)`) for VIP1: the start of most scenarios.
fn elected_pair(a: Impl, b: Impl) -> Lab {
    let mut lab = Lab::new(2);
    elect_alike(&mut lab, (a, b), Instance::v3, VIP1);
    lab
}

/// n1 runs `a` with `ca` (priority 150, VRRPv3 at 0.1 s), n2 runs `b` with
/// the plain backup `Instance::v3(100)`; n1 is elected for VIP1.
fn elect_over_plain_backup(lab: &mut Lab, (a, ca): (Impl, &Conf), b: Impl) {
    elect(lab, (a, ca), (b, &Conf::one(Instance::v3(100))), VIP1, 0.1);
}

/// Starts `b` alone on n2 with `Instance::v3(100)` and waits (2 s) until it
/// is master, for scenarios where n1 joins a running master.
fn n2_master_alone(lab: &mut Lab, b: Impl) {
    lab.start(2, b, &Conf::one(Instance::v3(100)));
    check(
        lab,
        within(secs(2.0), || lab.has(2, VIP1)),
        "n2 alone did not become master",
    );
}

/// `cond` becomes true within `limit` seconds (else fails with `late`) and
/// then stays true for `hold` seconds (else fails with `unstable`).
#[track_caller]
fn settles(
    lab: &Lab,
    (limit, hold): (f64, f64),
    cond: impl Fn() -> bool,
    late: &str,
    unstable: &str,
) {
    check(lab, within(secs(limit), &cond), late);
    check(lab, holds_for(secs(hold), &cond), unstable);
}

/// Starts `a` with `ca` on n1 and `b` with `cb` on n2, which drop each
/// other's adverts (`what`: why): within `limit` s each becomes master (n1
/// holds `vip1`, n2 `vip2`), and both stay master for `hold` s.
#[track_caller]
fn both_stay_master(
    lab: &mut Lab,
    ((a, ca), (b, cb)): ((Impl, &Conf), (Impl, &Conf)),
    (vip1, vip2): (&str, &str),
    (limit, hold): (f64, f64),
    what: &str,
) {
    lab.start(1, a, ca);
    lab.start(2, b, cb);
    settles(
        lab,
        (limit, hold),
        || lab.has(1, vip1) && lab.has(2, vip2),
        &format!("{what}: both should become master"),
        &format!("{what}: one side accepted the other's adverts"),
    );
}

/// The generic `notify` lines (`INSTANCE …`) node `node` has written, in
/// order (without the per-state scripts' keywords).
fn instance_notifications(lab: &Lab, node: usize) -> Vec<String> {
    lab.notifications(node)
        .into_iter()
        .filter(|l| l.starts_with("INSTANCE "))
        .collect()
}

/// A crash of the master n1 (SIGKILL + link down): n2 takes VIP1 within
/// 1.5 s (else fails with `late`), and not before 200 ms (the last advert
/// came at most one interval before the crash, so the Master_Down timer
/// cannot expire sooner than 2×0.1 + skew = 0.26 s).
#[track_caller]
fn crash_takeover(lab: &mut Lab, late: &str) {
    let t0 = Instant::now();
    lab.crash(1);
    check(lab, within(secs(1.5), || lab.has(2, VIP1)), late);
    let took = t0.elapsed();
    check(
        lab,
        took >= Duration::from_millis(200),
        &format!("the backup took over {took:?} after a silent crash: before Master_Down_Interval"),
    );
}

/// The adverts in `cap` that node `node` sent (from its IPv4 address) at or
/// after `since` (µs since the epoch).
fn adverts_from(cap: &Path, node: usize, since: u64) -> Vec<Packet> {
    pcap::read(cap)
        .into_iter()
        .filter(|p| p.src.to_string() == ip4(node) && p.micros >= since)
        .collect()
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

fn mac(node: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, u8::try_from(node).unwrap()]
}
