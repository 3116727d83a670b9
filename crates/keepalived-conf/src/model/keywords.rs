//! The keywords keepalived 2.2.7 knows in each block (names taken from
//! keepalived.conf(5) and the keyword tables of the 2.2.7 sources). A keyword
//! not listed for its block gets keepalived's `Unknown keyword 'X'`.

pub const ROOT: &[&str] = &[
    "global_defs",
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
    "child_wait_time",
    "track_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "vrrp_sync_group",
    "garp_group",
    "linkbeat_interfaces",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_track_process",
    "interface_up_down_delays",
    "track_file",
    "vrrp_track_file",
    "SSL",
    "virtual_server_group",
    "virtual_server",
    "bfd_instance",
];

pub const GLOBAL_DEFS: &[&str] = &[
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "bfd_process_name",
    "router_id",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "notification_email",
    "smtp_alert",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "max_auto_priority",
    "min_auto_priority_delay",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "dynamic_interfaces",
    "no_email_faults",
    "default_interface",
    "disable_local_igmp",
    "lvs_timeouts",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_flush_onstop",
    "lvs_sync_daemon",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_down_timer_adverts",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_version",
    "vrrp_iptables",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "nftables_counters",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_rt_priority",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "fifo_write_vrrp_states_on_reload",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "snmp_socket",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_dbus",
    "dbus_service_name",
    "script_user",
    "enable_script_security",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "umask",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "include_check",
    "config_save_dir",
    "tmp_config_directory",
    "data_use_instance",
];

pub const SYNC_GROUP: &[&str] = &[
    "group",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
    "notify_priority_changes",
];

pub const VRRP_INSTANCE: &[&str] = &[
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "unicast_peer",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "old_unicast_checksum",
    "native_ipv6",
    "state",
    "interface",
    "vrf",
    "dont_track_primary",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "mcast_src_ip",
    "unicast_src_ip",
    "mcast_dst_ip",
    "track_src_ip",
    "virtual_router_id",
    "unicast_ttl",
    "version",
    "priority",
    "advert_int",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "promote_secondaries",
    "linkbeat_use_polling",
    "virtual_routes",
    "virtual_rules",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "strict_mode",
    "preempt",
    "nopreempt",
    "preempt_delay",
    "debug",
    "notify_backup",
    "notify_master",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify",
    "notify_master_rx_lower_pri",
    "smtp_alert",
    "notify_priority_changes",
    "lvs_sync_daemon_interface",
    "garp_master_delay",
    "garp_master_refresh",
    "garp_master_repeat",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "down_timer_adverts",
    "garp_extra_if",
    "vmac_garp_intvl",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
    "authentication",
];

pub const AUTHENTICATION: &[&str] = &["auth_type", "auth_pass"];

pub const VRRP_SCRIPT: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

pub const TRACK_PROCESS: &[&str] = &[
    "process",
    "param_match",
    "weight",
    "quorum",
    "quorum_max",
    "delay",
    "terminate_delay",
    "fork_delay",
    "full_command",
];

pub const TRACK_FILE: &[&str] = &["file", "weight", "init_file"];

pub const GARP_GROUP: &[&str] = &["garp_interval", "gna_interval", "interface", "interfaces"];

pub const SSL: &[&str] = &["password", "ca", "certificate", "key"];

pub const VIRTUAL_SERVER: &[&str] = &[
    "ip_family",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "inhibit_on_failure",
    "lb_algo",
    "lvs_sched",
    "hashed",
    "ops",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "lb_kind",
    "lvs_method",
    "persistence_engine",
    "persistence_timeout",
    "persistence_granularity",
    "protocol",
    "ha_suspend",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
    "alpha",
    "omega",
    "quorum_up",
    "quorum_down",
    "quorum",
    "hysteresis",
    "weight",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "real_server",
];

pub const REAL_SERVER: &[&str] = &[
    "weight",
    "lvs_method",
    "uthreshold",
    "lthreshold",
    "inhibit_on_failure",
    "notify_up",
    "notify_down",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
    "MISC_CHECK",
    "SMTP_CHECK",
    "TCP_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "DNS_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

pub const CHECKER_CONNECTION: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "connect_timeout",
    "fwmark",
];

pub const CHECKER_COMMON: &[&str] = &[
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "alpha",
    "log_all_failures",
];

pub const HTTP_CHECK: &[&str] = &[
    "nb_get_retry",
    "virtualhost",
    "http_protocol",
    "enable_sni",
    "fast_recovery",
    "url",
];

pub const URL: &[&str] = &[
    "path",
    "digest",
    "status_code",
    "virtualhost",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_min_offset",
    "regex_max_offset",
    "regex_stack",
];

pub const MISC_CHECK: &[&str] = &["misc_path", "misc_timeout", "misc_dynamic", "user"];
pub const SMTP_CHECK: &[&str] = &["helo_name", "host"];
pub const DNS_CHECK: &[&str] = &["type", "name"];
pub const UDP_CHECK: &[&str] = &[
    "payload",
    "require_reply",
    "min_reply_length",
    "max_reply_length",
];
pub const FILE_CHECK: &[&str] = &["track_file", "weight"];
pub const BFD_CHECK: &[&str] = &["name", "alpha"];

/// The keywords a checker block accepts.
pub fn checker_keywords(kind: &str) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    match kind {
        "HTTP_GET" | "SSL_GET" => {
            v.extend(CHECKER_CONNECTION);
            v.extend(CHECKER_COMMON);
            v.extend(HTTP_CHECK);
        }
        "TCP_CHECK" | "PING_CHECK" => {
            v.extend(CHECKER_CONNECTION);
            v.extend(CHECKER_COMMON);
        }
        "MISC_CHECK" => {
            v.extend(CHECKER_COMMON);
            v.extend(MISC_CHECK);
        }
        "SMTP_CHECK" => {
            v.extend(CHECKER_CONNECTION);
            v.extend(CHECKER_COMMON);
            v.extend(SMTP_CHECK);
        }
        "DNS_CHECK" => {
            v.extend(CHECKER_CONNECTION);
            v.extend(CHECKER_COMMON);
            v.extend(DNS_CHECK);
        }
        "UDP_CHECK" => {
            v.extend(CHECKER_CONNECTION);
            v.extend(CHECKER_COMMON);
            v.extend(UDP_CHECK);
        }
        "FILE_CHECK" => v.extend(FILE_CHECK),
        "BFD_CHECK" => v.extend(BFD_CHECK),
        _ => {}
    }
    v
}

pub const BFD_INSTANCE: &[&str] = &[
    "source_ip",
    "neighbor_ip",
    "neighbour_ip",
    "min_rx",
    "min_tx",
    "idle_tx",
    "multiplier",
    "passive",
    "ttl",
    "hoplimit",
    "max_hops",
    "weight",
    "vrrp",
    "checker",
];

/// A kind of block, which decides the keywords it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Root,
    GlobalDefs,
    SyncGroup,
    Instance,
    Authentication,
    Script,
    TrackProcess,
    TrackFile,
    TrackGroup,
    GarpGroup,
    Ssl,
    VirtualServer,
    RealServer,
    Checker(&'static str),
    Url,
    SmtpHost,
    Bfd,
}

/// How a keyword's line is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Nothing: the line stands alone.
    Leaf,
    /// A `{ ... }` block of plain value lines (addresses, names, routes).
    Values,
    /// A `{ ... }` block of keywords of the given section.
    Block(Section),
}

const CHECKERS: &[&str] = &[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

fn listed(list: &[&str], kw: &str) -> Option<Shape> {
    list.contains(&kw).then_some(Shape::Leaf)
}

/// The shape of keyword `kw` inside `section`, or `None` when keepalived
/// does not know it there.
pub fn shape(section: Section, kw: &str) -> Option<Shape> {
    use Section as S;
    match section {
        S::Root => match kw {
            "global_defs" => Some(Shape::Block(S::GlobalDefs)),
            "vrrp_sync_group" => Some(Shape::Block(S::SyncGroup)),
            "vrrp_instance" => Some(Shape::Block(S::Instance)),
            "vrrp_script" => Some(Shape::Block(S::Script)),
            "vrrp_track_process" => Some(Shape::Block(S::TrackProcess)),
            "track_file" | "vrrp_track_file" => Some(Shape::Block(S::TrackFile)),
            "track_group" => Some(Shape::Block(S::TrackGroup)),
            "garp_group" => Some(Shape::Block(S::GarpGroup)),
            "SSL" => Some(Shape::Block(S::Ssl)),
            "virtual_server" => Some(Shape::Block(S::VirtualServer)),
            "bfd_instance" => Some(Shape::Block(S::Bfd)),
            "static_ipaddress"
            | "static_routes"
            | "static_rules"
            | "linkbeat_interfaces"
            | "interface_up_down_delays"
            | "virtual_server_group" => Some(Shape::Values),
            _ => listed(ROOT, kw),
        },
        S::GlobalDefs => match kw {
            "notification_email" => Some(Shape::Values),
            _ => listed(GLOBAL_DEFS, kw),
        },
        S::SyncGroup => match kw {
            "group" | "track_interface" | "track_script" | "track_file" | "track_process"
            | "track_bfd" => Some(Shape::Values),
            _ => listed(SYNC_GROUP, kw),
        },
        S::Instance => match kw {
            "track_interface"
            | "track_script"
            | "track_file"
            | "track_process"
            | "track_bfd"
            | "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "virtual_routes"
            | "virtual_rules"
            | "unicast_peer" => Some(Shape::Values),
            "authentication" => Some(Shape::Block(S::Authentication)),
            _ => listed(VRRP_INSTANCE, kw),
        },
        S::Authentication => listed(AUTHENTICATION, kw),
        S::Script => listed(VRRP_SCRIPT, kw),
        S::TrackProcess => listed(TRACK_PROCESS, kw),
        S::TrackFile => listed(TRACK_FILE, kw),
        S::TrackGroup => (kw == "group").then_some(Shape::Values),
        S::GarpGroup => match kw {
            "interfaces" => Some(Shape::Values),
            _ => listed(GARP_GROUP, kw),
        },
        S::Ssl => listed(SSL, kw),
        S::VirtualServer => match kw {
            "real_server" => Some(Shape::Block(S::RealServer)),
            _ => listed(VIRTUAL_SERVER, kw),
        },
        S::RealServer => match CHECKERS.iter().find(|c| **c == kw) {
            Some(c) => Some(Shape::Block(S::Checker(c))),
            None => listed(REAL_SERVER, kw),
        },
        S::Checker(kind) => match (kind, kw) {
            ("HTTP_GET" | "SSL_GET", "url") => Some(Shape::Block(S::Url)),
            ("SMTP_CHECK", "host") => Some(Shape::Block(S::SmtpHost)),
            _ => checker_keywords(kind).contains(&kw).then_some(Shape::Leaf),
        },
        S::Url => listed(URL, kw),
        S::SmtpHost => (CHECKER_CONNECTION.contains(&kw) || CHECKER_COMMON.contains(&kw))
            .then_some(Shape::Leaf),
        S::Bfd => listed(BFD_INSTANCE, kw),
    }
}
