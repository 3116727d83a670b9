//! The IPVS generic-netlink protocol.
//!
//! * [`types`]: the typed model (services, destinations, daemons, stats).
//! * [`message`] and [`codec`]: the "IPVS" family's messages and attributes.
//! * [`Client`]: one netlink socket, the family resolved once, every command,
//!   dumps, and pipelined batches ([`Client::apply_ops`]).
//! * [`apply`]: desired state → the minimal list of operations.
//! * [`procfs`]: `/proc/net/ip_vs`, every service's destinations in a few
//!   reads (for fast listings).

pub mod apply;
pub mod client;
pub mod codec;
mod error;
pub mod message;
pub mod procfs;
pub mod types;

pub use apply::{Applied, Reconciler, Table};
pub use client::{Client, Op};
pub use error::{Error, KernelError};
pub use procfs::ProcDestinations;
pub use types::*;
