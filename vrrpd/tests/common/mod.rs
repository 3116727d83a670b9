//! Shared by the differential tests: a network namespace holding eth0..eth3
//! and running keepalived -t and vrrpd -t side by side inside it.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A network namespace deleted on drop, even when the test panics.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(tag: &str) -> Self {
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

    pub fn ip(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn exit_code(&self, program: &str, args: &[&str]) -> i32 {
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

/// keepalived's exit code, or `None` when it died on a signal or ran for
/// more than five seconds (it crashes on some malformed files and loops
/// forever on a multi-line parameter that contains itself).
pub fn keepalived_code(ns: &Netns, file: &str, pid_dir: &Path) -> Option<i32> {
    let pid = |n: &str| pid_dir.join(n).to_string_lossy().into_owned();
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "keepalived",
            "-t",
            "-f",
            file,
            "-i",
            "nodeA",
        ])
        .args([
            "-p",
            &pid("k.pid"),
            "-r",
            &pid("v.pid"),
            "-c",
            &pid("c.pid"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run keepalived");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().expect("wait for keepalived") {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            // `ip netns exec` execs keepalived, so this is keepalived itself.
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Runs keepalived -t and vrrpd -t on each file in a fresh namespace and
/// returns (file, keepalived's exit code, ours).
pub fn compare(tag: &str, files: &[PathBuf]) -> Vec<(PathBuf, i32, i32)> {
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

pub fn mismatches(results: &[(PathBuf, i32, i32)]) -> Vec<String> {
    results
        .iter()
        .filter(|(_, k, o)| k != o)
        .map(|(f, k, o)| format!("{}: keepalived {k}, vrrpd {o}", display(f)))
        .collect()
}

pub fn display(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
