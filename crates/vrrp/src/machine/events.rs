//! The machine's inputs and outputs.

use std::net::IpAddr;
use std::time::Duration;

use crate::packet::{AdvertInterval, Advertisement};
use crate::timing::Instant;

/// Protocol state (RFC 5798 §6.4, plus keepalived's FAULT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running (before Startup, after Shutdown).
    Initialize,
    /// Watching the master.
    Backup,
    /// Forwarding for the virtual addresses.
    Master,
    /// An interface or tracked object is down: no adverts, no addresses.
    Fault,
}

/// The two protocol timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Adver_Timer, running in Master.
    Advert,
    /// Master_Down_Timer, running in Backup.
    MasterDown,
}

/// What a notify script / FIFO is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// Entered MASTER (`notify_master`).
    Master,
    /// Entered BACKUP (`notify_backup`).
    Backup,
    /// Entered FAULT (`notify_fault`).
    Fault,
    /// Stopped (`notify_stop`).
    Stop,
    /// A master heard a lower-priority advert (`notify_master_rx_lower_pri`).
    MasterRxLowerPriority,
}

/// An advert that passed the receive checks, reduced to what the machine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// IP source of the advert (the sender's primary address).
    pub source: IpAddr,
    /// Advertised priority.
    pub priority: u8,
    /// Advertised (max) interval.
    pub interval: AdvertInterval,
}

impl Received {
    /// From a decoded advert and its IP source.
    pub fn new(advert: &Advertisement, source: IpAddr) -> Self {
        Received {
            source,
            priority: advert.priority,
            interval: advert.interval,
        }
    }
}

/// Something that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Admin start (RFC 5798 §6.4.1 Startup event).
    Startup,
    /// Admin stop (Shutdown event): a master sends priority 0 and releases the addresses.
    Shutdown,
    /// A valid advert for this instance arrived.
    Advert(Received),
    /// A timer armed by an earlier [`Action::ArmTimer`] expired.
    TimerFired(Timer),
    /// An interface or tracked object went down (keepalived FAULT).
    FaultDetected,
    /// All faults are gone.
    FaultCleared,
    /// New effective priority (admin change or tracked weights; see [`effective_priority`](super::effective_priority)).
    PriorityChanged(u8),
    /// Another member of this instance's `vrrp_sync_group` became Master: follow it at
    /// once (from Backup; ignored in other states).
    GroupMaster,
    /// Another member of the sync group went back to Backup: a Master steps down without
    /// advertising priority 0 (ignored in other states). A member's FAULT is passed on as
    /// [`Input::FaultDetected`] / [`Input::FaultCleared`].
    GroupBackup,
}

/// Something the daemon must do, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send one advertisement with this priority.
    SendAdvert {
        /// Priority to advertise (0 when stopping).
        priority: u8,
    },
    /// Add the virtual addresses (and excluded addresses, routes, rules).
    AddAddresses,
    /// Remove them.
    RemoveAddresses,
    /// Start the gratuitous ARP / unsolicited NA sequence for the virtual addresses
    /// (the daemon applies garp_master_delay / repeat / refresh).
    SendGratuitous,
    /// Run the notify scripts / write the FIFO.
    Notify(Notify),
    /// (Re)arm a timer to fire at `at`, which is `after` from the input's `now`.
    ArmTimer {
        /// Which timer.
        timer: Timer,
        /// Absolute deadline.
        at: Instant,
        /// Delay from now.
        after: Duration,
    },
    /// Stop a timer.
    CancelTimer(Timer),
}
