//! Proof that namespace topologies carry real VRRP: two real keepalived
//! instances on a bridge elect the higher priority as master, and the VIP
//! moves to the backup when the master gets SIGTERM.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use netlab::Topology;

const VIP: &str = "192.0.2.100";

fn config(priority: u8) -> String {
    format!(
        "global_defs {{\n  router_id node{priority}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n}}\n"
    )
}

fn has_vip(t: &Topology, ns: &str) -> bool {
    t.ip(ns, &["-o", "addr", "show", "dev", "eth0"])
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {VIP}/24")))
}

fn start_keepalived(t: &mut Topology, ns: &str, dir: &Path, priority: u8) -> u32 {
    let conf = dir.join(format!("{ns}.conf"));
    std::fs::write(&conf, config(priority)).unwrap();
    let file = |ext: &str| {
        dir.join(format!("{ns}.{ext}"))
            .to_string_lossy()
            .into_owned()
    };
    let conf = conf.to_string_lossy().into_owned();
    let (pid, vrrp_pid, check_pid) = (file("pid"), file("vrrp.pid"), file("check.pid"));
    let argv = [
        "keepalived",
        "-n",
        "-l",
        "-D",
        "--vrrp",
        "-f",
        &conf,
        "-p",
        &pid,
        "-r",
        &vrrp_pid,
        "-c",
        &check_pid,
    ];
    let mut cmd = t.command(ns, &argv);
    let log = std::fs::File::create(dir.join(format!("{ns}.log"))).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    t.spawn_command(cmd).unwrap()
}

fn logs(dir: &Path) -> String {
    let mut all = String::new();
    for ns in ["a", "b"] {
        let log = std::fs::read_to_string(dir.join(format!("{ns}.log"))).unwrap_or_default();
        let _ = write!(all, "--- keepalived in {ns}:\n{log}");
    }
    all
}

#[test]
fn two_real_keepalived_elect_a_master_and_move_the_vip_on_sigterm() {
    assert!(
        netlab::lab::which("keepalived").is_some(),
        "keepalived is not installed: run the README's test command"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut t = Topology::switched(&[("a", "192.0.2.1/24"), ("b", "192.0.2.2/24")]).unwrap();
    let a = start_keepalived(&mut t, "a", dir.path(), 150);
    start_keepalived(&mut t, "b", dir.path(), 100);

    // Both start as BACKUP; after Master_Down_Interval (3 s + skew) the
    // higher priority takes over. Bounded wait: 10 s.
    let elected = Topology::wait_until(Duration::from_secs(10), || has_vip(&t, "a"));
    assert!(
        elected,
        "priority 150 never took the VIP\n{}",
        logs(dir.path())
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        has_vip(&t, "a"),
        "master lost the VIP\n{}",
        logs(dir.path())
    );
    assert!(!has_vip(&t, "b"), "both hold the VIP\n{}", logs(dir.path()));

    // SIGTERM: the master sends priority 0 and drops the VIP; the backup
    // takes over after its skew time (~0.6 s). Bounded wait: 5 s.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &a.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let moved = Topology::wait_until(Duration::from_secs(5), || has_vip(&t, "b"));
    assert!(
        moved,
        "the VIP did not move to the backup\n{}",
        logs(dir.path())
    );
    let released = Topology::wait_until(Duration::from_secs(5), || !has_vip(&t, "a"));
    assert!(
        released,
        "the stopped master kept the VIP\n{}",
        logs(dir.path())
    );
}
