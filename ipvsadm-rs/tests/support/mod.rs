//! The differential runner shared by the test targets.

pub mod bench;
pub mod json;
pub mod random;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use libtest_mimic::Failed;

/// Held by every test while it runs: libtest runs tests on several
/// threads, and a table changing in another namespace can disturb a dump
/// (see [`run_all`]).
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`SERIAL`].
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many random `-R` inputs the fixture writes (`$WORK/restore-N.rules`).
pub const RESTORE_INPUTS: usize = 40;

/// Debian's ipvsadm, the reference.
pub const REAL: &str = "/usr/sbin/ipvsadm";
/// Ours.
pub const OURS: &str = env!("CARGO_BIN_EXE_ipvsadm");

/// One case: steps run in order in one namespace per tool.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub fwmark_unsigned: bool,
    pub steps: Vec<String>,
}

pub fn testdata(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/ipvsadm")
        .join(file)
}

/// Parses `NAME [flag]: STEP ;; STEP` lines.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, Failed> {
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((head, steps)) = line.split_once(": ") else {
            return Err(format!("cases.txt:{}: no `NAME: ` prefix", n + 1).into());
        };
        let (name, flag) = match head.split_once(" [") {
            Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
            None => (head, None),
        };
        if let Some(f) = flag.filter(|f| *f != "fwmark-unsigned") {
            return Err(format!("cases.txt:{}: unknown flag [{f}]", n + 1).into());
        }
        if cases.iter().any(|c: &Case| c.name == name) {
            return Err(format!("cases.txt:{}: duplicate case {name}", n + 1).into());
        }
        cases.push(Case {
            name: name.to_owned(),
            fwmark_unsigned: flag.is_some(),
            steps: steps.split(" ;; ").map(|s| s.trim().to_owned()).collect(),
        });
    }
    Ok(cases)
}

/// A directory with an `ipvsadm` symlink to `tool`, to put first in PATH.
fn bin_dir(root: &Path, which: &str, tool: &str) -> std::io::Result<PathBuf> {
    let d = root.join(which);
    std::fs::create_dir_all(&d)?;
    std::os::unix::fs::symlink(tool, d.join("ipvsadm"))?;
    Ok(d)
}

/// Shared fixture: the two PATH directories and the generated inputs.
pub struct Fixture {
    pub root: tempfile::TempDir,
    pub real_bin: PathBuf,
    pub ours_bin: PathBuf,
}

pub fn fixture() -> Result<Fixture, Failed> {
    if !Path::new(REAL).exists() {
        return Err(format!("{REAL} is missing: install Debian's ipvsadm package").into());
    }
    let root = tempfile::tempdir()?;
    let real_bin = bin_dir(root.path(), "real-bin", REAL)?;
    let ours_bin = bin_dir(root.path(), "ours-bin", OURS)?;
    std::fs::write(
        root.path().join("random.rules"),
        random::rules(0x1f05_2026, 300),
    )?;
    for i in 0..RESTORE_INPUTS {
        let text = random::restore_input(0x4e57_0000 + i as u64, 8);
        std::fs::write(root.path().join(format!("restore-{i}.rules")), text)?;
    }
    Ok(Fixture {
        root,
        real_bin,
        ours_bin,
    })
}

/// Runs `step` in namespace `ns` with `bin` first in PATH.
pub fn run_step(
    ns: &str,
    bin: &Path,
    work: &Path,
    tmp: &Path,
    step: &str,
) -> std::io::Result<Output> {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", step])
        .env("PATH", path)
        .env("WORK", work)
        .env("TMP", tmp)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
}

/// `FWM  -5` / `-f -5` → the mark as unsigned (the intended difference).
/// Where the mark sits in a padded column (two or more blanks follow, after
/// an optional ` IPv6`), the padding shrinks by the digits gained, as it
/// does in our output.
pub fn unsign_fwmarks(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((i, plen)) = ["FWM  -", "-f -"]
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
        .min()
    {
        out.push_str(&rest[..i + plen - 1]);
        let tail = &rest[i + plen..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        rest = &tail[digits..];
        match tail[..digits].parse::<u64>() {
            Ok(n) if digits > 0 && n <= 1 << 31 => {
                let text = ((1u64 << 32) - n).to_string();
                out.push_str(&text);
                if let Some(r) = rest.strip_prefix(" IPv6") {
                    out.push_str(" IPv6");
                    rest = r;
                }
                let blanks = rest.bytes().take_while(|b| *b == b' ').count();
                if blanks >= 2 {
                    // The sign is gone: the text may be longer or shorter.
                    let (old, new) = (digits + 1, text.len());
                    if new > old {
                        rest = &rest[(new - old).min(blanks - 1)..];
                    } else {
                        out.push_str(&" ".repeat(old - new));
                    }
                }
            }
            _ => {
                out.push('-');
                out.push_str(&tail[..digits]);
            }
        }
    }
    out.push_str(rest);
    out
}

/// A namespace where IPv4 real servers can be added: the kernel refuses
/// (EINVAL) a destination whose address has no route. Only the
/// documentation ranges get one, so that name lookups (DNS) still fail at
/// once instead of timing out.
pub fn add_ns(topo: &mut netlab::Topology, name: &str) -> Result<String, Failed> {
    let full = topo.add_ns(name)?;
    for net in ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"] {
        topo.ip(name, &["route", "add", net, "dev", "lo"])?;
    }
    Ok(full)
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// What one step printed and returned.
#[derive(Debug)]
pub struct StepResult {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: Option<i32>,
}

/// Runs all `steps` in a fresh network namespace (`unshare --net`: it
/// dies with the script, IPVS state and all) through one shell script;
/// process start-up is slow in the VM, so one script per case and tool.
/// The namespace gets `lo` up and routes for the documentation ranges (the
/// kernel refuses IPv4 real servers without a route; DNS still fails at
/// once). Each step runs in a subshell with its output in files of `res`.
fn run_steps(
    bin: &Path,
    work: &Path,
    tmp: &Path,
    res: &Path,
    steps: &[String],
) -> Result<Vec<StepResult>, Failed> {
    std::fs::create_dir_all(res)?;
    let mut script = String::from(
        "ip -batch - <<EOF\nlink set lo up\nroute add 192.0.2.0/24 dev lo\n\
         route add 198.51.100.0/24 dev lo\nroute add 203.0.113.0/24 dev lo\nEOF\n",
    );
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(
            script,
            "(\n{step}\n) >\"$RES/{i}.out\" 2>\"$RES/{i}.err\" </dev/null; echo $? >\"$RES/{i}.rc\""
        );
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // A file, not `sh -c`: a long case would exceed the argument size limit.
    let file = res.join("steps.sh");
    std::fs::write(&file, script)?;
    let out = Command::new("unshare")
        .args(["--net", "sh"])
        .arg(&file)
        .env("PATH", path)
        .env("WORK", work)
        .env("TMP", tmp)
        .env("RES", res)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!("case script failed: {out:?}").into());
    }
    (0..steps.len())
        .map(|i| {
            let read = |ext: &str| std::fs::read(res.join(format!("{i}.{ext}")));
            let rc = String::from_utf8_lossy(&read("rc")?).trim().parse().ok();
            Ok(StepResult {
                stdout: read("out")?,
                stderr: read("err")?,
                code: rc,
            })
        })
        .collect()
}

/// Runs one case with both tools; returns the differences found and the
/// real tool's exit codes.
fn run_case(f: &Fixture, case: &Case) -> Result<(Vec<String>, Vec<Option<i32>>), Failed> {
    let tmp = tempfile::tempdir()?;
    let dir = |d: &str| -> std::io::Result<PathBuf> {
        let p = tmp.path().join(d);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    };
    let work = f.root.path();
    let real = run_steps(
        &f.real_bin,
        work,
        &dir("real")?,
        &dir("real-res")?,
        &case.steps,
    )?;
    let ours = run_steps(
        &f.ours_bin,
        work,
        &dir("ours")?,
        &dir("ours-res")?,
        &case.steps,
    )?;
    let codes = real.iter().map(|r| r.code).collect();
    let mut diffs = Vec::new();
    for (i, ((step, real), ours)) in case.steps.iter().zip(real).zip(ours).enumerate() {
        let mut real_out = real.stdout.clone();
        let mut real_err = real.stderr.clone();
        if case.fwmark_unsigned {
            real_out = unsign_fwmarks(&String::from_utf8_lossy(&real_out)).into_bytes();
            real_err = unsign_fwmarks(&String::from_utf8_lossy(&real_err)).into_bytes();
        }
        let at = format!("{} step {} `{}`", case.name, i + 1, step);
        if real_out != ours.stdout {
            diffs.push(format!(
                "{at}: stdout\n  real: {}\n  ours: {}",
                show(&real_out),
                show(&ours.stdout)
            ));
        }
        if real_err != ours.stderr {
            diffs.push(format!(
                "{at}: stderr\n  real: {}\n  ours: {}",
                show(&real_err),
                show(&ours.stderr)
            ));
        }
        if real.code != ours.code {
            diffs.push(format!(
                "{at}: exit code real {:?} ours {:?}",
                real.code, ours.code
            ));
        }
    }
    Ok((diffs, codes))
}

/// Runs every case, one after the other, and reports every difference at
/// once. Not in parallel: the kernel's service dump resumes by a position
/// counted over every namespace's services, so a table changing in another
/// namespace between two dump chunks repeats or skips entries in this one.
pub fn run_all(cases: &[Case]) -> Result<(), Failed> {
    run_all_codes(cases).map(|_| ())
}

/// [`run_all`], also returning the real tool's exit codes of every step.
pub fn run_all_codes(cases: &[Case]) -> Result<Vec<Option<i32>>, Failed> {
    let _serial = serial();
    let f = fixture()?;
    let mut found = Vec::new();
    let mut codes = Vec::new();
    for case in cases {
        match run_case(&f, case) {
            Ok((d, c)) => {
                found.extend(d);
                codes.extend(c);
            }
            Err(e) => found.push(format!("{}: {e:?}", case.name)),
        }
    }
    if found.is_empty() {
        Ok(codes)
    } else {
        Err(format!("{} difference(s):\n{}", found.len(), found.join("\n")).into())
    }
}
