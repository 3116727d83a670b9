//! Differential tests against crossplane 0.5.8 (the reference implementation).
//!
//! Every line of `testdata/nginx/cases.txt` is one case:
//!
//! ```text
//! COMMAND[!] PATH [FLAGS...]
//! ```
//!
//! `COMMAND` is `parse`, `lex`, `format`, `minify` or `build`; `PATH` is relative to
//! `testdata/nginx` (or absolute); `FLAGS` go to both tools. `parse` and `lex` compare
//! the JSON as values and then byte for byte, the others compare text. `build` builds crossplane's own
//! parse payload of `PATH` with both tools. A `!` marks a documented nginx-faithful
//! deviation (docs/nginx-conf.md): the outputs must differ, and where nginx rejects
//! the file our first error must be nginx's (`nginx -t`).

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/nginx")
}

fn run(program: &str, args: &[String]) -> Result<(bool, String), Failed> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        format!("cannot run {program} ({e}); the test set-up installs it (pip install crossplane==0.5.8, apt nginx-light)")
    })?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn ours(args: &[String]) -> Result<(bool, String), Failed> {
    run(env!("CARGO_BIN_EXE_nginx-conf"), args)
}

struct Case {
    command: String,
    deviates: bool,
    path: String,
    flags: Vec<String>,
}

fn parse_json(text: &str, who: &str) -> Result<Value, Failed> {
    serde_json::from_str(text)
        .map_err(|e| format!("{who} printed invalid JSON ({e}): {text}").into())
}

/// The outputs of both tools for a case, as comparable values.
fn outputs(case: &Case, dir: &Path) -> Result<(Value, Value), Failed> {
    let mut args = vec![case.command.clone(), case.path.clone()];
    args.extend(case.flags.iter().cloned());
    match case.command.as_str() {
        "parse" | "lex" => {
            let (_, theirs) = run("crossplane", &args)?;
            let (_, mine) = ours(&args)?;
            let (theirs_json, mine_json) = (
                parse_json(&theirs, "crossplane")?,
                parse_json(&mine, "nginx-conf")?,
            );
            if !case.deviates && theirs_json == mine_json && theirs != mine {
                return Err(format!(
                    "same JSON value, different text\ncrossplane: {theirs}\nnginx-conf: {mine}"
                )
                .into());
            }
            Ok((theirs_json, mine_json))
        }
        "format" | "minify" => {
            let (ok, theirs) = run("crossplane", &args)?;
            if !ok {
                return Err(format!("crossplane {} failed", args.join(" ")).into());
            }
            let (_, mine) = ours(&args)?;
            Ok((Value::String(theirs), Value::String(mine)))
        }
        "build" => {
            let (_, payload) = run("crossplane", &["parse".into(), case.path.clone()])?;
            let json = dir.join("payload.json");
            std::fs::write(&json, payload).map_err(|e| e.to_string())?;
            let mut build = vec!["build".into(), "--stdout".into(), "-d".into()];
            build.push(dir.display().to_string());
            build.push(json.display().to_string());
            build.extend(case.flags.iter().cloned());
            let (_, theirs) = run("crossplane", &build)?;
            let (_, mine) = ours(&build)?;
            Ok((Value::String(theirs), Value::String(mine)))
        }
        other => Err(format!("unknown command {other:?} in cases.txt").into()),
    }
}

/// nginx's first `[emerg]` message for `path`, or `None` if nginx accepts it.
fn nginx_error(path: &str) -> Result<Option<String>, Failed> {
    // nginx's compiled-in prefix: `nginx -t` writes nothing there, and Debian's
    // config loads its modules relative to it.
    let out = Command::new("nginx")
        .args(["-t", "-q", "-c", path])
        .output()
        .map_err(|e| format!("cannot run nginx ({e}); the test set-up installs nginx-light"))?;
    if out.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_default();
    let message = line.split_once(": ").map_or(line, |(_, m)| m);
    Ok(Some(message.to_owned()))
}

fn tempdir() -> Result<PathBuf, Failed> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nginx-conf-diff-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn run_case(case: &Case) -> Result<(), Failed> {
    let dir = tempdir()?;
    let result = outputs(case, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let (theirs, mine) = result?;
    if !case.deviates {
        if theirs != mine {
            return Err(format!(
                "output differs from crossplane\ncrossplane: {theirs}\nnginx-conf: {mine}"
            )
            .into());
        }
        return Ok(());
    }
    if theirs == mine {
        return Err("marked as a deviation but equals crossplane: drop the `!`".into());
    }
    if case.command == "parse" {
        let first = mine["errors"][0]["error"].as_str().map(str::to_owned);
        let nginx = nginx_error(&case.path)?;
        if let (Some(nginx), Some(first)) = (&nginx, &first) {
            if nginx != first {
                return Err(format!("first error {first:?}, nginx says {nginx:?}").into());
            }
        } else if nginx.is_some() != first.is_some() {
            return Err(format!("nginx error {nginx:?} but ours {first:?}").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let root = testdata();
    let list = std::fs::read_to_string(root.join("cases.txt")).expect("testdata/nginx/cases.txt");
    let mut trials = Vec::new();
    for line in list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default();
        let deviates = command.ends_with('!');
        let path = words.next().unwrap_or_default();
        let full = if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            root.join(path)
        };
        let full = full.canonicalize().unwrap_or(full);
        let case = Case {
            command: command.trim_end_matches('!').to_owned(),
            deviates,
            path: full.display().to_string(),
            flags: words.map(str::to_owned).collect(),
        };
        trials.push(Trial::test(line.to_owned(), move || run_case(&case)));
    }
    libtest_mimic::run(&args, trials).exit();
}
