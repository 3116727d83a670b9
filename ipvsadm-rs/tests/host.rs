//! On the host itself (whatever its kernel): read-only command lines give
//! the same output as Debian's ipvsadm. On a kernel without IPVS (as on
//! the CI box) this covers start-up: the `modprobe ip_vs` attempt and the
//! "Can't initialize ipvs" failure, which the lab VM cannot show.

use std::process::Command;

const REAL: &str = "/usr/sbin/ipvsadm";
const OURS: &str = env!("CARGO_BIN_EXE_ipvsadm");

fn run(tool: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    let out = Command::new(tool)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    (out.stdout, out.stderr, out.status.code())
}

#[test]
fn read_only_commands_match_real_ipvsadm() {
    assert!(
        std::path::Path::new(REAL).exists(),
        "{REAL} is missing: install Debian's ipvsadm package"
    );
    let lines: [&[&str]; 6] = [
        &["-h"],
        &["-v"],
        &["-n", "-L"],
        &["-L", "-n", "--timeout"],
        &["-L", "--foo"],
        &["-A", "-t", "80"],
    ];
    for args in lines {
        let real = run(REAL, args);
        let ours = run(OURS, args);
        assert_eq!(
            (
                String::from_utf8_lossy(&ours.0),
                String::from_utf8_lossy(&ours.1),
                ours.2
            ),
            (
                String::from_utf8_lossy(&real.0),
                String::from_utf8_lossy(&real.1),
                real.2
            ),
            "ipvsadm {args:?}"
        );
    }
}
