//! Differential timing test: real keepalived 2.2.7 peers fail over, and our state machine,
//! fed the same captured adverts at the same timestamps, must predict when the keepalived
//! backup takes over. Covers RFC 5798 §6.4.2 Skew_Time after a priority-0 advert (graceful
//! stop), Master_Down_Interval after silence (crash), and the v3 backup learning the
//! master's interval (the backup is configured with 1 s, the master advertises 0.1 s).
//!
//! Needs root, iproute2, tcpdump and keepalived; fails with a clear message without them.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{signal, Lab, Record, Side};
use vrrp::{
    decode, AdvertInterval, Config, Endpoints, Input, Instant, Machine, Received, Timer, Version,
};

const MASTER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const BACKUP_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn instance(interface: &str, priority: u8, advert_int: &str) -> String {
    format!(
        "vrrp_instance T {{\n version 3\n interface {interface}\n virtual_router_id 60\n \
         priority {priority}\n advert_int {advert_int}\n virtual_ipaddress {{\n  192.0.2.100\n }}\n}}\n"
    )
}

/// Runs a master (priority 200, 0.1 s) and a backup (priority 100, configured 1 s), stops the
/// master gracefully or kills its VRRP process, and returns the backup-side capture.
fn failover(graceful: bool) -> Vec<Record> {
    let name = if graceful { "term" } else { "kill" };
    let mut lab = Lab::new(name);
    let capture = lab.capture(Side::B, "ip proto 112", None, 4);
    lab.keepalived(Side::A, "ka", &instance("k0", 200, "0.1"));
    lab.keepalived(Side::B, "kb", &instance("k1", 100, "1"));
    std::thread::sleep(Duration::from_millis(1_500));
    if graceful {
        signal(lab.keepalived_pid("ka"), "TERM");
    } else {
        // Both at once, child first: keepalived's parent would respawn a lone VRRP child,
        // and a child losing its parent first would stop gracefully.
        let (child, parent) = (lab.vrrp_child_pid("ka"), lab.keepalived_pid("ka"));
        common::signal_all(&[child, parent], "KILL");
    }
    let context = format!(
        "master log:\n{}\nbackup log:\n{}",
        lab.log("ka"),
        lab.log("kb")
    );
    capture.finish(&context)
}

struct Outcome {
    /// Last advert heard from the master (the priority-0 one when graceful).
    last_master_advert: Duration,
    /// When our machine, replaying the capture, would take over.
    predicted: Duration,
    /// When keepalived's backup sent its first advert as master.
    actual: Duration,
}

fn replay(records: &[Record]) -> Outcome {
    let first_master = records
        .iter()
        .position(|r| r.source == MASTER_IP)
        .expect("no master advert");
    let origin = records[first_master].at;
    let instant = |at: Duration| Instant::from_elapsed(at.saturating_sub(origin));
    let config = Config::new(
        Version::V3,
        100,
        AdvertInterval::from_centis(100).unwrap(),
        BACKUP_IP,
    );
    let mut machine = Machine::new(config);
    machine.handle(Instant::default(), Input::Startup);
    let mut last_master_advert = origin;
    let mut actual = None;
    for record in &records[first_master..] {
        let IpAddr::V4(source) = record.source else {
            unreachable!("IPv4 capture")
        };
        let IpAddr::V4(destination) = record.destination else {
            unreachable!("IPv4 capture")
        };
        if record.source == BACKUP_IP {
            actual = Some(record.at);
            break;
        }
        let advert = decode(
            &record.message,
            &Endpoints::V4 {
                source,
                destination,
                v3_checksum: vrrp::V3Ipv4Checksum::WithPseudoHeader,
            },
        )
        .expect("keepalived's advert decodes");
        machine.handle(
            instant(record.at),
            Input::Advert(Received::new(&advert, record.source)),
        );
        last_master_advert = record.at;
    }
    assert_eq!(
        machine.master_adver_interval().centis(),
        10,
        "backup learned 0.1 s"
    );
    let due = machine
        .deadline(Timer::MasterDown)
        .expect("down timer armed");
    Outcome {
        last_master_advert,
        predicted: origin + due.elapsed(),
        actual: actual.expect("keepalived's backup never took over"),
    }
}

/// keepalived's timers run a little late (scheduling, syscalls); never early.
fn assert_close(what: &str, o: &Outcome, expected_wait: Duration) {
    let predicted_wait = o.predicted.saturating_sub(o.last_master_advert);
    assert_eq!(predicted_wait, expected_wait, "{what}: our prediction");
    let late = o.actual.as_secs_f64() - o.predicted.as_secs_f64();
    eprintln!(
        "{what}: keepalived took over {:.1} ms after the last master advert; we predict {:.1} ms",
        o.actual.saturating_sub(o.last_master_advert).as_secs_f64() * 1e3,
        expected_wait.as_secs_f64() * 1e3
    );
    assert!(
        (-0.005..=0.030).contains(&late),
        "{what}: keepalived took over {late:+.4} s from our predicted instant"
    );
}

#[test]
fn rfc5798_6_4_2_backup_takeover_instants_match_keepalived() {
    common::tool("keepalived");
    common::tool("tcpdump");
    let (term, kill) = std::thread::scope(|s| {
        let term = s.spawn(|| failover(true));
        let kill = s.spawn(|| failover(false));
        (
            term.join().expect("graceful run"),
            kill.join().expect("crash run"),
        )
    });

    let graceful = replay(&term);
    let zero = term
        .iter()
        .find(|r| r.source == MASTER_IP && r.message.get(2) == Some(&0));
    assert!(zero.is_some(), "keepalived sent priority 0 on SIGTERM");
    // Skew_Time = (256 − 100) × 0.1 s / 256 after the priority-0 advert.
    assert_close("graceful", &graceful, Duration::from_micros(60_937));

    let crash = replay(&kill);
    // Master_Down_Interval = 3 × 0.1 s + Skew_Time after the last advert.
    assert_close("crash", &crash, Duration::from_micros(360_937));
}
