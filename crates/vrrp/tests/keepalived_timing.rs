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

use std::time::Duration;

use common::failover::{failover, replay, Outcome, MASTER_IP};
use common::Record;
use vrrp::Version;

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
    let captures: Vec<(Vec<Record>, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|&(v, graceful)| s.spawn(move || failover(v, graceful)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("failover run"))
            .collect()
    });
    for (&(version, graceful), (records, signalled)) in runs.iter().zip(&captures) {
        let what = format!(
            "v{} {}",
            version.number(),
            if graceful { "SIGTERM" } else { "SIGKILL" }
        );
        let outcome =
            replay(version, records, *signalled).unwrap_or_else(|e| panic!("{what}: {e}"));
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
