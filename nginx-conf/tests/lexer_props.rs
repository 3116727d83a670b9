//! Property tests: the lexer, the builder's quoting and the JSON writer.

use nginx_conf::builder::build;
use nginx_conf::lexer::{tokenize, Lexer, TokenKind};
use nginx_conf::payload::Stmt;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,10}".prop_filter("if is special", |s| s != "if")
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        name(),
        prop::collection::vec(any::<String>(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(directive, args, block)| {
            let mut s = Stmt::new(directive, 0);
            s.args = args;
            if block {
                let mut inner = Stmt::new("inner", 0);
                inner.args = s.args.iter().rev().cloned().collect();
                s.block = Some(vec![inner]);
            }
            s
        })
}

/// Reads statements back from tokens (no comments are generated).
fn read(tokens: &mut std::vec::IntoIter<nginx_conf::lexer::Token>) -> Vec<Stmt> {
    let mut out = Vec::new();
    while let Some(t) = tokens.next() {
        let TokenKind::Word { text, .. } = t.kind else {
            break;
        };
        let mut s = Stmt::new(text, 0);
        for t in tokens.by_ref() {
            match t.kind {
                TokenKind::Word { text, .. } => s.args.push(text),
                TokenKind::BlockStart => {
                    s.block = Some(read(tokens));
                    break;
                }
                _ => break,
            }
        }
        out.push(s);
    }
    out
}

proptest! {
    #[test]
    fn lexer_never_panics_and_terminates(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut n = 0;
        for t in Lexer::new(&bytes) {
            n += 1;
            prop_assert!(n <= bytes.len() + 1);
            if t.is_err() {
                break;
            }
        }
    }

    #[test]
    fn nginx_like_text_never_panics(text in "[a-z \"'{};#$\\\\\n()]{0,200}") {
        let _ = tokenize(text.as_bytes());
    }

    #[test]
    fn direct_json_writer_matches_serde(stmts in prop::collection::vec(stmt(), 0..4), file in any::<String>()) {
        let payload = nginx_conf::Payload {
            status: "ok".into(),
            errors: Vec::new(),
            config: vec![nginx_conf::ConfigFile { file, status: "ok".into(), errors: Vec::new(), parsed: stmts }],
        };
        let mut direct = Vec::new();
        nginx_conf::json::write_compact(&mut direct, &payload).unwrap();
        prop_assert_eq!(String::from_utf8(direct).unwrap(), nginx_conf::payload::to_json(&payload, None));
    }

    #[test]
    fn built_text_lexes_back_to_the_same_words(stmts in prop::collection::vec(stmt(), 1..6)) {
        let text = build(&stmts, 4, false, false);
        let tokens = tokenize(text.as_bytes());
        prop_assert!(tokens.is_ok(), "{:?} does not lex: {:?}", text, tokens);
        let back = read(&mut tokens.unwrap().into_iter());
        prop_assert_eq!(back, stmts, "{}", text);
    }
}

fn scratch_file(text: &[u8]) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("nginx-conf-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.conf", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, text).unwrap();
    path
}

fn config_text() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "http",
        "server",
        "location",
        "upstream",
        "events",
        "if",
        "listen",
        "include",
        "proxy_pass",
        "return",
        "map",
        "types",
        "gzip",
        "root",
        "server_name",
        "limit_except",
        "on",
        "80",
        "/",
        "~",
        "=",
        "($a",
        ")",
        "\"q q\"",
        "'s'",
        "#c\n",
        "x.conf",
        "*.conf",
        "weight=0",
        "backup",
        "hash",
        "http://u",
        "default_server",
        "{",
        "}",
        ";",
        "\n",
        " ",
    ]);
    prop::collection::vec(word, 0..60).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever the text, every entry point answers with a value or an error.
    #[test]
    fn no_entry_point_panics(text in config_text()) {
        let path = scratch_file(text.as_bytes());
        let p = path.display().to_string();
        for opts in [
            nginx_conf::ParseOptions::default(),
            nginx_conf::ParseOptions { combine: true, comments: true, ..Default::default() },
            nginx_conf::ParseOptions { catch_errors: false, strict: true, ..Default::default() },
        ] {
            let payload = nginx_conf::parse(&p, &opts);
            for c in &payload.config {
                let _ = build(&c.parsed, 4, false, true);
                let _ = nginx_conf::builder::minify(&c.parsed);
            }
            let mut out = Vec::new();
            nginx_conf::json::parse_to_compact(&mut out, &p, &opts).unwrap();
        }
        let _ = nginx_conf::check(&p);
        let _ = nginx_conf::model::load(&p);
        let _ = std::fs::remove_file(&path);
    }
}
