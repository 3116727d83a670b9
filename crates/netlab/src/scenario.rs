//! Ready-made topologies shared by tests and the demo.

use std::path::Path;
use std::time::Duration;

use crate::{Error, Result, Topology};

/// The virtual IP of the LVS scenarios.
pub const VIP: &str = "198.51.100.10";

/// An LVS layout (NAT by [`Lvs::build_nat`], DR by [`Lvs::build_dr`]).
///
/// NAT: `client` —veth— `director` —bridge— `backend1..N`.
///
/// ```text
/// client 198.51.100.2 ── 198.51.100.1 (+VIP 198.51.100.10) director
///                                     192.0.2.1 br0 ── backendN 192.0.2.(10+N)
/// ```
/// The director forwards (`ip_forward=1`); backends route back through it.
/// Each backend runs `netlab serve-http 0.0.0.0:80 backendN`.
#[derive(Debug)]
pub struct Lvs {
    pub topo: Topology,
    /// Backend addresses, in order.
    pub backends: Vec<String>,
}

impl Lvs {
    /// Builds the layout with `n` backends, started with `netlab` (the path
    /// of the netlab binary), and waits until every backend answers.
    pub fn build_nat(netlab: &Path, n: u8) -> Result<Self> {
        let mut t = Topology::new()?;
        for ns in ["client", "director"] {
            t.add_ns(ns)?;
        }
        t.veth(("client", "c0"), ("director", "d0"))?;
        t.addr("client", "c0", "198.51.100.2/24")?;
        t.route("client", "default", "198.51.100.1")?;
        t.addr("director", "d0", "198.51.100.1/24")?;
        t.addr("director", "d0", &format!("{VIP}/24"))?;
        t.bridge("director", "br0")?;
        t.addr("director", "br0", "192.0.2.1/24")?;
        t.sysctl("director", "net.ipv4.ip_forward", "1")?;
        let mut backends = Vec::new();
        for i in 1..=n {
            let ns = format!("backend{i}");
            let addr = format!("192.0.2.{}", 10 + u32::from(i));
            t.add_ns(&ns)?;
            t.veth((&ns, "b0"), ("director", &format!("d{ns}")))?;
            t.attach("director", &format!("d{ns}"), "br0")?;
            t.addr(&ns, "b0", &format!("{addr}/24"))?;
            t.route(&ns, "default", "192.0.2.1")?;
            backends.push(addr);
        }
        let mut lab = Self { topo: t, backends };
        lab.start_backends(netlab)?;
        Ok(lab)
    }

    /// Starts `netlab serve-http 0.0.0.0:80 backendN` in every backend and
    /// waits until each answers the director.
    fn start_backends(&mut self, netlab: &Path) -> Result<()> {
        let bin = netlab.to_string_lossy();
        for i in 1..=self.backends.len() {
            let ns = format!("backend{i}");
            self.topo
                .spawn(&ns, &[&bin, "serve-http", "0.0.0.0:80", &ns])?;
        }
        for (i, addr) in self.backends.iter().enumerate() {
            let want = format!("backend{}\n", i + 1);
            let ok = Topology::wait_until(Duration::from_secs(10), || {
                self.get("director", &format!("http://{addr}/"))
                    .ok()
                    .as_deref()
                    == Some(&*want)
            });
            if !ok {
                return Err(Error::Lab(format!("backend {addr} did not answer in 10 s")));
            }
        }
        Ok(())
    }

    /// Builds the LVS-DR layout with `n` backends: client, director and
    /// backends on one bridged segment 198.51.100.0/24 (in namespace `lan`),
    /// the VIP on the director's interface and on every backend's `lo`, with
    /// `arp_ignore=1` and `arp_announce=2` on the backends. Backends answer
    /// the client directly.
    pub fn build_dr(netlab: &Path, n: u8) -> Result<Self> {
        let mut t = Topology::new()?;
        t.add_ns("lan")?;
        t.bridge("lan", "br0")?;
        let mut hosts = vec![("client".to_owned(), "198.51.100.2".to_owned())];
        hosts.push(("director".into(), "198.51.100.1".into()));
        for i in 1..=n {
            hosts.push((
                format!("backend{i}"),
                format!("198.51.100.{}", 10 + u32::from(i)),
            ));
        }
        for (ns, addr) in &hosts {
            t.add_ns(ns)?;
            t.veth((ns, "eth0"), ("lan", &format!("p{ns}")))?;
            t.attach("lan", &format!("p{ns}"), "br0")?;
            t.addr(ns, "eth0", &format!("{addr}/24"))?;
            if ns.starts_with("backend") {
                t.sysctl(ns, "net.ipv4.conf.all.arp_ignore", "1")?;
                t.sysctl(ns, "net.ipv4.conf.all.arp_announce", "2")?;
                t.addr(ns, "lo", &format!("{VIP}/32"))?;
            }
        }
        t.addr("director", "eth0", &format!("{VIP}/24"))?;
        let backends = hosts.into_iter().skip(2).map(|(_, a)| a).collect();
        let mut lab = Self { topo: t, backends };
        lab.start_backends(netlab)?;
        Ok(lab)
    }

    /// `curl`s `url` from namespace `ns` (2 s limit) and returns the body.
    pub fn get(&self, ns: &str, url: &str) -> Result<String> {
        let out = self
            .topo
            .exec(ns, &["curl", "-sS", "--max-time", "2", url])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs an `ipvsadm` (any implementation) with `args` in the director.
    pub fn ipvsadm(&self, ipvsadm: &str, args: &[&str]) -> Result<std::process::Output> {
        let mut argv = vec![ipvsadm];
        argv.extend_from_slice(args);
        self.topo.exec("director", &argv)
    }

    /// The `ipvsadm` arguments that create a round-robin NAT service on the
    /// VIP, port 80, with every backend.
    pub fn service_commands(&self) -> Vec<Vec<String>> {
        let svc = format!("{VIP}:80");
        let mut cmds = vec![vec![
            "-A".into(),
            "-t".into(),
            svc.clone(),
            "-s".into(),
            "rr".into(),
        ]];
        for b in &self.backends {
            cmds.push(
                ["-a", "-t", &svc, "-r", &format!("{b}:80"), "-m", "-w", "1"]
                    .map(String::from)
                    .to_vec(),
            );
        }
        cmds
    }
}
