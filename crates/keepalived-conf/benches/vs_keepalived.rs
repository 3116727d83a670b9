//! Parse + validate a generated configuration (1,000 vrrp_instances and
//! 1,000 virtual_servers x 10 real_servers) with this crate, and time
//! `keepalived -t` on the same file inside a network namespace holding eth0..eth3.
//!
//! Run: `cargo bench -p keepalived-conf --bench vs_keepalived`
//! (as root, keepalived installed; without them only our side is timed).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use keepalived_conf::{check_file, FakeHost, ReadOptions};

const INSTANCES: usize = 1_000;
const SERVERS: usize = 1_000;
const REALS: usize = 10;
const RUNS: u32 = 5;

fn generate() -> String {
    let mut s = String::from("global_defs {\n    router_id bench\n}\n");
    for i in 0..INSTANCES {
        // 250 VRIDs on each of eth0..eth3: no two instances collide.
        let vrid = i % 250 + 1;
        let ifname = i / 250;
        let _ = write!(
            s,
            "vrrp_instance VI_{i} {{\n    state BACKUP\n    interface eth{ifname}\n    virtual_router_id {vrid}\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        10.{}.{}.1/32\n    }}\n}}\n",
            i / 256,
            i % 256
        );
    }
    for v in 0..SERVERS {
        let _ = write!(
            s,
            "virtual_server 10.200.{}.{} 80 {{\n    delay_loop 6\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
            v / 256,
            v % 256
        );
        for r in 0..REALS {
            let _ = write!(
                s,
                "    real_server 10.100.{}.{} 80 {{\n        weight 1\n        TCP_CHECK {{\n            connect_timeout 3\n        }}\n    }}\n",
                v % 256,
                r + 1
            );
        }
        s.push_str("}\n");
    }
    s
}

fn best<F: FnMut()>(mut f: F) -> Duration {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn keepalived_time(file: &Path, dir: &Path) -> Option<(Duration, i32)> {
    Command::new("keepalived").arg("--version").output().ok()?;
    let ns = Netns(format!("kcbench-{}", std::process::id()));
    let ok = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok(&["netns", "add", &ns.0]) {
        return None;
    }
    for i in 0..4 {
        let (dev, peer) = (format!("eth{i}"), format!("peer{i}"));
        if !ok(&["-n", &ns.0, "link", "add", &dev, "type", "dummy"])
            && !ok(&[
                "-n", &ns.0, "link", "add", &dev, "type", "veth", "peer", "name", &peer,
            ])
        {
            return None;
        }
    }
    let pid = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let (main_pid, vrrp_pid, check_pid) = (pid("k.pid"), pid("v.pid"), pid("c.pid"));
    let conf = file.to_string_lossy().into_owned();
    let mut code = 0;
    let elapsed = best(|| {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.0,
                "keepalived",
                "-t",
                "-f",
                &conf,
                "-p",
                &main_pid,
                "-r",
                &vrrp_pid,
                "-c",
                &check_pid,
            ])
            .output()
            .expect("run keepalived");
        code = out.status.code().unwrap_or(-1);
    });
    Some((elapsed, code))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("kcbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keepalived.conf");
    let text = generate();
    std::fs::write(&file, &text).unwrap();

    let mut host = FakeHost::default();
    for i in 0..4 {
        host.interfaces.insert(format!("eth{i}"));
    }
    let opts = ReadOptions::default();
    let mut code = 0;
    let ours = best(|| code = check_file(&file, &opts, &host).exit_code());
    println!(
        "config: {} bytes, {INSTANCES} vrrp_instances, {SERVERS} virtual_servers x {REALS} real_servers",
        text.len()
    );
    println!(
        "keepalived-conf check_file: {:>9.1} ms (exit {code}), best of {RUNS}",
        ours.as_secs_f64() * 1e3
    );
    match keepalived_time(&file, &dir) {
        Some((theirs, kcode)) => {
            println!(
                "keepalived -t:              {:>9.1} ms (exit {kcode}), best of {RUNS}",
                theirs.as_secs_f64() * 1e3
            );
            println!(
                "ratio keepalived / ours:    {:>9.1}x",
                theirs.as_secs_f64() / ours.as_secs_f64()
            );
        }
        None => println!("keepalived -t: not measured (needs root, iproute2 and keepalived)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
