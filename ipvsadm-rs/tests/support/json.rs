//! `--json`: the document describes exactly the table that was set up.

use libtest_mimic::Failed;
use serde_json::Value;

use super::{fixture, run_step};

fn check(cond: bool, what: &str) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(what.to_owned().into())
    }
}

pub fn json_listing_describes_the_table() -> Result<(), Failed> {
    let _serial = super::serial();
    let f = fixture()?;
    let mut topo = netlab::Topology::new()?;
    let ns = super::add_ns(&mut topo, "json")?;
    let tmp = tempfile::tempdir()?;
    let setup = "ipvsadm -A -t 192.0.2.1:80 -s rr -p 60 -M 255.255.255.0 && \
                 ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2:8080 -m -w 7 -x 10 -y 5 && \
                 ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1 -i --tun-type gue --tun-port 6080 --tun-csum && \
                 ipvsadm -A -f 4294967295 -6 -s sh -b sh-port && \
                 ipvsadm --set 100 20 30";
    let out = run_step(&ns, &f.ours_bin, f.root.path(), tmp.path(), setup)?;
    check(out.status.success(), &format!("setup failed: {out:?}"))?;
    let out = run_step(
        &ns,
        &f.ours_bin,
        f.root.path(),
        tmp.path(),
        "ipvsadm -L --json",
    )?;
    check(out.status.success(), &format!("-L --json failed: {out:?}"))?;
    let v: Value = serde_json::from_slice(&out.stdout)?;
    check(v["schema"] == 1, "schema")?;
    check(
        v["version"] == "1.2.1",
        &format!("version {}", v["version"]),
    )?;
    let services = v["services"].as_array().ok_or("services is not an array")?;
    check(services.len() == 2, "two services")?;
    // Listed in ipvsadm's order: libipvs compares fwmarks as a C int
    // difference, so mark 2^32-1 sorts before the TCP service (mark 0).
    let (fw, tcp) = (&services[0], &services[1]);
    check(
        tcp["protocol"] == "tcp" && tcp["address"] == "192.0.2.1" && tcp["port"] == 80,
        "tcp key",
    )?;
    check(tcp["scheduler"] == "rr", "scheduler")?;
    check(tcp["persistence"]["timeout"] == 60, "timeout")?;
    check(tcp["persistence"]["netmask"] == "255.255.255.0", "netmask")?;
    let dests = tcp["destinations"].as_array().ok_or("destinations")?;
    check(dests.len() == 2, "two destinations")?;
    // Sorted by address as -L sorts.
    check(
        dests[0]["address"] == "198.51.100.1" && dests[0]["forward"] == "tunnel",
        "first dest",
    )?;
    check(
        dests[0]["tunnel"]["type"] == "gue"
            && dests[0]["tunnel"]["port"] == 6080
            && dests[0]["tunnel"]["checksum"] == "csum",
        "gue tunnel",
    )?;
    check(
        dests[1]["port"] == 8080
            && dests[1]["forward"] == "masq"
            && dests[1]["weight"] == 7
            && dests[1]["upper_threshold"] == 10
            && dests[1]["lower_threshold"] == 5
            && dests[1]["tunnel"].is_null(),
        "masq dest",
    )?;
    check(
        fw["fwmark"] == 4_294_967_295_u64 && fw["family"] == "inet6",
        "fwmark unsigned, inet6",
    )?;
    check(
        fw["sched_flags"] == serde_json::json!(["sh-port"]),
        "sched flags",
    )?;
    check(
        fw["protocol"].is_null() && fw["address"].is_null(),
        "fwmark has no address",
    )?;
    let out = run_step(
        &ns,
        &f.ours_bin,
        f.root.path(),
        tmp.path(),
        "ipvsadm -L --timeout --json",
    )?;
    let t: Value = serde_json::from_slice(&out.stdout)?;
    check(
        t["timeouts"] == serde_json::json!({"tcp": 100, "tcp_fin": 20, "udp": 30}),
        "timeouts",
    )?;
    let out = run_step(
        &ns,
        &f.ours_bin,
        f.root.path(),
        tmp.path(),
        "ipvsadm -L -n --json --foo",
    )?;
    check(out.status.code() == Some(255), "unknown options still fail")?;
    Ok(())
}
