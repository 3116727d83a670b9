//! `use_vmac`: a macvlan `vrrp.VRID` (or the given name) on the instance's
//! interface with the virtual router MAC 00:00:5e:00:01:VRID (IPv6:
//! 00:00:5e:00:02:VRID), created at start and removed at stop.

use crate::instance::Instance;
use crate::run::Daemon;
use crate::spec::{Family, InstanceSpec};

/// The virtual router MAC of a VMAC instance.
pub fn mac(spec: &InstanceSpec) -> Option<[u8; 6]> {
    spec.use_vmac.as_ref()?;
    let kind = match spec.family {
        Family::V4 => 1,
        Family::V6 => 2,
    };
    Some([0, 0, 0x5e, 0, kind, spec.vrid])
}

/// The index of the interface the instance sends on, creating the VMAC one.
pub fn ensure(d: &mut Daemon, spec: &InstanceSpec, base: u32) -> std::io::Result<u32> {
    let Some(mac) = mac(spec) else {
        return Ok(base);
    };
    let name = spec.send_interface();
    if let Some(i) = d.index_of(&name) {
        return Ok(i);
    }
    d.rtnl.add_macvlan(base, &name, mac)?;
    for l in d.rtnl.links()? {
        d.links.insert(l.name.clone(), l);
    }
    let index = d
        .index_of(&name)
        .ok_or_else(|| std::io::Error::other(format!("{name} vanished")))?;
    // No link-local address from the shared MAC (RFC 5798 §7.4; it would be the
    // same on every router): keepalived sets addr_gen_mode none before link up…
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/addr_gen_mode"), "1");
    d.rtnl.set_up(index)?;
    // …and gives an IPv6 VMAC the base interface's link-local address (or the
    // unicast source), which adverts are sent from.
    if spec.family == Family::V6 {
        let source = spec.unicast_src.or_else(|| {
            d.addrs
                .iter()
                .find(|a| {
                    a.index == base
                        && matches!(a.address, std::net::IpAddr::V6(v) if v.is_unicast_link_local())
                })
                .map(|a| a.address)
        });
        if let Some(address) = source {
            let spec = crate::rtnl::AddrSpec {
                index,
                address,
                prefix_len: 64,
                broadcast: None,
                label: None,
                scope: 253,
                nodad: true,
                noprefixroute: false,
                preferred_lft: None,
            };
            if let Err(e) = d.rtnl.add_address(&spec) {
                tracing::warn!("cannot add {address} to {name}: {e}");
            }
        }
    }
    if let Ok(a) = d.rtnl.addresses() {
        d.addrs = a;
    }
    tracing::info!("({}) Created VMAC interface {name}", spec.name);
    Ok(index)
}

/// Removes the VMAC interface of a stopped instance.
pub fn remove(d: &mut Daemon, inst: &Instance) {
    if inst.spec.use_vmac.is_some() && inst.ifindex != inst.base_ifindex {
        d.announcer.forget(inst.ifindex);
        let _ = d.rtnl.del_link(inst.ifindex);
        d.links.retain(|_, l| l.index != inst.ifindex);
    }
}
