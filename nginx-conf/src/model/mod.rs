//! A typed, validated view of what the L7 proxy needs, built from the parse tree
//! (includes resolved). Inherited settings are resolved: every server and
//! location carries its effective values.

pub mod access;
pub mod answers;
pub mod geo;
pub mod gzip;
pub mod http;
pub mod limit;
pub mod listen;
pub mod logs;
pub mod map;
pub mod rewrite;
pub mod split;
pub mod upstream;
pub mod values;
pub mod variables;

use std::fmt;

pub use http::{
    AccessLog, Http, Location, LocationMatch, LogFormat, ProxyPass, ProxySettings, Return, Server,
};
pub use listen::{Listen, ListenAddress, ServerName};
pub use upstream::{Balancing, Upstream, UpstreamServer};

use crate::payload::{Payload, Stmt};
use crate::CheckError;
use crate::{parse, ParseOptions};

/// A semantic error, located like nginx's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    pub message: String,
    pub file: String,
    pub line: usize,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}:{}", self.message, self.file, self.line)
    }
}

impl std::error::Error for ModelError {}

/// Locates errors: the file of a statement (from `--combine`'s `file`) or the main file.
#[derive(Debug)]
pub struct Cursor {
    main_file: String,
}

impl Cursor {
    pub fn file(&self, stmt: &Stmt) -> String {
        stmt.file.clone().unwrap_or_else(|| self.main_file.clone())
    }

    pub fn error(&self, stmt: &Stmt, message: String) -> ModelError {
        ModelError {
            message,
            file: self.file(stmt),
            line: stmt.line,
        }
    }
}

/// `worker_processes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerProcesses {
    Auto,
    Count(u32),
}

/// `error_log FILE [LEVEL]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLog {
    pub path: String,
    pub level: Option<String>,
}

/// The main context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub worker_processes: Option<WorkerProcesses>,
    pub worker_connections: Option<u32>,
    pub daemon: Option<bool>,
    pub pid: Option<String>,
    pub error_log: Vec<ErrorLog>,
    pub http: Option<Http>,
}

pub(crate) fn flag(stmt: &Stmt, c: &Cursor) -> Result<bool, ModelError> {
    match stmt.args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(c.error(
            stmt,
            format!(
                "invalid value \"{}\" in \"{}\" directive, it must be \"on\" or \"off\"",
                stmt.args.first().map_or("", String::as_str),
                stmt.directive
            ),
        )),
    }
}

pub(crate) fn error_log(stmt: &Stmt) -> ErrorLog {
    ErrorLog {
        path: stmt.args.first().cloned().unwrap_or_default(),
        level: stmt.args.get(1).cloned(),
    }
}

/// Builds the model from a `--combine`d payload of a configuration that parsed
/// without errors.
pub fn from_payload(payload: &Payload) -> Result<Config, ModelError> {
    let config = payload.config.first();
    let c = Cursor {
        main_file: config.map(|c| c.file.clone()).unwrap_or_default(),
    };
    let mut out = Config::default();
    for stmt in config.map(|c| c.parsed.as_slice()).unwrap_or_default() {
        match stmt.directive.as_str() {
            "worker_processes" => {
                let v = stmt.args.first().map_or("", String::as_str);
                out.worker_processes = Some(if v == "auto" {
                    WorkerProcesses::Auto
                } else {
                    WorkerProcesses::Count(v.parse().map_err(|_| {
                        c.error(
                            stmt,
                            format!("invalid value \"{v}\" in \"worker_processes\" directive"),
                        )
                    })?)
                });
            }
            "daemon" => out.daemon = Some(flag(stmt, &c)?),
            "pid" => out.pid = stmt.args.first().cloned(),
            "error_log" => out.error_log.push(error_log(stmt)),
            "events" => {
                for e in stmt.block.as_deref().unwrap_or_default() {
                    if e.directive == "worker_connections" {
                        let v = e.args.first().map_or("", String::as_str);
                        out.worker_connections = Some(v.parse().map_err(|_| {
                            c.error(e, "\"worker_connections\" directive invalid value".into())
                        })?);
                    }
                }
            }
            "http" => out.http = Some(http::parse_http(stmt, &c)?),
            _ => {}
        }
    }
    Ok(out)
}

impl From<ModelError> for CheckError {
    fn from(e: ModelError) -> CheckError {
        CheckError {
            message: e.message,
            location: Some((e.file, e.line)),
        }
    }
}

/// Checks `path` like `nginx -t` (grammar first, in nginx's order), then builds
/// the model; the first error, syntax or semantic, is returned.
pub fn load(path: &str) -> Result<Config, CheckError> {
    crate::check(path)?;
    let opts = ParseOptions {
        combine: true,
        ..ParseOptions::default()
    };
    let payload = parse(path, &opts);
    if let Some(e) = payload.errors.first() {
        let suffix = e
            .line
            .map(|l| format!(" in {}:{l}", e.file))
            .unwrap_or_default();
        let message = e.error.strip_suffix(&suffix).unwrap_or(&e.error).to_owned();
        return Err(CheckError {
            message,
            location: e.line.map(|l| (e.file.clone(), l)),
        });
    }
    let model = from_payload(&payload)?;
    if let Some(main) = payload.config.first() {
        variables::check(&main.parsed, &main.file)?;
    }
    Ok(model)
}
