//! Differential test of the Fault state against keepalived 2.2.7: a master whose tracked
//! interface goes down sends priority 0 and goes quiet; when it comes back the instance
//! starts over in Backup and takes over after Master_Down_Interval (no peer present).
//! Our `Machine` gets `FaultDetected` / `FaultCleared` at the same instants and must
//! predict the same packets and the same takeover instant.
//!
//! Needs root, iproute2, tcpdump and keepalived; fails with a clear message without them.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{wait_for, wall_clock, Lab, Side};
use vrrp::{
    decode, Action, AdvertInterval, Config, Endpoints, Input, Instant, Machine, State, Timer,
    Version,
};

const KEEPALIVED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

#[test]
fn keepalived_fault_on_tracked_interface_and_recovery_match_our_machine() {
    for name in ["keepalived", "tcpdump"] {
        common::tool(name);
    }
    let mut lab = Lab::new("fault");
    // A second veth pair to track (this kernel has no dummy interfaces).
    lab.run_in(
        Side::A,
        &["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
    );
    lab.run_in(Side::A, &["link", "set", "d1", "up"]);
    lab.run_in(Side::A, &["link", "set", "d0", "up"]);
    let capture = lab.capture(Side::B, "ip proto 112", None, 20);
    let instance = "vrrp_instance F {\n version 3\n interface k0\n virtual_router_id 90\n \
                    priority 150\n advert_int 0.1\n track_interface {\n  d0\n }\n \
                    virtual_ipaddress {\n  192.0.2.100\n }\n}\n";
    lab.keepalived(Side::A, "k", instance);
    let from_keepalived = |r: &common::Record| r.source == IpAddr::V4(KEEPALIVED);
    wait_for(
        &capture,
        Duration::from_secs(10),
        "keepalived to become master",
        |records| records.iter().any(from_keepalived),
    );
    std::thread::sleep(Duration::from_millis(300));

    let down_at = wall_clock();
    lab.run_in(Side::A, &["link", "set", "d0", "down"]);
    std::thread::sleep(Duration::from_millis(700));
    let up_at = wall_clock();
    lab.run_in(Side::A, &["link", "set", "d0", "up"]);
    wait_for(
        &capture,
        Duration::from_secs(5),
        "keepalived back to master",
        |records| records.iter().any(|r| from_keepalived(r) && r.at > up_at),
    );
    let records = capture.stop();
    let log = lab.log("k");
    let priority = |r: &common::Record| {
        decode(&r.message, &Endpoints::multicast_v4(KEEPALIVED))
            .expect("decodes")
            .priority
    };

    // keepalived: on entering FAULT, priority 0 (twice, back to back: once from
    // vrrp_state_leave_master and once from vrrp_restore_interface; we send it once, which
    // peers treat the same), then silence until the link is back.
    let during: Vec<_> = records
        .iter()
        .filter(|r| from_keepalived(r) && r.at > down_at && r.at < up_at)
        .collect();
    let seen: Vec<_> = during
        .iter()
        .map(|r| (r.at.saturating_sub(down_at), priority(r)))
        .collect();
    let first_zero = during.iter().position(|r| priority(r) == 0);
    let first_zero = first_zero.unwrap_or_else(|| panic!("no priority 0: {seen:?}; log:\n{log}"));
    let zero_at = during[first_zero].at;
    assert!(
        zero_at.saturating_sub(down_at) < Duration::from_millis(100),
        "priority 0 late: {seen:?}"
    );
    for r in &during[first_zero..] {
        assert_eq!(priority(r), 0, "only priority 0 after the fault: {seen:?}");
        assert!(
            r.at.saturating_sub(zero_at) < Duration::from_millis(10),
            "quiet after: {seen:?}"
        );
    }
    let back = records
        .iter()
        .find(|r| from_keepalived(r) && r.at > up_at)
        .unwrap();
    assert_eq!(priority(back), 150);
    let takeover = back.at.saturating_sub(up_at);

    // Ours, driven at the same instants.
    let interval = AdvertInterval::from_centis(10).unwrap();
    let mut machine = Machine::new(Config::new(Version::V3, 150, interval, KEEPALIVED.into()));
    let t = |at: Duration| Instant::from_elapsed(at);
    machine.handle(t(Duration::ZERO), Input::Startup);
    let won = machine.deadline(Timer::MasterDown).unwrap();
    machine.handle(won, Input::TimerFired(Timer::MasterDown));
    let fault = machine.handle(t(down_at), Input::FaultDetected);
    assert!(fault.contains(&Action::SendAdvert { priority: 0 }));
    assert_eq!(machine.state(), State::Fault);
    machine.handle(t(up_at), Input::FaultCleared);
    assert_eq!(machine.state(), State::Backup);
    let predicted = machine
        .deadline(Timer::MasterDown)
        .unwrap()
        .elapsed()
        .saturating_sub(up_at);
    // 3 × 0.1 s + 106 × 0.1 s / 256.
    assert_eq!(predicted, Duration::from_micros(341_406));
    eprintln!("keepalived back to master {takeover:?} after link up; we predict {predicted:?}");
    let late = takeover.as_secs_f64() - predicted.as_secs_f64();
    assert!(
        (-0.005..=0.050).contains(&late),
        "keepalived took over {late:+.4} s from our prediction; log:\n{log}"
    );
}
