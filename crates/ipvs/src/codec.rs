//! The model ↔ IPVS attributes. Encoding follows what the kernel's
//! `ip_vs_genl_parse_*` read; decoding what `ip_vs_genl_fill_*` write.

use std::net::IpAddr;

use netlink_packet_core::{NlaBuffer, NlasIterator};

use crate::message::{attr, Attr};
use crate::types::{
    addr_bytes, addr_from, Daemon, DaemonRole, Destination, Family, ForwardMethod, Info, Name,
    Netmask, Protocol, Service, ServiceFlags, ServiceKey, Stats, Timeouts, TunnelChecksum,
    TunnelType,
};
use crate::Error;

/// The attributes that identify a service (inside `CMD_ATTR_SERVICE`).
fn key_attrs(key: &ServiceKey) -> Vec<Attr> {
    let mut v = vec![Attr::u16(attr::SVC_AF, key.family().raw())];
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            v.push(Attr::u16(attr::SVC_PROTOCOL, protocol.raw()));
            v.push(Attr::Bytes(attr::SVC_ADDR, addr_bytes(addr).to_vec()));
            v.push(Attr::be16(attr::SVC_PORT, *port));
        }
        ServiceKey::Fwmark { mark, .. } => v.push(Attr::u32(attr::SVC_FWMARK, *mark)),
    }
    v
}

/// `CMD_ATTR_SERVICE` naming a service only (for DEL, GET, dest commands).
pub fn service_key(key: &ServiceKey) -> Attr {
    Attr::nested(attr::CMD_SERVICE, key_attrs(key))
}

/// `CMD_ATTR_SERVICE` with every configurable field (for NEW and SET).
pub fn service(svc: &Service) -> Attr {
    let mut v = key_attrs(&svc.key);
    v.push(Attr::string(attr::SVC_SCHED_NAME, svc.scheduler.as_str()));
    if let Some(pe) = &svc.pe_name {
        v.push(Attr::string(attr::SVC_PE_NAME, pe.as_str()));
    }
    let mut flags = svc.flags.bits().to_ne_bytes().to_vec();
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    v.push(Attr::Bytes(attr::SVC_FLAGS, flags));
    v.push(Attr::u32(attr::SVC_TIMEOUT, svc.timeout));
    v.push(Attr::Bytes(
        attr::SVC_NETMASK,
        svc.netmask.to_bytes().to_vec(),
    ));
    Attr::nested(attr::CMD_SERVICE, v)
}

/// `CMD_ATTR_DEST` naming a destination only (for DEL).
pub fn dest_key(addr: &IpAddr, port: u16) -> Attr {
    Attr::nested(
        attr::CMD_DEST,
        vec![
            Attr::Bytes(attr::DEST_ADDR, addr_bytes(addr).to_vec()),
            Attr::be16(attr::DEST_PORT, port),
            Attr::u16(attr::DEST_ADDR_FAMILY, Family::of(addr).raw()),
        ],
    )
}

/// `CMD_ATTR_DEST` with every configurable field (for NEW and SET), in
/// ipvsadm 1.31's layout (tunnel attributes always present).
pub fn dest(d: &Destination) -> Attr {
    Attr::nested(
        attr::CMD_DEST,
        vec![
            Attr::u16(attr::DEST_ADDR_FAMILY, Family::of(&d.addr).raw()),
            Attr::Bytes(attr::DEST_ADDR, addr_bytes(&d.addr).to_vec()),
            Attr::be16(attr::DEST_PORT, d.port),
            Attr::u32(attr::DEST_FWD_METHOD, d.forward.raw()),
            Attr::u32(attr::DEST_WEIGHT, d.weight),
            Attr::u8(attr::DEST_TUN_TYPE, d.tunnel_type.raw()),
            Attr::be16(attr::DEST_TUN_PORT, d.tunnel_port),
            Attr::u16(attr::DEST_TUN_FLAGS, d.tunnel_checksum.raw()),
            Attr::u32(attr::DEST_U_THRESH, d.upper_threshold),
            Attr::u32(attr::DEST_L_THRESH, d.lower_threshold),
        ],
    )
}

/// `CMD_ATTR_DAEMON` for NEW_DAEMON.
pub fn daemon(d: &Daemon) -> Attr {
    let mut v = vec![
        Attr::u32(attr::DAEMON_STATE, d.role.raw()),
        Attr::string(attr::DAEMON_MCAST_IFN, &d.mcast_ifn),
        Attr::u32(attr::DAEMON_SYNC_ID, d.sync_id),
    ];
    if d.sync_maxlen != 0 {
        v.push(Attr::u16(attr::DAEMON_SYNC_MAXLEN, d.sync_maxlen));
    }
    match d.mcast_group {
        Some(IpAddr::V4(g)) => v.push(Attr::Bytes(attr::DAEMON_MCAST_GROUP, g.octets().to_vec())),
        Some(IpAddr::V6(g)) => v.push(Attr::Bytes(attr::DAEMON_MCAST_GROUP6, g.octets().to_vec())),
        None => {}
    }
    if d.mcast_port != 0 {
        v.push(Attr::u16(attr::DAEMON_MCAST_PORT, d.mcast_port));
    }
    if d.mcast_ttl != 0 {
        v.push(Attr::u8(attr::DAEMON_MCAST_TTL, d.mcast_ttl));
    }
    Attr::nested(attr::CMD_DAEMON, v)
}

/// `CMD_ATTR_DAEMON` naming a daemon to stop.
pub fn daemon_role(role: DaemonRole) -> Attr {
    Attr::nested(
        attr::CMD_DAEMON,
        vec![Attr::u32(attr::DAEMON_STATE, role.raw())],
    )
}

/// The three timeout attributes for SET_CONFIG; the kernel leaves a
/// timeout of 0 unchanged.
pub fn timeouts(t: &Timeouts) -> Vec<Attr> {
    vec![
        Attr::u32(attr::CMD_TIMEOUT_TCP, t.tcp),
        Attr::u32(attr::CMD_TIMEOUT_TCP_FIN, t.tcp_fin),
        Attr::u32(attr::CMD_TIMEOUT_UDP, t.udp),
    ]
}

// ---- decoding ----

/// The attributes in `buf`: kind and value (borrowed from `buf`).
fn each(buf: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), Error>> {
    NlasIterator::new(buf).map(|r| {
        let nla: NlaBuffer<&[u8]> = r.map_err(|e| Error::Decode(e.to_string()))?;
        let (kind, len) = (nla.kind(), nla.value_length());
        let value = nla.into_inner().get(4..4 + len).unwrap_or_default();
        Ok((kind, value))
    })
}

fn fixed<const N: usize>(v: &[u8], what: &str) -> Result<[u8; N], Error> {
    v.get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Decode(format!("{what}: {} bytes, want {N}", v.len())))
}

fn u16_ne(v: &[u8], what: &str) -> Result<u16, Error> {
    fixed::<2>(v, what).map(u16::from_ne_bytes)
}
fn u16_be(v: &[u8], what: &str) -> Result<u16, Error> {
    fixed::<2>(v, what).map(u16::from_be_bytes)
}
fn u32_ne(v: &[u8], what: &str) -> Result<u32, Error> {
    fixed::<4>(v, what).map(u32::from_ne_bytes)
}
fn u64_ne(v: &[u8], what: &str) -> Result<u64, Error> {
    fixed::<8>(v, what).map(u64::from_ne_bytes)
}

fn string(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// Decodes a nested stats attribute (32- or 64-bit set).
pub fn stats(buf: &[u8], wide: bool) -> Result<Stats, Error> {
    let mut s = Stats::default();
    for nla in each(buf) {
        let (kind, v) = nla?;
        let n = if wide || matches!(kind, attr::STATS_INBYTES | attr::STATS_OUTBYTES) {
            u64_ne(v, "stats")?
        } else {
            u64::from(u32_ne(v, "stats")?)
        };
        match kind {
            attr::STATS_CONNS => s.conns = n,
            attr::STATS_INPKTS => s.inpkts = n,
            attr::STATS_OUTPKTS => s.outpkts = n,
            attr::STATS_INBYTES => s.inbytes = n,
            attr::STATS_OUTBYTES => s.outbytes = n,
            attr::STATS_CPS => s.cps = n,
            attr::STATS_INPPS => s.inpps = n,
            attr::STATS_OUTPPS => s.outpps = n,
            attr::STATS_INBPS => s.inbps = n,
            attr::STATS_OUTBPS => s.outbps = n,
            _ => {}
        }
    }
    Ok(s)
}

/// The 64-bit stats when sent, else the 32-bit ones (only the one used is
/// decoded).
fn either_stats(wide: Option<&[u8]>, narrow: Option<&[u8]>) -> Result<Stats, Error> {
    match (wide, narrow) {
        (Some(b), _) => stats(b, true),
        (None, Some(b)) => stats(b, false),
        (None, None) => Ok(Stats::default()),
    }
}

/// Decodes the inside of a `CMD_ATTR_SERVICE`.
pub fn decode_service(buf: &[u8]) -> Result<Service, Error> {
    let (mut af, mut proto, mut addr, mut port, mut mark) = (None, None, None, 0u16, None);
    let (mut sched, mut pe, mut flags, mut timeout, mut netmask) = (None, None, 0u32, 0u32, None);
    let (mut st32, mut st64) = (None, None);
    for nla in each(buf) {
        let (kind, v) = nla?;
        match kind {
            attr::SVC_AF => af = Some(Family::from_raw(u16_ne(v, "af")?)?),
            attr::SVC_PROTOCOL => proto = Some(u16_ne(v, "protocol")?),
            attr::SVC_ADDR => addr = Some(v),
            attr::SVC_PORT => port = u16_be(v, "port")?,
            attr::SVC_FWMARK => mark = Some(u32_ne(v, "fwmark")?),
            attr::SVC_SCHED_NAME => sched = Some(string(v)),
            attr::SVC_PE_NAME => pe = Some(string(v)).filter(|s| !s.is_empty()),
            attr::SVC_FLAGS => flags = u32_ne(v, "flags")?,
            attr::SVC_TIMEOUT => timeout = u32_ne(v, "timeout")?,
            attr::SVC_NETMASK => netmask = Some(fixed::<4>(v, "netmask")?),
            attr::SVC_STATS => st32 = Some(v),
            attr::SVC_STATS64 => st64 = Some(v),
            _ => {}
        }
    }
    let family = af.ok_or_else(|| Error::Decode("service without address family".into()))?;
    let key = match (mark, proto, addr) {
        (Some(mark), _, _) if mark != 0 => ServiceKey::Fwmark { family, mark },
        (_, Some(p), Some(a)) => ServiceKey::Addr {
            protocol: Protocol::from_raw(p)?,
            addr: addr_from(family, a)?,
            port,
        },
        _ => return Err(Error::Decode("service without address or fwmark".into())),
    };
    let scheduler = Name::new(sched.as_deref().unwrap_or(""))
        .map_err(|_| Error::Decode(format!("service scheduler {sched:?}")))?;
    Ok(Service {
        key,
        scheduler,
        flags: ServiceFlags::from_bits_retain(flags),
        timeout,
        netmask: netmask.map_or(Netmask::full(family), |b| Netmask::from_bytes(family, b)),
        pe_name: pe.map(|p| Name::new(&p)).transpose()?,
        stats: either_stats(st64, st32)?,
    })
}

/// Decodes the inside of a `CMD_ATTR_DEST`; `svc_family` applies when the
/// kernel sends no `ADDR_FAMILY` (kernels before 4.3).
pub fn decode_dest(buf: &[u8], svc_family: Family) -> Result<Destination, Error> {
    let mut family = svc_family;
    for nla in each(buf) {
        let (kind, v) = nla?;
        if kind == attr::DEST_ADDR_FAMILY {
            family = Family::from_raw(u16_ne(v, "dest af")?)?;
        }
    }
    let mut d = Destination::new(IpAddr::from([0u8; 4]), 0);
    let (mut addr, mut st32, mut st64) = (None, None, None);
    for nla in each(buf) {
        let (kind, v) = nla?;
        match kind {
            attr::DEST_ADDR => addr = Some(addr_from(family, v)?),
            attr::DEST_PORT => d.port = u16_be(v, "dest port")?,
            attr::DEST_FWD_METHOD => d.forward = ForwardMethod::from_raw(u32_ne(v, "fwd")?)?,
            attr::DEST_WEIGHT => d.weight = u32_ne(v, "weight")?,
            attr::DEST_U_THRESH => d.upper_threshold = u32_ne(v, "u_thresh")?,
            attr::DEST_L_THRESH => d.lower_threshold = u32_ne(v, "l_thresh")?,
            attr::DEST_ACTIVE_CONNS => d.active_conns = u32_ne(v, "activeconns")?,
            attr::DEST_INACT_CONNS => d.inactive_conns = u32_ne(v, "inactconns")?,
            attr::DEST_PERSIST_CONNS => d.persistent_conns = u32_ne(v, "persistconns")?,
            attr::DEST_STATS => st32 = Some(v),
            attr::DEST_STATS64 => st64 = Some(v),
            attr::DEST_TUN_TYPE => {
                d.tunnel_type = TunnelType::from_raw(*v.first().unwrap_or(&0))?;
            }
            attr::DEST_TUN_PORT => d.tunnel_port = u16_be(v, "tun port")?,
            attr::DEST_TUN_FLAGS => {
                d.tunnel_checksum = TunnelChecksum::from_raw(u16_ne(v, "tun flags")?);
            }
            _ => {}
        }
    }
    d.addr = addr.ok_or_else(|| Error::Decode("destination without address".into()))?;
    d.stats = either_stats(st64, st32)?;
    Ok(d)
}

/// Decodes the inside of a `CMD_ATTR_DAEMON`.
pub fn decode_daemon(buf: &[u8]) -> Result<Daemon, Error> {
    let mut d = Daemon::new(DaemonRole::Master, "");
    for nla in each(buf) {
        let (kind, v) = nla?;
        match kind {
            attr::DAEMON_STATE => {
                d.role = match u32_ne(v, "state")? {
                    1 => DaemonRole::Master,
                    2 => DaemonRole::Backup,
                    s => return Err(Error::Decode(format!("daemon state {s}"))),
                };
            }
            attr::DAEMON_MCAST_IFN => d.mcast_ifn = string(v),
            attr::DAEMON_SYNC_ID => d.sync_id = u32_ne(v, "syncid")?,
            attr::DAEMON_SYNC_MAXLEN => d.sync_maxlen = u16_ne(v, "maxlen")?,
            attr::DAEMON_MCAST_GROUP => d.mcast_group = Some(addr_from(Family::Inet, v)?),
            attr::DAEMON_MCAST_GROUP6 => d.mcast_group = Some(addr_from(Family::Inet6, v)?),
            attr::DAEMON_MCAST_PORT => d.mcast_port = u16_ne(v, "mcast port")?,
            attr::DAEMON_MCAST_TTL => d.mcast_ttl = *v.first().unwrap_or(&0),
            _ => {}
        }
    }
    Ok(d)
}

/// Decodes GET_INFO's reply attributes.
pub fn decode_info(buf: &[u8]) -> Result<Info, Error> {
    let mut i = Info {
        version: 0,
        conn_tab_size: 0,
    };
    for nla in each(buf) {
        let (kind, v) = nla?;
        match kind {
            attr::INFO_VERSION => i.version = u32_ne(v, "version")?,
            attr::INFO_CONN_TAB_SIZE => i.conn_tab_size = u32_ne(v, "size")?,
            _ => {}
        }
    }
    Ok(i)
}

/// Decodes GET_CONFIG's reply attributes.
pub fn decode_timeouts(buf: &[u8]) -> Result<Timeouts, Error> {
    let mut t = Timeouts::default();
    for nla in each(buf) {
        let (kind, v) = nla?;
        match kind {
            attr::CMD_TIMEOUT_TCP => t.tcp = u32_ne(v, "tcp timeout")?,
            attr::CMD_TIMEOUT_TCP_FIN => t.tcp_fin = u32_ne(v, "tcpfin timeout")?,
            attr::CMD_TIMEOUT_UDP => t.udp = u32_ne(v, "udp timeout")?,
            _ => {}
        }
    }
    Ok(t)
}
