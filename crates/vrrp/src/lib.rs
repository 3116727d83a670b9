//! Sans-IO VRRPv2/v3: packet codec and the RFC 3768/5798 state machine.
//!
//! Nothing in this crate opens a socket or reads a clock. The daemon hands in received
//! bytes, the TTL they arrived with, and the current time; it gets back decoded adverts,
//! drop reasons to count, and lists of actions to carry out. See `docs/vrrp.md`.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use vrrp::*;
//!
//! let me = Ipv4Addr::new(192, 0, 2, 2);
//! let interval = AdvertInterval::from_secs(1).unwrap();
//! let mut machine = Machine::new(Config::new(Version::V2, 100, interval, me.into()));
//! let t0 = Instant::from_elapsed(Duration::ZERO);
//! assert_eq!(
//!     machine.handle(t0, Input::Startup),
//!     [
//!         // 3 × 1 s + (256 − 100)/256 s
//!         Action::ArmTimer {
//!             timer: Timer::MasterDown,
//!             at: t0 + Duration::from_micros(3_609_375),
//!             after: Duration::from_micros(3_609_375),
//!         },
//!         Action::Notify(Notify::Backup),
//!     ]
//! );
//!
//! // A master at 192.0.2.1 advertises; the daemon received these bytes with TTL 255.
//! let master = Ipv4Addr::new(192, 0, 2, 1);
//! let vips = Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 100)]);
//! let advert = Advertisement {
//!     version: Version::V2,
//!     vrid: 51,
//!     priority: 150,
//!     interval,
//!     auth: Auth::None,
//!     addresses: vips.clone(),
//! };
//! let endpoints = Endpoints::multicast_v4(master);
//! let bytes = advert.encode(&endpoints).unwrap();
//!
//! let expect = Expectations {
//!     version: Version::V2,
//!     vrid: 51,
//!     auth: Auth::None,
//!     interval,
//!     addresses: Some(vips),
//!     unicast: false,
//!     allowed_sources: None,
//! };
//! let heard = receive(&bytes, 255, &endpoints, &expect).unwrap();
//! let t1 = t0 + Duration::from_secs(1);
//! let actions = machine.handle(t1, Input::Advert(Received::new(&heard, master.into())));
//! assert_eq!(actions.len(), 1, "the down timer restarts");
//! assert_eq!(machine.state(), State::Backup);
//! assert_eq!(receive(&bytes, 64, &endpoints, &expect), Err(DropReason::WrongTtl(64)));
//! ```

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
pub use packet::{
    ipv4_header, Addresses, AdvertInterval, Advertisement, Auth, EncodeError, Endpoints, Version,
};
pub use receive::{check_advert, check_ttl, receive, DropReason, Expectations};
pub use timing::{master_down_interval, skew_time, Instant};
