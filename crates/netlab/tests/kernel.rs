//! Tests that need IPVS in the kernel. On a host without it this binary
//! re-executes itself inside the lab VM (see `netlab::kernel`).

use std::collections::BTreeMap;
use std::path::Path;

use libtest_mimic::Failed;
use netlab::scenario::{Lvs, VIP};

fn main() {
    netlab::kernel::main(&[
        ("proc_net_ip_vs_is_visible", proc_net_ip_vs_is_visible),
        (
            "real_ipvsadm_nat_answers_from_both_backends",
            real_ipvsadm_nat_answers_from_both_backends,
        ),
        (
            "real_ipvsadm_dr_answers_from_both_backends",
            real_ipvsadm_dr_answers_from_both_backends,
        ),
    ]);
}

fn netlab_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_netlab"))
}

/// The kernel exposes IPVS: the module is loaded and its table is readable.
fn proc_net_ip_vs_is_visible() -> Result<(), Failed> {
    let table = std::fs::read_to_string("/proc/net/ip_vs")
        .map_err(|e| format!("/proc/net/ip_vs unreadable: {e}"))?;
    if !table.starts_with("IP Virtual Server version 1.2.1") {
        return Err(format!("unexpected /proc/net/ip_vs: {table}").into());
    }
    Ok(())
}

/// Counts which backend answered each of `n` requests to the VIP.
fn answers(lab: &Lvs, n: usize) -> Result<BTreeMap<String, usize>, Failed> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let body = lab.get("client", &format!("http://{VIP}/"))?;
        *seen.entry(body.trim().to_owned()).or_insert(0) += 1;
    }
    Ok(seen)
}

/// LVS-NAT: the real ipvsadm adds a round-robin service with two masquerading
/// backends; requests from the client to the VIP are answered by both, in
/// turn, and the kernel's table lists what was added.
fn real_ipvsadm_nat_answers_from_both_backends() -> Result<(), Failed> {
    let lab = Lvs::build_nat(netlab_bin(), 2)?;
    for args in lab.service_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.ipvsadm("ipvsadm", &args)?;
    }
    let seen = answers(&lab, 6)?;
    let want: BTreeMap<String, usize> = [("backend1".into(), 3), ("backend2".into(), 3)].into();
    if seen != want {
        return Err(format!("round robin over two backends: want {want:?}, got {seen:?}").into());
    }
    let list = String::from_utf8(lab.ipvsadm("ipvsadm", &["-L", "-n"])?.stdout)?;
    for needle in [
        "TCP  198.51.100.10:80 rr",
        "  -> 192.0.2.11:80                Masq    1      ",
        "  -> 192.0.2.12:80                Masq    1      ",
    ] {
        if !list.contains(needle) {
            return Err(format!("`ipvsadm -L -n` lacks {needle:?}:\n{list}").into());
        }
    }
    // Without the service the VIP is just a local address with nothing on :80.
    lab.ipvsadm("ipvsadm", &["-C"])?;
    if lab.get("client", &format!("http://{VIP}/")).is_ok() {
        return Err("the VIP still answered after `ipvsadm -C`".into());
    }
    Ok(())
}

/// LVS-DR: backends carry the VIP on lo with arp_ignore=1/arp_announce=2
/// and answer the client directly; the director only rewrites MACs.
fn real_ipvsadm_dr_answers_from_both_backends() -> Result<(), Failed> {
    let lab = Lvs::build_dr(netlab_bin(), 2)?;
    let svc = format!("{VIP}:80");
    lab.ipvsadm("ipvsadm", &["-A", "-t", &svc, "-s", "rr"])?;
    for b in lab.backends.clone() {
        lab.ipvsadm("ipvsadm", &["-a", "-t", &svc, "-r", &b, "-g", "-w", "1"])?;
    }
    let seen = answers(&lab, 4)?;
    let want: BTreeMap<String, usize> = [("backend1".into(), 2), ("backend2".into(), 2)].into();
    if seen != want {
        return Err(format!("DR round robin: want {want:?}, got {seen:?}").into());
    }
    let list = String::from_utf8(lab.ipvsadm("ipvsadm", &["-L", "-n"])?.stdout)?;
    if list.matches("Route   1      ").count() != 2 {
        return Err(format!("`ipvsadm -L -n` should list two Route backends:\n{list}").into());
    }
    Ok(())
}
