//! Property tests: no input makes the reader, tree builder, model or
//! validation panic, and every outcome still serialises.

use std::path::Path;

use keepalived_conf::{check_str, FakeHost, ReadOptions};
use proptest::prelude::*;

/// Fragments that exercise every lexical path.
const PIECES: &[&str] = &[
    "{",
    "}",
    " ",
    "\n",
    "\t",
    "\"",
    "'",
    "\\",
    "#",
    "!",
    "$",
    "${",
    "$X=",
    "$M=a \\\n",
    "@",
    "@^",
    "@nodeA ",
    "~SEQ(",
    "~SEQx(",
    "~LST(",
    ",",
    ")",
    "(",
    "include ",
    "*",
    "0",
    "1",
    "-1",
    "255",
    "256",
    "0x1f",
    "vrrp_instance V",
    "virtual_ipaddress",
    "192.0.2.1/24",
    "2001:db8::1",
    "dev eth0",
    "state MASTER",
    "priority",
    "virtual_router_id",
    "advert_int 0.5",
    "global_defs",
    "vrrp_strict",
    "authentication",
    "auth_type AH",
    "vrrp_script s",
    "script",
    "track_script",
    "virtual_server",
    "fwmark 1",
    "real_server 198.51.100.1 80",
    "HTTP_GET",
    "url",
    "path /",
    "vrrp_sync_group G",
    "group",
    "static_routes",
    "via",
    "gw",
    "or",
    "static_rules",
    "from",
    "to",
    "${_RANDOM 1 5}",
    "${_INSTANCE}",
    "${_PWD}",
    "\\x41",
    "\\c",
    "vrrp_garp_interval",
    "1.0000001",
];

fn config_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|v| v.concat())
}

fn check(text: &str) {
    let opts = ReadOptions {
        config_id: "nodeA".into(),
        random_seed: 3,
    };
    let o = check_str(
        text,
        Path::new("/nonexistent/fuzz.conf"),
        &opts,
        &FakeHost::default(),
    );
    let code = o.exit_code();
    assert!([0, 2, 4, 5, 6].contains(&code), "exit code {code}");
    serde_json::to_string(&o.config).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn token_soup_never_panics(text in config_text()) {
        check(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn self_referencing_definitions_terminate() {
    check("$A=$A\nglobal_defs { router_id $A }\n");
    check("$M=x \\\n$M\n$M\n");
    check("$A=${A}${A}\n$A\n");
}

#[test]
fn huge_sequences_are_bounded() {
    check("~SEQ(i, 0, 1, 9999999999999) ~SEQ(j, 0, 1, 9999999) global_defs { router_id $i$j }\n");
}

#[test]
fn very_long_lines_are_cut_like_fgets() {
    check(&format!(
        "global_defs {{\nrouter_id {}\n}}\n",
        "x".repeat(5000)
    ));
}
