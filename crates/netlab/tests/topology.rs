//! Topologies carry traffic and leave nothing behind: namespaces,
//! processes, links and mounts are gone after drop, after a panic, and
//! (by the next topology's sweep) after their owner was SIGKILLed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use netlab::topo::lab_namespaces;
use netlab::Topology;

/// Every test here takes this lock: `Topology::new` sweeps stale
/// namespaces, which must not race the sweep test's precondition.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ours(t: &Topology) -> Vec<String> {
    let mine = t.namespaces().to_vec();
    lab_namespaces()
        .into_iter()
        .filter(|n| mine.contains(n))
        .collect()
}

/// Lines of /proc/self/mountinfo that mention a lab namespace.
fn lab_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains("/run/netns/nl-"))
        .count()
}

fn root_links() -> String {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split(": ")
                .nth(1)
                .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        })
        .collect();
    names.sort();
    names.join(",")
}

fn alive(pid: u32) -> bool {
    // A zombie is as good as dead: it holds no namespace and runs nothing.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn ping(t: &Topology, ns: &str, addr: &str) -> bool {
    t.exec(ns, &["ping", "-c", "1", "-W", "2", addr]).is_ok()
}

#[test]
fn veth_bridge_routes_and_sysctls_carry_traffic() {
    let _serial = serial();
    let mut t = Topology::new().unwrap();
    for ns in ["sw", "a", "b", "r", "far"] {
        t.add_ns(ns).unwrap();
    }
    t.bridge("sw", "br0").unwrap();
    for (ns, addr) in [
        ("a", "198.51.100.1/24"),
        ("b", "198.51.100.2/24"),
        ("r", "198.51.100.254/24"),
    ] {
        t.veth((ns, "eth0"), ("sw", &format!("p{ns}"))).unwrap();
        t.attach("sw", &format!("p{ns}"), "br0").unwrap();
        t.addr(ns, "eth0", addr).unwrap();
    }
    assert!(
        ping(&t, "a", "198.51.100.2"),
        "a cannot reach b over the bridge"
    );
    // A routed hop: a -> r -> far (203.0.113.0/24), only with forwarding on.
    t.veth(("r", "eth1"), ("far", "eth0")).unwrap();
    t.addr("r", "eth1", "203.0.113.1/24").unwrap();
    t.addr("far", "eth0", "203.0.113.2/24").unwrap();
    t.route("far", "default", "203.0.113.1").unwrap();
    t.route("a", "203.0.113.0/24", "198.51.100.254").unwrap();
    assert!(!ping(&t, "a", "203.0.113.2"), "forwarded with ip_forward=0");
    t.sysctl("r", "net.ipv4.ip_forward", "1").unwrap();
    assert!(
        ping(&t, "a", "203.0.113.2"),
        "not forwarded with ip_forward=1"
    );
    // IPv6 on the same bridge.
    t.addr("a", "eth0", "2001:db8::1/64").unwrap();
    t.addr("b", "eth0", "2001:db8::2/64").unwrap();
    assert!(t
        .exec("a", &["ping", "-6", "-c", "1", "-W", "2", "2001:db8::2"])
        .is_ok());
}

#[test]
fn drop_kills_processes_and_removes_namespaces_links_and_mounts() {
    let _serial = serial();
    let links_before = root_links();
    let mut t = Topology::new().unwrap();
    t.add_ns("x").unwrap();
    t.add_ns("y").unwrap();
    t.veth(("x", "v0"), ("y", "v1")).unwrap();
    t.add_ns("z").unwrap();
    t.bridge("z", "br0").unwrap();
    let tracked = t.spawn("x", &["sleep", "300"]).unwrap();
    // A daemon that escapes its parent is still found inside the namespace.
    t.exec(
        "y",
        &["sh", "-c", "setsid sleep 301 >/dev/null 2>&1 < /dev/null &"],
    )
    .unwrap();
    let escaped = t.pids("y");
    assert_eq!(
        escaped.len(),
        1,
        "the detached sleep should be the one process in y"
    );
    let names = t.namespaces().to_vec();
    assert_eq!(ours(&t).len(), 3);
    assert!(lab_mounts() >= 2);
    drop(t);
    for n in &names {
        assert!(!lab_namespaces().contains(n), "{n} left behind");
        assert!(
            !Path::new("/run/netns").join(n).exists(),
            "{n} mount point left behind"
        );
    }
    assert!(!alive(tracked), "spawned process {tracked} survived");
    assert!(
        !alive(escaped[0]),
        "detached process {} survived",
        escaped[0]
    );
    assert_eq!(
        root_links(),
        links_before,
        "links leaked into the root namespace"
    );
}

#[test]
fn a_panicking_test_still_cleans_up() {
    let _serial = serial();
    let mut names = Vec::new();
    let mut pid = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut t = Topology::new().unwrap();
        t.add_ns("p").unwrap();
        pid = t.spawn("p", &["sleep", "300"]).unwrap();
        names = t.namespaces().to_vec();
        panic!("test failure inside a topology");
    }));
    assert!(result.is_err());
    assert_eq!(names.len(), 1);
    assert!(
        !lab_namespaces().contains(&names[0]),
        "namespace survived the panic"
    );
    assert!(!alive(pid), "process survived the panic");
}

#[test]
fn namespaces_of_killed_owners_are_swept_by_the_next_topology() {
    let _serial = serial();
    // A pid above pid_max can never be alive: stands for an owner killed
    // with SIGKILL, whose Drop never ran.
    let stale = "nl-99999999-0-orphan";
    let status = Command::new("ip")
        .args(["netns", "add", stale])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(lab_namespaces().iter().any(|n| n == stale));
    let _t = Topology::new().unwrap();
    assert!(
        !lab_namespaces().iter().any(|n| n == stale),
        "stale namespace not swept"
    );
}

#[test]
fn concurrent_topologies_get_distinct_names() {
    let _serial = serial();
    let mut a = Topology::new().unwrap();
    let mut b = Topology::new().unwrap();
    let na = a.add_ns("same").unwrap();
    let nb = b.add_ns("same").unwrap();
    assert_ne!(na, nb);
    assert_eq!(ours(&a), vec![na]);
    assert_eq!(ours(&b), vec![nb]);
}
