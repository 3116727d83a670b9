//! The man-page style fixtures under testdata/keepalived: what each lexical
//! feature resolves to, and keepalived's message for each error.

use std::path::{Path, PathBuf};

use keepalived_conf::model::VsAddress;
use keepalived_conf::{check_file, FakeHost, Outcome, ReadOptions, Severity};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keepalived")
        .join(rel)
}

fn host() -> FakeHost {
    let mut h = FakeHost::default();
    for i in 0..4 {
        h.interfaces.insert(format!("eth{i}"));
    }
    h.scripts.insert("/bin/true".into());
    h.users.insert("root".into());
    h
}

fn check_as(rel: &str, id: &str) -> Outcome {
    let opts = ReadOptions {
        config_id: id.into(),
        random_seed: 1,
    };
    check_file(&fixture(rel), &opts, &host())
}

fn check(rel: &str) -> Outcome {
    check_as(rel, "nodeA")
}

fn messages(o: &Outcome) -> Vec<String> {
    o.diagnostics
        .items
        .iter()
        .map(|d| d.message.clone())
        .collect()
}

/// The names of the `vrrp_instance` blocks, in file order.
fn instance_names(o: &Outcome) -> Vec<&str> {
    o.config
        .vrrp_instances
        .iter()
        .map(|v| v.name.as_str())
        .collect()
}

fn assert_clean(o: &Outcome) {
    assert_eq!(o.exit_code(), 0, "unexpected: {:#?}", o.diagnostics.items);
}

#[test]
fn include_globs_sorted_and_braces_in_order() {
    let o = check("include/main.conf");
    assert_clean(&o);
    let names = instance_names(&o);
    assert_eq!(
        names,
        ["VI_1", "VI_2"],
        "glob matches are read in sorted order"
    );
    let vs: Vec<_> = o
        .config
        .virtual_servers
        .iter()
        .map(|v| v.address.clone())
        .collect();
    assert_eq!(
        vs,
        [
            VsAddress::IpPort {
                ip: "192.0.2.101".into(),
                port: Some("443".into())
            },
            VsAddress::IpPort {
                ip: "192.0.2.100".into(),
                port: Some("80".into())
            },
        ],
        "csh braces keep their written order: {{b,a}}"
    );
    assert!(o
        .diagnostics
        .contains("Config files missing 'missing-but-optional.conf'."));
    let d = o
        .diagnostics
        .items
        .iter()
        .find(|d| d.message.contains("missing"))
        .unwrap();
    assert_eq!(
        d.severity,
        Severity::Info,
        "a plain include may name a missing file"
    );
    assert_eq!(d.line, 7);
}

#[test]
fn comments_quotes_and_escapes() {
    let o = check("lexical/comments_quotes.conf");
    let g = &o.config.global_defs;
    assert_eq!(g.router_id.as_deref(), Some("router # not a comment"));
    // `\#` escapes the comment once, but keepalived's VRRP and checker
    // processes read a copy the parent already decommented and decomment it
    // again, so there the `#` starts a comment (checked against keepalived).
    assert_eq!(g.notification_email, ["ops"]);
    assert_eq!(g.smtp_server.as_deref(), Some("192.0.2.25"));
    let s = &o.config.vrrp_scripts[0];
    assert_eq!(s.script.as_deref(), Some("/nonexistent/echo 'a b' \"c\""));
    assert_eq!(s.interval, 2_000_000);
    assert_eq!(s.weight, -10);
    let vi = &o.config.vrrp_instances[0];
    assert_eq!(vi.virtual_ipaddress.len(), 2);
    assert_eq!(vi.virtual_ipaddress[0].label.as_deref(), Some("eth0:vip"));
    assert_eq!(vi.virtual_ipaddress[0].prefix_len, Some(24));
    assert_eq!(
        vi.virtual_ipaddress[1].broadcast.as_deref(),
        Some("192.0.2.255")
    );
    assert!(vi.virtual_ipaddress[1].no_track);
    // The script does not exist: keepalived disables it and says so.
    assert_eq!(
        messages(&o),
        ["Disabling track script chk since not found/accessible"]
    );
    assert_eq!(o.exit_code(), 5);
}

#[test]
fn one_line_blocks() {
    let o = check("lexical/one_line_blocks.conf");
    assert_clean(&o);
    assert_eq!(o.config.global_defs.router_id.as_deref(), Some("one_line"));
    let vi = &o.config.vrrp_instances[0];
    assert_eq!(vi.state.as_deref(), Some("BACKUP"));
    assert_eq!(vi.virtual_router_id, Some(51));
    assert_eq!(vi.virtual_ipaddress[0].address.to_string(), "192.0.2.1");
    let auth = vi.authentication.as_ref().unwrap();
    assert_eq!(auth.auth_type.as_deref(), Some("PASS"));
    assert_eq!(auth.auth_pass.as_deref(), Some("secret"));
}

#[test]
fn conditionals_follow_the_config_id() {
    let a = check_as("lexical/conditionals.conf", "nodeA");
    assert_clean(&a);
    assert_eq!(a.config.global_defs.router_id.as_deref(), Some("node_a"));
    assert_eq!(a.config.global_defs.smtp_server, None);
    assert_eq!(a.config.vrrp_instances[0].state.as_deref(), Some("MASTER"));
    assert_eq!(a.config.vrrp_instances[0].priority, Some(200));

    let b = check_as("lexical/conditionals.conf", "nodeB");
    assert_eq!(b.config.global_defs.router_id.as_deref(), Some("node_b"));
    assert_eq!(
        b.config.global_defs.smtp_server.as_deref(),
        Some("192.0.2.26")
    );
    assert_eq!(b.config.vrrp_instances[0].state.as_deref(), Some("BACKUP"));
    assert_eq!(b.config.vrrp_instances[0].priority, Some(100));

    let none = check_as("lexical/conditionals.conf", "");
    assert_eq!(
        none.config.global_defs.router_id, None,
        "@ID never matches an empty id"
    );
    assert_eq!(
        none.config.vrrp_instances[0].priority,
        Some(100),
        "@^ID always matches it"
    );
}

#[test]
fn parameters_multiline_recursive_predefined() {
    let o = check("lexical/params.conf");
    assert_clean(&o);
    let vi = &o.config.vrrp_instances[0];
    assert_eq!(vi.name, "VI_51");
    assert_eq!(vi.interface.as_deref(), Some("eth0"));
    assert_eq!(vi.virtual_router_id, Some(51));
    assert_eq!(
        vi.priority,
        Some(200),
        "${{PRIO_${{_INSTANCE}}}} expands in two passes"
    );
    let vips: Vec<String> = vi
        .virtual_ipaddress
        .iter()
        .map(|a| a.address.to_string())
        .collect();
    assert_eq!(vips, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    let g = &o.config.global_defs;
    assert_eq!(g.router_id.as_deref(), Some("nodeA_${UNDEFINED}"));
    assert_eq!(g.notification_email, ["x#y!z@example.com"]);

    let b = check_as("lexical/params.conf", "nodeB");
    assert_eq!(b.config.vrrp_instances[0].priority, Some(100));
}

#[test]
fn sequences_and_lists() {
    let o = check("lexical/sequences.conf");
    assert_clean(&o);
    let names = instance_names(&o);
    assert_eq!(names, ["VI_1", "VI_2", "VI_3", "VA", "VB"]);
    let vrids: Vec<_> = o
        .config
        .vrrp_instances
        .iter()
        .map(|v| v.virtual_router_id)
        .collect();
    assert_eq!(vrids, [Some(1), Some(2), Some(3), Some(101), Some(102)]);
    assert_eq!(
        o.config.vrrp_instances[4].virtual_ipaddress[0]
            .address
            .to_string(),
        "198.51.100.102"
    );
    let vs: Vec<String> = o
        .config
        .virtual_servers
        .iter()
        .map(|v| match &v.address {
            VsAddress::IpPort { ip, port } => format!("{ip} {}", port.as_deref().unwrap_or("")),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        vs,
        [
            "2001:db8::a 80",
            "2001:db8::a 443",
            "2001:db8::b 80",
            "2001:db8::b 443"
        ],
        "~SEQx counts in hex and chains into ~LST"
    );
}

#[test]
fn every_checker_parses() {
    let o = check("checkers/all_checkers.conf");
    assert_clean(&o);
    let vs = &o.config.virtual_servers[0];
    assert_eq!(vs.lb_algo.as_deref(), Some("wlc"));
    assert_eq!(vs.persistence_timeout, Some(300));
    assert_eq!(vs.quorum, Some(2));
    assert!(vs.alpha && vs.omega && vs.ha_suspend);
    assert_eq!(
        vs.sorry_server.as_deref(),
        Some(&["198.51.100.250".to_string(), "80".into()][..])
    );
    let kinds: Vec<&str> = vs
        .real_servers
        .iter()
        .flat_map(|r| r.checkers.iter().map(|c| c.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            "HTTP_GET",
            "SSL_GET",
            "TCP_CHECK",
            "MISC_CHECK",
            "SMTP_CHECK",
            "DNS_CHECK",
            "UDP_CHECK",
            "PING_CHECK",
            "FILE_CHECK"
        ]
    );
    let http = &vs.real_servers[0].checkers[0];
    assert_eq!(http.url.len(), 2);
    assert_eq!(http.url[0].path.as_deref(), Some("/health"));
    assert_eq!(
        http.url[0].digest.as_deref(),
        Some("9b3a0c85a887a256d6939da88aabd8cd")
    );
    assert_eq!(http.url[1].status_code, ["200-299"]);
    assert_eq!(http.connect_timeout, 3_000_000);
    assert_eq!(vs.real_servers[0].weight, 3);
    assert!(vs.real_servers[0].inhibit_on_failure);
    let misc = &vs.real_servers[3].checkers[0];
    assert_eq!(
        misc.misc_path.as_deref(),
        Some("/nonexistent/check.sh 198.51.100.4")
    );
    assert!(misc.misc_dynamic);
    assert_eq!(o.config.ssl.len(), 4);
    assert_eq!(o.config.track_files[0].name, "TF");
}

#[test]
fn sync_group_unicast_and_version_3() {
    let o = check("lexical/sync_group_ok.conf");
    assert_clean(&o);
    let g = &o.config.vrrp_sync_groups[0];
    assert_eq!(g.group, ["VI_1", "VI_2"]);
    assert_eq!(
        g.notify_master.as_deref(),
        Some("/nonexistent/notify.sh master")
    );
    let v1 = &o.config.vrrp_instances[0];
    assert_eq!(v1.unicast_src_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(v1.unicast_peer[0].address, "192.0.2.11");
    assert_eq!(v1.unicast_peer[0].min_ttl, Some(250));
    assert_eq!(v1.unicast_peer[0].max_ttl, Some(255));
    assert!(v1.nopreempt);
    let v2 = &o.config.vrrp_instances[1];
    assert_eq!(v2.version, Some(3));
    assert_eq!(v2.advert_int, 250_000, "VRRPv3 keeps sub-second intervals");
    assert_eq!(keepalived_conf::complete::effective_priority(v2), 100);
}

/// (fixture, exit code, messages keepalived prints, in its words)
const ERRORS: &[(&str, i32, &[&str])] = &[
    (
        "errors/escaped_comment.conf",
        2,
        &["*** Configuration line starting `preempt_delay` is missing a parameter after keyword `preempt_delay` at word position 2"],
    ),
    (
        "errors/includer_directory.conf",
        6,
        &["Configuration file '//' is a directory - skipping"],
    ),
    (
        "errors/missing_parameter.conf",
        2,
        &["*** Configuration line starting `virtual_router_id` is missing a parameter after keyword `virtual_router_id` at word position 2"],
    ),
    (
        "errors/names.conf",
        5,
        &[
            "Invalid HTTP_GET status code '99'",
            "Invalid HTTP_GET status code '300-250'",
            "Invalid HTTP_GET status code 'eth0'",
            "Virtual server [192.0.2.100]:tcp:80 has no real servers - ignoring",
            "Virtual server [192.0.2.101]:none:80: no protocol set - defaulting to UDP",
            "Virtual server [192.0.2.101]:udp:80: no forwarding method set, setting default NAT",
            "Virtual server [192.0.2.101]:udp:80: no scheduler set, setting default 'wlc'",
            // keepalived -t reads as the checker first, then as VRRP.
            "vrrp_instance must have a name",
            "vrrp instance VI_1 already defined",
        ],
    ),
    (
        "errors/preempt.conf",
        5,
        &[
            "(VI_1) nopreempt is incompatible with priority 255. resetting nopreempt",
            "(VI_1) Warning - preempt delay will not work with initial state MASTER - clearing",
            "(VI_2) No VIP specified; at least one is sensible",
            "(VI_2) Authentication specified but no password given. Ignoring",
            "(VI_2) preempt_delay is incompatible with nopreempt mode - resetting",
        ],
    ),
    (
        "errors/sync_group.conf",
        5,
        &[
            "Virtual router VI_1 cannot exist in more than one sync group; ignoring G2",
            "Virtual router VI_9 specified in sync group G2 doesn't exist - ignoring",
            "Sync group G2, no matching virtual router found in group declaration - removing",
        ],
    ),
    (
        "errors/sync_group_names.conf",
        5,
        &[
            "vrrp_sync_group must have a name - skipping",
            "vrrp sync group G1 already defined",
            "Sync group G1 has only 1 virtual router(s) - this probably isn't what you want",
        ],
    ),
    ("errors/extra_brace.conf", 5, &["Extra '}' found", "Unknown keyword '}'"]),
    ("errors/missing_brace.conf", 5, &["There are 1 missing '}'s or extra '{'s"]),
    (
        "errors/unknown_keyword.conf",
        5,
        &[
            "Unknown keyword 'no_such_keyword'",
            "Unknown keyword 'no_such_block'",
            "Unexpected '{' - ignoring",
            "Unknown keyword 'whatever'",
            "Unknown keyword '}'",
        ],
    ),
    (
        "errors/bad_vrid.conf",
        5,
        &[
            "number '256' outside range [1, 255]",
            "(VI_1): VRID '256' not valid - must be between 1 & 255",
            "(VI_1) the virtual router id must be set",
        ],
    ),
    (
        "errors/bad_priority.conf",
        5,
        &[
            "number '0' outside range [1, 255]",
            "(VI_1) Priority not valid! must be between 1 & 255. Using default 100",
        ],
    ),
    (
        "errors/mixed_families.conf",
        5,
        &["(VI_1): address family must match VRRP instance [2001:db8::1/64] - ignoring"],
    ),
    ("errors/strict_master.conf", 5, &["(VI_1) State MASTER must match being address owner"]),
    (
        "errors/security.conf",
        6,
        &["SECURITY VIOLATION - scripts are being executed but script_security not enabled."],
    ),
    ("errors/security_enabled.conf", 0, &[]),
    (
        "errors/duplicate_vrid.conf",
        5,
        &["VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0"],
    ),
    (
        "errors/bad_interface.conf",
        5,
        &[
            "WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist",
            "Non-existent interface specified in configuration",
        ],
    ),
    (
        "errors/bad_address_dev.conf",
        5,
        &[
            "WARNING - interface eth8 for ip address 192.0.2.10/24 doesn't exist",
            "WARNING - interface eth7 for ip address 192.0.2.1/24 doesn't exist",
            "WARNING - interface eth6 for ip address 192.0.2.2/24 doesn't exist",
            "Non-existent interface specified in configuration",
        ],
    ),
    (
        "errors/bad_timer.conf",
        5,
        &[
            "number '0' outside range [0.000001, 4294.967295]",
            "vrrp_garp_interval '0' is invalid",
            "number '0.0000001' has too many decimal places",
            "vrrp_gna_interval '0.0000001' is invalid",
        ],
    ),
    (
        "errors/bad_seq.conf",
        5,
        &[
            "Invalid ~SEQ values '~SEQ(i, 1, 0, 5) global_defs { router_id x$i }'",
            "Invalid ~SEQ specification '~SEQ(i, 1, 0, 5) global_defs { router_id x$i }'",
            "Invalid ~SEQ definition '~SEQ(i) global_defs { router_id y$i }'",
            "~LST specification has too many values '~LST({a}, {1, 2}) global_defs { router_id z$a }'",
        ],
    ),
    (
        "errors/unmatched_quote.conf",
        5,
        &[
            "Unterminated quote 'router_id \"unterminated'",
            "Unmatched quote: 'router_id \"unterminated'",
            "routerid name missing - ignoring",
        ],
    ),
    (
        "errors/undefined_param_braces.conf",
        5,
        &["Unexpected '{' - ignoring", "Unknown keyword 'UNDEFINED'", "Unknown keyword '}'"],
    ),
    (
        "errors/missing_include.conf",
        0,
        &["Config files missing '/nonexistent/keepalived-conf-test/*.conf'."],
    ),
];

#[test]
fn error_fixtures_give_keepalived_messages_and_exit_codes() {
    for (rel, code, expected) in ERRORS {
        let o = check(rel);
        assert_eq!(o.exit_code(), *code, "{rel}: {:#?}", o.diagnostics.items);
        assert_eq!(&messages(&o), expected, "{rel}");
    }
}

#[test]
fn messages_carry_file_and_line() {
    let o = check("errors/extra_brace.conf");
    let text = o.diagnostics.items[0].to_string();
    assert!(
        text.ends_with("errors/extra_brace.conf: Line 4) Extra '}' found"),
        "{text}"
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let o = check("does/not/exist.conf");
    assert_eq!(o.exit_code(), 4);
    assert!(o.diagnostics.contains("Config files missing"));
}

#[test]
fn dump_round_trips_through_serde() {
    let root = fixture("");
    let mut files = vec![];
    for dir in ["lexical", "checkers", "errors", "include"] {
        for e in std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter_map(Result::ok)
        {
            if e.path().extension().is_some_and(|x| x == "conf") {
                files.push(e.path());
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir("/usr/share/doc/keepalived/samples") {
        files.extend(rd.filter_map(Result::ok).map(|e| e.path()));
    }
    assert!(files.len() > 20);
    for f in files {
        let o = check_file(&f, &ReadOptions::default(), &host());
        let json = serde_json::to_string(&o.config).unwrap();
        let back: keepalived_conf::Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, o.config, "{}", f.display());
    }
}
