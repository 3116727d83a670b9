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
