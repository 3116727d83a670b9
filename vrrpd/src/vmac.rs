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
    if let Ok(a) = d.rtnl.addresses() {
        d.addrs = a;
    }
    tracing::info!("({}) Created VMAC interface {name}", spec.name);
    d.index_of(&name)
        .ok_or_else(|| std::io::Error::other(format!("{name} vanished")))
}

/// Removes the VMAC interface of a stopped instance.
pub fn remove(d: &mut Daemon, inst: &Instance) {
    if inst.spec.use_vmac.is_some() && inst.ifindex != inst.base_ifindex {
        let _ = d.rtnl.del_link(inst.ifindex);
        d.links.retain(|_, l| l.index != inst.ifindex);
    }
}
