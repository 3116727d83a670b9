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
    let mut cargo_test = cargo();
    cargo_test.args(["test", "--workspace"]);
    run_tests(cargo_test)
}

/// Runs `cargo test`, echoing its output, and closes with one plain line
/// `summary: N passed, N failed, N skipped` over all test binaries, so the
/// last line of a run is never a doc-test section's "0 passed".
fn run_tests(mut cmd: Command) -> Result {
    use std::io::{BufRead as _, BufReader};
    eprintln!("xtask: running {cmd:?}");
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdout(writer.try_clone().map_err(|e| e.to_string())?)
        .stderr(writer)
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    // The Command still holds the pipe's write ends: drop them so the read
    // loop ends when cargo exits.
    drop(cmd);
    let mut tally = Tally::default();
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        tally.line(&line);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let (passed, failed, skipped) = tally.totals();
    println!("summary: {passed} passed, {failed} failed, {skipped} skipped");
    if status.success() && failed == 0 {
        Ok(())
    } else {
        Err(format!("tests failed ({status})"))
    }
}

/// Counts over cargo's test output: per binary (a `Running`/`Doc-tests`
/// section), only its last `test result:` line counts, since a binary may
/// print results of test runs it nests.
#[derive(Default)]
struct Tally {
    done: [u64; 3],
    section: Option<[u64; 3]>,
}

impl Tally {
    fn line(&mut self, line: &str) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("Running ") || trimmed.starts_with("Doc-tests ") {
            self.close();
        } else if let Some(rest) = trimmed.strip_prefix("test result: ") {
            let count = |word: &str| {
                rest.split(';')
                    .find_map(|part| {
                        part.trim()
                            .strip_suffix(word)?
                            .trim()
                            .rsplit(' ')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0)
            };
            self.section = Some([count("passed"), count("failed"), count("ignored")]);
        }
    }

    fn close(&mut self) {
        if let Some(s) = self.section.take() {
            for (d, n) in self.done.iter_mut().zip(s) {
                *d += n;
            }
        }
    }

    fn totals(mut self) -> (u64, u64, u64) {
        self.close();
        (self.done[0], self.done[1], self.done[2])
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn counts_the_last_result_of_each_binary() {
        let mut t = Tally::default();
        for l in [
            "     Running tests/a.rs (target/debug/deps/a-1)",
            "test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out",
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "     Running tests/b.rs (target/debug/deps/b-1)",
            "test result: FAILED. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out",
            "   Doc-tests x",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
        ] {
            t.line(l);
        }
        assert_eq!(t.totals(), (5, 1, 2));
    }
}
