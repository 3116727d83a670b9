//! The interop test lists, written once: each `interop_*` file expands them
//! for its pair of implementations (n1 is the preferred node).

/// The scenarios that run for every pair: `pair_tests!(n1_impl, n2_impl)`.
#[macro_export]
macro_rules! pair_tests {
    ($a:expr, $b:expr) => {
        #[test]
        fn election_v2() {
            $crate::support::scenarios::election::election($a, $b, 2);
        }

        #[test]
        fn election_v3() {
            $crate::support::scenarios::election::election($a, $b, 3);
        }

        #[test]
        fn preempt_back() {
            $crate::support::scenarios::election::preempt_back($a, $b);
        }

        #[test]
        fn nopreempt() {
            $crate::support::scenarios::election::nopreempt($a, $b);
        }

        #[test]
        fn tie_break_higher_address() {
            $crate::support::scenarios::election::tie_break($a, $b);
        }

        #[test]
        fn graceful_failover() {
            $crate::support::scenarios::failover::graceful_failover($a, $b);
        }

        #[test]
        fn advert_rate() {
            $crate::support::scenarios::election::advert_rate($a, $b);
        }

        #[test]
        fn sighup_priority_change() {
            $crate::support::scenarios::reload::sighup_priority_change($a, $b);
        }

        #[test]
        fn backup_stop_is_silent() {
            $crate::support::scenarios::failover::backup_stop_is_silent($a, $b);
        }

        #[test]
        fn v2_interval_mismatch() {
            $crate::support::scenarios::config::v2_interval_mismatch($a, $b);
        }

        #[test]
        fn sighup_remove_instance() {
            $crate::support::scenarios::reload::sighup_remove_instance($a, $b);
        }

        #[test]
        fn vip_list_mismatch() {
            $crate::support::scenarios::config::vip_list_mismatch($a, $b);
        }

        #[test]
        fn excluded_and_routes() {
            $crate::support::scenarios::config::excluded_and_routes($a, $b);
        }

        #[test]
        fn use_vmac() {
            $crate::support::scenarios::config::vmac($a, $b);
        }

        #[test]
        fn track_file() {
            $crate::support::scenarios::tracking::track_file($a, $b);
        }

        #[test]
        fn owner_priority_255() {
            $crate::support::scenarios::election::owner_priority_255($a, $b);
        }

        #[test]
        fn same_vrid_ipv4_and_ipv6() {
            $crate::support::scenarios::config::same_vrid_ipv4_and_ipv6($a, $b);
        }

        #[test]
        fn link_down_up() {
            $crate::support::scenarios::failover::link_down_up($a, $b);
        }

        #[test]
        fn notify_fifo() {
            $crate::support::scenarios::config::notify_fifo($a, $b);
        }

        #[test]
        fn sighup_add_vip() {
            $crate::support::scenarios::reload::sighup_add_vip($a, $b);
        }

        #[test]
        fn client_follows_vip() {
            $crate::support::scenarios::failover::client_follows_vip($a, $b, false);
        }

        #[test]
        fn client_follows_vip_ipv6() {
            $crate::support::scenarios::failover::client_follows_vip($a, $b, true);
        }

        #[test]
        fn crash_failover() {
            $crate::support::scenarios::failover::crash_failover($a, $b);
        }

        #[test]
        fn v3_learns_interval() {
            $crate::support::scenarios::election::v3_learns_interval($a, $b);
        }

        #[test]
        fn preempt_delay() {
            $crate::support::scenarios::election::preempt_delay($a, $b);
        }

        #[test]
        fn track_interface_fault() {
            $crate::support::scenarios::tracking::track_interface($a, $b);
        }

        #[test]
        fn auth_pass_match() {
            $crate::support::scenarios::config::auth_pass($a, $b, true);
        }

        #[test]
        fn auth_pass_mismatch() {
            $crate::support::scenarios::config::auth_pass($a, $b, false);
        }

        #[test]
        fn unicast() {
            $crate::support::scenarios::config::unicast($a, $b, false);
        }

        #[test]
        fn unicast_ipv6() {
            $crate::support::scenarios::config::unicast($a, $b, true);
        }

        #[test]
        fn ipv6_vip() {
            $crate::support::scenarios::config::ipv6($a, $b);
        }

        #[test]
        fn track_script_weight() {
            $crate::support::scenarios::tracking::track_script($a, $b);
        }

        #[test]
        fn sync_group() {
            $crate::support::scenarios::tracking::sync_group($a, $b);
        }

        #[test]
        fn sighup_no_flap() {
            $crate::support::scenarios::reload::sighup_no_flap($a, $b);
        }
    };
}

/// The scenarios that need one implementation on every node (start-up exit
/// codes, adverts compared byte for byte): `single_impl_tests!(impl)`.
#[macro_export]
macro_rules! single_impl_tests {
    ($a:expr) => {
        #[test]
        fn startup_outcomes() {
            $crate::support::scenarios::single::startup_outcomes($a);
        }

        #[test]
        fn bytes_v2_none() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::V2None,
            );
        }

        #[test]
        fn bytes_v2_pass() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::V2Pass,
            );
        }

        #[test]
        fn bytes_v3_ipv4() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::V3Ipv4,
            );
        }

        #[test]
        fn bytes_v3_ipv6() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::V3Ipv6,
            );
        }

        #[test]
        fn bytes_v3_unicast() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::Unicast,
            );
        }

        #[test]
        fn bytes_v3_shutdown_priority_0() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::V3Shutdown,
            );
        }

        #[test]
        fn bytes_v3_vmac() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::V3Vmac,
            );
        }

        #[test]
        fn bytes_v3_unicast_ipv6() {
            $crate::support::scenarios::single::bytes_equal(
                $a,
                $crate::support::scenarios::single::Bytes::UnicastIpv6,
            );
        }
    };
}
