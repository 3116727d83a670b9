//! Benchmark of desired-state apply (run as root on a kernel with IPVS,
//! e.g. in the lab: `cargo build --release -p ipvs --example apply_bench &&
//! cargo run -p netlab -- run -- target/release/examples/apply_bench`).
//!
//! Builds S services × D destinations, reads it back, then changes 0.1%,
//! 1% and 10% of the destinations' weights (each from the built table, put
//! back after) through `apply` with the whole desired table, and 1% through
//! `apply_services` with only the changed services; for two table sizes.
//! Prints each phase's time and operation count.

use std::net::IpAddr;
use std::time::Instant;

use ipvs::{Client, Destination, Protocol, Reconciler, Service, ServiceKey, Table};

/// The `n`th address (from 1) of 198.`net`.0.0/16 (inside 198.18.0.0/15).
fn addr(net: u8, n: u32) -> IpAddr {
    let [_, _, hi, lo] = (n + 1).to_be_bytes();
    IpAddr::from([198, net, hi, lo])
}

fn table(services: u32, per: u32, changed: impl Fn(u32, u32) -> bool) -> Table {
    let mut t = Table::default();
    for s in 0..services {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr(18, s),
            port: 80,
        };
        let dests = (0..per).map(|i| {
            let mut d = Destination::new(addr(19, i), 80);
            d.weight = if changed(s, i) { 5 } else { 1 };
            d
        });
        t.insert(Service::new(key), dests);
    }
    t
}

/// Applies `change` (a copy of the base table with some weights changed),
/// timing the in-memory plan and the whole apply, then goes back to
/// `base` (untimed). Returns (ops, plan ms, apply s).
fn timed_change(
    r: &mut Reconciler,
    base: &Table,
    change: &Table,
    partial: bool,
) -> (usize, f64, f64) {
    let (changed, removed) = (touched(base, change), Vec::new());
    let t = Instant::now();
    let plan_ops = if partial {
        ipvs::apply::plan_services(r.known(), &changed, &removed).len()
    } else {
        ipvs::apply::plan(r.known(), change).len()
    };
    let planned = t.elapsed();
    let t = Instant::now();
    let a = if partial {
        r.apply_services(&changed, &removed)
    } else {
        r.apply(change)
    };
    let applied = t.elapsed();
    assert!(a.failed.is_empty(), "change failed: {:?}", a.failed.first());
    assert_eq!(a.ops.len(), plan_ops);
    let back = r.apply(base);
    assert!(back.failed.is_empty() && back.ops.len() == plan_ops);
    (plan_ops, planned.as_secs_f64() * 1e3, applied.as_secs_f64())
}

/// The services of `change` that differ from `base` (what a caller of
/// `apply_services` knows it changed).
fn touched(base: &Table, change: &Table) -> Table {
    let mut t = Table::default();
    for (k, e) in &change.services {
        if base.services.get(k) != Some(e) {
            t.services.insert(*k, e.clone());
        }
    }
    t
}

fn run(services: u32, per: u32) -> Result<(), ipvs::Error> {
    let mut c = Client::new()?;
    c.flush()?;
    let mut r = Reconciler::new(c)?;
    let build = table(services, per, |_, _| false);
    let t = Instant::now();
    let a = r.apply(&build);
    let built = t.elapsed();
    let build_ops = a.ops.len();
    assert!(a.failed.is_empty(), "build failed: {:?}", a.failed.first());
    let t = Instant::now();
    let live = Table::read(r.client())?;
    let read = t.elapsed();
    assert!(live.same_config(&build));
    println!(
        "{services} services x {per} dests = {} dests: build {} ops {:.3} s; full read {:.3} s",
        build.dest_count(),
        build_ops,
        built.as_secs_f64(),
        read.as_secs_f64(),
    );
    // Every `every`th (service, dest) pair gets another weight.
    for (every, partial) in [(1000, false), (100, false), (10, false), (100, true)] {
        let change = table(services, per, |s, i| (s * per + i).is_multiple_of(every));
        let (ops, plan_ms, apply_s) = timed_change(&mut r, &build, &change, partial);
        println!(
            "  {:>4}% change{}: {ops} ops, plan {plan_ms:.1} ms, apply {apply_s:.3} s",
            100.0 / f64::from(every),
            if partial {
                " (apply_services, changed services only)"
            } else {
                " (apply, whole desired table)"
            },
        );
    }
    r.client().flush()
}

fn main() -> Result<(), ipvs::Error> {
    run(1_000, 10)?;
    run(10_000, 10)?;
    Ok(())
}
