//! `accept` / `no_accept` / `vrrp_strict`: keepalived 2.2.7 and vrrpd run the
//! same config side by side (each a lone master on its own link to a client
//! namespace); the client pings each VIP, the masters' nftables rulesets are
//! compared, and both must be gone after SIGTERM. keepalived's observed result is
//! the reference; the expected outcome is asserted too, so a keepalived change shows.
//! Needs root, `ip`, `nft` (nftables), ping and keepalived. About 5 s.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use netlab::Topology;

/// (namespace, address prefix of its link to the client).
const SIDES: [(&str, &str); 2] = [("k", "192.0.2"), ("v", "198.51.100")];

#[derive(Debug, PartialEq)]
struct Observed {
    master: bool,
    answered: bool,
    /// `nft list ruleset` while master, the VIP written as `VIP`.
    ruleset: String,
    /// `nft list ruleset` after exit.
    after_exit: String,
}

fn vrrpd() -> &'static str {
    env!("CARGO_BIN_EXE_vrrpd")
}

fn config(global: &str, instance: &str, vip: &str) -> String {
    format!(
        "global_defs {{\n{global}}}\nvrrp_instance VI_1 {{\n  interface eth0\n  \
         virtual_router_id 51\n{instance}  virtual_ipaddress {{\n    {vip}\n  }}\n}}\n"
    )
}

fn nft_ruleset(t: &Topology, ns: &str) -> String {
    t.exec(ns, &["nft", "list", "ruleset"]).map_or_else(
        |e| format!("nft failed: {e}"),
        |o| String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn has_vip(t: &Topology, ns: &str, vip: &str) -> bool {
    t.ip(ns, &["-o", "-4", "addr", "show", "dev", "eth0"])
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {vip}/")))
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// Runs keepalived (namespace `k`) and vrrpd (namespace `v`) with the config;
/// returns what each did, and their logs.
fn observe(global: &str, instance: &str) -> (Observed, Observed, String) {
    assert!(
        netlab::lab::which("keepalived").is_some() && netlab::lab::which("nft").is_some(),
        "keepalived and nft (nftables) are needed"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut t = Topology::new().unwrap();
    t.add_ns("c").unwrap();
    let mut pids = Vec::new();
    for (ns, net) in SIDES {
        t.add_ns(ns).unwrap();
        let client_if = format!("to-{ns}");
        t.veth((ns, "eth0"), ("c", &client_if)).unwrap();
        t.addr(ns, "eth0", &format!("{net}.1/24")).unwrap();
        t.addr("c", &client_if, &format!("{net}.9/24")).unwrap();
        let p = |s: &str| -> String { dir.path().join(format!("{ns}.{s}")).display().to_string() };
        let conf = p("conf");
        std::fs::write(&conf, config(global, instance, &format!("{net}.100"))).unwrap();
        let daemon = if ns == "k" { "keepalived" } else { vrrpd() };
        let (pid, vpid, cpid) = (p("pid"), p("vpid"), p("cpid"));
        let mut argv = vec![
            daemon, "-n", "-l", "-D", "--vrrp", "-f", &conf, "-p", &pid, "-r", &vpid,
        ];
        if ns == "k" {
            argv.extend(["-c", &cpid]);
        }
        let mut cmd = t.command(ns, &argv);
        cmd.env("TMPDIR", dir.path());
        let log = std::fs::File::create(p("log")).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        pids.push(t.spawn_command(cmd).unwrap());
    }
    let logs = || {
        let mut all = String::new();
        for (ns, _) in SIDES {
            let path: PathBuf = dir.path().join(format!("{ns}.log"));
            all.push_str("--- ");
            all.push_str(ns);
            all.push_str(":\n");
            all.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
        all
    };
    let vip = |net: &str| format!("{net}.100");
    // VRRPv2 (advert_int 1) needs about 3.6 s to become master.
    let master = |t: &Topology, ns: &str, net: &str| {
        Topology::wait_until(Duration::from_secs(6), || has_vip(t, ns, &vip(net)))
    };
    let mut seen: Vec<Observed> = SIDES
        .iter()
        .map(|(ns, net)| {
            let master = master(&t, ns, net);
            // Let the rules settle: keepalived sets them before the VIPs.
            std::thread::sleep(Duration::from_millis(100));
            let answered = t
                .exec("c", &["ping", "-n", "-c", "1", "-W", "1", &vip(net)])
                .is_ok();
            Observed {
                master,
                answered,
                ruleset: nft_ruleset(&t, ns).replace(&vip(net), "VIP"),
                after_exit: String::new(),
            }
        })
        .collect();
    for pid in &pids {
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
    }
    for (i, (ns, _)) in SIDES.iter().enumerate() {
        let pid = pids[i];
        let exited = Topology::wait_until(Duration::from_secs(4), || !alive(pid));
        assert!(exited, "{ns} did not exit\n{}", logs());
        seen[i].after_exit = nft_ruleset(&t, ns);
    }
    let v = seen.pop().unwrap();
    let k = seen.pop().unwrap();
    (k, v, logs())
}

/// Runs both, checks keepalived against `dropped` and vrrpd against keepalived.
fn check(global: &str, instance: &str, dropped: bool) {
    let (k, v, logs) = observe(global, instance);
    assert!(k.master && v.master, "both masters: {k:?} {v:?}\n{logs}");
    assert_eq!(k.answered, !dropped, "keepalived: {k:?}\n{logs}");
    assert_eq!(
        k.ruleset.contains("table ip keepalived") && k.ruleset.contains("elements = { VIP }"),
        dropped,
        "keepalived: {k:?}"
    );
    assert_eq!(k.after_exit, "", "keepalived leaves no rules");
    assert_eq!(v, k, "vrrpd differs from keepalived\n{logs}");
}

const V3: &str = "  priority 100\n  version 3\n  advert_int 0.1\n";

#[test]
fn no_accept_drops_traffic_to_the_vip() {
    check("", &format!("{V3}  no_accept\n"), true);
}

#[test]
fn accept_answers() {
    check("", &format!("{V3}  accept\n"), false);
}

#[test]
fn vrrp_strict_defaults_to_no_accept() {
    check("  vrrp_strict\n", V3, true);
}

#[test]
fn the_address_owner_always_accepts() {
    check(
        "",
        "  priority 255\n  version 3\n  advert_int 0.1\n  no_accept\n",
        false,
    );
}

#[test]
fn strict_vrrpv2_ignores_accept() {
    check(
        "  vrrp_strict\n",
        "  priority 100\n  version 2\n  advert_int 1\n  accept\n",
        true,
    );
}
