//! `nginx-conf check` against `nginx -t` (Debian nginx-light 1.22).
//!
//! Every line of `testdata/nginx/check.txt` is one case: `PATH [default-prefix]`.
//! nginx runs as `nginx -t -q -p TMPDIR/ -c PATH` (with `default-prefix`, nginx's
//! compiled-in prefix, for configs that load modules relative to it). Both must
//! accept, or both reject with the same message (`MSG in FILE:LINE`).

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

fn nginx(path: &str, default_prefix: bool) -> Result<Option<String>, Failed> {
    let prefix = std::env::temp_dir().join(format!(
        "nginx-conf-check-{}-{}",
        std::process::id(),
        path.replace('/', "_")
    ));
    std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("nginx");
    cmd.args(["-t", "-q"]);
    if !default_prefix {
        cmd.arg("-p").arg(format!("{}/", prefix.display()));
    }
    let out = cmd.arg("-c").arg(path).output();
    let _ = std::fs::remove_dir_all(&prefix);
    let out =
        out.map_err(|e| format!("cannot run nginx ({e}); the test set-up installs nginx-light"))?;
    if out.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.contains("[emerg]") {
        return Err(format!("nginx failed without an [emerg] line: {stderr}").into());
    }
    Ok(Some(emerg_message(&stderr)))
}

/// The text of nginx's first `[emerg]` message (which may span lines, when a
/// directive name contains a newline), without the time stamp and process id.
fn emerg_message(stderr: &str) -> String {
    let start = stderr.find("[emerg]").unwrap_or(0);
    let rest = &stderr[start..];
    let rest = rest.split_once(": ").map_or(rest, |(_, m)| m);
    let end = rest
        .find("\nnginx: configuration file")
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('\n').to_owned()
}

fn run_case(path: &str, default_prefix: bool) -> Result<(), Failed> {
    let theirs = nginx(path, default_prefix)?;
    let ours = nginx_conf::check(path).err().map(|e| e.to_string());
    if theirs == ours {
        Ok(())
    } else {
        Err(format!("nginx -t: {theirs:?}\nnginx-conf check: {ours:?}").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/nginx");
    let list = std::fs::read_to_string(root.join("check.txt")).expect("testdata/nginx/check.txt");
    let mut trials = Vec::new();
    for line in list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut words = line.split_whitespace();
        let path = root.join(words.next().unwrap_or_default());
        let path = path.canonicalize().unwrap_or(path).display().to_string();
        let default_prefix = words.next() == Some("default-prefix");
        trials.push(Trial::test(line.to_owned(), move || {
            run_case(&path, default_prefix)
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
