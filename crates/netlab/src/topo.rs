//! Network-namespace topologies for tests, on the host or inside the VM.
//!
//! Every namespace is named `nl-PID-N-NAME`, so concurrent tests (and test
//! binaries) never collide. Links and bridges live only inside those
//! namespaces: deleting the namespaces removes everything. [`Topology`]'s
//! `Drop` kills every process still inside its namespaces and deletes them,
//! also while unwinding from a panic; namespaces left by a process that died
//! without unwinding (SIGKILL) are swept when the next topology is created.

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::cmd::{run, run_args};
use crate::{Error, Result};

const PREFIX: &str = "nl-";

/// A set of namespaces that lives as long as this value.
#[derive(Debug)]
pub struct Topology {
    tag: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Topology {
    /// A new, empty topology. Sweeps namespaces of dead processes first.
    pub fn new() -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        sweep_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            tag: format!("{PREFIX}{}-{n}-", std::process::id()),
            namespaces: Vec::new(),
            children: Vec::new(),
        })
    }

    /// The full name of this topology's namespace `name`.
    pub fn ns_name(&self, name: &str) -> String {
        format!("{}{name}", self.tag)
    }

    /// The namespace names created so far, in creation order.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Creates namespace `name` with `lo` up; returns its full name.
    pub fn add_ns(&mut self, name: &str) -> Result<String> {
        let full = self.ns_name(name);
        run_args("ip", &["netns", "add", &full])?;
        self.namespaces.push(full.clone());
        self.ip(name, &["link", "set", "lo", "up"])?;
        Ok(full)
    }

    /// Runs `ip -n NS ARGS…`.
    pub fn ip(&self, ns: &str, args: &[&str]) -> Result<Output> {
        let full = self.ns_name(ns);
        run(Command::new("ip").arg("-n").arg(&full).args(args))
    }

    /// A veth pair `a_if` in `a` and `b_if` in `b`, both up.
    pub fn veth(&mut self, (a, a_if): (&str, &str), (b, b_if): (&str, &str)) -> Result<()> {
        let b_full = self.ns_name(b);
        self.ip(
            a,
            &[
                "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b_full,
            ],
        )?;
        self.ip(a, &["link", "set", a_if, "up"])?;
        self.ip(b, &["link", "set", b_if, "up"])?;
        Ok(())
    }

    /// A bridge `name` in `ns`, up.
    pub fn bridge(&mut self, ns: &str, name: &str) -> Result<()> {
        self.ip(ns, &["link", "add", name, "type", "bridge"])?;
        self.ip(ns, &["link", "set", name, "up"])?;
        Ok(())
    }

    /// Enslaves `ifname` to `bridge`, both in `ns`.
    pub fn attach(&mut self, ns: &str, ifname: &str, bridge: &str) -> Result<()> {
        self.ip(ns, &["link", "set", ifname, "master", bridge])?;
        Ok(())
    }

    /// A switched segment: namespace `sw` with bridge `br0`, and for each
    /// `(ns, cidr)` a namespace `ns` whose `eth0` (with `cidr`) is a veth
    /// to port `p{ns}` on the bridge.
    pub fn switched(nodes: &[(&str, &str)]) -> Result<Self> {
        let mut t = Self::new()?;
        t.add_ns("sw")?;
        t.bridge("sw", "br0")?;
        for (ns, cidr) in nodes {
            t.add_ns(ns)?;
            let port = format!("p{ns}");
            t.veth((ns, "eth0"), ("sw", &port))?;
            t.attach("sw", &port, "br0")?;
            t.addr(ns, "eth0", cidr)?;
        }
        Ok(t)
    }

    /// A dummy interface `name` in `ns`, up. Needs the `dummy` link type:
    /// Debian's kernel in the lab has it; the host kernel here does not.
    pub fn dummy(&mut self, ns: &str, name: &str) -> Result<()> {
        self.ip(ns, &["link", "add", name, "type", "dummy"])?;
        self.ip(ns, &["link", "set", name, "up"])?;
        Ok(())
    }

    /// Adds `cidr` (e.g. `192.0.2.1/24`, `2001:db8::1/64`) to `ifname`.
    /// IPv6 addresses skip duplicate address detection so they work at once.
    pub fn addr(&mut self, ns: &str, ifname: &str, cidr: &str) -> Result<()> {
        let mut args = vec!["addr", "add", cidr, "dev", ifname];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.ip(ns, &args)?;
        Ok(())
    }

    /// Adds a route `dest` (CIDR or `default`) via `gateway`.
    pub fn route(&mut self, ns: &str, dest: &str, gateway: &str) -> Result<()> {
        self.ip(ns, &["route", "add", dest, "via", gateway])?;
        Ok(())
    }

    /// Sets a sysctl inside `ns`, e.g. `net.ipv4.ip_forward` = `1`.
    pub fn sysctl(&mut self, ns: &str, key: &str, value: &str) -> Result<()> {
        self.exec(ns, &["sysctl", "-q", "-w", &format!("{key}={value}")])?;
        Ok(())
    }

    /// A command that runs inside `ns` (not started).
    pub fn command(&self, ns: &str, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec"]).arg(self.ns_name(ns)).args(argv);
        c
    }

    /// Runs `argv` inside `ns` to completion; an error unless it exits 0.
    pub fn exec(&self, ns: &str, argv: &[&str]) -> Result<Output> {
        run(&mut self.command(ns, argv))
    }

    /// Starts `argv` inside `ns`; it is killed when the topology drops.
    /// Output is discarded unless the command redirects it itself.
    pub fn spawn(&mut self, ns: &str, argv: &[&str]) -> Result<u32> {
        let mut c = self.command(ns, argv);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.spawn_command(c)
    }

    /// Starts a prepared command (from [`Topology::command`]); it is killed
    /// when the topology drops. Returns its pid.
    pub fn spawn_command(&mut self, mut c: Command) -> Result<u32> {
        let child = c
            .spawn()
            .map_err(|e| Error::Lab(format!("cannot start {c:?}: {e}")))?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Pids of every process inside `ns`.
    pub fn pids(&self, ns: &str) -> Vec<u32> {
        pids_in(&self.ns_name(ns))
    }

    /// Polls `check` every 20 ms until it is true or `limit` passes.
    pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            if check() {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            destroy(ns);
        }
    }
}

fn pids_in(full: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", full])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills everything in `full` (SIGKILL, bounded wait) and deletes it.
fn destroy(full: &str) {
    for _ in 0..50 {
        let pids = pids_in(full);
        if pids.is_empty() {
            break;
        }
        for p in pids {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("ip")
        .args(["netns", "del", full])
        .stderr(Stdio::null())
        .status();
}

/// Deletes `nl-PID-…` namespaces whose PID is no longer running.
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            destroy(name);
        }
    }
}

/// Names of every `nl-` namespace on this machine (for leak checks).
pub fn lab_namespaces() -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| n.starts_with(PREFIX))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
