//! An nginx-compatible layer-7 reverse proxy driven by nginx.conf.
//!
//! * [`balance`]: nginx's upstream balancing (smooth weighted round robin
//!   with backup servers and max_fails/fail_timeout, least_conn, ip_hash,
//!   hash, consistent hash), pure: time and keys are inputs.
//! * [`route`]: server and location selection; [`uri`]: nginx's URI
//!   normalisation.

pub mod accesslog;
pub mod auth;
pub mod balance;
pub mod body;
pub mod casemap;
pub mod date;
pub mod errorlog;
pub mod errorpage;
pub mod fast;
pub mod files;
pub mod gzip;
pub mod headers;
pub mod idle;
pub mod ignored;
pub mod limit;
pub mod limitconn;
pub mod limitreq;
pub mod logformat;
pub mod map;
pub mod peer;
pub mod plan;
pub mod ranges;
pub mod rate;
pub mod rewrite;
pub mod route;
pub mod server;
pub mod shape;
pub mod site;
pub mod stats;
pub mod timed;
pub mod tls;
pub mod uri;
pub mod worker;
