//! `cargo xtask`: the project's task runner.
//!
//! * `setup`  install what the tests need (idempotent) and prepare the lab
//! * `test`   setup, then fmt check, clippy and every test (the CI command)
//! * `demo`   setup, then the main job: the lab demo
//! * `prepare`, `bench-boot [RUNS]`  lab tasks

mod deps;

use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("test") => setup().and_then(|()| test()),
        Some("demo") => setup().and_then(|()| netlab(&["demo"])),
        Some("prepare") => prepare(),
        Some("bench-boot") => {
            let runs = args.get(1).map_or("10", String::as_str);
            netlab(&["bench-boot", "--runs", runs])
        }
        _ => Err("usage: cargo xtask setup|test|demo|prepare|bench-boot [RUNS]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command, streaming its output; an error unless it exits 0.
fn sh(cmd: &mut Command) -> Result {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn setup() -> Result {
    install_apt()?;
    install_pip()?;
    prepare()
}

fn install_apt() -> Result {
    let missing: Vec<&str> = deps::APT
        .iter()
        .copied()
        .filter(|p| {
            Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map_or(true, |o| {
                    !String::from_utf8_lossy(&o.stdout).contains("install ok installed")
                })
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    sh(Command::new("apt-get").args(["update", "-q"]))?;
    sh(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "--no-upgrade",
        ])
        .args(&missing))
}

fn install_pip() -> Result {
    for (name, requirement) in deps::PIP {
        let version = requirement.split("==").nth(1).unwrap_or("");
        let have = Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(version));
        if have {
            continue;
        }
        let pip = |extra: &[&str]| {
            sh(Command::new("python3")
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(extra)
                .arg(requirement))
        };
        // Debian's own python3 refuses system-wide installs (PEP 668).
        pip(&[]).or_else(|_| pip(&["--break-system-packages"]))?;
    }
    Ok(())
}

fn prepare() -> Result {
    let kernel = netlab::Lab::from_env()
        .prepare()
        .map_err(|e| e.to_string())?;
    eprintln!("xtask: kernel lab ready ({})", kernel.release);
    Ok(())
}

fn netlab(args: &[&str]) -> Result {
    sh(cargo()
        .args(["run", "--quiet", "-p", "netlab", "--"])
        .args(args))
}

fn test() -> Result {
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    sh(cargo().args(["test", "--workspace"]))
}
