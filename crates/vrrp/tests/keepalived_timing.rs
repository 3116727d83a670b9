//! Differential timing test: real keepalived 2.2.7 peers fail over, and our state machine,
//! fed the same captured adverts at the same timestamps, must predict when the keepalived
//! backup takes over. Covers Skew_Time after a priority-0 advert (graceful stop) and
//! Master_Down_Interval after silence (crash) for VRRPv2 (RFC 3768 §6.1, §6.4.2: skew in
//! seconds, independent of the interval) and VRRPv3 (RFC 5798 §6.1, §6.4.2: skew scaled
//! by the master's interval, which the backup learns: it is configured with 1 s, the
//! master advertises 0.1 s).
//!
//! Needs root, iproute2, tcpdump and keepalived; fails with a clear message without them.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{signal, Lab, Record, Side};
use vrrp::{
    decode, AdvertInterval, Config, Endpoints, Input, Instant, Machine, Received, Timer,
    V3Ipv4Checksum, Version,
};

const MASTER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const BACKUP_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn instance(version: Version, interface: &str, priority: u8, advert_int: &str) -> String {
    format!(
        "vrrp_instance T {{\n version {}\n interface {interface}\n virtual_router_id 60\n \
         priority {priority}\n advert_int {advert_int}\n virtual_ipaddress {{\n  192.0.2.100\n \
         }}\n}}\n",
        version.number()
    )
}

/// Runs a master (priority 200) and a backup (priority 100) and stops the master with
/// SIGTERM or kills it; returns the backup-side capture.
/// v2: both advertise every 1 s. v3: master 0.1 s, backup configured with 1 s.
fn failover(version: Version, graceful: bool) -> Vec<Record> {
    let name = format!(
        "v{}{}",
        version.number(),
        if graceful { "term" } else { "kill" }
    );
    let (master_int, settle, seconds) = match version {
        Version::V2 => ("1", Duration::from_millis(4_500), 9),
        Version::V3 => ("0.1", Duration::from_millis(1_500), 4),
    };
    let mut lab = Lab::new(&name);
    let capture = lab.capture(Side::B, "ip proto 112", None, seconds);
    lab.keepalived(Side::A, "ka", &instance(version, "k0", 200, master_int));
    lab.keepalived(Side::B, "kb", &instance(version, "k1", 100, "1"));
    std::thread::sleep(settle);
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

fn replay(version: Version, records: &[Record]) -> Outcome {
    let first_master = records
        .iter()
        .position(|r| r.source == MASTER_IP)
        .expect("no master advert");
    let origin = records[first_master].at;
    let instant = |at: Duration| Instant::from_elapsed(at.saturating_sub(origin));
    let interval = AdvertInterval::from_centis(100).unwrap();
    let mut machine = Machine::new(Config::new(version, 100, interval, BACKUP_IP));
    machine.handle(Instant::default(), Input::Startup);
    let mut last_master_advert = origin;
    let mut actual = None;
    for record in &records[first_master..] {
        if record.source == BACKUP_IP {
            actual = Some(record.at);
            break;
        }
        let (IpAddr::V4(source), IpAddr::V4(destination)) = (record.source, record.destination)
        else {
            unreachable!("IPv4 capture")
        };
        let v3_checksum = V3Ipv4Checksum::WithPseudoHeader;
        let endpoints = Endpoints::V4 {
            source,
            destination,
            v3_checksum,
        };
        let advert = decode(&record.message, &endpoints).expect("keepalived's advert decodes");
        let received = Received::new(&advert, record.source);
        machine.handle(instant(record.at), Input::Advert(received));
        last_master_advert = record.at;
    }
    if version == Version::V3 {
        assert_eq!(
            machine.master_adver_interval().centis(),
            10,
            "backup learned 0.1 s"
        );
    }
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
fn rfc3768_rfc5798_6_4_2_backup_takeover_instants_match_keepalived() {
    common::tool("keepalived");
    common::tool("tcpdump");
    let runs = [
        (Version::V2, true),
        (Version::V2, false),
        (Version::V3, true),
        (Version::V3, false),
    ];
    let captures: Vec<Vec<Record>> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|&(v, graceful)| s.spawn(move || failover(v, graceful)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("failover run"))
            .collect()
    });
    for (&(version, graceful), records) in runs.iter().zip(&captures) {
        let what = format!(
            "v{} {}",
            version.number(),
            if graceful { "SIGTERM" } else { "SIGKILL" }
        );
        let outcome = replay(version, records);
        // Skew_Time for priority 100: 156/256 s (v2), 156/256 × 0.1 s (v3).
        let skew = match version {
            Version::V2 => Duration::from_micros(609_375),
            Version::V3 => Duration::from_micros(60_937),
        };
        if graceful {
            let zero = records
                .iter()
                .any(|r| r.source == MASTER_IP && r.message.get(2) == Some(&0));
            assert!(zero, "{what}: keepalived sent priority 0");
            assert_close(&what, &outcome, skew);
        } else {
            // Master_Down_Interval = 3 × interval + Skew_Time.
            let interval = if version == Version::V2 {
                1_000_000
            } else {
                100_000
            };
            assert_close(&what, &outcome, Duration::from_micros(3 * interval) + skew);
        }
    }
}
