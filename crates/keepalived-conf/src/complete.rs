//! keepalived's `vrrp_complete_instance` rules that depend only on the file:
//! derived priority and state, VIPs, authentication, preemption, strict mode
//! and the advertisement interval for the VRRP version in use.

use crate::model::{GlobalDefs, VrrpInstance};

const OWNER: u8 = 255;

/// The priority keepalived uses: as configured, or 255 for `state MASTER`
/// and 100 otherwise.
pub fn effective_priority(v: &VrrpInstance) -> u8 {
    v.priority
        .unwrap_or(if v.state.as_deref() == Some("MASTER") {
            OWNER
        } else {
            100
        })
}

/// The VRRP version: the instance's, 3 for IPv6, else the global one.
pub fn effective_version(v: &VrrpInstance, g: &GlobalDefs) -> u8 {
    let ipv6 = v
        .virtual_ipaddress
        .first()
        .is_some_and(|a| a.address.is_ipv6());
    v.version.unwrap_or(if ipv6 { 3 } else { g.vrrp_version })
}

#[allow(
    clippy::cast_precision_loss,
    reason = "timers are below 2^32 microseconds"
)]
fn secs(v: u64) -> f64 {
    v as f64 / 1_000_000.0
}

/// Checks one instance, fixing it up as keepalived does; returns the messages.
pub fn instance(v: &mut VrrpInstance, g: &GlobalDefs) -> Vec<String> {
    let name = v.name.clone();
    let mut out = Vec::new();
    let strict = v.strict_mode.unwrap_or(g.vrrp_strict);
    let version = effective_version(v, g);
    let ipv6 = v
        .virtual_ipaddress
        .first()
        .is_some_and(|a| a.address.is_ipv6());

    if v.virtual_ipaddress.is_empty() {
        if version == 3 || strict {
            out.push(format!(
                "({name}) No VIP specified; at least one is required"
            ));
            return out;
        }
        out.push(format!(
            "({name}) No VIP specified; at least one is sensible"
        ));
    }

    let priority = effective_priority(v);
    let mut master = match v.state.as_deref() {
        Some(s) => s == "MASTER",
        None => priority == OWNER,
    };
    if v.state.is_some() && strict && master != (priority == OWNER) {
        out.push(format!(
            "({name}) State MASTER must match being address owner"
        ));
        master = priority == OWNER;
    }

    if let Some(auth) = &v.authentication {
        let kind = auth.auth_type.as_deref();
        if kind.is_some() {
            if strict {
                out.push(format!(
                    "({name}) Strict mode does not support authentication. Ignoring."
                ));
            } else if version == 3 {
                out.push(format!(
                    "({name}) VRRP version 3 does not support authentication. Ignoring."
                ));
            } else if auth.auth_pass.as_deref().unwrap_or("").is_empty() {
                out.push(format!(
                    "({name}) Authentication specified but no password given. Ignoring"
                ));
            } else if ipv6 && kind == Some("AH") {
                out.push(format!(
                    "({name}) Cannot use AH authentication with IPv6. ignoring"
                ));
            } else if kind == Some("AH") && master && priority != OWNER {
                out.push(format!(
                    "({name}) Initial state master is incompatible with AH authentication - clearing"
                ));
                master = false;
            }
        }
    }

    if strict && !v.unicast_peer.is_empty() {
        out.push(format!(
            "({name}) Unicast peers are not supported in strict mode"
        ));
        return out;
    }
    if v.interface.is_none() && v.unicast_src_ip.is_none() && !v.unicast_peer.is_empty() {
        out.push(format!(
            "({name}): Unicast instances must have unicast_src_ip or interface"
        ));
        return out;
    }

    let has = |k: &str| v.other.iter().any(|o| o.keyword == k);
    if v.unicast_peer.is_empty()
        && (v.unicast_src_ip.is_some()
            || v.options.check_unicast_src
            || v.options.old_unicast_checksum.is_some()
            || has("unicast_peer"))
    {
        out.push(format!(
            "({name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration."
        ));
    }
    if v.options.vmac_xmit_base && v.use_vmac.is_none() {
        out.push(format!("({name}) vmac_xmit_base is only valid with a vmac"));
    }
    if v.options.use_ipvlan.is_some()
        && !ipv6
        && v.unicast_src_ip.is_none()
        && v.mcast_src_ip.is_none()
    {
        out.push(format!(
            "({name}) IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state"
        ));
    }

    if priority == OWNER && v.nopreempt {
        out.push(format!(
            "({name}) nopreempt is incompatible with priority 255. resetting nopreempt"
        ));
        v.nopreempt = false;
    }
    if master {
        if v.nopreempt {
            out.push(format!(
                "({name}) Warning - nopreempt will not work with initial state MASTER - clearing"
            ));
            v.nopreempt = false;
        }
        if v.preempt_delay != 0 {
            out.push(format!(
                "({name}) Warning - preempt delay will not work with initial state MASTER - clearing"
            ));
            v.preempt_delay = 0;
        }
    }
    if v.preempt_delay != 0 {
        if strict {
            out.push(format!(
                "({name}) preempt_delay is incompatible with strict mode - resetting"
            ));
            v.preempt_delay = 0;
        } else if v.nopreempt {
            out.push(format!(
                "({name}) preempt_delay is incompatible with nopreempt mode - resetting"
            ));
            v.preempt_delay = 0;
        }
    }

    if version == 2 {
        if v.advert_int >= 256_000_000 {
            out.push(format!(
                "({name}) VRRPv2 advertisement interval {:.2}s is out of range. Must be less than 256s. Setting to 255s",
                secs(v.advert_int)
            ));
            v.advert_int = 255_000_000;
        } else if !v.advert_int.is_multiple_of(1_000_000) {
            out.push(format!(
                "({name}) VRRPv2 advertisement interval {:.6}s must be an integer. rounding",
                secs(v.advert_int)
            ));
            v.advert_int = ((v.advert_int + 500_000) / 1_000_000 * 1_000_000).max(1_000_000);
        }
    }
    out
}
