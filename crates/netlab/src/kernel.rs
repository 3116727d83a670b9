//! A test harness for tests that need IPVS in the kernel.
//!
//! A test target with `harness = false` calls [`main`] with its tests. On a
//! host whose kernel has IPVS (or inside the lab VM) the tests run right
//! there. Otherwise the whole binary re-executes itself inside one fresh lab
//! VM and reports the guest's results and exit code as its own. Without a
//! prepared lab the binary fails, unless `NETLAB_SKIP_KERNEL=1` is set, in
//! which case every test is reported as ignored: never as passed.

use std::path::Path;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::{Lab, RunSpec};

/// Set inside the VM so the re-executed binary runs its tests.
pub const GUEST_ENV: &str = "NETLAB_GUEST";
/// Set on a host to report kernel tests as ignored instead of failing.
pub const SKIP_ENV: &str = "NETLAB_SKIP_KERNEL";
/// Overrides how long the VM may run, in seconds (default 900).
pub const TIMEOUT_ENV: &str = "NETLAB_TIMEOUT";

/// A kernel test: a name and a function that panics or errs on failure.
pub type KernelTest = (&'static str, fn() -> Result<(), Failed>);

/// Where the tests of this binary should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// IPVS is here (host kernel has it, or we are the guest): run.
    Here,
    /// Boot the lab and run this binary inside it.
    InVm,
    /// No lab and skipping was asked for: report every test ignored.
    Ignore,
    /// No lab, no skip: fail with instructions.
    Fail,
}

/// Decides the [`Plan`] from the facts; pure so it can be tested.
pub fn plan(facts: &Facts, listing: bool) -> Plan {
    if facts.in_guest || facts.host_has_ipvs || listing {
        Plan::Here
    } else if facts.lab_ready {
        Plan::InVm
    } else if facts.skip {
        Plan::Ignore
    } else {
        Plan::Fail
    }
}

/// Whether this kernel has IPVS (loading the module if it can).
pub fn kernel_has_ipvs() -> bool {
    let proc_file = Path::new("/proc/net/ip_vs");
    if proc_file.exists() {
        return true;
    }
    let _ = std::process::Command::new("modprobe")
        .arg("ip_vs")
        .stderr(std::process::Stdio::null())
        .status();
    proc_file.exists()
}

/// Runs `tests` according to the [`Plan`]; never returns.
pub fn main(tests: &[KernelTest]) -> ! {
    let args = Arguments::from_args();
    let lab = Lab::from_env();
    let facts = Facts {
        in_guest: std::env::var_os(GUEST_ENV).is_some(),
        host_has_ipvs: kernel_has_ipvs(),
        lab_ready: lab.is_ready(),
        skip: std::env::var(SKIP_ENV).is_ok_and(|v| v == "1"),
    };
    std::process::exit(run(&args, tests, &facts, &lab))
}

/// What [`plan`] decides from, gathered by [`main`] or given by a test.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // four independent yes/no facts
pub struct Facts {
    pub in_guest: bool,
    pub host_has_ipvs: bool,
    pub lab_ready: bool,
    pub skip: bool,
}

/// Runs `tests` with `args` as [`main`] would under `facts`; returns the
/// process exit code (0 only when every test that ran passed).
pub fn run(args: &Arguments, tests: &[KernelTest], facts: &Facts, lab: &Lab) -> i32 {
    let chosen = plan(facts, args.list);
    match chosen {
        Plan::Here | Plan::Ignore => {
            let trials = tests
                .iter()
                .map(|&(name, f)| Trial::test(name, f).with_ignored_flag(chosen == Plan::Ignore))
                .collect();
            if chosen == Plan::Ignore {
                eprintln!("netlab: no kernel lab and {SKIP_ENV}=1: kernel tests IGNORED, not run");
            }
            if libtest_mimic::run(args, trials).has_failed() {
                101
            } else {
                0
            }
        }
        Plan::InVm => rerun_in_vm(lab),
        Plan::Fail => {
            eprintln!(
                "netlab: this kernel has no IPVS and the kernel lab is not prepared \
                 (run `cargo xtask prepare`, or set {SKIP_ENV}=1 to report these tests ignored)"
            );
            101
        }
    }
}

/// Re-executes the current binary with the same arguments inside the lab.
fn rerun_in_vm(lab: &Lab) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netlab: cannot find the test binary: {e}");
            return 101;
        }
    };
    let mut argv = vec![exe.to_string_lossy().into_owned()];
    argv.extend(std::env::args().skip(1));
    let secs = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(900);
    let mut spec = RunSpec::new(argv)
        .env(GUEST_ENV, "1")
        .timeout(Duration::from_secs(secs));
    for (k, v) in std::env::vars() {
        let passed =
            k.starts_with("CARGO") || k.starts_with("RUST") || k.starts_with("NETLAB") || k == "CI";
        if passed && k != GUEST_ENV {
            spec = spec.env(k, v);
        }
    }
    eprintln!(
        "netlab: no IPVS in this kernel; running {} in the lab VM",
        exe.display()
    );
    match lab.run(&spec) {
        Ok(out) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&out.stdout);
            let _ = std::io::stderr().write_all(&out.stderr);
            eprintln!("netlab: VM run took {:.1} s", out.elapsed.as_secs_f64());
            out.code
        }
        Err(e) => {
            eprintln!("netlab: lab run failed: {e}");
            101
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{plan, Facts, Plan};

    const HOST: Facts = Facts {
        in_guest: false,
        host_has_ipvs: false,
        lab_ready: false,
        skip: false,
    };

    #[test]
    fn host_without_ipvs_goes_to_the_vm_or_fails_never_runs() {
        let ready = Facts {
            lab_ready: true,
            ..HOST
        };
        assert_eq!(plan(&ready, false), Plan::InVm);
        assert_eq!(
            plan(
                &Facts {
                    skip: true,
                    ..ready
                },
                false
            ),
            Plan::InVm
        );
        assert_eq!(plan(&HOST, false), Plan::Fail);
        assert_eq!(plan(&Facts { skip: true, ..HOST }, false), Plan::Ignore);
    }

    #[test]
    fn guest_host_with_ipvs_and_listing_run_here() {
        assert_eq!(
            plan(
                &Facts {
                    in_guest: true,
                    ..HOST
                },
                false
            ),
            Plan::Here
        );
        assert_eq!(
            plan(
                &Facts {
                    host_has_ipvs: true,
                    ..HOST
                },
                false
            ),
            Plan::Here
        );
        assert_eq!(plan(&HOST, true), Plan::Here);
    }
}
