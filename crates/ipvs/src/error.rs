//! Errors, with the kernel's errno kept and classified.

use crate::message::Cmd;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel has no "IPVS" generic-netlink family (module not loaded).
    #[error("the kernel has no IPVS generic netlink family")]
    FamilyNotFound,
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("invalid value: {0}")]
    Invalid(String),
    /// The kernel queued no reply for a request (it skips the ACK when a
    /// handler returns -EINTR).
    #[error("{cmd:?}: the kernel sent no reply")]
    NoReply { cmd: Cmd },
    #[error("{cmd:?}: {}", std::io::Error::from_raw_os_error(*errno))]
    Kernel { cmd: Cmd, errno: i32 },
}

/// The meaning of a kernel error for the command that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelError {
    ServiceExists,
    NoSuchService,
    DestinationExists,
    NoSuchDestination,
    /// Scheduler or persistence engine not found.
    NotFound,
    DaemonRunning,
    NoDaemon,
    PermissionDenied,
    NoMemory,
    Invalid,
    Other(i32),
}

pub(crate) const EPERM: i32 = 1;
pub(crate) const ENOENT: i32 = 2;
pub(crate) const ESRCH: i32 = 3;
pub(crate) const ENOMEM: i32 = 12;
pub(crate) const EEXIST: i32 = 17;
pub(crate) const EINVAL: i32 = 22;

impl Error {
    /// The errno of a kernel error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Kernel { errno, .. } => Some(*errno),
            Self::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// Classifies a kernel error by command and errno.
    pub fn kernel(&self) -> Option<KernelError> {
        let Self::Kernel { cmd, errno } = self else {
            return None;
        };
        let dest_cmd = matches!(cmd, Cmd::NewDest | Cmd::SetDest | Cmd::DelDest);
        let daemon_cmd = matches!(cmd, Cmd::NewDaemon | Cmd::DelDaemon);
        Some(match *errno {
            EEXIST if dest_cmd => KernelError::DestinationExists,
            EEXIST if daemon_cmd => KernelError::DaemonRunning,
            EEXIST => KernelError::ServiceExists,
            ESRCH if daemon_cmd => KernelError::NoDaemon,
            ENOENT if dest_cmd && *cmd != Cmd::NewDest => KernelError::NoSuchDestination,
            ENOENT => KernelError::NotFound,
            ESRCH => KernelError::NoSuchService,
            EPERM => KernelError::PermissionDenied,
            ENOMEM => KernelError::NoMemory,
            EINVAL => KernelError::Invalid,
            e => KernelError::Other(e),
        })
    }
}
