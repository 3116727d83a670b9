//! parse -> build -> parse is the identity (up to line numbers) on the corpus.

use std::path::{Path, PathBuf};

use nginx_conf::builder::build;
use nginx_conf::payload::Stmt;
use nginx_conf::{parse, ParseOptions};

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("corpus dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            corpus_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn strip_lines(stmts: &mut [Stmt]) {
    for s in stmts {
        s.line = 0;
        if let Some(b) = s.block.as_mut() {
            strip_lines(b);
        }
    }
}

fn parse_single(path: &str) -> (String, Vec<Stmt>) {
    let opts = ParseOptions {
        single: true,
        comments: true,
        check_ctx: false,
        check_args: false,
        ..ParseOptions::default()
    };
    let mut payload = parse(path, &opts);
    let config = payload.config.remove(0);
    (config.status, config.parsed)
}

#[test]
fn corpus_round_trips_through_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/nginx/corpus");
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    files.sort();
    let tmp = std::env::temp_dir().join(format!("nginx-conf-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut checked = 0;
    for (i, file) in files.iter().enumerate() {
        let (status, mut first) = parse_single(&file.display().to_string());
        if status != "ok" {
            continue;
        }
        for tabs in [false, true] {
            let text = build(&first, 4, tabs, false);
            let built = tmp.join(format!("{i}-{tabs}.conf"));
            std::fs::write(&built, &text).unwrap();
            let (status2, mut second) = parse_single(&built.display().to_string());
            assert_eq!(
                status2,
                "ok",
                "{}: built text does not parse:\n{text}",
                file.display()
            );
            strip_lines(&mut first);
            strip_lines(&mut second);
            assert_eq!(
                first,
                second,
                "{}: round trip changed the tree:\n{text}",
                file.display()
            );
        }
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(checked >= 20, "only {checked} corpus files round-tripped");
}

/// The streaming JSON writer (used by `parse` by default) and the tree agree.
#[test]
fn streamed_json_equals_tree_json() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/nginx");
    let mut files = Vec::new();
    corpus_files(&root.join("corpus"), &mut files);
    corpus_files(&root.join("invalid"), &mut files);
    let option_sets = [
        ParseOptions::default(),
        ParseOptions {
            comments: true,
            strict: true,
            ..ParseOptions::default()
        },
        ParseOptions {
            catch_errors: false,
            single: true,
            ..ParseOptions::default()
        },
        ParseOptions {
            ignore: vec!["listen".into(), "http".into()],
            ..ParseOptions::default()
        },
    ];
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "conf"))
    {
        let path = file.display().to_string();
        for opts in &option_sets {
            let mut streamed = Vec::new();
            nginx_conf::json::parse_to_compact(&mut streamed, &path, opts).unwrap();
            let mut tree = Vec::new();
            nginx_conf::json::write_compact(&mut tree, &parse(&path, opts)).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(tree).unwrap(),
                "{path} {opts:?}"
            );
        }
    }
}
