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

/// Receives a file's statements in document order.
pub trait Sink {
    /// What one file's statements become.
    type Parsed;
    /// A statement without a block (also comments).
    fn leaf(&mut self, stmt: Stmt);
    /// A block statement (`stmt.block` is `None`); its contents follow until `close`.
    fn open(&mut self, stmt: Stmt);
    fn close(&mut self);
    /// Ends the file: its statements, or nothing if the file failed fatally.
    fn finish(&mut self, ok: bool) -> Self::Parsed;
}

/// Builds the statement tree, allocating each block once at its exact size.
#[derive(Debug, Default)]
pub struct TreeSink {
    stmts: Vec<Stmt>,
    open: Vec<(Stmt, usize)>,
}

impl Sink for TreeSink {
    type Parsed = Vec<Stmt>;

    fn leaf(&mut self, stmt: Stmt) {
        self.stmts.push(stmt);
    }

    fn open(&mut self, stmt: Stmt) {
        self.open.push((stmt, self.stmts.len()));
    }

    fn close(&mut self) {
        if let Some((mut stmt, start)) = self.open.pop() {
            stmt.block = Some(self.stmts.drain(start..).collect());
            self.stmts.push(stmt);
        }
    }

    fn finish(&mut self, ok: bool) -> Vec<Stmt> {
        self.open.clear();
        if ok {
            self.stmts.drain(..).collect()
        } else {
            self.stmts.clear();
            Vec::new()
        }
    }
}

/// Files found so far, numbered in the order crossplane numbers them.
struct Files {
    index: HashMap<String, usize>,
    list: Vec<(String, Context)>,
    /// `include` edges: (from, to, line).
    edges: Vec<(usize, usize, usize)>,
}

struct FileParse<'o, S> {
    opts: &'o ParseOptions,
    file: String,
    number: usize,
    config_dir: &'o str,
    errors: Vec<StmtError>,
    files: &'o mut Files,
    sink: &'o mut S,
    /// Scratch space for argument lists, so each is allocated once at its size.
    args: Vec<String>,
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

impl<S: Sink> FileParse<'_, S> {
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

    fn block(&mut self, tokens: &mut Tokens<'_>, ctx: Context) -> Result<(), Fatal> {
        while let Some(token) = next_token(tokens)? {
            let (directive, line) = match token.kind {
                TokenKind::BlockEnd => break,
                TokenKind::Comment(text) => {
                    if self.opts.comments {
                        let mut c = Stmt::comment(text, token.line);
                        if self.opts.combine {
                            c.file = Some(self.file.clone());
                        }
                        self.sink.leaf(c);
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
                self.sink.open(stmt);
                self.block(tokens, inner)?;
                self.sink.close();
            } else {
                self.sink.leaf(stmt);
            }
            for text in arg_comments {
                self.sink.leaf(Stmt::comment(text, line));
            }
        }
        Ok(())
    }

    fn include(&mut self, stmt: &mut Stmt, ctx: Context) -> Result<(), Fatal> {
        let names = match include::resolve(self.config_dir, &stmt.args[0]) {
            Ok(Resolved(names)) => names,
            Err(message) => {
                self.record(StmtError {
                    message: format!("{message} in {}:{}", self.file, stmt.line),
                    line: Some(stmt.line),
                })?;
                Vec::new()
            }
        };
        let mut includes = Vec::with_capacity(names.len());
        for name in names {
            let files = &mut *self.files;
            let n = *files.index.entry(name).or_insert_with_key(|name| {
                files.list.push((name.clone(), ctx));
                files.list.len() - 1
            });
            files.edges.push((self.number, n, stmt.line));
            includes.push(n);
        }
        stmt.includes = Some(includes);
        Ok(())
    }
}

/// Parses `path` and everything it includes, handing each file's statements to
/// `sink`; the payload's `parsed` lists are left empty, the sink's results are
/// returned alongside, one per file.
pub fn parse_with<S: Sink>(
    path: &str,
    opts: &ParseOptions,
    sink: &mut S,
) -> (Payload, Vec<S::Parsed>) {
    let config_dir = include::dirname(path);
    let mut payload = Payload {
        status: "ok".into(),
        errors: Vec::new(),
        config: Vec::new(),
    };
    let mut files = Files {
        index: HashMap::from([(path.to_owned(), 0)]),
        list: vec![(path.to_owned(), Context::Main)],
        edges: Vec::new(),
    };
    let mut outputs = Vec::new();
    let mut number = 0;
    while number < files.list.len() {
        let (file, ctx) = files.list[number].clone();
        let mut fp = FileParse {
            opts,
            file: file.clone(),
            number,
            config_dir: &config_dir,
            errors: Vec::new(),
            files: &mut files,
            sink: &mut *sink,
            args: Vec::new(),
        };
        let result = match std::fs::read(&file) {
            Ok(bytes) => fp.block(&mut Lexer::new(&bytes), ctx),
            Err(e) => Err(Fatal::Stmt(StmtError {
                message: format!("{} in {file}", include::open_failed(&file, &e)),
                line: None,
            })),
        };
        let mut errors = std::mem::take(&mut fp.errors);
        let ok = result.is_ok();
        match result {
            Ok(()) => {}
            Err(Fatal::Stmt(e)) => errors.push(e),
            Err(Fatal::Lex(e)) => errors.push(StmtError {
                message: format!("{} in {file}:{}", e.message, e.line),
                line: Some(e.line),
            }),
        }
        outputs.push(sink.finish(ok));
        let mut entry = ConfigFile {
            file,
            status: "ok".into(),
            errors: Vec::new(),
            parsed: Vec::new(),
        };
        for e in errors {
            push_error(&mut payload, &mut entry, e);
        }
        payload.config.push(entry);
        number += 1;
    }
    report_cycles(&mut payload, &files.edges);
    (payload, outputs)
}

/// Parses `path` and everything it includes into crossplane's payload.
pub fn parse(path: &str, opts: &ParseOptions) -> Payload {
    let (mut payload, parsed) = parse_with(path, opts, &mut TreeSink::default());
    for (config, parsed) in payload.config.iter_mut().zip(parsed) {
        config.parsed = parsed;
    }
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
fn report_cycles(payload: &mut Payload, edges: &[(usize, usize, usize)]) {
    let mut graph: Vec<Vec<usize>> = vec![Vec::new(); payload.config.len()];
    for &(from, to, _) in edges {
        if from < graph.len() {
            graph[from].push(to);
        }
    }
    let mut reported = std::collections::HashSet::new();
    for &(from, to, line) in edges {
        if !reaches(&graph, to, from) || !reported.insert((from, to)) {
            continue;
        }
        let target = payload.config[to].file.clone();
        let file = payload.config[from].file.clone();
        let message = format!("include cycle: \"{target}\" includes \"{file}\" in {file}:{line}");
        let mut entry = std::mem::replace(
            &mut payload.config[from],
            ConfigFile {
                file: String::new(),
                status: String::new(),
                errors: Vec::new(),
                parsed: Vec::new(),
            },
        );
        push_error(
            payload,
            &mut entry,
            StmtError {
                message,
                line: Some(line),
            },
        );
        payload.config[from] = entry;
    }
}

fn reaches(graph: &[Vec<usize>], start: usize, goal: usize) -> bool {
    let mut seen = vec![false; graph.len()];
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        if n == goal {
            return true;
        }
        if n < seen.len() && !seen[n] {
            seen[n] = true;
            stack.extend(graph[n].iter().copied());
        }
    }
    false
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
