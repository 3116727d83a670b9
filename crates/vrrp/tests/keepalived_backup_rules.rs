//! Differential test of the Backup's receive rules against keepalived 2.2.7: keepalived is
//! a backup (v3, priority 150, configured advert_int 1); we play the master by injecting
//! adverts built by our encoder every 0.1 s — first priority 200 for 1 s (keepalived must
//! learn the 0.1 s interval, RFC 5798 §6.4.2), then a lower or equal priority for 2 s —
//! and compare keepalived's takeover instant with our `Machine` replaying the same
//! injected adverts:
//!
//! * preempt: a lower master is discarded, takeover Master_Down_Interval after the last
//!   priority-200 advert (RFC 5798 §6.4.2);
//! * nopreempt and equal priority: the master is kept, takeover only after we stop;
//! * preempt_delay 1 s: the lower master is accepted for 1 s, then discarded (keepalived).
//!
//! Needs root, iproute2, tcpdump, keepalived and python3; fails clearly without them.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{wait_for, Lab, Record, Side};
use vrrp::{
    decode, Addresses, AdvertInterval, Advertisement, Auth, Config, Endpoints, Input, Instant,
    Machine, Received, State, Timer, Version,
};

const KEEPALIVED: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

struct Case {
    name: &'static str,
    /// Extra keepalived instance lines.
    extra: &'static str,
    /// Priority of the second phase.
    second: u8,
    preempt: bool,
    preempt_delay: Duration,
}

fn cases() -> Vec<Case> {
    let base = |name, extra, second| Case {
        name,
        extra,
        second,
        preempt: true,
        preempt_delay: Duration::ZERO,
    };
    vec![
        base("preempt", "", 100),
        Case {
            preempt: false,
            ..base("nopreempt", " nopreempt\n", 100)
        },
        base("equal", "", 150),
        Case {
            preempt_delay: Duration::from_secs(1),
            ..base("delay", " preempt_delay 1\n", 100)
        },
    ]
}

fn advert(priority: u8) -> Vec<u8> {
    let advert = Advertisement {
        version: Version::V3,
        vrid: 80,
        priority,
        interval: AdvertInterval::from_centis(10).unwrap(),
        auth: Auth::None,
        addresses: Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 100)]),
    };
    advert.encode(&Endpoints::multicast_v4(PEER)).unwrap()
}

/// Runs the scenario; returns the capture on the injector's side.
fn run(case: &Case) -> Vec<Record> {
    let mut lab = Lab::new(case.name);
    let capture = lab.capture(Side::B, "ip proto 112", None, 20);
    let instance = format!(
        "vrrp_instance K {{\n version 3\n interface k0\n virtual_router_id 80\n priority 150\n \
         advert_int 1\n{}  virtual_ipaddress {{\n  192.0.2.100\n }}\n}}\n",
        case.extra
    );
    let mut injector = lab.injector(Side::B);
    lab.keepalived(Side::A, "k", &instance);
    // keepalived waits 3 × 1 s + skew before its first takeover: time enough to start.
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..30 {
        let priority = if i < 10 { 200 } else { case.second };
        injector.send(&advert(priority), 255);
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for(
        &capture,
        Duration::from_secs(3),
        "keepalived's takeover",
        |records| records.iter().any(|r| r.source == KEEPALIVED),
    );
    let records = capture.stop();
    let log = lab.log("k");
    assert!(
        records.iter().any(|r| r.source == KEEPALIVED),
        "{}: no takeover; log:\n{log}",
        case.name
    );
    records
}

/// When our machine, fed the injected adverts, takes over.
fn predicted_takeover(case: &Case, records: &[Record]) -> Duration {
    let injected: Vec<&Record> = records
        .iter()
        .filter(|r| r.source == IpAddr::V4(PEER))
        .collect();
    let origin = injected[0].at;
    let instant = |at: Duration| Instant::from_elapsed(at.saturating_sub(origin));
    let interval = AdvertInterval::from_centis(100).unwrap();
    let mut config = Config::new(Version::V3, 150, interval, KEEPALIVED);
    config.preempt = case.preempt;
    config.preempt_delay = case.preempt_delay;
    let mut machine = Machine::new(config);
    machine.handle(Instant::default(), Input::Startup);
    for record in injected {
        let due = machine.deadline(Timer::MasterDown).expect("backup");
        if due < instant(record.at) {
            break;
        }
        let advert = decode(&record.message, &Endpoints::multicast_v4(PEER)).unwrap();
        machine.handle(
            instant(record.at),
            Input::Advert(Received::new(&advert, record.source)),
        );
    }
    assert_eq!(machine.state(), State::Backup);
    origin + machine.deadline(Timer::MasterDown).unwrap().elapsed()
}

#[test]
fn rfc5798_6_4_2_backup_preemption_rules_match_keepalived() {
    for name in ["keepalived", "tcpdump", "python3"] {
        common::tool(name);
    }
    let cases = cases();
    let captures: Vec<Vec<Record>> = std::thread::scope(|s| {
        let handles: Vec<_> = cases.iter().map(|c| s.spawn(move || run(c))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scenario"))
            .collect()
    });
    for (case, records) in cases.iter().zip(&captures) {
        let actual = records.iter().find(|r| r.source == KEEPALIVED).unwrap().at;
        let predicted = predicted_takeover(case, records);
        let injected: Vec<Duration> = records
            .iter()
            .filter(|r| r.source == IpAddr::V4(PEER))
            .map(|r| r.at)
            .collect();
        let first_lower = injected[10];
        let last = *injected.last().unwrap();
        let late = actual.as_secs_f64() - predicted.as_secs_f64();
        eprintln!(
            "{}: keepalived took over {:.3} s after the first lower advert, we predict {:.3} s",
            case.name,
            actual.as_secs_f64() - first_lower.as_secs_f64(),
            predicted.as_secs_f64() - first_lower.as_secs_f64(),
        );
        assert!(
            (-0.005..=0.030).contains(&late),
            "{}: keepalived took over {late:+.4} s from our prediction",
            case.name
        );
        // The shape of each rule, independently of the exact instants.
        let kept_master = actual > last;
        assert_eq!(
            kept_master,
            !case.preempt || case.second >= 150,
            "{}",
            case.name
        );
    }
}
