//! `-L … --json`: the listing as one JSON document (schema in
//! docs/ipvsadm.md). Addresses are always numeric; counters exact.

use ipvs::{
    Daemon, DaemonRole, Destination, ForwardMethod, Info, Netmask, Service, ServiceFlags,
    ServiceKey, Stats, Timeouts, TunnelChecksum, TunnelType,
};
use serde_json::{json, Value};

/// Schema version of every document; bumped on incompatible changes.
pub const SCHEMA: u32 = 1;

fn stats(s: &Stats) -> Value {
    json!({
        "conns": s.conns, "inpkts": s.inpkts, "outpkts": s.outpkts,
        "inbytes": s.inbytes, "outbytes": s.outbytes,
        "cps": s.cps, "inpps": s.inpps, "outpps": s.outpps,
        "inbps": s.inbps, "outbps": s.outbps,
    })
}

fn sched_flags(s: &Service) -> Vec<&'static str> {
    let names: &[(ServiceFlags, &str)] = match s.scheduler.as_str() {
        "sh" => &[
            (ServiceFlags::SCHED1, "sh-fallback"),
            (ServiceFlags::SCHED2, "sh-port"),
        ],
        "mh" => &[
            (ServiceFlags::SCHED1, "mh-fallback"),
            (ServiceFlags::SCHED2, "mh-port"),
        ],
        _ => &[
            (ServiceFlags::SCHED1, "flag-1"),
            (ServiceFlags::SCHED2, "flag-2"),
            (ServiceFlags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(b, _)| s.flags.contains(*b))
        .map(|(_, n)| *n)
        .collect()
}

fn destination(d: &Destination) -> Value {
    let forward = match d.forward {
        ForwardMethod::Masq => "masq",
        ForwardMethod::Local => "local",
        ForwardMethod::Tunnel => "tunnel",
        ForwardMethod::Route => "route",
        ForwardMethod::Bypass => "bypass",
    };
    let tunnel = (d.forward == ForwardMethod::Tunnel).then(|| {
        let kind = match d.tunnel_type {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        };
        let checksum = match d.tunnel_checksum {
            TunnelChecksum::None => "none",
            TunnelChecksum::Csum => "csum",
            TunnelChecksum::RemCsum => "remcsum",
        };
        let port = (d.tunnel_type == TunnelType::Gue).then_some(d.tunnel_port);
        json!({"type": kind, "port": port, "checksum": checksum})
    });
    json!({
        "address": d.addr.to_string(),
        "port": d.port,
        "forward": forward,
        "weight": d.weight,
        "upper_threshold": d.upper_threshold,
        "lower_threshold": d.lower_threshold,
        "active_conns": d.active_conns,
        "inactive_conns": d.inactive_conns,
        "persistent_conns": d.persistent_conns,
        "tunnel": tunnel,
        "stats": stats(&d.stats),
    })
}

fn service(s: &Service, dests: &[Destination], format: u32) -> Value {
    let (protocol, address, port, fwmark) = match s.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let p = match protocol {
                ipvs::Protocol::Tcp => "tcp",
                ipvs::Protocol::Udp => "udp",
                ipvs::Protocol::Sctp => "sctp",
            };
            (Some(p), Some(addr.to_string()), Some(port), None)
        }
        ServiceKey::Fwmark { mark, .. } => (None, None, None, Some(mark)),
    };
    let family = match s.key.family() {
        ipvs::Family::Inet => "inet",
        ipvs::Family::Inet6 => "inet6",
    };
    let persistence = s.flags.contains(ServiceFlags::PERSISTENT).then(|| {
        let netmask = match s.netmask {
            Netmask::V4(m) => json!(m.to_string()),
            Netmask::V6(p) => json!(p),
        };
        json!({"timeout": s.timeout, "netmask": netmask})
    });
    let mut dests = dests.to_vec();
    if format & crate::args::fmt::NOSORT == 0 {
        crate::list::sort_dests(&mut dests);
    }
    json!({
        "protocol": protocol,
        "family": family,
        "address": address,
        "port": port,
        "fwmark": fwmark,
        "scheduler": s.scheduler.as_str(),
        "sched_flags": sched_flags(s),
        "persistence": persistence,
        "pe": s.pe_name.as_ref().map(ipvs::Name::as_str),
        "one_packet": s.flags.contains(ServiceFlags::ONEPACKET),
        "stats": stats(&s.stats),
        "destinations": dests.iter().map(destination).collect::<Vec<_>>(),
    })
}

fn document(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Services (already in listing order) with their destinations.
pub fn table(info: Info, table: &mut [(Service, Vec<Destination>)], format: u32) -> String {
    let (a, b, c) = info.version_parts();
    document(&json!({
        "schema": SCHEMA,
        "version": format!("{a}.{b}.{c}"),
        "conn_tab_size": info.conn_tab_size,
        "services": table.iter().map(|(s, d)| service(s, d, format)).collect::<Vec<_>>(),
    }))
}

pub fn timeouts(t: &Timeouts) -> String {
    document(&json!({
        "schema": SCHEMA,
        "timeouts": {"tcp": t.tcp, "tcp_fin": t.tcp_fin, "udp": t.udp},
    }))
}

pub fn daemons(ds: &[Daemon]) -> String {
    let list: Vec<Value> = ds
        .iter()
        .map(|d| {
            json!({
                "role": match d.role { DaemonRole::Master => "master", DaemonRole::Backup => "backup" },
                "mcast_interface": d.mcast_ifn,
                "syncid": d.sync_id,
                "sync_maxlen": d.sync_maxlen,
                "mcast_group": d.mcast_group.map(|g| g.to_string()),
                "mcast_port": d.mcast_port,
                "mcast_ttl": d.mcast_ttl,
            })
        })
        .collect();
    document(&json!({"schema": SCHEMA, "daemons": list}))
}

#[cfg(test)]
mod tests {
    use super::table;
    use ipvs::{Destination, Info, Service, ServiceKey};
    use serde_json::Value;

    #[test]
    fn table_document_schema() {
        let info = Info {
            version: 0x01_0201,
            conn_tab_size: 4096,
        };
        let key = ServiceKey::Addr {
            protocol: ipvs::Protocol::Udp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 53,
        };
        let d2 = Destination::new("2001:db8::3".parse().unwrap(), 53);
        let d1 = Destination::new("2001:db8::2".parse().unwrap(), 53);
        let mut t = vec![(Service::new(key), vec![d2, d1])];
        let v: Value = serde_json::from_str(&table(info, &mut t, 0)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["version"], "1.2.1");
        let s = &v["services"][0];
        assert_eq!(s["protocol"], "udp");
        assert_eq!(s["family"], "inet6");
        assert_eq!(s["address"], "2001:db8::1");
        assert!(s["persistence"].is_null() && s["fwmark"].is_null());
        assert_eq!(s["destinations"][0]["address"], "2001:db8::2", "sorted");
        assert_eq!(s["destinations"][0]["forward"], "masq");
        let v: Value =
            serde_json::from_str(&table(info, &mut t, crate::args::fmt::NOSORT)).unwrap();
        assert_eq!(
            v["services"][0]["destinations"][0]["address"],
            "2001:db8::3"
        );
    }
}
