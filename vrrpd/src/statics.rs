//! `static_ipaddress`, `static_routes` and `static_rules`: not moved by VRRP. As keepalived
//! (`vrrp_daemon.c`): leftovers are removed and the entries added at start, a
//! reload applies only the difference, and they are removed at exit.

use tracing::warn;

use crate::rtnl::{AddrSpec, RouteSpec, RuleSpec};
use crate::run::Daemon;

/// What the configuration asks for now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Statics {
    pub addresses: Vec<AddrSpec>,
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<RuleSpec>,
}

fn wanted(d: &Daemon, config: &keepalived_conf::Config) -> Statics {
    Statics {
        addresses: config
            .static_ipaddress
            .iter()
            .filter_map(|a| {
                // keepalived requires `dev` here.
                let index = d.index_of(a.dev.as_deref()?)?;
                crate::vips::address(a, index, |n| d.index_of(n))
            })
            .collect(),
        routes: config
            .static_routes
            .iter()
            .filter_map(|r| crate::vips::route(r, |n| d.index_of(n)))
            .collect(),
        rules: config
            .static_rules
            .iter()
            .filter_map(crate::vips::rule)
            .collect(),
    }
}

/// Start (`first`) or reload.
pub fn apply(d: &mut Daemon, config: &keepalived_conf::Config, first: bool) {
    let new = wanted(d, config);
    let old = if first {
        // Leftovers of an earlier run go first.
        for a in &new.addresses {
            let _ = d.rtnl.del_address(a);
        }
        for r in &new.routes {
            let _ = d.rtnl.del_route(r);
        }
        for r in &new.rules {
            let _ = d.rtnl.del_rule(r);
        }
        Statics::default()
    } else {
        std::mem::take(&mut d.statics)
    };
    for r in old.rules.iter().filter(|r| !new.rules.contains(r)) {
        let _ = d.rtnl.del_rule(r);
    }
    for r in old.routes.iter().filter(|r| !new.routes.contains(r)) {
        let _ = d.rtnl.del_route(r);
    }
    for a in old.addresses.iter().filter(|a| !new.addresses.contains(a)) {
        let _ = d.rtnl.del_address(a);
    }
    for a in new.addresses.iter().filter(|a| !old.addresses.contains(a)) {
        if let Err(e) = d.rtnl.add_address(a) {
            warn!("cannot add static address {}: {e}", a.address);
        }
    }
    for r in new.routes.iter().filter(|r| !old.routes.contains(r)) {
        if let Err(e) = d.rtnl.add_route(r) {
            warn!("cannot add static route to {}: {e}", r.destination);
        }
    }
    for r in new.rules.iter().filter(|r| !old.rules.contains(r)) {
        if let Err(e) = d.rtnl.add_rule(r) {
            warn!("cannot add static rule {}: {e}", r.priority);
        }
    }
    d.statics = new;
}

/// At exit.
pub fn clear(d: &mut Daemon) {
    let s = std::mem::take(&mut d.statics);
    for r in &s.rules {
        let _ = d.rtnl.del_rule(r);
    }
    for r in &s.routes {
        let _ = d.rtnl.del_route(r);
    }
    for a in &s.addresses {
        let _ = d.rtnl.del_address(a);
    }
}
