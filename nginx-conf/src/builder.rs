//! Text from the payload: crossplane's `build`, `minify` and quoting, with one
//! guarantee crossplane lacks: every word written reads back, under nginx's rules,
//! as the same argument.

use crate::lexer::{Lexer, TokenKind};
use crate::payload::Stmt;

/// Header crossplane writes on built files.
pub const HEADER: &str = "# This config was built from JSON using NGINX crossplane.\n\
# If you encounter any bugs please report them here:\n\
# https://github.com/nginxinc/crossplane/issues\n\n";

/// Splits into crossplane's quoting units: `\X` pairs and `${` are one unit each.
fn units(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let pair = (c == '\\') || (c == '$' && iter.peek().is_some_and(|&(_, n)| n == '{'));
        if pair {
            if let Some((j, n)) = iter.next() {
                out.push(&s[i..j + n.len_utf8()]);
                continue;
            }
        }
        out.push(&s[i..i + c.len_utf8()]);
    }
    out
}

fn is_space_unit(u: &str) -> bool {
    u.chars().next().is_some_and(char::is_whitespace) && u.chars().count() == 1
}

/// crossplane's rule for when an argument needs quotes, plus a leading `#`
/// (which nginx would read as a comment).
fn needs_quotes(s: &str) -> bool {
    let units = units(s);
    let Some(first) = units.first() else {
        return true;
    };
    if is_space_unit(first) || matches!(*first, "{" | "}" | ";" | "\"" | "'" | "${" | "#") {
        return true;
    }
    let mut expanding = false;
    for u in &units[1..] {
        if is_space_unit(u) || matches!(*u, "{" | ";" | "\"" | "'") {
            return true;
        }
        if *u == if expanding { "${" } else { "}" } {
            return true;
        }
        if *u == if expanding { "}" } else { "${" } {
            expanding = !expanding;
        }
    }
    let last = units.last().copied().unwrap_or_default();
    last == "\\" || last == "$" || expanding
}

fn printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{a0}' | '\u{ad}' | '\u{1680}' | '\u{2000}'..='\u{200f}'
            | '\u{2028}'..='\u{202f}' | '\u{205f}'..='\u{2064}' | '\u{3000}' | '\u{feff}'))
}

/// Python's `repr()` of a string with doubled backslashes collapsed, as crossplane quotes.
fn python_repr(s: &str) -> String {
    use std::fmt::Write;
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out.replace("\\\\", "\\")
}

/// Whether nginx reads `word` back as exactly `arg`.
fn reads_back(word: &str, arg: &str) -> bool {
    let text = format!("x {word};");
    let mut lexer = Lexer::new(text.as_bytes());
    let _ = lexer.next();
    let second = lexer.next();
    let third = lexer.next();
    match (second, third) {
        (Some(Ok(w)), Some(Ok(t))) => {
            matches!(w.kind, TokenKind::Word { ref text, .. } if text == arg)
                && t.kind == TokenKind::Semicolon
        }
        _ => false,
    }
}

/// A double-quoted word nginx always reads back exactly.
fn safe_quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The word for `arg`: bare or quoted as crossplane writes it, unless nginx would
/// read that back differently.
pub fn enquote(arg: &str) -> String {
    let word = if needs_quotes(arg) {
        python_repr(arg)
    } else {
        arg.to_owned()
    };
    if reads_back(&word, arg) {
        word
    } else {
        safe_quote(arg)
    }
}

/// crossplane's `build`: the text of a block of statements.
pub fn build(stmts: &[Stmt], indent: usize, tabs: bool, header: bool) -> String {
    let padding = if tabs {
        "\t".to_owned()
    } else {
        " ".repeat(indent)
    };
    let mut out = String::new();
    build_block(&mut out, stmts, 0, 0, &padding);
    if header {
        format!("{HEADER}{out}")
    } else {
        out
    }
}

fn build_block(out: &mut String, block: &[Stmt], depth: usize, mut last_line: usize, pad: &str) {
    let margin = pad.repeat(depth);
    let mut after_comment = false;
    for stmt in block {
        let line = stmt.line;
        let comment = stmt.comment.as_deref().unwrap_or_default();
        if stmt.directive == "#" && line == last_line && !after_comment {
            out.push_str(" #");
            out.push_str(comment);
            after_comment = true;
            continue;
        }
        // crossplane would also append a second same-line comment (from comments
        // between arguments) to the first, merging them into one when read back.
        after_comment = stmt.directive == "#";
        let mut built = if stmt.directive == "#" {
            format!("#{comment}")
        } else {
            let directive = enquote(&stmt.directive);
            let args: Vec<String> = stmt.args.iter().map(|a| enquote(a)).collect();
            let mut built = if directive == "if" {
                format!("if ({})", args.join(" "))
            } else if args.is_empty() {
                directive
            } else {
                format!("{directive} {}", args.join(" "))
            };
            match &stmt.block {
                None => built.push(';'),
                Some(inner) => {
                    built.push_str(" {");
                    build_block(&mut built, inner, depth + 1, line, pad);
                    built.push('\n');
                    built.push_str(&margin);
                    built.push('}');
                }
            }
            built
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&margin);
        out.push_str(&std::mem::take(&mut built));
        last_line = line;
    }
}

/// crossplane's `minify`, without comments (a comment would swallow the rest
/// of the single line).
pub fn minify(stmts: &[Stmt]) -> String {
    let mut out = String::new();
    minify_block(&mut out, stmts);
    out.push('\n');
    out
}

fn minify_block(out: &mut String, block: &[Stmt]) {
    for stmt in block.iter().filter(|s| s.directive != "#") {
        out.push_str(&enquote(&stmt.directive));
        let args: Vec<String> = stmt.args.iter().map(|a| enquote(a)).collect();
        if stmt.directive == "if" {
            out.push_str(" (");
            out.push_str(&args.join(" "));
            out.push(')');
        } else {
            out.push(' ');
            out.push_str(&args.join(" "));
        }
        match &stmt.block {
            Some(inner) => {
                out.push('{');
                minify_block(out, inner);
                out.push('}');
            }
            None => out.push(';'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_crossplane_for_ordinary_words() {
        assert_eq!(enquote("/var/www"), "/var/www");
        assert_eq!(enquote(""), "''");
        assert_eq!(enquote("a b"), "'a b'");
        assert_eq!(enquote("it's"), "\"it's\"");
        assert_eq!(enquote("${var}x"), "'${var}x'");
        assert_eq!(enquote("a${b}c"), "a${b}c");
        assert_eq!(enquote("$"), "'$'");
        assert_eq!(enquote("\\.php$"), "'\\.php$'");
    }

    #[test]
    fn words_read_back_under_nginx_rules() {
        for arg in [
            "#x",
            "a\\\"b",
            "tab\there",
            "back\\\\slash",
            "\u{1}",
            "'\"",
            "}",
        ] {
            let word = enquote(arg);
            assert!(reads_back(&word, arg), "{arg:?} -> {word:?}");
        }
    }
}
