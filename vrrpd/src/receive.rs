//! A received packet: find its instance (interface, family, VRID; unicast peers
//! first), run `vrrp::receive`, count and log drops (rate-limited), feed the advert.

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};
use vrrp::{DropReason, Input, Received};

use crate::run::{Daemon, SocketKey};
use crate::socket::Packet;

/// At most one drop line per instance per this interval (keepalived logs every drop).
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// The instance this packet is for.
fn claim(d: &Daemon, key: SocketKey, packet: &Packet) -> Option<String> {
    let vrid = *packet.message.get(1)?;
    let mut fallback = None;
    for i in d.instances.values() {
        if (i.ifindex, i.spec.family) != key || i.spec.vrid != vrid {
            continue;
        }
        if i.spec.peers.contains(&packet.source) {
            return Some(i.spec.name.clone());
        }
        if fallback.is_none() || i.spec.peers.is_empty() {
            fallback = Some(i.spec.name.clone());
        }
    }
    fallback
}

pub fn packet(d: &mut Daemon, key: SocketKey, packet: &Packet, now: Instant) {
    let Some(name) = claim(d, key, packet) else {
        d.unclaimed += 1;
        debug!(
            "dropped a VRRP packet from {} for no instance here",
            packet.source
        );
        return;
    };
    let Some(inst) = d.instances.get_mut(&name) else {
        return;
    };
    if packet.source == inst.primary {
        return; // our own advert looped back
    }
    let Some(endpoints) = inst.endpoints(packet.source, packet.destination) else {
        return;
    };
    let expect = inst.expectations_for(packet.source);
    let mut result = vrrp::receive(&packet.message, packet.ttl, &endpoints, &expect);
    // keepalived (OLD_CHKSUM_COMPAT) retries a failed unicast VRRPv3/IPv4 checksum
    // with the multicast group in the pseudo-header.
    if let (
        Err(DropReason::Malformed(vrrp::DecodeError::BadChecksum { .. })),
        vrrp::Endpoints::V4 {
            source,
            destination,
            ..
        },
    ) = (&result, endpoints)
    {
        if expect.unicast {
            let old = vrrp::Endpoints::V4 {
                source,
                destination,
                v3_checksum: vrrp::V3Ipv4Checksum::MulticastGroupPseudoHeader,
            };
            result = vrrp::receive(&packet.message, packet.ttl, &old, &expect);
        }
    }
    match result {
        Ok(advert) => {
            inst.stats.advert_rcvd += 1;
            if advert.priority == 0 {
                inst.stats.pri_zero_rcvd += 1;
            }
            let before = inst.machine.state();
            let ours = inst.machine.priority();
            let lower =
                advert.priority < ours || (advert.priority == ours && packet.source < inst.primary);
            if before == vrrp::State::Master && lower && advert.priority != 0 {
                let forcing = if inst.spec.lower_prio_no_advert {
                    ""
                } else {
                    ", forcing new election"
                };
                info!(
                    "({name}) Received advert from {} with lower priority {}, ours {ours}{forcing}",
                    packet.source, advert.priority
                );
            }
            let input = Input::Advert(Received::new(&advert, packet.source));
            d.feed(&name, input, now);
            let after = d.instances.get(&name).map(|i| i.machine.state());
            if before == vrrp::State::Master && after == Some(vrrp::State::Backup) {
                info!(
                    "({name}) Master received advert from {} with higher priority {}, ours {ours}",
                    packet.source, advert.priority
                );
            }
        }
        Err(reason) => {
            let counter = reason.counter();
            *inst.drops.entry(counter).or_default() += 1;
            let due = inst
                .last_drop_log
                .is_none_or(|t| now.duration_since(t) >= DROP_LOG_EVERY);
            if due {
                inst.last_drop_log = Some(now);
                let total: u64 = inst.drops.values().sum();
                warn!(
                    "({name}) dropped packet from {}: {reason} ({counter}; {total} dropped so far)",
                    packet.source
                );
            }
        }
    }
}
