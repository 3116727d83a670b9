//! keepalived's SIGUSR2 statistics file (`/tmp/keepalived.stats`, same layout as
//! `vrrp_print_stats`) and SIGUSR1 data file (`/tmp/keepalived.data`, a short
//! per-instance summary, not keepalived's full dump).

use std::fmt::Write as _;

use crate::instance::Instance;
use crate::run::Daemon;

/// Counters keepalived keeps per instance.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
}

/// keepalived's `make_tmp_filename`: `$TMPDIR` if absolute, else /tmp.
fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::var("TMPDIR")
        .ok()
        .filter(|d| d.starts_with('/'))
        .unwrap_or_else(|| "/tmp".to_string());
    std::path::Path::new(&dir).join(name)
}

fn drops(i: &Instance, counters: &[&str]) -> u64 {
    counters
        .iter()
        .map(|c| i.drops.get(c).copied().unwrap_or(0))
        .sum()
}

/// The text of the statistics file.
pub fn render(d: &Daemon) -> String {
    let mut out = String::new();
    for i in d.instances.values() {
        let s = &i.stats;
        let _ = write!(
            out,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  \
             Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    \
             TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    Address List: {}\n  \
             Authentication Errors:\n    Invalid Type: {}\n    Type Mismatch: {}\n    Failure: {}\n  \
             Priority Zero:\n    Received: {}\n    Sent: {}\n",
            i.spec.name,
            s.advert_rcvd,
            s.advert_sent,
            s.become_master,
            s.release_master,
            drops(i, &["packet_length"]),
            drops(i, &["ttl"]),
            drops(i, &["packet_type", "version"]),
            drops(i, &["interval"]),
            drops(i, &["address_list"]),
            drops(i, &["auth_type_invalid"]),
            drops(i, &["auth_type_mismatch"]),
            drops(i, &["auth_failure"]),
            s.pri_zero_rcvd,
            s.pri_zero_sent,
        );
    }
    out
}

pub fn write_stats(d: &Daemon) {
    if let Err(e) = std::fs::write(tmp("keepalived.stats"), render(d)) {
        tracing::warn!("Can't write keepalived.stats: {e}");
    }
}

pub fn write_data(d: &Daemon) {
    let mut out = String::from("------< VRRP Topology >------\n");
    for i in d.instances.values() {
        let _ = write!(
            out,
            " VRRP Instance = {}\n   State = {:?}\n   Interface = {}\n   Virtual Router ID = {}\n   \
             Priority = {}\n   Effective priority = {}\n   Advert interval = {} centi-sec\n   \
             Primary address = {}\n   Faults = {:?}\n   Dropped packets = {:?}\n",
            i.spec.name,
            i.machine.state(),
            i.spec.interface,
            i.spec.vrid,
            i.spec.priority,
            i.machine.priority(),
            i.spec.interval.centis(),
            i.primary,
            i.faults,
            i.drops,
        );
    }
    let _ = writeln!(out, " Packets for no instance = {}", d.unclaimed);
    if let Err(e) = std::fs::write(tmp("keepalived.data"), out) {
        tracing::warn!("Can't write keepalived.data: {e}");
    }
}
