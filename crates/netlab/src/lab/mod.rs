//! The kernel lab: a qemu VM (TCG) booting Debian's kernel, which has IPVS,
//! with the host's `/` mounted read-only over 9p under a tmpfs overlay.
//!
//! [`Lab::prepare`] downloads and unpacks the kernel once into a cache
//! directory; [`Lab::run`] boots a fresh VM for one command and returns its
//! stdout, stderr and exit status through a second, writable 9p share.

mod guest;
mod prepare;
mod run;

use std::path::{Path, PathBuf};

pub use run::{RunOutput, RunSpec};

use crate::{Error, Result};

/// A prepared (or to-be-prepared) lab in a cache directory.
#[derive(Debug, Clone)]
pub struct Lab {
    cache: PathBuf,
}

/// What `prepare` leaves behind, read back from the cache's `ready` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// Kernel release, e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// The uncompressed kernel, booted directly (PVH).
    pub vmlinux: PathBuf,
    /// The busybox initramfs that mounts the host root.
    pub initrd: PathBuf,
    /// `lib/modules/RELEASE` of the unpacked package (with modules.dep).
    pub modules: PathBuf,
}

impl Lab {
    /// The lab in `NETLAB_CACHE`, or `target/netlab` of this workspace.
    pub fn from_env() -> Self {
        let cache = std::env::var_os("NETLAB_CACHE").map_or_else(
            || {
                let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
                let workspace = manifest.ancestors().nth(2).unwrap_or(manifest);
                workspace.join("target/netlab")
            },
            PathBuf::from,
        );
        Self::at(cache)
    }

    /// A lab whose cache is `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let cache = dir.into();
        let cache = std::fs::canonicalize(&cache).unwrap_or(cache);
        Self { cache }
    }

    /// The cache directory.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// The prepared kernel, or [`Error::NotPrepared`].
    pub fn kernel(&self) -> Result<Kernel> {
        let ready = self.cache.join("ready");
        let release = std::fs::read_to_string(&ready)
            .map_err(|_| Error::NotPrepared(format!("{} missing", ready.display())))?;
        let release = release.trim().to_owned();
        let kernel = Kernel {
            vmlinux: self.cache.join("vmlinux"),
            initrd: self.cache.join("initrd.cpio"),
            modules: self.cache.join("root/lib/modules").join(&release),
            release,
        };
        for p in [&kernel.vmlinux, &kernel.initrd, &kernel.modules] {
            if !p.exists() {
                return Err(Error::NotPrepared(format!("{} missing", p.display())));
            }
        }
        Ok(kernel)
    }

    /// Whether [`Lab::prepare`] has completed and qemu is installed.
    pub fn is_ready(&self) -> bool {
        self.kernel().is_ok() && which("qemu-system-x86_64").is_some()
    }
}

/// The first `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
