//! `-R` of a large table: ours against Debian's, measured in the same run.

use std::time::Instant;

use libtest_mimic::Failed;

use super::{fixture, random, run_step};

/// Restores the same 2000-service table with both tools; ours must be at
/// least 5× faster in a release build (the pipelined batches), and both
/// tables must list the same.
pub fn restore_is_faster_than_real_ipvsadm() -> Result<(), Failed> {
    let _serial = super::serial();
    let f = fixture()?;
    let rules = f.root.path().join("bench.rules");
    std::fs::write(&rules, random::rules(0xbe7c_4000, 2000))?;
    let mut topo = netlab::Topology::new()?;
    let real_ns = super::add_ns(&mut topo, "bench-real")?;
    let ours_ns = super::add_ns(&mut topo, "bench-ours")?;
    let tmp = tempfile::tempdir()?;
    let step = format!("ipvsadm -R < {}", rules.display());
    let t = Instant::now();
    let real = run_step(&real_ns, &f.real_bin, f.root.path(), tmp.path(), &step)?;
    let real_time = t.elapsed();
    let t = Instant::now();
    let ours = run_step(&ours_ns, &f.ours_bin, f.root.path(), tmp.path(), &step)?;
    let ours_time = t.elapsed();
    if real.stderr != ours.stderr || real.status.code() != ours.status.code() {
        return Err(format!("restore differs: real {real:?} ours {ours:?}").into());
    }
    let list = |ns: &str, bin| run_step(ns, bin, f.root.path(), tmp.path(), "ipvsadm -Sn");
    let (a, b) = (list(&real_ns, &f.real_bin)?, list(&ours_ns, &f.ours_bin)?);
    if a.stdout != b.stdout {
        return Err("tables differ after restore".into());
    }
    let lines = std::fs::read_to_string(&rules)?.lines().count();
    let ratio = real_time.as_secs_f64() / ours_time.as_secs_f64();
    eprintln!(
        "bench: -R of {lines} lines: real {:.3} s, ours {:.3} s, {ratio:.1}x",
        real_time.as_secs_f64(),
        ours_time.as_secs_f64()
    );
    // The ≥5× claim is about the optimised binary (`cargo test --release`);
    // an unoptimised test build spends most of its time in debug code, so
    // there it only has to be faster at all.
    let want = if cfg!(debug_assertions) { 1.0 } else { 5.0 };
    if ratio < want {
        return Err(format!("ours is only {ratio:.1}x faster (want {want}x)").into());
    }
    Ok(())
}
