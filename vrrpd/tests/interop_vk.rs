//! Interop scenarios, vrrpd as the preferred node (n1), keepalived as n2.
//! The scenarios live in `support/scenarios.rs`; every combination file runs
//! the same code (`interop_kk`, `interop_vv`, `interop_vk`, `interop_kv`).

mod support;

use support::scenarios as s;
use support::Impl;

const A: Impl = Impl::Vrrpd;
const B: Impl = Impl::Keepalived;

#[test]
fn election_v2() {
    s::election(A, B, 2);
}

#[test]
fn election_v3() {
    s::election(A, B, 3);
}

#[test]
fn preempt_back() {
    s::preempt_back(A, B);
}

#[test]
fn nopreempt() {
    s::nopreempt(A, B);
}

#[test]
fn tie_break_higher_address() {
    s::tie_break(A, B);
}

#[test]
fn graceful_failover() {
    s::graceful_failover(A, B);
}

#[test]
fn advert_rate() {
    s::advert_rate(A, B);
}

#[test]
fn sighup_priority_change() {
    s::sighup_priority_change(A, B);
}

#[test]
fn backup_stop_is_silent() {
    s::backup_stop_is_silent(A, B);
}

#[test]
fn v2_interval_mismatch() {
    s::v2_interval_mismatch(A, B);
}

#[test]
fn sighup_remove_instance() {
    s::sighup_remove_instance(A, B);
}

#[test]
fn vip_list_mismatch() {
    s::vip_list_mismatch(A, B);
}

#[test]
fn excluded_and_routes() {
    s::excluded_and_routes(A, B);
}

#[test]
fn use_vmac() {
    s::vmac(A, B);
}

#[test]
fn track_file() {
    s::track_file(A, B);
}

#[test]
fn owner_priority_255() {
    s::owner_priority_255(A, B);
}

#[test]
fn same_vrid_ipv4_and_ipv6() {
    s::same_vrid_ipv4_and_ipv6(A, B);
}

#[test]
fn link_down_up() {
    s::link_down_up(A, B);
}

#[test]
fn notify_fifo() {
    s::notify_fifo(A, B);
}

#[test]
fn sighup_add_vip() {
    s::sighup_add_vip(A, B);
}

#[test]
fn client_follows_vip() {
    s::client_follows_vip(A, B, false);
}

#[test]
fn client_follows_vip_ipv6() {
    s::client_follows_vip(A, B, true);
}

#[test]
fn crash_failover() {
    s::crash_failover(A, B);
}

#[test]
fn v3_learns_interval() {
    s::v3_learns_interval(A, B);
}

#[test]
fn preempt_delay() {
    s::preempt_delay(A, B);
}

#[test]
fn track_interface_fault() {
    s::track_interface(A, B);
}

#[test]
fn auth_pass_match() {
    s::auth_pass(A, B, true);
}

#[test]
fn auth_pass_mismatch() {
    s::auth_pass(A, B, false);
}

#[test]
fn unicast() {
    s::unicast(A, B, false);
}

#[test]
fn unicast_ipv6() {
    s::unicast(A, B, true);
}

#[test]
fn ipv6_vip() {
    s::ipv6(A, B);
}

#[test]
fn track_script_weight() {
    s::track_script(A, B);
}

#[test]
fn sync_group() {
    s::sync_group(A, B);
}

#[test]
fn sighup_no_flap() {
    s::sighup_no_flap(A, B);
}
