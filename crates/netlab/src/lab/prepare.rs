//! `prepare`: fetch Debian's kernel package once and turn it into what the
//! VM boots. Every step is skipped when its result is already in the cache.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::guest::{init_script, INITRD_MODULES};
use super::{Kernel, Lab};
use crate::cmd::{describe, run, run_args};
use crate::{Error, Result};

/// The start of an xz stream: where the compressed kernel sits in a bzImage.
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

impl Lab {
    /// Downloads and unpacks the kernel named by `linux-image-amd64` (or by
    /// `NETLAB_KERNEL_PKG`), extracts vmlinux, runs depmod and builds the
    /// initramfs. Idempotent: a prepared cache for the same package is kept.
    pub fn prepare(&self) -> Result<Kernel> {
        fs::create_dir_all(&self.cache)?;
        let package = kernel_package()?;
        let release = package
            .strip_prefix("linux-image-")
            .ok_or_else(|| Error::Lab(format!("unexpected kernel package name {package}")))?
            .to_owned();
        if let Ok(k) = self.kernel() {
            if k.release == release {
                return Ok(k);
            }
        }
        let _ = fs::remove_file(self.cache.join("ready"));
        let deb = self.download(&package)?;
        let root = self.cache.join("root");
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
        extract_vmlinux(
            &root.join(format!("boot/vmlinuz-{release}")),
            &self.cache.join("vmlinux"),
        )?;
        run(Command::new("depmod").arg("-b").arg(&root).arg(&release))?;
        self.build_initrd(&root.join("lib/modules").join(&release))?;
        fs::write(self.cache.join("ready"), format!("{release}\n"))?;
        self.kernel()
    }

    fn download(&self, package: &str) -> Result<std::path::PathBuf> {
        let dl = self.cache.join("dl");
        fs::create_dir_all(&dl)?;
        let find = || -> Option<std::path::PathBuf> {
            fs::read_dir(&dl)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.starts_with(&format!("{package}_"))
                            && Path::new(n).extension().is_some_and(|e| e == "deb")
                    })
                })
        };
        if let Some(p) = find() {
            return Ok(p);
        }
        run(Command::new("apt-get").current_dir(&dl).args([
            "download",
            "-q",
            "-o",
            "APT::Sandbox::User=root",
            package,
        ]))?;
        find().ok_or_else(|| Error::Lab(format!("apt-get download left no {package} .deb")))
    }

    fn build_initrd(&self, modules: &Path) -> Result<()> {
        let stage = self.cache.join("initrd");
        if stage.exists() {
            fs::remove_dir_all(&stage)?;
        }
        for d in ["bin", "mods", "proc", "sys", "dev", "ro", "rw", "newroot"] {
            fs::create_dir_all(stage.join(d))?;
        }
        let busybox = Path::new("/bin/busybox");
        if !busybox.exists() {
            return Err(Error::Lab(
                "/bin/busybox missing: install busybox-static".into(),
            ));
        }
        fs::copy(busybox, stage.join("bin/busybox"))?;
        for m in INITRD_MODULES {
            let name = m.rsplit('/').next().unwrap_or(m);
            fs::copy(
                modules.join("kernel").join(format!("{m}.ko")),
                stage.join(format!("mods/{name}.ko")),
            )
            .map_err(|e| Error::Lab(format!("module {m}.ko: {e}")))?;
        }
        let init = stage.join("init");
        fs::write(&init, init_script())?;
        set_mode(&init, 0o755)?;
        // busybox cpio reads the file list on stdin, like cpio -o.
        let mut list = String::new();
        for entry in walk(&stage)? {
            let rel = entry.strip_prefix(&stage).unwrap_or(&entry);
            if rel.as_os_str().is_empty() {
                list.push_str(".\n");
            } else {
                let _ = writeln!(list, "./{}", rel.display());
            }
        }
        let out = fs::File::create(self.cache.join("initrd.cpio"))?;
        let mut cpio = Command::new(busybox);
        cpio.args(["cpio", "-o", "-H", "newc"])
            .current_dir(&stage)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(Stdio::null());
        let what = describe(&cpio);
        let mut child = cpio.spawn()?;
        child
            .stdin
            .take()
            .ok_or_else(|| Error::Lab("cpio stdin".into()))?
            .write_all(list.as_bytes())?;
        let status = child.wait()?;
        if !status.success() {
            return Err(Error::Lab(format!("`{what}` failed: {status}")));
        }
        Ok(())
    }
}

/// The exact kernel package `linux-image-amd64` depends on today; never
/// chosen by sorting names (bookworm-security also carries newer images).
fn kernel_package() -> Result<String> {
    if let Ok(p) = std::env::var("NETLAB_KERNEL_PKG") {
        return Ok(p);
    }
    let lookup = || -> Option<String> {
        let out = Command::new("apt-cache")
            .args(["depends", "linux-image-amd64"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let dep = l.trim().strip_prefix("Depends: ")?;
            dep.starts_with("linux-image-")
                .then(|| dep.trim().to_owned())
        })
    };
    if let Some(p) = lookup() {
        return Ok(p);
    }
    run_args("apt-get", &["update", "-q"])?;
    lookup().ok_or_else(|| Error::Lab("apt-cache names no linux-image-amd64 dependency".into()))
}

/// Finds the xz stream in a bzImage and decompresses it into an ELF vmlinux.
fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<()> {
    let image = fs::read(vmlinuz)?;
    let at = image
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .ok_or_else(|| Error::Lab(format!("no xz stream in {}", vmlinuz.display())))?;
    let mut xz = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(fs::File::create(out)?)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::Lab(format!("cannot start xz: {e}")))?;
    let mut stdin = xz
        .stdin
        .take()
        .ok_or_else(|| Error::Lab("xz stdin".into()))?;
    // xz stops reading at the end of the stream; a broken pipe after that is fine.
    let _ = stdin.write_all(&image[at..]);
    drop(stdin);
    xz.wait()?;
    let head = fs::read(out).map(|d| d.get(..4).map(<[u8]>::to_vec))?;
    if head.as_deref() != Some(b"\x7fELF") {
        return Err(Error::Lab(format!(
            "{} did not yield an ELF vmlinux",
            vmlinuz.display()
        )));
    }
    Ok(())
}

fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let mut kids: Vec<_> = fs::read_dir(&out[i])?.flatten().map(|e| e.path()).collect();
            kids.sort();
            out.extend(kids);
        }
        i += 1;
    }
    Ok(out)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}
