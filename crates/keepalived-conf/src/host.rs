//! What validation needs to know about the machine: interfaces, script
//! files and user accounts.

use std::collections::BTreeSet;
use std::path::Path;

/// What validation needs to know about the machine it runs on.
pub trait Host {
    fn interface_exists(&self, name: &str) -> bool;
    /// Whether a script command's executable resolves to an existing file
    /// (bare names are searched in `PATH`).
    fn script_exists(&self, program: &str) -> bool;
    /// Whether a user account exists (keepalived's default script user is
    /// `keepalived_script`).
    fn user_exists(&self, name: &str) -> bool;
    /// For an existing script path: whether it is a regular file (keepalived
    /// disables a directory or device "due to insecure").
    fn script_is_regular_file(&self, _program: &str) -> bool {
        true
    }
}

/// The machine we run on: `/sys/class/net` and `PATH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

impl Host for SystemHost {
    fn interface_exists(&self, name: &str) -> bool {
        !name.is_empty()
            && !name.contains('/')
            && name != "."
            && name != ".."
            && Path::new("/sys/class/net").join(name).exists()
    }

    fn script_exists(&self, program: &str) -> bool {
        if program.contains('/') {
            // Anything that exists counts: keepalived then finds a directory
            // insecure rather than missing (see `script_is_regular_file`).
            return Path::new(program).exists();
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).any(|d| d.join(program).is_file())
    }

    fn script_is_regular_file(&self, program: &str) -> bool {
        !program.contains('/') || Path::new(program).is_file()
    }

    fn user_exists(&self, name: &str) -> bool {
        std::fs::read_to_string("/etc/passwd")
            .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
    }
}

/// A host with a fixed set of interfaces and scripts, for tests.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    pub interfaces: BTreeSet<String>,
    pub scripts: BTreeSet<String>,
    pub users: BTreeSet<String>,
}

impl Host for FakeHost {
    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.contains(name)
    }
    fn script_exists(&self, program: &str) -> bool {
        self.scripts.contains(program)
    }
    fn user_exists(&self, name: &str) -> bool {
        self.users.contains(name)
    }
}
