//! `run`: boot a fresh VM for one command.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::guest::{stage2_script, JOB_TAG, ROOT_TAG};
use super::{which, Lab};
use crate::cmd::shell_quote;
use crate::{Error, Result};

/// What to run in the VM.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Program and arguments, run as root by the host's `/bin/sh`.
    pub argv: Vec<String>,
    /// Working directory inside the guest (a host path; read-only view).
    pub cwd: PathBuf,
    /// Environment variables set for the command (PATH and HOME are set).
    pub env: Vec<(String, String)>,
    /// The whole VM is killed after this long.
    pub timeout: Duration,
    /// Guest memory in MiB.
    pub memory_mib: u32,
}

impl RunSpec {
    /// `argv` in the current directory, 300 s timeout, 1 GiB.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            env: Vec::new(),
            timeout: Duration::from_secs(300),
            memory_mib: 1024,
        }
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What came back from the VM.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The command's exit status as the guest shell saw it (128+N for signal N).
    pub code: i32,
    /// The last lines of the serial console (kernel messages, init errors).
    pub console_tail: String,
    /// Wall time from starting qemu to its exit.
    pub elapsed: Duration,
}

/// How much of the console a failure report shows.
const CONSOLE_TAIL_BYTES: usize = 4000;

impl Lab {
    /// Boots a fresh VM, runs `spec` in it and returns its output.
    pub fn run(&self, spec: &RunSpec) -> Result<RunOutput> {
        let kernel = self.kernel()?;
        let qemu = which("qemu-system-x86_64")
            .ok_or_else(|| Error::NotPrepared("qemu-system-x86_64 not installed".into()))?;
        let job = JobDir::new(&self.cache)?;
        let command = spec
            .argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut env = String::new();
        for (k, v) in &spec.env {
            let _ = writeln!(env, "export {k}={}", shell_quote(v));
        }
        fs::write(job.0.join("env.sh"), env)?;
        fs::write(
            job.0.join("stage2.sh"),
            stage2_script(
                &kernel.release,
                &kernel.modules.to_string_lossy(),
                &spec.cwd.to_string_lossy(),
                &command,
            ),
        )?;
        let console = job.0.join("console.log");
        let started = Instant::now();
        let mut child = Command::new(qemu)
            .args(["-accel", "tcg", "-cpu", "max", "-smp", "1"])
            .args(["-m", &spec.memory_mib.to_string()])
            .args(["-nographic", "-no-reboot", "-nic", "none"])
            .arg("-kernel")
            .arg(&kernel.vmlinux)
            .arg("-initrd")
            .arg(&kernel.initrd)
            .args([
                "-append",
                "console=ttyS0 quiet loglevel=3 panic=-1 cryptomgr.notests no_timer_check tsc=reliable",
            ])
            .arg("-virtfs")
            .arg(format!(
                "local,path=/,mount_tag={ROOT_TAG},security_model=none,readonly=on,multidevs=remap"
            ))
            .arg("-virtfs")
            .arg(format!(
                "local,path={},mount_tag={JOB_TAG},security_model=none,multidevs=remap",
                job.0.display()
            ))
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .stdin(Stdio::null())
            .stdout(fs::File::create(&console)?)
            .stderr(Stdio::from(fs::File::create(job.0.join("qemu.err"))?))
            .spawn()
            .map_err(|e| Error::Lab(format!("cannot start qemu: {e}")))?;
        let deadline = started + spec.timeout;
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let partial = |name: &str| tail(&job.0.join(name));
                return Err(Error::Timeout {
                    secs: spec.timeout.as_secs(),
                    console: format!(
                        "{}\n--- guest stdout so far:\n{}\n--- guest stderr so far:\n{}",
                        tail(&console),
                        partial("stdout"),
                        partial("stderr")
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let elapsed = started.elapsed();
        let read = |name: &str| fs::read(job.0.join(name)).unwrap_or_default();
        let rc = String::from_utf8_lossy(&read("rc")).trim().to_owned();
        let code = rc.parse::<i32>().map_err(|_| {
            let qemu_err = String::from_utf8_lossy(&read("qemu.err")).into_owned();
            Error::Lab(format!(
                "the guest exited without a status; qemu said: {qemu_err}\nconsole tail:\n{}",
                tail(&console)
            ))
        })?;
        Ok(RunOutput {
            stdout: read("stdout"),
            stderr: read("stderr"),
            code,
            console_tail: tail(&console),
            elapsed,
        })
    }
}

fn tail(path: &std::path::Path) -> String {
    let data = fs::read(path).unwrap_or_default();
    let from = data.len().saturating_sub(CONSOLE_TAIL_BYTES);
    String::from_utf8_lossy(&data[from..]).into_owned()
}

/// A per-run directory shared with the guest; removed on drop.
struct JobDir(PathBuf);

impl JobDir {
    fn new(cache: &std::path::Path) -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = cache
            .join("jobs")
            .join(format!("{}-{n}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
