//! Differential tests on generated inputs: every keyword keepalived knows,
//! alone (without its value) in its block, and seeded mutations of our
//! fixtures. `vrrpd -t` must exit like `keepalived -t`, except where
//! keepalived itself crashes (it dies on a signal for a few of these).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{display, keepalived_code, Netns};
use keepalived_conf::model::keywords;

/// Where each section's keyword goes: text before and after it.
fn wrappers() -> Vec<(&'static [&'static str], &'static str, &'static str)> {
    let vs = "virtual_server 192.0.2.1 80 {\n";
    vec![
        (keywords::GLOBAL_DEFS, "global_defs {\n", "}\n"),
        (
            keywords::VRRP_INSTANCE,
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n",
            "}\n",
        ),
        (keywords::VRRP_SCRIPT, "vrrp_script S {\n script /bin/true\n", "}\n"),
        (keywords::SYNC_GROUP, "vrrp_sync_group G {\n group {\n  VI_1\n }\n", "}\n"),
        (keywords::VIRTUAL_SERVER, vs, " real_server 192.0.2.2 80 {\n }\n}\n"),
        (keywords::TRACK_FILE, "track_file T {\n", "}\n"),
        (keywords::TRACK_PROCESS, "vrrp_track_process P {\n", "}\n"),
        (keywords::GARP_GROUP, "garp_group {\n", "}\n"),
        (keywords::SSL, "SSL {\n", "}\n"),
        (
            keywords::AUTHENTICATION,
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n authentication {\n",
            " }\n}\n",
        ),
        (keywords::ROOT, "", ""),
    ]
}

fn keyword_corpus() -> Vec<String> {
    let mut out = Vec::new();
    for (list, before, after) in wrappers() {
        for kw in list {
            if *kw != "global_defs" {
                out.push(format!("{before}  {kw}\n{after}"));
            }
        }
    }
    let rs = "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n";
    for kw in keywords::REAL_SERVER {
        out.push(format!("{rs}  {kw}\n }}\n}}\n"));
    }
    for kind in [
        "HTTP_GET",
        "TCP_CHECK",
        "MISC_CHECK",
        "SMTP_CHECK",
        "DNS_CHECK",
        "UDP_CHECK",
    ] {
        for kw in keywords::checker_keywords(kind) {
            out.push(format!("{rs}  {kind} {{\n   {kw}\n  }}\n }}\n}}\n"));
        }
    }
    out
}

/// A small deterministic generator (no external crate needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % (n as u64)).unwrap_or(0)
    }
}

fn mutants(count: usize) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keepalived");
    let mut sources = Vec::new();
    for dir in ["lexical", "checkers", "errors"] {
        for e in std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter_map(Result::ok)
        {
            if e.path().extension().is_some_and(|x| x == "conf") {
                sources.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    sources.sort();
    let words = [
        "0",
        "1",
        "255",
        "256",
        "-1",
        "1.5",
        "MASTER",
        "BACKUP",
        "eth0",
        "eth5",
        "{",
        "}",
        "\"x\"",
        "192.0.2.1",
        "2001:db8::1",
        "nopreempt",
        "vrrp_strict",
        "AH",
        "PASS",
        "weight",
        "dev",
        "no_track",
        "on",
        "off",
        "blah",
    ];
    let mut rng = Lcg(5);
    let mut out = Vec::new();
    for _ in 0..count {
        let mut lines: Vec<String> = sources[rng.next(sources.len())]
            .lines()
            .map(str::to_string)
            .collect();
        for _ in 0..=rng.next(3) {
            if lines.is_empty() {
                break;
            }
            let i = rng.next(lines.len());
            match rng.next(5) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let copy = lines[rng.next(lines.len())].clone();
                    lines.insert(i, copy);
                }
                2 | 4 => {
                    let mut w: Vec<String> =
                        lines[i].split_whitespace().map(str::to_string).collect();
                    if !w.is_empty() {
                        let k = rng.next(w.len());
                        if rng.next(2) == 0 {
                            w[k] = words[rng.next(words.len())].to_string();
                        } else {
                            w.remove(k);
                        }
                        lines[i] = format!("    {}", w.join(" "));
                    }
                }
                _ => lines.insert(i, words[rng.next(words.len())].to_string()),
            }
        }
        out.push(lines.join("\n") + "\n");
    }
    out
}

/// Runs both tools on every text, in parallel, and returns the disagreements.
fn disagreements(tag: &str, texts: &[String]) -> (Vec<String>, usize) {
    assert!(
        Command::new("keepalived").arg("--version").output().is_ok(),
        "keepalived is not installed; this differential test needs it"
    );
    let ns = Netns::create(tag);
    let dir = std::env::temp_dir().join(format!("vrrpd-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let f = dir.join(format!("case{i:04}.conf"));
            std::fs::write(&f, t).unwrap();
            f
        })
        .collect();
    let ours = env!("CARGO_BIN_EXE_vrrpd");
    let threads = 4;
    let results: Vec<(PathBuf, Option<i32>, i32)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (files, ns, dir) = (&files, &ns, &dir);
                s.spawn(move || {
                    let pid_dir = dir.join(format!("pids{t}"));
                    std::fs::create_dir_all(&pid_dir).unwrap();
                    files
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|f| {
                            let fs = f.to_string_lossy();
                            let theirs = keepalived_code(ns, &fs, &pid_dir);
                            let mine = ns.exit_code(ours, &["-t", "-f", &fs, "-i", "nodeA"]);
                            (f.clone(), theirs, mine)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let crashes = results.iter().filter(|(_, k, _)| k.is_none()).count();
    let bad = results
        .iter()
        .filter_map(|(f, k, o)| match k {
            Some(k) if k != o => Some(format!(
                "{}: keepalived {k}, vrrpd {o}\n{}",
                display(f),
                std::fs::read_to_string(f).unwrap_or_default()
            )),
            _ => None,
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (bad, crashes)
}

#[test]
fn every_keyword_without_its_value_exits_like_keepalived() {
    let corpus = keyword_corpus();
    assert!(corpus.len() > 300);
    let (bad, crashes) = disagreements("kw", &corpus);
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(crashes < 40, "keepalived crashed on {crashes} inputs");
}

#[test]
fn mutated_fixtures_exit_like_keepalived() {
    let (bad, crashes) = disagreements("mut", &mutants(400));
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(crashes < 40, "keepalived crashed on {crashes} inputs");
}
