//! What keepalived 2.2.7 does with a keyword written without its value,
//! measured by running `keepalived -t` on each keyword alone in its block.

use super::keywords::Section;

/// Keywords whose keepalived 2.2.7 handler reads the word after the keyword
/// without checking it is there, per section: measured by running
/// `keepalived -t` on each keyword alone (it exits 2 with
/// `*** Configuration line starting ... is missing a parameter ...`).
pub fn needs_argument(section: Section, kw: &str) -> bool {
    let list: &[&str] = match section {
        Section::Authentication => &["auth_pass", "auth_type"],
        Section::GarpGroup => &["garp_interval", "gna_interval", "interface"],
        Section::GlobalDefs => &[
            "bfd_process_name",
            "bfd_rlimit_rtime",
            "bfd_rlimit_rttime",
            "checker_process_name",
            "checker_rlimit_rtime",
            "checker_rlimit_rttime",
            "config_save_dir",
            "lvs_process_name",
            "nftables_ipvs_priority",
            "nftables_ipvs_start_fwmark",
            "nftables_priority",
            "process_name",
            "random_seed",
            "smtp_connect_timeout",
            "smtp_server",
            "umask",
            "vmac_addr_prefix",
            "vmac_prefix",
            "vrrp_down_timer_adverts",
            "vrrp_garp_interval",
            "vrrp_garp_lower_prio_delay",
            "vrrp_garp_lower_prio_repeat",
            "vrrp_garp_master_delay",
            "vrrp_garp_master_refresh",
            "vrrp_garp_master_refresh_repeat",
            "vrrp_garp_master_repeat",
            "vrrp_gna_interval",
            "vrrp_mcast_group4",
            "vrrp_mcast_group6",
            "vrrp_process_name",
            "vrrp_rlimit_rtime",
            "vrrp_rlimit_rttime",
            "vrrp_startup_delay",
            "vrrp_version",
        ],
        Section::RealServer => &[
            "connect_timeout",
            "delay_before_retry",
            "delay_loop",
            "lthreshold",
            "lvs_method",
            "notify_down",
            "notify_up",
            "retry",
            "uthreshold",
            "warmup",
            "weight",
        ],
        Section::Root => &[
            "child_wait_time",
            "track_file",
            "virtual_server",
            "virtual_server_group",
            "vrrp_script",
            "vrrp_track_file",
            "vrrp_track_process",
        ],
        Section::SyncGroup => &[
            "notify",
            "notify_backup",
            "notify_fault",
            "notify_master",
            "notify_stop",
        ],
        Section::TrackProcess => &[
            "delay",
            "fork_delay",
            "process",
            "quorum",
            "quorum_max",
            "terminate_delay",
        ],
        Section::Url => &["digest", "path"],
        Section::VirtualServer => &[
            "connect_timeout",
            "delay_before_retry",
            "delay_loop",
            "hysteresis",
            "ip_family",
            "lb_algo",
            "lb_kind",
            "lvs_method",
            "lvs_sched",
            "persistence_engine",
            "persistence_granularity",
            "protocol",
            "quorum",
            "quorum_down",
            "quorum_up",
            "real_server",
            "retry",
            "sorry_server",
            "warmup",
            "weight",
        ],
        Section::Instance => &[
            "advert_int",
            "debug",
            "down_timer_adverts",
            "garp_lower_prio_delay",
            "garp_lower_prio_repeat",
            "garp_master_delay",
            "garp_master_refresh",
            "garp_master_refresh_repeat",
            "garp_master_repeat",
            "interface",
            "lvs_sync_daemon_interface",
            "mcast_dst_ip",
            "mcast_src_ip",
            "notify",
            "notify_backup",
            "notify_fault",
            "notify_master",
            "notify_master_rx_lower_pri",
            "notify_stop",
            "preempt_delay",
            "priority",
            "state",
            "unicast_src_ip",
            "unicast_ttl",
            "version",
            "virtual_router_id",
            "vrf",
        ],
        Section::Script => &["fall", "interval", "rise", "timeout", "user", "weight"],
        Section::Checker(kind) => return checker_needs_argument(kind, kw),
        Section::SmtpHost => return CHECKER_NEEDS_ARGUMENT.contains(&kw),
        _ => &[],
    };
    list.contains(&kw)
}

/// Connection and common checker keywords that need their value.
const CHECKER_NEEDS_ARGUMENT: &[&str] = &[
    "bind_if",
    "bind_port",
    "bindto",
    "connect_ip",
    "connect_port",
    "connect_timeout",
    "delay_before_retry",
    "delay_loop",
    "fwmark",
    "retry",
    "warmup",
];

fn checker_needs_argument(kind: &str, kw: &str) -> bool {
    let own: &[&str] = match kind {
        "HTTP_GET" | "SSL_GET" => &["nb_get_retry"],
        "MISC_CHECK" => &["misc_timeout"],
        "DNS_CHECK" => &["name", "type"],
        "FILE_CHECK" => &["track_file"],
        "UDP_CHECK" => &["max_reply_length", "min_reply_length"],
        _ => &[],
    };
    own.contains(&kw)
        || (kind != "FILE_CHECK" && kind != "BFD_CHECK" && CHECKER_NEEDS_ARGUMENT.contains(&kw))
}

/// global_defs keywords that keepalived 2.2.7 rejects without a value, with
/// its message (measured with `keepalived -t` on each keyword alone).
pub const GLOBAL_VALUE_MISSING: &[(&str, &str)] = &[
    ("notification_email_from", "emailfrom missing - ignoring"),
    ("startup_script", "startup script missing"),
    (
        "startup_script_timeout",
        "startup_script_timeout requires value",
    ),
    ("shutdown_script", "shutdown script missing"),
    (
        "shutdown_script_timeout",
        "shutdown_script_timeout requires value",
    ),
    (
        "min_auto_priority_delay",
        "min_auto_priority_delay requires delay time",
    ),
    (
        "default_interface",
        "default_interface requires interface name",
    ),
    ("lvs_timeouts", "lvs_timeouts requires at least one option"),
    ("lvs_sync_daemon", "lvs_sync_daemon requires interface"),
    (
        "vrrp_garp_extra_if",
        "vrrp_garp_extra_if specified without time - ignoring",
    ),
    (
        "vrrp_vmac_garp_intvl",
        "vrrp_vmac_garp_intvl specified without time - ignoring",
    ),
    ("vrrp_priority", "No vrrp process priority specified"),
    (
        "vrrp_rt_priority",
        "No vrrp process real-time priority specified",
    ),
    ("vrrp_cpu_affinity", "No vrrp cpu_id set specified"),
    ("notify_fifo", "No notify_fifo name specified"),
    ("notify_fifo_script", "No notify_fifo_script specified"),
    ("vrrp_notify_fifo", "No vrrp_notify_fifo name specified"),
    (
        "vrrp_notify_fifo_script",
        "No vrrp_notify_fifo_script specified",
    ),
    ("lvs_notify_fifo", "No lvs_notify_fifo name specified"),
    (
        "lvs_notify_fifo_script",
        "No lvs_notify_fifo_script specified",
    ),
    ("checker_priority", "No checker process priority specified"),
    (
        "checker_rt_priority",
        "No checker process real-time priority specified",
    ),
    ("checker_cpu_affinity", "No checker cpu_id set specified"),
    ("bfd_priority", "No bfd process priority specified"),
    (
        "bfd_rt_priority",
        "No bfd process real-time priority specified",
    ),
    ("bfd_cpu_affinity", "No bfd cpu_id set specified"),
    ("snmp_socket", "SNMP error : snmp socket name missing"),
    ("dbus_service_name", "dbus_service_name missing - ignoring"),
    ("script_user", "No script username specified"),
    (
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_cmd_rcv_bufs size missing",
    ),
    (
        "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs size missing",
    ),
    (
        "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs size missing",
    ),
    (
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs size missing",
    ),
    (
        "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs size missing",
    ),
    ("vrrp_rx_bufs_policy", "vrrp_rx_bufs_policy missing"),
    ("vrrp_rx_bufs_multiplier", "Invalid vrrp_rx_bufs_multiplier"),
    ("reload_time_file", "reload_time_file invalid"),
    (
        "tmp_config_directory",
        "tmp_config_directory missing directory name",
    ),
];
