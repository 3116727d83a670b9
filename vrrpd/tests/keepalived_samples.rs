//! Differential test: `vrrpd -t` must give the same exit code as
//! `keepalived -t` on every sample Debian ships, both run inside a network
//! namespace holding eth0..eth3 (veth links; the test kernel may lack the
//! dummy module), with `-i nodeA`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A network namespace deleted on drop, even when the test panics.
struct Netns {
    name: String,
}

impl Netns {
    fn create(tag: &str) -> Self {
        let name = format!("vrrpd-{tag}-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot create network namespace {name} (needs root and iproute2)"
        );
        let ns = Self { name };
        for i in 0..4 {
            let dev = format!("eth{i}");
            let peer = format!("peer{i}");
            let dummy = ns.ip(&["link", "add", &dev, "type", "dummy"]);
            if !dummy {
                assert!(
                    ns.ip(&["link", "add", &dev, "type", "veth", "peer", "name", &peer]),
                    "cannot create {dev} in {}",
                    ns.name
                );
            }
            assert!(ns.ip(&["link", "set", &dev, "up"]));
        }
        ns
    }

    fn ip(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn exit_code(&self, program: &str, args: &[&str]) -> i32 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        out.status.code().unwrap_or(-1)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("/usr/share/doc/keepalived/samples")
        .expect("keepalived samples missing: install the keepalived package")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("keepalived.conf."))
        })
        .collect();
    v.sort();
    v.push(PathBuf::from("/etc/keepalived/keepalived.conf.sample"));
    v
}

/// Runs keepalived -t and vrrpd -t on each file in a fresh namespace and
/// returns (file, keepalived's exit code, ours).
fn compare(tag: &str, files: &[PathBuf]) -> Vec<(PathBuf, i32, i32)> {
    assert!(
        Command::new("keepalived").arg("--version").output().is_ok(),
        "keepalived is not installed; this differential test needs it"
    );
    let ns = Netns::create(tag);
    let tmp = std::env::temp_dir().join(format!("vrrpd-{tag}-pids-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let pid = |n: &str| tmp.join(n).to_string_lossy().into_owned();
    let (p, r, c) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let ours = env!("CARGO_BIN_EXE_vrrpd");
    let mut out = Vec::new();
    for f in files {
        let fs = f.to_string_lossy();
        let theirs = ns.exit_code(
            "keepalived",
            &["-t", "-f", &fs, "-i", "nodeA", "-p", &p, "-r", &r, "-c", &c],
        );
        let mine = ns.exit_code(ours, &["-t", "-f", &fs, "-i", "nodeA"]);
        out.push((f.clone(), theirs, mine));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

fn mismatches(results: &[(PathBuf, i32, i32)]) -> Vec<String> {
    results
        .iter()
        .filter(|(_, k, o)| k != o)
        .map(|(f, k, o)| format!("{}: keepalived {k}, vrrpd {o}", display(f)))
        .collect()
}

#[test]
fn exit_codes_agree_with_keepalived_on_debian_samples() {
    let files = samples();
    assert_eq!(
        files.len(),
        26,
        "expected the 26 Debian samples, found {files:?}"
    );
    let results = compare("samples", &files);
    let bad = mismatches(&results);
    assert!(bad.is_empty(), "exit codes differ:\n{}", bad.join("\n"));
    let clean = results.iter().filter(|(_, k, _)| *k == 0).count();
    assert_eq!(
        clean, 16,
        "keepalived itself should pass 16 of the 26 samples cleanly"
    );
}

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = e.path();
        // conf.d and parts hold include targets, not configurations.
        if p.is_dir() && !p.ends_with("conf.d") && !p.ends_with("parts") {
            fixtures(&p, out);
        } else if p.extension().is_some_and(|x| x == "conf") {
            out.push(p);
        }
    }
}

#[test]
fn exit_codes_agree_with_keepalived_on_our_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keepalived");
    let mut files = Vec::new();
    fixtures(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 20,
        "fixtures missing under {}",
        root.display()
    );
    let results = compare("fixtures", &files);
    let bad = mismatches(&results);
    assert!(bad.is_empty(), "exit codes differ:\n{}", bad.join("\n"));
    // The fixtures exercise every outcome keepalived -t has but 4.
    for code in [0, 5, 6] {
        assert!(
            results.iter().any(|(_, k, _)| *k == code),
            "no fixture exits {code}"
        );
    }
}

fn display(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
