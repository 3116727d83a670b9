//! The scripts that run inside the VM: the initramfs `/init` (busybox) and
//! the per-run stage 2 (the host's `/bin/sh`, after `switch_root`).

use std::fmt::Write as _;

use crate::cmd::shell_quote;

/// The 9p mount tag of the read-only host root.
pub(super) const ROOT_TAG: &str = "hostroot";
/// The 9p mount tag of the writable per-run directory.
pub(super) const JOB_TAG: &str = "netlabjob";
/// Where the per-run directory appears inside the guest.
pub(super) const JOB_DIR: &str = "/run/netlab";

/// Modules the initramfs loads, in dependency order, relative to
/// `lib/modules/RELEASE/kernel`.
pub(super) const INITRD_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci",
    "fs/netfs/netfs",
    "fs/fscache/fscache",
    "net/9p/9pnet",
    "net/9p/9pnet_virtio",
    "fs/9p/9p",
    "fs/overlayfs/overlay",
];

/// The initramfs `/init`: load virtio and 9p, mount the host root under a
/// tmpfs overlay, mount the job share and switch into stage 2.
pub(super) fn init_script() -> String {
    let mut s = String::from("#!/bin/busybox sh\nB=/bin/busybox\n");
    s.push_str("$B mount -t proc proc /proc\n$B mount -t devtmpfs dev /dev\n");
    s.push_str("for m in");
    for m in INITRD_MODULES {
        s.push(' ');
        s.push_str(m.rsplit('/').next().unwrap_or(m));
    }
    s.push_str("; do $B insmod /mods/$m.ko || echo \"netlab-init: insmod $m failed\"; done\n");
    let p9 = "trans=virtio,version=9p2000.L,msize=512000";
    let _ = write!(
        s,
        "$B mount -t 9p -o {p9},ro {ROOT_TAG} /ro || echo 'netlab-init: root mount failed'\n\
         $B mount -t tmpfs -o mode=0755 rw /rw\n\
         $B mkdir -p /rw/upper /rw/work\n\
         $B mount -t overlay -o lowerdir=/ro,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
         || echo 'netlab-init: overlay failed'\n\
         $B mount -t tmpfs -o mode=0755 run /newroot/run\n\
         $B mkdir -p /newroot{JOB_DIR}\n\
         $B mount -t 9p -o {p9} {JOB_TAG} /newroot{JOB_DIR} || echo 'netlab-init: job mount failed'\n\
         $B mount --move /dev /newroot/dev\n\
         $B umount /proc\n\
         exec $B switch_root /newroot /bin/sh {JOB_DIR}/stage2.sh\n"
    );
    s
}

/// Stage 2: mount the usual file systems (`/tmp` stays the overlay's:
/// writable, and still showing the host's files, since a checkout or a
/// target directory may live there), bind the kernel's modules where
/// kmod looks for them, run the job with its output in the job share, record
/// its exit status and leave through isa-debug-exit.
pub(super) fn stage2_script(release: &str, modules: &str, cwd: &str, command: &str) -> String {
    let moddir = format!("/lib/modules/{release}");
    format!(
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sys /sys\n\
         mkdir -p /dev/pts /dev/shm\n\
         mount -t devpts devpts /dev/pts\n\
         mount -t tmpfs shm /dev/shm\n\
         mkdir -p {moddir}\n\
         mount --bind {modules} {moddir}\n\
         ip link set lo up\n\
         hostname netlab\n\
         . {JOB_DIR}/env.sh\n\
         {{ cd {cwd} && {command}; }} > {JOB_DIR}/stdout 2> {JOB_DIR}/stderr < /dev/null\n\
         echo $? > {JOB_DIR}/rc.tmp && mv {JOB_DIR}/rc.tmp {JOB_DIR}/rc\n\
         sync\n\
         printf '\\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null\n\
         echo o > /proc/sysrq-trigger\n",
        modules = shell_quote(modules),
        cwd = shell_quote(cwd),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_loads_every_module_in_order() {
        let s = init_script();
        let line = s.lines().find(|l| l.starts_with("for m in")).unwrap();
        assert!(line.contains(
            "virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
             netfs fscache 9pnet 9pnet_virtio 9p overlay;"
        ));
        assert!(s.ends_with("stage2.sh\n"));
    }

    #[test]
    fn stage2_quotes_paths_and_records_status() {
        let s = stage2_script(
            "6.1.0-1-amd64",
            "/c/lib/modules/6.1.0-1-amd64",
            "/a b",
            "true",
        );
        assert!(s.contains("{ cd '/a b' && true; } > /run/netlab/stdout 2> /run/netlab/stderr"));
        assert!(s.contains("mount --bind /c/lib/modules/6.1.0-1-amd64 /lib/modules/6.1.0-1-amd64"));
        assert!(s.contains("echo $? > /run/netlab/rc.tmp"));
    }
}
