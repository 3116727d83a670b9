//! Failover timing of real keepalived 2.2.7 peers, against the instants our state machine
//! predicts from the same captured adverts. Needs root, iproute2, tcpdump, keepalived.
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/target-vrrp cargo run --release -p vrrp --example keepalived_failover -- 20
//! ```
//!
//! Each scenario runs in its own network namespaces, the four in parallel: master priority
//! 200, backup priority 100; v2 with advert_int 1 on both, v3 with the master at 0.1 s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::failover::{failover, replay};
use vrrp::Version;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    // Nearest-rank percentile; the sample counts here are small.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "rank of a small sample"
    )]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    common::tool("keepalived");
    common::tool("tcpdump");
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let scenarios = [
        (Version::V2, true),
        (Version::V2, false),
        (Version::V3, true),
        (Version::V3, false),
    ];
    let results: Vec<(Vec<[f64; 4]>, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = scenarios
            .iter()
            .map(|&(version, graceful)| {
                s.spawn(move || {
                    let (mut rows, mut failures) = (vec![], vec![]);
                    for _ in 0..runs {
                        let (records, signalled) = failover(version, graceful);
                        match replay(version, &records, signalled) {
                            Ok(o) => rows.push([
                                ms(o.actual.saturating_sub(signalled)),
                                ms(o.actual.saturating_sub(o.last_master_advert)),
                                ms(o.predicted.saturating_sub(o.last_master_advert)),
                                ms(o.actual) - ms(o.predicted),
                            ]),
                            Err(e) => failures.push(e),
                        }
                    }
                    (rows, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scenario"))
            .collect()
    });
    println!("runs per scenario: {runs} (discarded runs are reported on stderr)");
    println!(
        "| scenario | signal → takeover p50 / p95 / max (ms) | last advert → takeover p50 / p95 (ms) \
         | our prediction (ms) | keepalived − ours p50 / p95 / max (ms) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (&(version, graceful), (rows, failures)) in scenarios.iter().zip(&results) {
        for failure in failures {
            eprintln!(
                "v{} graceful={graceful}: run discarded: {failure}",
                version.number()
            );
        }
        if rows.is_empty() {
            continue;
        }
        let column = |i: usize| {
            let mut v: Vec<f64> = rows.iter().map(|r| r[i]).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let (signal, advert, predicted, delta) = (column(0), column(1), column(2), column(3));
        println!(
            "| v{} {} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} | {:.1} | {:+.1} / {:+.1} / {:+.1} |",
            version.number(),
            if graceful { "SIGTERM" } else { "SIGKILL" },
            percentile(&signal, 0.5),
            percentile(&signal, 0.95),
            signal.last().copied().unwrap_or_default(),
            percentile(&advert, 0.5),
            percentile(&advert, 0.95),
            percentile(&predicted, 0.5),
            percentile(&delta, 0.5),
            percentile(&delta, 0.95),
            delta.last().copied().unwrap_or_default(),
        );
    }
}
