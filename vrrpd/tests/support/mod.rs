//! Interoperability lab for `vrrpd` against keepalived 2.2.7.
//!
//! Nodes `n1`, `n2`, … are network namespaces whose `eth0` sits on a bridge
//! in namespace `sw`; node `nI` has MAC `02:00:00:00:00:0I`, 192.0.2.I/24 and
//! 2001:db8::I/64 (so its link-local address is the same in every lab). Each
//! node runs one VRRP daemon, either real keepalived or our `vrrpd`, with
//! keepalived's command line `-n -l -D --vrrp -f CONF -p PID -r VRRP_PID`.
//!
//! Everything is observed from outside the daemon: addresses on `eth0`
//! (`ip addr`), address events (`ip monitor address`), packets on the wire
//! (tcpdump on the bridge, read back as pcap), notify-script output files and
//! exit codes. Log output is kept only to explain a failure.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod conf;
pub mod pcap;
pub mod scenarios;
pub mod suite;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use netlab::Topology;

pub use conf::{Conf, Instance, Script};

/// The VRRP implementation running on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// `/usr/sbin/keepalived` 2.2.7.
    Keepalived,
    /// This workspace's `vrrpd`.
    Vrrpd,
}

impl Impl {
    pub fn program(self) -> &'static str {
        match self {
            Impl::Keepalived => "/usr/sbin/keepalived",
            Impl::Vrrpd => env!("CARGO_BIN_EXE_vrrpd"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Impl::Keepalived => "keepalived",
            Impl::Vrrpd => "vrrpd",
        }
    }
}

/// Node `i`'s IPv4 address (without prefix).
pub fn ip4(i: usize) -> String {
    format!("192.0.2.{i}")
}

/// Node `i`'s IPv6 link-local address (from its fixed MAC).
pub fn link_local(i: usize) -> String {
    format!("fe80::ff:fe00:{i}")
}

/// A running (or finished) daemon.
#[derive(Debug)]
struct Daemon {
    node: usize,
    imp: Impl,
    child: Child,
    pidfile: PathBuf,
    vrrp_pidfile: PathBuf,
    log: PathBuf,
}

/// Bounded wait for `ready` to appear in `path` (a tool's stderr).
fn wait_file_contains(path: &Path, ready: &str, limit: Duration) -> bool {
    Topology::wait_until(limit, || {
        std::fs::read_to_string(path).is_ok_and(|s| s.contains(ready))
    })
}

/// The namespaces, the daemons and a directory for files; `Drop` kills
/// everything it started and removes the namespaces.
#[derive(Debug)]
pub struct Lab {
    daemons: Vec<Daemon>,
    helpers: Vec<Child>,
    pub topo: Topology,
    pub dir: tempfile::TempDir,
    nodes: usize,
}

impl Lab {
    /// `nodes` nodes on one bridge.
    pub fn new(nodes: usize) -> Lab {
        for tool in ["/usr/sbin/keepalived", "/usr/bin/tcpdump", "/usr/sbin/ip"] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is required by the interop tests (cargo xtask setup installs it)"
            );
        }
        let mut t = Topology::new().expect("namespaces need root and iproute2");
        t.add_ns("sw").unwrap();
        t.bridge("sw", "br0").unwrap();
        // Multicast snooping could hold back ff02::12 until an MLD querier
        // shows up; flood every group instead.
        t.ip(
            "sw",
            &[
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )
        .unwrap();
        for i in 1..=nodes {
            let ns = format!("n{i}");
            t.add_ns(&ns).unwrap();
            // No DAD, so the link-local source of IPv6 adverts is usable at once.
            t.sysctl(&ns, "net.ipv6.conf.default.accept_dad", "0")
                .unwrap();
            t.sysctl(&ns, "net.ipv6.conf.all.accept_dad", "0").unwrap();
            let port = format!("p{i}");
            t.veth((&ns, "eth0"), ("sw", &port)).unwrap();
            t.attach("sw", &port, "br0").unwrap();
            t.ip(&ns, &["link", "set", "eth0", "down"]).unwrap();
            t.ip(
                &ns,
                &[
                    "link",
                    "set",
                    "eth0",
                    "address",
                    &format!("02:00:00:00:00:{i:02x}"),
                ],
            )
            .unwrap();
            t.ip(&ns, &["link", "set", "eth0", "up"]).unwrap();
            t.addr(&ns, "eth0", &format!("{}/24", ip4(i))).unwrap();
            t.addr(&ns, "eth0", &format!("2001:db8::{i}/64")).unwrap();
        }
        let lab = Lab {
            daemons: Vec::new(),
            helpers: Vec::new(),
            topo: t,
            dir: tempfile::tempdir().unwrap(),
            nodes,
        };
        for i in 1..=nodes {
            let ll = link_local(i);
            let ok = Topology::wait_until(Duration::from_secs(3), || {
                lab.addresses(i).iter().any(|a| a == &ll)
            });
            assert!(ok, "n{i} has no link-local address {ll}");
        }
        lab
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ns(i: usize) -> String {
        format!("n{i}")
    }

    /// Writes the notify script: `notify.sh NODE TYPE NAME STATE PRIO`
    /// appends `TYPE NAME STATE PRIO` to `notify-nNODE`.
    pub fn notify_script(&self) -> String {
        let path = self.path("notify.sh");
        if !path.exists() {
            let dir = self.dir.path().display();
            let body = format!("#!/bin/sh\nnode=$1\nshift\necho \"$@\" >> {dir}/notify-n$node\n");
            std::fs::write(&path, body).unwrap();
            chmod_x(&path);
        }
        path.display().to_string()
    }

    /// Lines written by node `i`'s notify script so far.
    pub fn notifications(&self, i: usize) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("notify-n{i}")))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Writes `conf` for node `i` and returns its path.
    pub fn write_conf(&self, i: usize, conf: &Conf) -> PathBuf {
        let path = self.path(&format!("n{i}.conf"));
        let text = conf.render(i, self);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `imp` on node `i` with `conf`.
    pub fn start(&mut self, i: usize, imp: Impl, conf: &Conf) {
        let conf_path = self.write_conf(i, conf);
        self.start_path(i, imp, &conf_path);
    }

    /// Starts `imp` on node `i` with the configuration file `conf_path`
    /// (which need not exist).
    pub fn start_path(&mut self, i: usize, imp: Impl, conf_path: &Path) {
        let run = self.daemons.iter().filter(|d| d.node == i).count();
        let file = |ext: &str| self.path(&format!("n{i}-{run}.{ext}"));
        let (pid, vrrp_pid, log) = (file("pid"), file("vrrp.pid"), file("log"));
        let argv = [
            imp.program(),
            "-n",
            "-l",
            "-D",
            "--vrrp",
            "-f",
            &conf_path.to_string_lossy(),
            "-p",
            &pid.to_string_lossy(),
            "-r",
            &vrrp_pid.to_string_lossy(),
        ]
        .map(str::to_owned);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = self.topo.command(&Self::ns(i), &argv);
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", imp.program()));
        self.daemons.push(Daemon {
            node: i,
            imp,
            child,
            pidfile: pid,
            vrrp_pidfile: vrrp_pid,
            log,
        });
    }

    fn daemon(&mut self, i: usize) -> &mut Daemon {
        self.daemons
            .iter_mut()
            .rev()
            .find(|d| d.node == i)
            .unwrap_or_else(|| panic!("no daemon started on n{i}"))
    }

    /// Pids of node `i`'s latest daemon: the process we started and the VRRP
    /// child named in its VRRP pid file (keepalived forks one; vrrpd may not).
    pub fn pids(&mut self, i: usize) -> Vec<u32> {
        let d = self.daemon(i);
        let mut pids = vec![d.child.id()];
        if let Some(p) = std::fs::read_to_string(&d.vrrp_pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
        pids
    }

    /// Node `i`'s latest daemon's pid files (`-p`, `-r`).
    pub fn pidfiles(&mut self, i: usize) -> (PathBuf, PathBuf) {
        let d = self.daemon(i);
        (d.pidfile.clone(), d.vrrp_pidfile.clone())
    }

    /// Sends `sig` (e.g. `TERM`, `HUP`) to node `i`'s daemon (the process we
    /// started: keepalived's parent forwards it to its children).
    pub fn signal(&mut self, i: usize, sig: &str) {
        let pid = self.daemon(i).child.id();
        let ok = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// A crash: SIGKILL to every process of node `i`'s daemon in one call,
    /// then its link goes down.
    /// keepalived's VRRP child goes first: killed after its parent, it
    /// would get its parent-death SIGTERM and stop gracefully.
    pub fn crash(&mut self, i: usize) {
        let pids: Vec<String> = self.pids(i).iter().rev().map(ToString::to_string).collect();
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        self.topo
            .ip(&Self::ns(i), &["link", "set", "eth0", "down"])
            .unwrap();
    }

    /// Takes node `i`'s port off the bridge (`cut`) or puts it back. Its
    /// eth0 keeps its carrier, so the daemon sees no link change.
    pub fn partition(&mut self, i: usize, cut: bool) {
        let port = format!("p{i}");
        let args: &[&str] = if cut {
            &["link", "set", &port, "nomaster"]
        } else {
            &["link", "set", &port, "master", "br0"]
        };
        self.topo.ip("sw", args).unwrap();
    }

    /// Waits (bounded) for node `i`'s daemon to exit; its status.
    pub fn wait_exit(&mut self, i: usize, limit: Duration) -> Option<ExitStatus> {
        let d = self.daemon(i);
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = d.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether node `i`'s latest daemon is still running.
    pub fn running(&mut self, i: usize) -> bool {
        matches!(self.daemon(i).child.try_wait(), Ok(None))
    }

    /// Addresses (without prefix length) on node `i`'s eth0.
    pub fn addresses(&self, i: usize) -> Vec<String> {
        self.addresses_on(i, "eth0")
    }

    /// Addresses (without prefix length) on node `i`'s `ifname`.
    pub fn addresses_on(&self, i: usize, ifname: &str) -> Vec<String> {
        let Ok(out) = self
            .topo
            .ip(&Self::ns(i), &["-o", "addr", "show", "dev", ifname])
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                w.find(|x| *x == "inet" || *x == "inet6")?;
                w.next()?.split('/').next().map(str::to_owned)
            })
            .collect()
    }

    /// Whether node `i` holds `vip` (an address without prefix).
    pub fn has(&self, i: usize, vip: &str) -> bool {
        self.addresses(i).iter().any(|a| a == vip)
    }

    /// Whether `vip` is on node `on` and not on node `off`: the usual "the
    /// VIP is at `on`" check of a two-node scenario.
    pub fn holds(&self, (on, off): (usize, usize), vip: &str) -> bool {
        self.has(on, vip) && !self.has(off, vip)
    }

    /// Makes a FIFO `name` and starts `cat` reading it into `name.out`
    /// (host side; the FIFO is a file, not a namespace object). Returns
    /// (fifo, output file).
    pub fn fifo_reader(&mut self, name: &str) -> (PathBuf, PathBuf) {
        let fifo = self.path(name);
        let out = self.path(&format!("{name}.out"));
        let ok = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {} failed", fifo.display());
        let child = Command::new("cat")
            .arg(&fifo)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .spawn()
            .unwrap();
        self.helpers.push(child);
        (fifo, out)
    }

    /// `ip route show EXACT` in node `i`: the matching routes, one per line.
    pub fn route(&self, i: usize, prefix: &str) -> String {
        self.topo
            .ip(&Self::ns(i), &["route", "show", "exact", prefix])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// `ip -o link show ifname` in node `i` (empty if it does not exist).
    pub fn link(&self, i: usize, ifname: &str) -> String {
        self.topo
            .ip(&Self::ns(i), &["-o", "link", "show", "dev", ifname])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// Starts `ip -ts monitor address` in node `i`, writing to `name`, with
    /// timestamps in UTC; returns the file. Gives it 200 ms to subscribe.
    pub fn monitor(&mut self, i: usize, name: &str) -> PathBuf {
        let path = self.path(name);
        let out = std::fs::File::create(&path).unwrap();
        let mut cmd = self
            .topo
            .command(&Self::ns(i), &["ip", "-ts", "monitor", "address"]);
        cmd.stdin(Stdio::null()).stdout(out).stderr(Stdio::null());
        self.helpers.push(cmd.spawn().unwrap());
        std::thread::sleep(Duration::from_millis(200));
        path
    }

    /// Starts tcpdump on `ifname` in namespace `ns` for VRRP (IPv4 and IPv6),
    /// writing pcap to `name`; waits (bounded) until it listens.
    pub fn capture(&mut self, ns: &str, ifname: &str, name: &str) -> PathBuf {
        self.capture_filter(ns, ifname, name, "ip proto 112 or ip6 proto 112")
    }

    /// VRRP, ARP and ICMPv6 neighbour advertisements.
    pub fn capture_all(&mut self, ns: &str, ifname: &str, name: &str) -> PathBuf {
        self.capture_filter(
            ns,
            ifname,
            name,
            "ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)",
        )
    }

    /// tcpdump with a capture filter; see [`Lab::capture`].
    pub fn capture_filter(&mut self, ns: &str, ifname: &str, name: &str, filter: &str) -> PathBuf {
        let path = self.path(name);
        let err = self.path(&format!("{name}.err"));
        let argv = [
            "tcpdump",
            "-i",
            ifname,
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "512",
            "-w",
            &path.to_string_lossy(),
            filter,
        ]
        .map(str::to_owned);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut cmd = self.topo.command(ns, &argv);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap());
        self.helpers.push(cmd.spawn().unwrap());
        assert!(
            wait_file_contains(&err, "listening on", Duration::from_secs(5)),
            "tcpdump did not start: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        path
    }

    /// Every daemon's output, to explain a failure (never asserted on).
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for d in &self.daemons {
            let log = std::fs::read_to_string(&d.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let _ = writeln!(all, "--- {} on n{} (last 40 lines):", d.imp.name(), d.node);
            for l in tail.iter().rev() {
                let _ = writeln!(all, "{l}");
            }
        }
        for i in 1..=self.nodes {
            let _ = writeln!(
                all,
                "--- n{i} addresses {:?}, notify {:?}",
                self.addresses(i),
                self.notifications(i)
            );
        }
        all
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.helpers {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Our own children only (their pids cannot have been reused while
        // unreaped); keepalived's VRRP child and anything else left in the
        // namespaces is killed when the topology drops.
        for d in &mut self.daemons {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
    }
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes an executable shell script.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    chmod_x(path);
}

/// True if `check` holds at every poll (20 ms) for `span`.
pub fn holds_for(span: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + span;
    loop {
        if !check() {
            return false;
        }
        if Instant::now() >= end {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bounded wait: polls `check` every 20 ms for at most `limit`.
pub fn within(limit: Duration, check: impl FnMut() -> bool) -> bool {
    Topology::wait_until(limit, check)
}

/// Seconds as a `Duration`.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
