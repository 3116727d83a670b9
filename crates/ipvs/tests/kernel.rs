//! Every IPVS command against the real kernel (in the lab VM). Tests run
//! one after another in the VM's initial namespace; each starts by flushing.

use std::net::IpAddr;
use std::sync::Mutex;

use ipvs::{
    Client, Daemon, DaemonRole, Destination, Family, ForwardMethod, KernelError, Name, Netmask, Op,
    Protocol, Service, ServiceFlags, ServiceKey, Timeouts, TunnelChecksum, TunnelType,
};
use ipvs::{ProcDestinations, Reconciler, Table};
use libtest_mimic::Failed;

static SERIAL: Mutex<()> = Mutex::new(());

fn main() {
    netlab::kernel::main(&[
        (
            "info_reports_version_and_table_size",
            info_reports_version_and_table_size,
        ),
        (
            "services_add_get_list_edit_delete",
            services_add_get_list_edit_delete,
        ),
        (
            "ipv6_fwmark_udp_and_sctp_services",
            ipv6_fwmark_udp_and_sctp_services,
        ),
        (
            "destinations_add_list_edit_delete",
            destinations_add_list_edit_delete,
        ),
        (
            "tunnel_destinations_and_mixed_families",
            tunnel_destinations_and_mixed_families,
        ),
        ("kernel_errors_are_classified", kernel_errors_are_classified),
        ("timeouts_get_and_set", timeouts_get_and_set),
        ("sync_daemons_start_list_stop", sync_daemons_start_list_stop),
        ("zero_and_flush", zero_and_flush),
        (
            "batch_reports_each_failure_and_applies_the_rest",
            batch_reports_each_failure_and_applies_the_rest,
        ),
        (
            "reconciler_sends_only_differences_and_recovers_from_drift",
            reconciler_sends_only_differences_and_recovers_from_drift,
        ),
        (
            "proc_listing_agrees_with_the_destination_dumps",
            proc_listing_agrees_with_the_destination_dumps,
        ),
    ]);
}

/// A fresh client on an empty table; tests hold the lock while they run.
fn fresh() -> Result<(std::sync::MutexGuard<'static, ()>, Client), Failed> {
    let guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Client::new()?;
    c.flush()?;
    Ok((guard, c))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

fn check(cond: bool, what: impl Into<String>) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

fn info_reports_version_and_table_size() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let info = c.info()?;
    check(
        info.version_parts() == (1, 2, 1),
        format!("version {:#x}", info.version),
    )?;
    check(
        info.conn_tab_size == 4096,
        format!("size {}", info.conn_tab_size),
    )
}

fn services_add_get_list_edit_delete() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let key = tcp("192.0.2.1", 80);
    let mut s = Service::new(key);
    s.scheduler = Name::new("rr")?;
    c.add_service(&s)?;
    let got = c.service(&key)?;
    check(got.same_config(&s), format!("get: {got:?}"))?;
    check(
        got.flags.contains(ServiceFlags::HASHED),
        "kernel sets HASHED",
    )?;
    // Persistence with a netmask, then edit.
    s.scheduler = Name::new("wlc")?;
    s.flags = ServiceFlags::PERSISTENT;
    s.timeout = 300;
    s.netmask = Netmask::V4("255.255.255.0".parse()?);
    c.edit_service(&s)?;
    let all = c.services()?;
    check(
        all.len() == 1 && all[0].same_config(&s),
        format!("list after edit: {all:?}"),
    )?;
    c.del_service(&key)?;
    check(
        c.services()?.is_empty(),
        "service still listed after delete",
    )
}

fn ipv6_fwmark_udp_and_sctp_services() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let keys = [
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: ip("2001:db8::1"),
            port: 443,
        },
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: ip("192.0.2.2"),
            port: 53,
        },
        ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: ip("192.0.2.3"),
            port: 9,
        },
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 7,
        },
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 0xffff_fff0,
        },
    ];
    for key in keys {
        let mut s = Service::new(key);
        if key.family() == Family::Inet6 {
            s.flags = ServiceFlags::PERSISTENT;
            s.timeout = 60;
            s.netmask = Netmask::V6(64);
        }
        c.add_service(&s)?;
        let got = c.service(&key)?;
        check(got.same_config(&s), format!("{key:?}: {got:?}"))?;
    }
    let mut listed: Vec<ServiceKey> = c.services()?.into_iter().map(|s| s.key).collect();
    listed.sort();
    let mut want = keys.to_vec();
    want.sort();
    check(listed == want, format!("listed {listed:?}"))
}

fn destinations_add_list_edit_delete() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let key = tcp("192.0.2.1", 80);
    c.add_service(&Service::new(key))?;
    let mut a = Destination::new(ip("198.51.100.1"), 8080);
    a.weight = 3;
    a.upper_threshold = 100;
    a.lower_threshold = 10;
    let mut b = Destination::new(ip("198.51.100.2"), 80);
    b.forward = ForwardMethod::Route;
    b.weight = i32::MAX as u32;
    c.add_dest(&key, &a)?;
    c.add_dest(&key, &b)?;
    let mut got = c.destinations(&key)?;
    got.sort_by_key(|d| d.addr);
    check(
        got.len() == 2 && got[0].same_config(&a) && got[1].same_config(&b),
        format!("{got:?}"),
    )?;
    a.weight = 0;
    a.forward = ForwardMethod::Masq;
    c.edit_dest(&key, &a)?;
    let got = c.destinations(&key)?;
    check(
        got.iter().any(|d| d.same_config(&a)),
        format!("after edit {got:?}"),
    )?;
    c.del_dest(&key, &b.addr, b.port)?;
    let got = c.destinations(&key)?;
    check(
        got.len() == 1 && got[0].addr == a.addr,
        format!("after delete {got:?}"),
    )
}

fn tunnel_destinations_and_mixed_families() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let key = tcp("192.0.2.1", 80);
    c.add_service(&Service::new(key))?;
    let mut gue = Destination::new(ip("198.51.100.7"), 80);
    gue.forward = ForwardMethod::Tunnel;
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    gue.tunnel_checksum = TunnelChecksum::RemCsum;
    c.add_dest(&key, &gue)?;
    // An IPv6 real server behind an IPv4 service: only as a tunnel.
    let mut v6 = Destination::new(ip("2001:db8::7"), 80);
    v6.forward = ForwardMethod::Tunnel;
    c.add_dest(&key, &v6)?;
    let got = c.destinations(&key)?;
    check(
        got.iter().any(|d| d.same_config(&gue)),
        format!("gue: {got:?}"),
    )?;
    check(
        got.iter().any(|d| d.same_config(&v6)),
        format!("v6 tunnel: {got:?}"),
    )?;
    let mut nat6 = Destination::new(ip("2001:db8::8"), 80);
    nat6.forward = ForwardMethod::Masq;
    let e = c
        .add_dest(&key, &nat6)
        .expect_err("mixed-family NAT must fail");
    check(
        e.kernel() == Some(KernelError::Invalid),
        format!("mixed NAT: {e:?}"),
    )
}

fn kernel_errors_are_classified() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let key = tcp("192.0.2.1", 80);
    let missing = tcp("192.0.2.99", 80);
    c.add_service(&Service::new(key))?;
    let e = c.add_service(&Service::new(key)).expect_err("duplicate");
    check(
        e.kernel() == Some(KernelError::ServiceExists),
        format!("{e:?}"),
    )?;
    let e = c.del_service(&missing).expect_err("missing");
    check(
        e.kernel() == Some(KernelError::NoSuchService),
        format!("{e:?}"),
    )?;
    let e = c.service(&missing).expect_err("missing get");
    check(
        e.kernel() == Some(KernelError::NoSuchService),
        format!("{e:?}"),
    )?;
    let mut bad = Service::new(tcp("192.0.2.5", 80));
    bad.scheduler = Name::new("nosuchsched")?;
    let e = c.add_service(&bad).expect_err("unknown scheduler");
    check(e.kernel() == Some(KernelError::NotFound), format!("{e:?}"))?;
    let d = Destination::new(ip("198.51.100.1"), 80);
    c.add_dest(&key, &d)?;
    let e = c.add_dest(&key, &d).expect_err("duplicate dest");
    check(
        e.kernel() == Some(KernelError::DestinationExists),
        format!("{e:?}"),
    )?;
    let e = c
        .del_dest(&key, &ip("198.51.100.9"), 80)
        .expect_err("missing dest");
    check(
        e.kernel() == Some(KernelError::NoSuchDestination),
        format!("{e:?}"),
    )?;
    let e = c
        .add_dest(&missing, &d)
        .expect_err("dest of missing service");
    check(
        e.kernel() == Some(KernelError::NoSuchService),
        format!("{e:?}"),
    )
}

fn timeouts_get_and_set() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let before = c.timeouts()?;
    check(
        before
            == Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
        format!("defaults {before:?}"),
    )?;
    c.set_timeouts(&Timeouts {
        tcp: 1000,
        tcp_fin: 0,
        udp: 30,
    })?;
    let after = c.timeouts()?;
    c.set_timeouts(&before)?;
    check(
        after
            == Timeouts {
                tcp: 1000,
                tcp_fin: 120,
                udp: 30,
            },
        format!("after set {after:?}"),
    )
}

fn sync_daemons_start_list_stop() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    check(
        c.daemons()?.is_empty(),
        "a daemon runs before any was started",
    )?;
    let mut d = Daemon::new(DaemonRole::Master, "lo");
    d.sync_id = 9;
    c.start_daemon(&d)?;
    let e = c.start_daemon(&d).expect_err("second master");
    check(
        e.kernel() == Some(KernelError::DaemonRunning),
        format!("{e:?}"),
    )?;
    let running = c.daemons()?;
    check(
        running.len() == 1
            && running[0].role == DaemonRole::Master
            && running[0].mcast_ifn == "lo"
            && running[0].sync_id == 9,
        format!("{running:?}"),
    )?;
    // Stopping at once, before the sync thread ran, is the case where the
    // kernel sends no ACK: the client must neither hang nor fail.
    c.stop_daemon(DaemonRole::Master)?;
    let e = c
        .stop_daemon(DaemonRole::Master)
        .expect_err("nothing to stop");
    check(e.kernel() == Some(KernelError::NoDaemon), format!("{e:?}"))?;
    check(c.daemons()?.is_empty(), "daemon still listed")
}

fn zero_and_flush() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let key = tcp("192.0.2.1", 80);
    c.add_service(&Service::new(key))?;
    c.zero(Some(&key))?;
    c.zero(None)?;
    let e = c
        .zero(Some(&tcp("192.0.2.2", 1)))
        .expect_err("zero of a missing service");
    check(
        e.kernel() == Some(KernelError::NoSuchService),
        format!("{e:?}"),
    )?;
    c.flush()?;
    check(c.services()?.is_empty(), "flush left services")
}

fn batch_reports_each_failure_and_applies_the_rest() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let mut ops = Vec::new();
    for i in 0..300u16 {
        let key = tcp("192.0.2.1", 1000 + i);
        ops.push(Op::AddService(Service::new(key)));
        if i % 100 == 50 {
            ops.push(Op::AddService(Service::new(key))); // duplicate: fails
        }
        ops.push(Op::AddDest(key, Destination::new(ip("198.51.100.1"), 80)));
    }
    let results = c.apply_ops(&ops);
    check(results.len() == ops.len(), "one result per op")?;
    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    check(failed.len() == 3, format!("failures at {failed:?}"))?;
    for &i in &failed {
        check(
            matches!(ops[i], Op::AddService(_)),
            format!("op {i} should be a duplicate"),
        )?;
        let k = results[i].as_ref().expect_err("failed").kernel();
        check(
            k == Some(KernelError::ServiceExists),
            format!("op {i}: {k:?}"),
        )?;
    }
    let services = c.services()?;
    check(
        services.len() == 300,
        format!("{} services", services.len()),
    )?;
    for s in services.iter().take(5) {
        check(c.destinations(&s.key)?.len() == 1, "destination missing")?;
    }
    Ok(())
}

fn desired(services: u16, per: u8, weight_of: impl Fn(u16, u8) -> u32) -> Table {
    let mut t = Table::default();
    for s in 0..services {
        let key = tcp("192.0.2.10", 10_000 + s);
        let dests = (1..=per).map(|i| {
            let mut d = Destination::new(ip(&format!("198.51.100.{i}")), 80);
            d.weight = weight_of(s, i);
            d
        });
        t.insert(Service::new(key), dests);
    }
    t
}

fn reconciler_sends_only_differences_and_recovers_from_drift() -> Result<(), Failed> {
    let (_g, c) = fresh()?;
    let mut r = Reconciler::new(c)?;
    let first = desired(200, 5, |_, _| 1);
    let applied = r.apply(&first);
    check(applied.failed.is_empty(), format!("{:?}", applied.failed))?;
    check(
        applied.ops.len() == 200 + 1000,
        format!("{} ops to build", applied.ops.len()),
    )?;
    check(
        Table::read(r.client())?.same_config(&first),
        "live table differs after build",
    )?;
    check(
        r.apply(&first).ops.is_empty(),
        "re-applying the same table sent ops",
    )?;
    // 1% of the destinations change weight: 10 edits, nothing else.
    let second = desired(200, 5, |s, i| if s % 20 == 0 && i == 1 { 7 } else { 1 });
    let applied = r.apply(&second);
    check(
        applied.ops.len() == 10 && applied.failed.is_empty(),
        format!("{:?}", applied.ops),
    )?;
    check(
        applied.ops.iter().all(|o| matches!(o, Op::EditDest(..))),
        "only edits expected",
    )?;
    check(
        Table::read(r.client())?.same_config(&second),
        "live table differs after the change",
    )?;
    // A partial desired state: the services named, nothing else looked at.
    let mut changed = Table::default();
    let back = &first.services[&tcp("192.0.2.10", 10_000)];
    changed.insert(back.service.clone(), back.dests.values().cloned());
    let removed = [tcp("192.0.2.10", 10_199)];
    let applied = r.apply_services(&changed, &removed);
    check(
        applied.ops.len() == 2 && applied.failed.is_empty(),
        format!("apply_services: {:?}", applied.ops),
    )?;
    let mut expect = second.clone();
    expect.services.insert(back.service.key, back.clone());
    expect.services.remove(&removed[0]);
    check(
        Table::read(r.client())?.same_config(&expect),
        "live table differs after apply_services",
    )?;
    check(
        r.apply(&second).ops.len() == 2 + 5,
        "putting the table back takes an edit, a service and its 5 dests",
    )?;
    // Drift: a service vanishes behind the reconciler's back.
    let gone = tcp("192.0.2.10", 10_000);
    r.client().del_service(&gone)?;
    let third = desired(200, 5, |s, i| if s == 0 && i == 2 { 9 } else { 1 });
    let applied = r.apply(&third);
    check(
        !applied.failed.is_empty(),
        "an edit of a vanished service must fail",
    )?;
    r.refresh()?;
    let applied = r.apply(&third);
    check(
        applied.failed.is_empty(),
        format!("after refresh: {:?}", applied.failed),
    )?;
    check(
        Table::read(r.client())?.same_config(&third),
        "live table differs after recovery",
    )
}

/// What `/proc/net/ip_vs` can tell of a destination.
fn proc_view(d: &Destination) -> (IpAddr, u16, ForwardMethod, u32, u32, u32) {
    (
        d.addr,
        d.port,
        d.forward,
        d.weight,
        d.active_conns,
        d.inactive_conns,
    )
}

fn proc_listing_agrees_with_the_destination_dumps() -> Result<(), Failed> {
    let (_g, mut c) = fresh()?;
    let dest = |a: &str, port: u16, fwd: ForwardMethod, weight: u32| {
        let mut d = Destination::new(ip(a), port);
        d.forward = fwd;
        d.weight = weight;
        d
    };
    let tunnels = tcp("192.0.2.1", 80);
    c.add_service(&Service::new(tunnels))?;
    let mut gue = dest("198.51.100.3", 80, ForwardMethod::Tunnel, 2);
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    for d in [
        dest("198.51.100.1", 8080, ForwardMethod::Masq, 0),
        dest("198.51.100.2", 80, ForwardMethod::Route, 2_147_483_647),
        gue,
        dest("2001:db8::9", 80, ForwardMethod::Tunnel, 1),
    ] {
        c.add_dest(&tunnels, &d)?;
    }
    let udp6 = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("2001:db8::1"),
        port: 53,
    };
    let mut s = Service::new(udp6);
    s.flags = ServiceFlags::ONEPACKET;
    c.add_service(&s)?;
    c.add_dest(&udp6, &dest("2001:db8::2", 5353, ForwardMethod::Route, 3))?;
    // More destinations than fit in one page of the listing.
    let big = ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: ip("192.0.2.2"),
        port: 3868,
    };
    c.add_service(&Service::new(big))?;
    for i in 1..=150u16 {
        let a = format!("198.51.100.{}", i % 250 + 1);
        c.add_dest(&big, &dest(&a, 1000 + i, ForwardMethod::Masq, u32::from(i)))?;
    }
    // The same mark in both families: /proc cannot tell them apart.
    let fw = |family, mark| ServiceKey::Fwmark { family, mark };
    for key in [
        fw(Family::Inet, 5),
        fw(Family::Inet6, 5),
        fw(Family::Inet, 6),
    ] {
        c.add_service(&Service::new(key))?;
    }
    c.add_dest(
        &fw(Family::Inet, 5),
        &dest("198.51.100.5", 0, ForwardMethod::Masq, 1),
    )?;
    c.add_dest(
        &fw(Family::Inet6, 5),
        &dest("2001:db8::5", 0, ForwardMethod::Masq, 1),
    )?;
    c.add_dest(
        &fw(Family::Inet, 6),
        &dest("198.51.100.6", 0, ForwardMethod::Route, 4),
    )?;

    let proc = ProcDestinations::read()?;
    check(proc.len() == 5, format!("{} keys in /proc", proc.len()))?;
    for s in c.services()? {
        let dumped = c.destinations(&s.key)?;
        let listed = proc.destinations(&s.key, false);
        if s.key == fw(Family::Inet, 5) || s.key == fw(Family::Inet6, 5) {
            check(
                listed.is_none(),
                "an fwmark of both families must be ambiguous",
            )?;
            continue;
        }
        let listed = listed.ok_or_else(|| format!("{:?} missing from /proc", s.key))?;
        let (a, b): (Vec<_>, Vec<_>) = (
            dumped.iter().map(proc_view).collect(),
            listed.iter().map(proc_view).collect(),
        );
        check(a == b, format!("{:?}: dump {a:?} /proc {b:?}", s.key))?;
        let tunnel = dumped.iter().any(|d| d.forward == ForwardMethod::Tunnel);
        check(
            proc.destinations(&s.key, true).is_some() != tunnel,
            format!("{:?}: tunnel parameters need the dump", s.key),
        )?;
    }
    // One family of a mark goes between the dump and the read: the text
    // lists the mark once, but which family it is cannot be told.
    let dumped = c.services()?;
    c.del_service(&fw(Family::Inet6, 5))?;
    let later = ProcDestinations::read_for(&dumped)?;
    check(
        later.destinations(&fw(Family::Inet, 5), false).is_none(),
        "an fwmark the dump has in both families must stay ambiguous",
    )?;
    check(
        ProcDestinations::read()?
            .destinations(&fw(Family::Inet, 5), false)
            .is_some(),
        "an fwmark listed once is answered",
    )?;
    // A service deleted after the service dump is absent from a later read.
    c.del_service(&big)?;
    check(
        ProcDestinations::read()?
            .destinations(&big, false)
            .is_none(),
        "deleted service still listed",
    )
}
