//! Benchmark of desired-state apply (run as root on a kernel with IPVS,
//! e.g. in the lab: `cargo build --release -p ipvs --example apply_bench &&
//! cargo run -p netlab -- run -- target/release/examples/apply_bench`).
//!
//! Builds S services × D destinations, then changes 1% of the destinations'
//! weights and applies again, for two table sizes; prints each phase's time
//! and operation count.

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
    // 1% of the destinations: every 100th (service, dest) pair.
    let change = table(services, per, |s, i| (s * per + i).is_multiple_of(100));
    let t = Instant::now();
    let plan_ops = ipvs::apply::plan(r.known(), &change).len();
    let planned = t.elapsed();
    let t = Instant::now();
    let a = r.apply(&change);
    let changed = t.elapsed();
    assert!(a.failed.is_empty());
    assert_eq!(a.ops.len(), plan_ops);
    println!(
        "{services} services x {per} dests = {} dests: build {} ops {:.3} s; full read {:.3} s; \
         1% change: {} ops, plan {:.1} ms, apply {:.3} s",
        build.dest_count(),
        build_ops,
        built.as_secs_f64(),
        read.as_secs_f64(),
        plan_ops,
        planned.as_secs_f64() * 1e3,
        changed.as_secs_f64(),
    );
    r.client().flush()
}

fn main() -> Result<(), ipvs::Error> {
    run(1_000, 10)?;
    run(10_000, 10)?;
    Ok(())
}
