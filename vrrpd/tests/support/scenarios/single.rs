//! One implementation on every node: start-up exit codes and adverts compared byte for byte.

#[allow(
    clippy::wildcard_imports,
    reason = "the scenarios share the parent's imports and helpers"
)]
use super::*;

/// How a daemon ends up after starting with a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Startup {
    Exited(Option<i32>),
    /// Still running 2 s after the start.
    Running,
}

fn startup(imp: Impl, text: Option<&'static str>) -> Startup {
    let mut lab = Lab::new(1);
    let path = lab.path("n1.conf");
    if let Some(t) = text {
        std::fs::write(&path, t).unwrap();
    }
    lab.start_path(1, imp, &path);
    match lab.wait_exit(1, secs(2.0)) {
        Some(st) => Startup::Exited(st.code()),
        None => Startup::Running,
    }
}

/// Start-up with a broken or odd configuration: the same exit code, or the
/// same "keeps running", as keepalived (with keepalived's values pinned).
pub fn startup_outcomes(subject: Impl) {
    let instance = |iface: &str, vrid: u32| {
        format!(
            "vrrp_instance X {{\n interface {iface}\n virtual_router_id {vrid}\n priority 100\n \
             virtual_ipaddress {{\n  198.51.100.1\n }}\n}}\n"
        )
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let cases: Vec<(&str, Option<&'static str>, Startup)> = vec![
        ("missing file", None, Startup::Exited(Some(6))),
        (
            "unknown interface",
            Some(leak(instance("eth9", 5))),
            Startup::Exited(Some(2)),
        ),
        (
            "VRID 300",
            Some(leak(instance("eth0", 300))),
            Startup::Exited(Some(2)),
        ),
        (
            "unknown keyword",
            Some(leak(
                instance("eth0", 5).replace(" priority 100", " priority 100\n bogus_keyword"),
            )),
            Startup::Running,
        ),
        (
            "no instances",
            Some("global_defs {\n router_id x\n}\n"),
            Startup::Running,
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(name, text, want)| {
            let theirs = std::thread::spawn(move || startup(Impl::Keepalived, text));
            let ours = std::thread::spawn(move || startup(subject, text));
            (name, want, theirs, ours)
        })
        .collect();
    let mut bad = Vec::new();
    for (name, want, theirs, ours) in runs {
        let (theirs, ours) = (theirs.join().unwrap(), ours.join().unwrap());
        if theirs != want || ours != theirs {
            bad.push(format!(
                "{name}: keepalived {theirs:?} (pinned {want:?}), {} {ours:?}",
                subject.name()
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "start-up outcomes differ:\n{}",
        bad.join("\n")
    );
}

/// The byte-equality cases: instance settings for a lone master.
#[derive(Debug, Clone, Copy)]
pub enum Bytes {
    V2None,
    V2Pass,
    V3Ipv4,
    V3Ipv6,
    Unicast,
    /// The priority-0 advert sent on SIGTERM (v3 IPv4).
    V3Shutdown,
    /// `use_vmac`: also the Ethernet source 00:00:5e:00:01:33.
    V3Vmac,
    /// Unicast over IPv6 (2001:db8::1 to 2001:db8::2).
    UnicastIpv6,
}

fn bytes_conf(case: Bytes) -> Conf {
    let v4 = Instance {
        master: true,
        notify: false,
        vips: vec!["198.51.100.1/32", "198.51.100.2/32"],
        ..Instance::v3(150)
    };
    let i = match case {
        Bytes::V2None => Instance {
            version: 2,
            advert: "1",
            ..v4
        },
        Bytes::V2Pass => Instance {
            version: 2,
            advert: "1",
            pass: Some("secret123"),
            ..v4
        },
        Bytes::V3Ipv4 | Bytes::V3Shutdown => v4,
        Bytes::V3Ipv6 => Instance {
            vips: vec!["2001:db8:100::1/64", "2001:db8:100::2/64"],
            ..v4
        },
        Bytes::Unicast => Instance {
            unicast_peers: vec![2],
            ..v4
        },
        Bytes::V3Vmac => Instance {
            use_vmac: true,
            ..v4
        },
        Bytes::UnicastIpv6 => Instance {
            unicast_peers: vec![2],
            vips: vec!["2001:db8:100::1/64", "2001:db8:100::2/64"],
            ..v4
        },
    };
    Conf::one(i)
}

/// Runs `imp` alone on n1 (n2 only answers ARP) with `case` and returns the
/// first advert it sends with priority 150.
fn first_advert(imp: Impl, case: Bytes) -> (Packet, Lab) {
    let mut lab = Lab::new(2);
    let cap = lab.capture("sw", "p1", "wire.pcap");
    lab.start(1, imp, &bytes_conf(case));
    let mut got = None;
    within(secs(5.0), || {
        got = pcap::read(&cap).into_iter().find(|p| p.priority() == 150);
        got.is_some()
    });
    let Some(p) = got else {
        panic!(
            "{} sent no advert within 5 s ({case:?})\n{}",
            imp.name(),
            lab.logs()
        )
    };
    if !matches!(case, Bytes::V3Shutdown) {
        return (p, lab);
    }
    lab.signal(1, "TERM");
    assert!(
        lab.wait_exit(1, secs(5.0)).is_some(),
        "{} did not exit on SIGTERM\n{}",
        imp.name(),
        lab.logs()
    );
    let mut zero = None;
    within(secs(1.0), || {
        zero = pcap::read(&cap).into_iter().find(|p| p.priority() == 0);
        zero.is_some()
    });
    let Some(mut z) = zero else {
        panic!(
            "{} sent no priority-0 advert on SIGTERM\n{}",
            imp.name(),
            lab.logs()
        )
    };
    // The IPv4 id numbers the instance's packets; how many adverts went
    // out before the signal depends on timing, so the id is compared less
    // that count (1 when numbered as keepalived numbers them).
    let before = pcap::read(&cap)
        .into_iter()
        .filter(|p| p.priority() == 150)
        .count();
    z.id = z.id.wrapping_sub(u16::try_from(before).unwrap_or(u16::MAX));
    (z, lab)
}

/// Our adverts are byte-equal to keepalived's for the same configuration
/// and addresses (each daemon run alone, both at once in separate labs).
/// `subject` keepalived is the calibration (the capture is deterministic).
pub fn bytes_equal(subject: Impl, case: Bytes) {
    let reference = std::thread::spawn(move || first_advert(Impl::Keepalived, case));
    let (ours, lab) = first_advert(subject, case);
    let (theirs, _ref_lab) = reference.join().expect("keepalived run");
    check(
        &lab,
        ours.payload == theirs.payload,
        &format!(
            "{case:?}: VRRP payload differs\n keepalived: {}\n {:<10}: {}",
            hex(&theirs.payload),
            subject.name(),
            hex(&ours.payload)
        ),
    );
    // The IP header fields a sender chooses (IPv4 id: keepalived numbers
    // each instance's packets 1, 2, …; fragment field: DF or not).
    let header = |p: &Packet| (p.eth_src, p.src, p.dst, p.ttl, p.tos, p.id, p.frag);
    check(
        &lab,
        header(&ours) == header(&theirs),
        &format!(
            "{case:?}: headers differ (MAC src, src, dst, ttl, tos, id, frag): keepalived {:?}, {} {:?}",
            header(&theirs),
            subject.name(),
            header(&ours)
        ),
    );
}
