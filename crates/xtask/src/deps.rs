//! What the README commands install on a fresh Debian bookworm machine.
//! Add a package here (with a comment saying which test needs it); the
//! installer only installs what is missing, so it stays idempotent.

/// Debian packages, installed with `--no-install-recommends --no-upgrade`.
pub const APT: &[&str] = &[
    "qemu-system-x86", // kernel lab VM
    "busybox-static",  // lab initramfs
    "kmod",            // modprobe inside the lab
    "xz-utils",        // unpacking the kernel image
    "iproute2",        // namespace topologies
    "iputils-ping",    // reachability checks in topology tests
    "ipvsadm",         // oracle for ipvsadm-rs
    "keepalived",      // oracle for keepalived-conf and vrrpd
    "nginx-light",     // oracle for nginx-conf and l7proxy
    "wrk",             // load generator for benchmarks
    "curl",            // HTTP client in lab tests
    "tcpdump",         // packet captures
    "openssl",         // test certificates (l7proxy TLS differential)
    "procps",          // kill and sysctl in topology and daemon tests
    "nftables",        // nft: vrrpd's no_accept rules and vrrpd/tests/no_accept.rs
    "python3",         // vrrp tests' raw-socket sender
    "python3-pip",     // installs crossplane
    "make",            // builds jemalloc (l7proxy's allocator, tikv-jemalloc-sys)
];

/// Python packages from PyPI: (import/command name, pip requirement).
pub const PIP: &[(&str, &str)] = &[
    ("crossplane", "crossplane==0.5.8"), // oracle for nginx-conf
];
