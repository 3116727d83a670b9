//! Directives nginx acts on that l7proxy does not implement. Each one in
//! the loaded file is named in a warning (with `-t`, at start and on a
//! reload), with its file and line, so that an operator switching from
//! nginx learns what would behave differently from the file rather than
//! from the traffic. Directives without an effect on what a client or a
//! backend sees (`sendfile`, `types`, `ssl_session_cache`, …) are not
//! named.

use nginx_conf::parser::{parse, ParseOptions};
use nginx_conf::payload::Stmt;

/// Directives of nginx's http modules that change answers, routing or
/// limits, and that l7proxy leaves aside.
const IGNORED: &[&str] = &[
    // static files (the rest is `files.rs`'s)
    "autoindex",
    "expires",
    "etag",
    "if_modified_since",
    "log_not_found",
    "disable_symlinks",
    "max_ranges",
    "charset",
    "gzip_static",
    "recursive_error_pages",
    // access control and limits
    "auth_request",
    "large_client_header_buffers",
    // bodies
    "proxy_cache",
    "sub_filter",
    "ssi",
];

/// Directives of [`IGNORED`] whose value here is nginx's default, which
/// l7proxy follows (no warning).
const DEFAULTS: &[(&str, &str)] = &[
    ("etag", "on"),
    ("if_modified_since", "exact"),
    ("log_not_found", "on"),
    ("disable_symlinks", "off"),
    ("charset", "off"),
    ("gzip_static", "off"),
    ("recursive_error_pages", "off"),
    ("autoindex", "off"),
    ("expires", "off"),
];

/// The warnings for `path` (empty when it has none of [`IGNORED`]; `ssi`
/// only when `on`, [`DEFAULTS`] not at their default).
#[must_use]
pub fn notes(path: &str) -> Vec<String> {
    let opts = ParseOptions {
        combine: true,
        ..ParseOptions::default()
    };
    let payload = parse(path, &opts);
    let mut out = Vec::new();
    for file in &payload.config {
        walk(&file.parsed, &file.file, &mut out);
    }
    out
}

fn walk(stmts: &[Stmt], file: &str, out: &mut Vec<String>) {
    for s in stmts {
        let off =
            s.directive == "ssi" && !s.args.first().is_some_and(|a| a.eq_ignore_ascii_case("on"));
        // nginx's own default, which is what l7proxy does.
        let default = DEFAULTS.iter().any(|(d, v)| {
            *d == s.directive && s.args.len() == 1 && s.args[0].eq_ignore_ascii_case(v)
        });
        let off = off || default;
        if IGNORED.contains(&s.directive.as_str()) && !off {
            let at = s.file.as_deref().unwrap_or(file);
            out.push(format!(
                "\"{}\" directive is not supported by l7proxy and is ignored in {at}:{}",
                s.directive, s.line
            ));
        }
        if s.directive == "if" {
            if_block(s.block.as_deref().unwrap_or_default(), file, out);
        } else if let Some(block) = &s.block {
            walk(block, file, out);
        }
    }
}

/// Inside `if`, l7proxy runs the rewrite module's directives only: the
/// others (nginx gives them to the `if`'s own location) are named.
fn if_block(stmts: &[Stmt], file: &str, out: &mut Vec<String>) {
    for s in stmts {
        if !matches!(
            s.directive.as_str(),
            "return" | "rewrite" | "set" | "break" | "#"
        ) {
            let at = s.file.as_deref().unwrap_or(file);
            out.push(format!(
                "\"{}\" directive inside \"if\" is not supported by l7proxy and is ignored in {at}:{}",
                s.directive, s.line
            ));
        }
    }
}
