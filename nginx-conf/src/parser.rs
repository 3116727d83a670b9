//! Builds crossplane's payload from nginx-lexed files.
//!
//! The structure, the error recovery and the include bookkeeping (each file parsed
//! once, `includes` indexing `config`) are crossplane's; the tokens are nginx's.

use std::collections::HashMap;

use crate::analyzer::{analyze, Checks, Context, Terminator};
use crate::include::{self, Resolved};
use crate::lexer::{LexError, Lexer, Token, TokenKind};
use crate::payload::{ConfigFile, FileError, Payload, PayloadError, Stmt};

/// crossplane's `parse()` switches.
#[derive(Debug, Clone)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "crossplane's independent switches"
)]
pub struct ParseOptions {
    /// Keep going after an error (otherwise a file stops at its first error).
    pub catch_errors: bool,
    /// Directives left out of the payload, with their blocks.
    pub ignore: Vec<String>,
    /// Do not follow `include`.
    pub single: bool,
    /// Keep comments as `#` directives.
    pub comments: bool,
    /// Unknown directives are errors.
    pub strict: bool,
    /// Inline included files into one config entry.
    pub combine: bool,
    pub check_ctx: bool,
    pub check_args: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            catch_errors: true,
            ignore: Vec::new(),
            single: false,
            comments: false,
            strict: false,
            combine: false,
            check_ctx: true,
            check_args: true,
        }
    }
}

/// A directive-level error: message and the directive's line.
#[derive(Debug)]
struct StmtError {
    message: String,
    line: Option<usize>,
}

/// Errors that end a file's parse (lexing errors, or any error without catching).
#[derive(Debug)]
enum Fatal {
    Lex(LexError),
    Stmt(StmtError),
}

struct FileParse<'o> {
    opts: &'o ParseOptions,
    file: String,
    config_dir: String,
    errors: Vec<StmtError>,
    /// Files this one includes, in order: (path, context).
    queued: Vec<(String, Context)>,
    known: &'o HashMap<String, usize>,
    /// Include statements: (directive path, resolved file names); indexes fixed later.
    pending: Vec<Vec<String>>,
    /// Scratch space, so that every block and argument list is allocated once,
    /// at its exact size.
    args: Vec<String>,
    stmts: Vec<Stmt>,
}

type Tokens<'a> = Lexer<'a>;

fn next_token(tokens: &mut Tokens<'_>) -> Result<Option<Token>, Fatal> {
    tokens.next().transpose().map_err(Fatal::Lex)
}

/// Strips the parentheses around an `if` condition, as crossplane does.
pub fn strip_if_parens(args: &mut Vec<String>) {
    let (Some(first), Some(last)) = (args.first(), args.last()) else {
        return;
    };
    if !(first.starts_with('(') && last.ends_with(')')) {
        return;
    }
    let first = args[0][1..].trim_start().to_owned();
    args[0] = first;
    let n = args.len() - 1;
    let last = args[n]
        .strip_suffix(')')
        .unwrap_or(&args[n])
        .trim_end()
        .to_owned();
    args[n] = last;
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    if args.first().is_some_and(String::is_empty) {
        args.remove(0);
    }
}

impl FileParse<'_> {
    fn record(&mut self, e: StmtError) -> Result<(), Fatal> {
        if self.opts.catch_errors {
            self.errors.push(e);
            Ok(())
        } else {
            Err(Fatal::Stmt(e))
        }
    }

    /// Skips tokens up to the end of the current block.
    fn consume(tokens: &mut Tokens<'_>) -> Result<(), Fatal> {
        while let Some(t) = next_token(tokens)? {
            match t.kind {
                TokenKind::BlockEnd => return Ok(()),
                TokenKind::BlockStart => Self::consume(tokens)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn block(&mut self, tokens: &mut Tokens<'_>, ctx: Context) -> Result<Vec<Stmt>, Fatal> {
        let start = self.stmts.len();
        let result = self.block_into_scratch(tokens, ctx);
        let parsed = self.stmts.drain(start..).collect();
        result.map(|()| parsed)
    }

    fn block_into_scratch(&mut self, tokens: &mut Tokens<'_>, ctx: Context) -> Result<(), Fatal> {
        while let Some(token) = next_token(tokens)? {
            let (directive, line) = match token.kind {
                TokenKind::BlockEnd => break,
                TokenKind::Comment(text) => {
                    if self.opts.comments {
                        let mut c = Stmt::comment(text, token.line);
                        if self.opts.combine {
                            c.file = Some(self.file.clone());
                        }
                        self.stmts.push(c);
                    }
                    continue;
                }
                TokenKind::Word { text, .. } => (text, token.line),
                // The lexer never yields a terminator without words before it.
                TokenKind::Semicolon | TokenKind::BlockStart => continue,
            };
            let mut stmt = Stmt::new(directive, line);
            if self.opts.combine {
                stmt.file = Some(self.file.clone());
            }
            let mut arg_comments = Vec::new();
            let term = loop {
                let Some(t) = next_token(tokens)? else {
                    // Unreachable: the lexer reports an unterminated directive.
                    return Ok(());
                };
                match t.kind {
                    TokenKind::Word { text, .. } => self.args.push(text),
                    TokenKind::Comment(text) => arg_comments.push(text),
                    TokenKind::Semicolon | TokenKind::BlockEnd => break Terminator::Semicolon,
                    TokenKind::BlockStart => break Terminator::BlockStart,
                }
            };
            stmt.args = self.args.drain(..).collect();
            if self.opts.ignore.contains(&stmt.directive) {
                if term == Terminator::BlockStart {
                    Self::consume(tokens)?;
                }
                continue;
            }
            if stmt.directive == "if" {
                strip_if_parens(&mut stmt.args);
            }
            let checks = Checks {
                strict: self.opts.strict,
                context: self.opts.check_ctx,
                args: self.opts.check_args,
            };
            if let Err(message) = analyze(ctx, &stmt.directive, &stmt.args, term, checks) {
                let not_terminated = message.ends_with(" is not terminated by \";\"");
                self.record(StmtError {
                    message: format!("{message} in {}:{line}", self.file),
                    line: Some(line),
                })?;
                if not_terminated {
                    Self::consume(tokens)?;
                }
                continue;
            }
            if !self.opts.single && stmt.directive == "include" && !stmt.args.is_empty() {
                self.include(&mut stmt, ctx)?;
            }
            if term == Terminator::BlockStart {
                let inner = ctx.enter(&stmt.directive);
                stmt.block = Some(self.block(tokens, inner)?);
            }
            self.stmts.push(stmt);
            for text in arg_comments {
                self.stmts.push(Stmt::comment(text, line));
            }
        }
        Ok(())
    }

    fn include(&mut self, stmt: &mut Stmt, ctx: Context) -> Result<(), Fatal> {
        let names = match include::resolve(&self.config_dir, &stmt.args[0]) {
            Ok(Resolved(names)) => names,
            Err(message) => {
                self.record(StmtError {
                    message: format!("{message} in {}:{}", self.file, stmt.line),
                    line: Some(stmt.line),
                })?;
                Vec::new()
            }
        };
        for name in &names {
            if !self.known.contains_key(name) && !self.queued.iter().any(|(q, _)| q == name) {
                self.queued.push((name.clone(), ctx));
            }
        }
        // The indexes are filled in by `parse` once the file's includes are numbered.
        stmt.includes = Some(Vec::new());
        self.pending.push(names);
        Ok(())
    }
}

fn fill_includes(
    parsed: &mut [Stmt],
    pending: &mut std::vec::IntoIter<Vec<String>>,
    index: &HashMap<String, usize>,
) {
    for stmt in parsed {
        if let Some(includes) = stmt.includes.as_mut() {
            if let Some(names) = pending.next() {
                *includes = names.iter().filter_map(|n| index.get(n).copied()).collect();
            }
        }
        if let Some(block) = stmt.block.as_mut() {
            fill_includes(block, pending, index);
        }
    }
}

/// Parses `path` and everything it includes into crossplane's payload.
pub fn parse(path: &str, opts: &ParseOptions) -> Payload {
    let config_dir = include::dirname(path);
    let mut payload = Payload {
        status: "ok".into(),
        errors: Vec::new(),
        config: Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::from([(path.to_owned(), 0)]);
    let mut files: Vec<(String, Context)> = vec![(path.to_owned(), Context::Main)];
    let mut edges: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < files.len() {
        let (file, ctx) = files[i].clone();
        let mut fp = FileParse {
            opts,
            file: file.clone(),
            config_dir: config_dir.clone(),
            errors: Vec::new(),
            queued: Vec::new(),
            known: &index,
            pending: Vec::new(),
            args: Vec::new(),
            stmts: Vec::new(),
        };
        let result = match std::fs::read(&file) {
            Ok(bytes) => fp.block(&mut Lexer::new(&bytes), ctx),
            Err(e) => Err(Fatal::Stmt(StmtError {
                message: format!("{} in {file}", include::open_failed(&file, &e)),
                line: None,
            })),
        };
        let mut errors = std::mem::take(&mut fp.errors);
        let queued = std::mem::take(&mut fp.queued);
        let pending = std::mem::take(&mut fp.pending);
        let mut parsed = match result {
            Ok(parsed) => parsed,
            Err(Fatal::Stmt(e)) => {
                errors.push(e);
                Vec::new()
            }
            Err(Fatal::Lex(e)) => {
                errors.push(StmtError {
                    message: format!("{} in {file}:{}", e.message, e.line),
                    line: Some(e.line),
                });
                Vec::new()
            }
        };
        for (name, ctx) in queued {
            if !index.contains_key(&name) {
                index.insert(name.clone(), files.len());
                files.push((name, ctx));
            }
        }
        edges.push(
            pending
                .iter()
                .flatten()
                .filter_map(|n| index.get(n).copied())
                .collect(),
        );
        if !pending.is_empty() {
            fill_includes(&mut parsed, &mut pending.into_iter(), &index);
        }
        let mut entry = ConfigFile {
            file: file.clone(),
            status: "ok".into(),
            errors: Vec::new(),
            parsed,
        };
        for e in errors {
            push_error(&mut payload, &mut entry, e);
        }
        payload.config.push(entry);
        i += 1;
    }
    report_cycles(&mut payload, &edges);
    if opts.combine {
        crate::combine::combine(payload)
    } else {
        payload
    }
}

fn push_error(payload: &mut Payload, entry: &mut ConfigFile, e: StmtError) {
    entry.status = "failed".into();
    payload.status = "failed".into();
    entry.errors.push(FileError {
        error: e.message.clone(),
        line: e.line,
    });
    payload.errors.push(PayloadError {
        file: entry.file.clone(),
        error: e.message,
        line: e.line,
    });
}

/// An include that leads back to the including file is an error (nginx would
/// recurse until it runs out of file descriptors).
fn report_cycles(payload: &mut Payload, edges: &[Vec<usize>]) {
    for from in 0..edges.len() {
        for &to in &edges[from] {
            if reaches(edges, to, from) {
                let target = payload.config[to].file.clone();
                let line = find_include_line(&payload.config[from].parsed, to);
                let file = payload.config[from].file.clone();
                let message = match line {
                    Some(l) => {
                        format!("include cycle: \"{target}\" includes \"{file}\" in {file}:{l}")
                    }
                    None => format!("include cycle: \"{target}\" includes \"{file}\" in {file}"),
                };
                let mut entry = std::mem::replace(
                    &mut payload.config[from],
                    ConfigFile {
                        file: String::new(),
                        status: String::new(),
                        errors: Vec::new(),
                        parsed: Vec::new(),
                    },
                );
                push_error(payload, &mut entry, StmtError { message, line });
                payload.config[from] = entry;
            }
        }
    }
}

fn reaches(edges: &[Vec<usize>], start: usize, goal: usize) -> bool {
    let mut seen = vec![false; edges.len()];
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        if n == goal {
            return true;
        }
        if n < seen.len() && !seen[n] {
            seen[n] = true;
            stack.extend(edges[n].iter().copied());
        }
    }
    false
}

fn find_include_line(parsed: &[Stmt], target: usize) -> Option<usize> {
    for stmt in parsed {
        if stmt.includes.as_ref().is_some_and(|i| i.contains(&target)) {
            return Some(stmt.line);
        }
        if let Some(line) = stmt
            .block
            .as_deref()
            .and_then(|b| find_include_line(b, target))
        {
            return Some(line);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        strip_if_parens(&mut v);
        v
    }

    #[test]
    fn if_parentheses_are_removed() {
        assert_eq!(strip(&["($a", "=", "b)"]), ["$a", "=", "b"]);
        assert_eq!(strip(&["(", "$a", ")"]), ["$a"]);
        assert_eq!(strip(&["($slow)"]), ["$slow"]);
        assert_eq!(strip(&["$a"]), ["$a"]);
    }
}
