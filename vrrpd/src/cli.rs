//! Command line: keepalived-compatible options. `-t` and `--dump-config` are
//! served by `keepalived-conf`; `Mode::Run` starts the daemon (`crate::daemon`).

use std::path::PathBuf;

use clap::Parser;
use keepalived_conf::{check_file, Outcome, ReadOptions, SystemHost};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

#[derive(Debug, Parser)]
#[command(
    name = "vrrpd",
    about = "VRRP daemon reading keepalived.conf",
    disable_version_flag = true
)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per keepalived command-line switch"
)]
pub struct Args {
    /// Check the configuration and exit (keepalived's exit codes: 0 ok,
    /// 4 cannot run, 5 errors or warnings, 6 script security).
    #[arg(short = 't', long = "config-test")]
    pub config_test: bool,
    /// Configuration file.
    #[arg(short = 'f', long = "use-file", default_value = DEFAULT_CONFIG)]
    pub use_file: PathBuf,
    /// Config id for `@ID` lines (default: first label of the host name).
    #[arg(short = 'i', long = "config-id")]
    pub config_id: Option<String>,
    /// Print the resolved configuration as JSON and exit.
    #[arg(long = "dump-config")]
    pub dump_config: bool,
    /// Stay in the foreground (keepalived's `-n`).
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Log to the console (stderr) as well.
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages (debug level).
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,
    /// Only run the VRRP subsystem (the only one there is; accepted).
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp_only: bool,
    /// Parent pid file (keepalived: /run/keepalived.pid).
    #[arg(short = 'p', long = "pid", default_value = "/run/keepalived.pid")]
    pub pid_file: PathBuf,
    /// VRRP child pid file (keepalived: /run/vrrp.pid). vrrpd is one
    /// process, so both files hold its pid.
    #[arg(short = 'r', long = "vrrp_pid", default_value = "/run/vrrp.pid")]
    pub vrrp_pid_file: PathBuf,
    /// Checkers pid file: there is no checker process; accepted for drop-in
    /// compatibility and not written.
    #[arg(short = 'c', long = "checkers_pid")]
    pub checkers_pid_file: Option<PathBuf>,
    /// Syslog facility 0-7 (local0..local7): accepted, vrrpd logs as daemon.
    #[arg(short = 'S', long = "log-facility")]
    pub log_facility: Option<String>,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// What the process was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ConfigTest,
    DumpConfig,
    Version,
    Run,
}

impl Args {
    pub fn mode(&self) -> Mode {
        if self.version {
            Mode::Version
        } else if self.dump_config {
            Mode::DumpConfig
        } else if self.config_test {
            Mode::ConfigTest
        } else {
            Mode::Run
        }
    }
}

/// keepalived's default config id: the host name up to the first dot.
fn default_config_id() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    name.trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn read_options(args: &Args) -> ReadOptions {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    ReadOptions {
        config_id: args.config_id.clone().unwrap_or_else(default_config_id),
        random_seed: seed,
    }
}

fn load(args: &Args) -> Outcome {
    check_file(&args.use_file, &read_options(args), &SystemHost)
}

pub fn print_diagnostics(outcome: &Outcome) {
    for d in &outcome.diagnostics.items {
        eprintln!("{d}");
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let args = Args::parse();
    match args.mode() {
        Mode::ConfigTest => {
            let outcome = load(&args);
            print_diagnostics(&outcome);
            outcome.exit_code()
        }
        Mode::DumpConfig => {
            let outcome = load(&args);
            print_diagnostics(&outcome);
            match serde_json::to_string_pretty(&outcome.config) {
                Ok(json) => {
                    println!("{json}");
                    outcome.exit_code()
                }
                Err(e) => {
                    eprintln!("vrrpd: cannot serialise configuration: {e}");
                    1
                }
            }
        }
        Mode::Version => {
            println!(
                "vrrpd {} (keepalived 2.2.7 compatible)",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        Mode::Run => crate::daemon::main(&args),
    }
}
