//! vrrpd's run mode in namespaces, against a real keepalived 2.2.7 on a bridge:
//! election, SIGTERM hand-over, flap-free SIGHUP, malformed packets.
//! Needs root, `ip`, keepalived and python3. About 15 s (tests run in parallel).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use netlab::Topology;

const VIP: &str = "192.0.2.100";

fn config(name: &str, priority: u8, extra: &str, notify: &Path) -> String {
    // `extra` is more VIP lines, or (starting with "+") more instance lines.
    let (extra_vip, extra_line) = match extra.strip_prefix('+') {
        Some(line) => ("", line),
        None => (extra, ""),
    };
    format!(
        "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n  priority {priority}\n  \
         advert_int 1\n{extra_line}  virtual_ipaddress {{\n    {VIP}\n{extra_vip}  }}\n  \
         notify \"{} {name}\"\n}}\n",
        notify.display()
    )
}

struct Lab {
    t: Topology,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        assert!(
            netlab::lab::which("keepalived").is_some(),
            "keepalived is not installed"
        );
        let dir = tempfile::tempdir().unwrap();
        let t = Topology::switched(&[("a", "192.0.2.1/24"), ("b", "192.0.2.2/24")]).unwrap();
        let notify = dir.path().join("notify.sh");
        std::fs::write(
            &notify,
            format!(
                "#!/bin/sh\necho \"$@\" >> {}\n",
                dir.path().join("notify.out").display()
            ),
        )
        .unwrap();
        Command::new("chmod")
            .args(["+x", notify.to_str().unwrap()])
            .status()
            .unwrap();
        Lab { t, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_config(&self, ns: &str, priority: u8, extra_vip: &str) -> PathBuf {
        let conf = self.path(&format!("{ns}.conf"));
        std::fs::write(
            &conf,
            config(ns, priority, extra_vip, &self.path("notify.sh")),
        )
        .unwrap();
        conf
    }

    /// Starts `daemon` the way the interop suite does; returns its pid.
    fn start(&mut self, ns: &str, daemon: &str, priority: u8) -> u32 {
        self.start_with(ns, daemon, priority, "")
    }

    fn start_with(&mut self, ns: &str, daemon: &str, priority: u8, extra: &str) -> u32 {
        let conf = self.write_config(ns, priority, extra);
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        let (conf, pid, vpid) = (
            s(conf),
            s(self.path(&format!("{ns}.pid"))),
            s(self.path(&format!("{ns}.vpid"))),
        );
        let mut argv = vec![
            daemon, "-n", "-l", "-D", "--vrrp", "-f", &conf, "-p", &pid, "-r", &vpid,
        ];
        let cpid = s(self.path(&format!("{ns}.cpid")));
        if daemon == "keepalived" {
            argv.extend(["-c", &cpid]);
        }
        let mut cmd = self.t.command(ns, &argv);
        // keepalived.stats / keepalived.data go to $TMPDIR.
        cmd.env("TMPDIR", self.dir.path());
        let log = std::fs::File::create(self.path(&format!("{ns}.log"))).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.t.spawn_command(cmd).unwrap()
    }

    fn addrs(&self, ns: &str) -> String {
        self.t
            .ip(ns, &["-o", "-4", "addr", "show", "dev", "eth0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn has(&self, ns: &str, ip: &str) -> bool {
        self.addrs(ns).contains(&format!("inet {ip}/"))
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for ns in ["a", "b"] {
            let log = std::fs::read_to_string(self.path(&format!("{ns}.log"))).unwrap_or_default();
            all.push_str("--- ");
            all.push_str(ns);
            all.push_str(":\n");
            all.push_str(&log);
        }
        all
    }

    fn notified(&self) -> String {
        std::fs::read_to_string(self.path("notify.out")).unwrap_or_default()
    }
}

fn vrrpd() -> &'static str {
    env!("CARGO_BIN_EXE_vrrpd")
}

fn signal(pid: u32, sig: &str) {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn vrrpd_wins_over_keepalived_and_hands_over_on_sigterm() {
    let mut lab = Lab::new();
    lab.start("b", "keepalived", 100);
    let pid = lab.start("a", vrrpd(), 150);
    let master = Topology::wait_until(Duration::from_secs(8), || {
        lab.has("a", VIP) && !lab.has("b", VIP)
    });
    assert!(master, "vrrpd should be master\n{}", lab.logs());
    assert!(lab.path("a.pid").exists() && lab.path("a.vpid").exists());
    // The notify script runs after the VIPs are set.
    let notified = Topology::wait_until(Duration::from_secs(2), || {
        lab.notified().contains("a INSTANCE VI_1 MASTER 150")
    });
    assert!(notified, "{}", lab.notified());

    signal(pid, "-TERM");
    let moved = Topology::wait_until(Duration::from_secs(3), || {
        !lab.has("a", VIP) && lab.has("b", VIP)
    });
    assert!(moved, "VIP should move to keepalived\n{}", lab.logs());
    assert!(Topology::wait_until(Duration::from_secs(3), || !alive(pid)));
    assert!(!lab.path("a.pid").exists(), "pid file removed");
    let n = lab.notified();
    assert!(
        n.contains("a INSTANCE VI_1 STOP 150"),
        "stop notify waited for: {n}"
    );
    assert!(lab.logs().contains("(VI_1) sent 0 priority"));
}

#[test]
fn sighup_keeps_unchanged_instances_and_applies_changes() {
    let mut lab = Lab::new();
    let pid = lab.start("a", vrrpd(), 150);
    assert!(
        Topology::wait_until(Duration::from_secs(8), || lab.has("a", VIP)),
        "{}",
        lab.logs()
    );
    let monitor_out = lab.path("monitor.log");
    let mut monitor = lab
        .t
        .command("a", &["ip", "monitor", "address"])
        .stdout(std::fs::File::create(&monitor_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(pid, "-HUP");
    std::thread::sleep(Duration::from_secs(1));
    let events = std::fs::read_to_string(&monitor_out).unwrap_or_default();
    assert!(
        events.trim().is_empty(),
        "unchanged reload flapped: {events}"
    );

    lab.write_config("a", 150, "    192.0.2.102\n");
    signal(pid, "-HUP");
    let added = Topology::wait_until(Duration::from_secs(3), || lab.has("a", "192.0.2.102"));
    let _ = monitor.kill();
    let _ = monitor.wait();
    assert!(added, "{}", lab.logs());
    let events = std::fs::read_to_string(&monitor_out).unwrap_or_default();
    assert!(!events.contains("Deleted"), "a VIP was removed: {events}");
    assert!(
        !events.contains(&format!("{VIP}/")),
        "{VIP} flapped: {events}"
    );
    assert!(lab.has("a", VIP));
}

#[test]
fn malformed_packets_are_dropped_without_harm() {
    let mut lab = Lab::new();
    let pid = lab.start("a", vrrpd(), 150);
    assert!(Topology::wait_until(Duration::from_secs(8), || lab.has("a", VIP)));
    // Short, wrong version, bad checksum, higher priority with TTL 64, random bytes.
    let script = r#"
import socket, os
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("192.0.2.2"))
good = bytes([0x21, 51, 200, 1, 0, 1, 0x00, 0x00]) + bytes([192, 0, 2, 100]) + bytes(8)
def csum(b):
    t = sum((b[i] << 8) + (b[i+1] if i+1 < len(b) else 0) for i in range(0, len(b), 2))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff
c = csum(good); good = good[:6] + bytes([c >> 8, c & 0xff]) + good[8:]
for p in [b"\x21", bytes([0x41]) + good[1:], good[:6] + b"\x00\x00" + good[8:], os.urandom(40)]:
    for _ in range(50):
        s.sendto(p, ("224.0.0.18", 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 64)
for _ in range(20):
    s.sendto(good, ("224.0.0.18", 0))
"#;
    let out = lab.t.exec("b", &["python3", "-c", script]);
    assert!(out.is_ok(), "{out:?}");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(pid), "vrrpd died\n{}", lab.logs());
    assert!(lab.has("a", VIP), "still master\n{}", lab.logs());
    assert!(
        lab.logs().contains("dropped packet from 192.0.2.2"),
        "{}",
        lab.logs()
    );
}

#[test]
fn use_vmac_with_keepalived() {
    let mut lab = Lab::new();
    lab.start_with("b", "keepalived", 100, "+  use_vmac\n");
    let pid = lab.start_with("a", vrrpd(), 150, "+  use_vmac\n");
    let vmac = |lab: &Lab| {
        lab.t
            .ip("a", &["-o", "addr", "show", "dev", "vrrp.51"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let master = Topology::wait_until(Duration::from_secs(8), || {
        vmac(&lab).contains(&format!("inet {VIP}/32"))
    });
    assert!(master, "VIP on vrrp.51\n{}\n{}", vmac(&lab), lab.logs());
    let link = lab.t.ip("a", &["link", "show", "dev", "vrrp.51"]).unwrap();
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(link.contains("link/ether 00:00:5e:00:01:33"), "{link}");
    // No link-local address from the shared MAC (RFC 5798 7.4).
    assert!(!vmac(&lab).contains("inet6 fe80"), "{}", vmac(&lab));
    let kb = lab
        .t
        .ip("b", &["-o", "addr", "show", "dev", "vrrp.51"])
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&kb.stdout).contains(VIP),
        "keepalived stays backup"
    );
    signal(pid, "-TERM");
    assert!(Topology::wait_until(Duration::from_secs(3), || !alive(pid)));
    let gone = lab.t.ip("a", &["link", "show", "dev", "vrrp.51"]);
    assert!(gone.is_err(), "vrrp.51 removed at exit: {gone:?}");
}
