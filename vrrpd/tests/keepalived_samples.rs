//! Differential test: `vrrpd -t` must give the same exit code as
//! `keepalived -t` on every sample Debian ships, both run inside a network
//! namespace holding eth0..eth3 (veth links; the test kernel may lack the
//! dummy module), with `-i nodeA`.

mod common;

use std::path::{Path, PathBuf};

use common::{compare, mismatches};

fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("/usr/share/doc/keepalived/samples")
        .expect("keepalived samples missing: install the keepalived package")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("keepalived.conf."))
        })
        .collect();
    v.sort();
    v.push(PathBuf::from("/etc/keepalived/keepalived.conf.sample"));
    v
}

#[test]
fn exit_codes_agree_with_keepalived_on_debian_samples() {
    let files = samples();
    assert_eq!(
        files.len(),
        26,
        "expected the 26 Debian samples, found {files:?}"
    );
    let results = compare("samples", &files);
    let bad = mismatches(&results);
    assert!(bad.is_empty(), "exit codes differ:\n{}", bad.join("\n"));
    let clean = results.iter().filter(|(_, k, _)| *k == 0).count();
    assert_eq!(
        clean, 16,
        "keepalived itself should pass 16 of the 26 samples cleanly"
    );
}

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = e.path();
        // conf.d and parts hold include targets, not configurations.
        if p.is_dir() && !p.ends_with("conf.d") && !p.ends_with("parts") {
            fixtures(&p, out);
        } else if p.extension().is_some_and(|x| x == "conf") {
            out.push(p);
        }
    }
}

#[test]
fn exit_codes_agree_with_keepalived_on_our_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keepalived");
    let mut files = Vec::new();
    fixtures(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 20,
        "fixtures missing under {}",
        root.display()
    );
    let results = compare("fixtures", &files);
    let bad = mismatches(&results);
    assert!(bad.is_empty(), "exit codes differ:\n{}", bad.join("\n"));
    // The fixtures exercise every outcome keepalived -t has but 4.
    for code in [0, 5, 6] {
        assert!(
            results.iter().any(|(_, k, _)| *k == code),
            "no fixture exits {code}"
        );
    }
}
