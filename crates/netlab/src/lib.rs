//! Test support for the whole workspace.
//!
//! * [`lab`]: a qemu VM booting Debian's own kernel (which has IPVS) with the
//!   host root shared read-only over 9p, so host binaries run unmodified.
//! * [`kernel`]: a test harness that runs a test binary inside that VM (one
//!   boot per binary) when the host kernel lacks IPVS.
//! * [`topo`]: network-namespace topologies (namespaces, veth, bridges,
//!   addresses, routes, sysctls) that clean up after themselves.
//! * [`http`]: a tiny HTTP server used as a backend in tests.
//! * [`scenario`]: ready-made topologies (LVS-NAT director with backends).

pub mod http;
pub mod kernel;
pub mod lab;
pub mod scenario;
pub mod topo;

mod cmd;

pub use lab::{Lab, RunOutput, RunSpec};
pub use topo::Topology;

/// Errors from the lab and the topology builder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("kernel lab not prepared ({0}): run `cargo xtask prepare` (or `netlab prepare`)")]
    NotPrepared(String),
    #[error("lab: {0}")]
    Lab(String),
    #[error("VM timed out after {secs} s; console tail:\n{console}")]
    Timeout { secs: u64, console: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
