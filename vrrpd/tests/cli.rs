//! The command line front door: -t, -f, -i, --dump-config.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(args)
        .output()
        .expect("run vrrpd")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/keepalived")
        .join(rel)
}

#[test]
fn missing_config_file_exits_4_unlike_keepalived() {
    let out = vrrpd(&["-t", "-f", "/nonexistent/keepalived.conf"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Config files missing '/nonexistent/keepalived.conf'."),
        "{err}"
    );
    // The documented difference: keepalived 2.2.7 exits 0 here.
    let tmp = std::env::temp_dir().join(format!("vrrpd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let pid = |n: &str| tmp.join(n).to_string_lossy().into_owned();
    let ka = Command::new("keepalived")
        .args(["-t", "-f", "/nonexistent/keepalived.conf"])
        .args(["-p", &pid("k"), "-r", &pid("v"), "-c", &pid("c")])
        .output()
        .expect("keepalived is not installed; this test compares with it");
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(ka.status.code(), Some(0));
}

#[test]
fn long_options_and_config_id() {
    let f = fixture("lexical/conditionals.conf");
    let f = f.to_str().unwrap();
    let out = vrrpd(&["--dump-config", "--use-file", f, "--config-id", "nodeB"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg: keepalived_conf::Config = serde_json::from_slice(&out.stdout).expect("JSON model");
    assert_eq!(cfg.global_defs.router_id.as_deref(), Some("node_b"));
    let out = vrrpd(&["--dump-config", "-f", f, "-i", "nodeA"]);
    let cfg: keepalived_conf::Config = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cfg.global_defs.router_id.as_deref(), Some("node_a"));
}

#[test]
fn dump_config_applies_sequences_and_round_trips() {
    let f = fixture("lexical/sequences.conf");
    let out = vrrpd(&["--dump-config", "-f", f.to_str().unwrap(), "-i", "nodeA"]);
    let cfg: keepalived_conf::Config = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cfg.vrrp_instances.len(), 5);
    assert_eq!(cfg.virtual_servers.len(), 4);
    let again = serde_json::to_string_pretty(&cfg).unwrap();
    assert_eq!(
        again.trim_end(),
        String::from_utf8_lossy(&out.stdout).trim_end()
    );
}

#[test]
fn config_test_prints_keepalived_style_messages() {
    let f = fixture("errors/extra_brace.conf");
    let out = vrrpd(&["--config-test", "-f", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("extra_brace.conf: Line 4) Extra '}' found"),
        "{err}"
    );
}

#[test]
fn running_with_a_missing_file_exits_6_as_keepalived() {
    let out = vrrpd(&[
        "-n",
        "-f",
        "/nonexistent",
        "-p",
        "/nonexistent/p",
        "-r",
        "/nonexistent/r",
    ]);
    assert_eq!(out.status.code(), Some(6));
}

#[test]
fn version_flag_is_keepalived_s_lowercase_v() {
    let out = vrrpd(&["-v"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("vrrpd "));
}

#[test]
fn keepalived_s_run_flags_are_accepted() {
    // The flags keepalived's units and the interop suite pass; a missing file
    // still fails (exit 6, as keepalived), but not as a usage error (clap's exit 2).
    let out = vrrpd(&[
        "-n",
        "-l",
        "-D",
        "-P",
        "-S",
        "0",
        "-f",
        "/nonexistent",
        "-p",
        "/nonexistent/p",
        "-r",
        "/nonexistent/r",
        "-c",
        "/nonexistent/c",
    ]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
