//! The kernel-test harness never reports a pass for a test it did not run
//! in a kernel with IPVS: without a lab it fails, or (when asked) ignores.

use std::sync::atomic::{AtomicUsize, Ordering};

use libtest_mimic::{Arguments, Failed};
use netlab::kernel::{run, Facts};
use netlab::Lab;

static RAN: AtomicUsize = AtomicUsize::new(0);

#[allow(clippy::unnecessary_wraps)] // the harness's test signature
fn counts_runs() -> Result<(), Failed> {
    RAN.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

fn args() -> Arguments {
    Arguments {
        test_threads: Some(1),
        ..Arguments::default()
    }
}

#[test]
fn no_ipvs_no_lab_fails_without_running_or_ignores_when_asked() {
    let empty = tempfile::tempdir().unwrap();
    let lab = Lab::at(empty.path());
    assert!(
        !lab.is_ready(),
        "an empty cache must not count as a prepared lab"
    );
    let tests: &[netlab::kernel::KernelTest] = &[("would_pass", counts_runs)];
    let host = Facts {
        in_guest: false,
        host_has_ipvs: false,
        lab_ready: false,
        skip: false,
    };
    assert_eq!(run(&args(), tests, &host, &lab), 101);
    assert_eq!(
        RAN.load(Ordering::SeqCst),
        0,
        "the test ran on a kernel without IPVS"
    );
    let skipping = Facts { skip: true, ..host };
    assert_eq!(run(&args(), tests, &skipping, &lab), 0);
    assert_eq!(RAN.load(Ordering::SeqCst), 0, "an ignored test ran");
    let with_ipvs = Facts {
        host_has_ipvs: true,
        ..host
    };
    assert_eq!(run(&args(), tests, &with_ipvs, &lab), 0);
    assert_eq!(
        RAN.load(Ordering::SeqCst),
        1,
        "with IPVS the test runs here"
    );
}
