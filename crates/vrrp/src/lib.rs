//! Sans-IO VRRPv2/v3: packet codec and the RFC 3768/5798 state machine.
//!
//! Nothing in this crate opens a socket or reads a clock. The daemon hands in received
//! bytes, the TTL they arrived with, and the current time; it gets back decoded adverts,
//! drop reasons to count, and lists of actions to carry out. See `docs/vrrp.md`.

pub mod checksum;
pub mod decode;
pub mod machine;
pub mod packet;
pub mod receive;
pub mod timing;

pub use checksum::V3Ipv4Checksum;
pub use decode::{decode, DecodeError};
pub use machine::{
    effective_priority, Action, Config, InitialState, Input, Machine, Notify, Received, State,
    Timer,
};
pub use packet::{Addresses, AdvertInterval, Advertisement, Auth, EncodeError, Endpoints, Version};
pub use receive::{check_advert, check_ttl, receive, DropReason, Expectations};
pub use timing::{master_down_interval, skew_time, Instant};
