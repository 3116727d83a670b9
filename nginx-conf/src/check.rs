//! `nginx -t` for the grammar: one pass in nginx's order (includes parsed where
//! they appear), stopping at the first error, reported on the line nginx reports.

use std::collections::HashSet;
use std::fmt;

use crate::analyzer::{analyze, Checks, Context, Terminator};
use crate::include;
use crate::lexer::{Lexer, TokenKind};
use crate::semantic::{location_info, BlockState, Semantics};

/// The first error in a configuration, as nginx words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub message: String,
    /// Where: file and line, absent for whole-configuration errors.
    pub location: Option<(String, usize)>,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some((file, line)) => write!(f, "{} in {file}:{line}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for CheckError {}

struct Checker {
    config_dir: String,
    /// Files being parsed, outermost first (an include of one of them is a cycle).
    stack: Vec<String>,
    saw_events: bool,
    semantics: Semantics,
}

/// Directives seen in one block (included files share their includer's block).
#[derive(Default)]
struct Scope {
    seen: HashSet<String>,
    state: BlockState,
}

fn at(message: String, file: &str, line: usize) -> CheckError {
    CheckError {
        message,
        location: Some((file.to_owned(), line)),
    }
}

impl Checker {
    fn file(
        &mut self,
        path: &str,
        ctx: Context,
        scope: &mut Scope,
        from: Option<(&str, usize)>,
    ) -> Result<(), CheckError> {
        if self.stack.iter().any(|p| p == path) {
            let message = format!("include cycle: \"{path}\" is already being parsed");
            let (file, line) = from.unwrap_or((path, 0));
            return Err(at(message, file, line));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            let message = include::open_failed(path, &e);
            match from {
                Some((file, line)) => at(message, file, line),
                None => CheckError {
                    message,
                    location: None,
                },
            }
        })?;
        self.stack.push(path.to_owned());
        let mut lexer = Lexer::new(&bytes);
        let result = self.block(&mut lexer, path, ctx, scope);
        self.stack.pop();
        result
    }

    fn block(
        &mut self,
        lexer: &mut Lexer<'_>,
        file: &str,
        ctx: Context,
        scope: &mut Scope,
    ) -> Result<(), CheckError> {
        loop {
            let token = match lexer.next() {
                None => return Ok(()),
                Some(Err(e)) => return Err(at(e.message, file, e.line)),
                Some(Ok(t)) => t,
            };
            let name = match token.kind {
                TokenKind::BlockEnd => return Ok(()),
                TokenKind::Word { text, .. } => text,
                _ => continue,
            };
            let mut args = Vec::new();
            let (term, line) = loop {
                match lexer.next() {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(at(e.message, file, e.line)),
                    Some(Ok(t)) => match t.kind {
                        TokenKind::Word { text, .. } => args.push(text),
                        TokenKind::Semicolon => break (Terminator::Semicolon, t.line),
                        TokenKind::BlockStart => break (Terminator::BlockStart, t.line),
                        TokenKind::Comment(_) | TokenKind::BlockEnd => {}
                    },
                }
            };
            if let Context::Opaque { .. } = ctx {
                // Contents of `types`, `map` and the like go to the block's own handler.
                if term == Terminator::BlockStart {
                    return Err(at("unexpected \"{\"".into(), file, line));
                }
                continue;
            }
            let checks = Checks {
                strict: true,
                context: true,
                args: true,
            };
            let accepted =
                analyze(ctx, &name, &args, term, checks).map_err(|m| at(m, file, line))?;
            if accepted.entry.is_some_and(|e| e.unique) && !scope.seen.insert(name.clone()) {
                return Err(at(format!("\"{name}\" directive is duplicate"), file, line));
            }
            self.semantics
                .directive(&mut scope.state, ctx, &name, &args, (file, line))
                .map_err(|m| at(m, file, line))?;
            if ctx == Context::Main && name == "events" {
                self.saw_events = true;
            }
            if name == "include" {
                let names =
                    include::resolve(&self.config_dir, &args[0]).map_err(|m| at(m, file, line))?;
                for included in names.0 {
                    self.file(&included, ctx, scope, Some((file, line)))?;
                }
            }
            if term == Terminator::BlockStart {
                let mut inner = Scope::default();
                if name == "location" {
                    inner.state.location = Some(location_info(&args));
                }
                self.block(lexer, file, ctx.enter(&name), &mut inner)?;
                if ctx == Context::Http && name == "upstream" && inner.state.upstream_servers == 0 {
                    return Err(at(
                        "no servers are inside upstream".into(),
                        file,
                        lexer.line(),
                    ));
                }
                let nested = std::mem::take(&mut inner.state.locations);
                if name == "location" {
                    if let Some(node) = scope.state.locations.last_mut() {
                        node.children = nested;
                    }
                } else if ctx == Context::Http && name == "server" {
                    self.semantics.servers.push(nested);
                }
                if ctx == Context::Main && name == "http" {
                    // nginx resolves proxy_pass hosts when the http block is done.
                    if let Some((message, file, line)) = self.semantics.finish() {
                        return Err(at(message, &file, line));
                    }
                }
            }
        }
    }
}

/// Checks the configuration in `path` (includes relative to its directory).
pub fn check(path: &str) -> Result<(), CheckError> {
    let mut checker = Checker {
        config_dir: include::dirname(path),
        stack: Vec::new(),
        saw_events: false,
        semantics: Semantics::default(),
    };
    checker.file(path, Context::Main, &mut Scope::default(), None)?;
    if !checker.saw_events {
        return Err(CheckError {
            message: "no \"events\" section in configuration".into(),
            location: None,
        });
    }
    Ok(())
}
