//! What an instance is configured with.

use std::net::IpAddr;
use std::time::Duration;

use crate::packet::{AdvertInterval, Version};

/// Priority of the address owner (RFC 5798 §5.2.4).
pub const PRIORITY_OWNER: u8 = 255;
/// Priority a stopping master advertises (RFC 5798 §5.2.4).
pub const PRIORITY_STOP: u8 = 0;

/// Per-instance parameters the machine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// VRRPv2 or VRRPv3.
    pub version: Version,
    /// Configured priority, 1..=255 (255 = address owner).
    pub priority: u8,
    /// Advertisement_Interval sent while master.
    pub advert_interval: AdvertInterval,
    /// Preempt_Mode (false = keepalived's `nopreempt`).
    pub preempt: bool,
    /// keepalived's `preempt_delay`: after a lower-priority master is first heard, keep
    /// accepting it this long before preempting. Zero disables it.
    pub preempt_delay: Duration,
    /// This router's primary address (the advert source), for the equal-priority tie-break.
    pub primary_address: IpAddr,
    /// keepalived's `vrrp_lower_prio_no_advert`: when false (the default), a master hearing a
    /// lower priority advert answers with an advert at once.
    pub lower_prio_no_advert: bool,
    /// keepalived's `higher_prio_send_advert`: a master hearing a higher priority (or an
    /// equal one from a higher address) sends one more advert before stepping down.
    pub higher_prio_send_advert: bool,
    /// Adverts missed before the master is declared down: 3 in the RFCs (keepalived's
    /// `down_timer_adverts`).
    pub down_timer_adverts: u32,
    /// keepalived's `state MASTER|BACKUP`.
    pub initial_state: InitialState,
}

/// keepalived's configured initial `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InitialState {
    /// Start in Backup and wait a full Master_Down_Interval (RFC 5798 §6.4.1).
    Backup,
    /// An owner (priority 255) becomes Master at once (RFC 5798 §6.4.1). Any other priority
    /// starts in Backup with the full Master_Down_Interval: keepalived 2.2.7 shortens the
    /// first wait only for sync-group members, and a capture of a standalone `state MASTER`
    /// priority 150 instance showed the full ~3.4 s.
    Master,
}

impl Config {
    /// A configuration with the RFC / keepalived defaults: preempt on, no preempt delay,
    /// adverts answered, three adverts to declare the master down, and the initial state
    /// keepalived derives when `state` is omitted (Master for the owner, else Backup).
    pub fn new(
        version: Version,
        priority: u8,
        advert_interval: AdvertInterval,
        primary_address: IpAddr,
    ) -> Self {
        Config {
            version,
            priority,
            advert_interval,
            preempt: true,
            preempt_delay: Duration::ZERO,
            primary_address,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: 3,
            initial_state: if priority == PRIORITY_OWNER {
                InitialState::Master
            } else {
                InitialState::Backup
            },
        }
    }
}

/// keepalived's effective priority: the configured priority plus tracked weights, kept in
/// 1..=254; an address owner (255) is never changed.
pub fn effective_priority(configured: u8, total_weight: i32) -> u8 {
    if configured == PRIORITY_OWNER {
        return PRIORITY_OWNER;
    }
    let total = i32::from(configured)
        .saturating_add(total_weight)
        .clamp(1, 254);
    u8::try_from(total).unwrap_or(1)
}
