//! `access_log` and `log_format`, read with nginx's checks.

use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// `access_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    Path {
        path: String,
        format: Option<String>,
        /// `if=CONDITION`: logged unless it evaluates to "" or "0".
        condition: Option<String>,
    },
}

/// `log_format NAME [escape=default|json|none] STRING...` (the strings
/// joined, as nginx does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    pub name: String,
    pub escape: Option<String>,
    pub format: String,
    pub line: usize,
}

/// nginx's check that `access_log` names a known format (`combined` or a
/// `log_format` of the `http` block).
pub(crate) fn check_access_log(
    stmt: &Stmt,
    formats: &[LogFormat],
    c: &Cursor,
) -> Result<(), ModelError> {
    if stmt.directive != "access_log" {
        return Ok(());
    }
    match stmt.args.get(1).filter(|a| !a.contains('=')) {
        Some(f) if f != "combined" && !formats.iter().any(|x| &x.name == f) => {
            Err(c.error(stmt, format!("unknown log format \"{f}\"")))
        }
        _ => Ok(()),
    }
}

/// `log_format`, with nginx's checks (`ngx_http_log_set_format`).
pub(crate) fn parse_log_format(
    stmt: &Stmt,
    known: &[LogFormat],
    c: &Cursor,
) -> Result<LogFormat, ModelError> {
    let name = stmt.args.first().cloned().unwrap_or_default();
    if name == "combined" || known.iter().any(|f| f.name == name) {
        return Err(c.error(stmt, format!("duplicate \"log_format\" name \"{name}\"")));
    }
    let mut rest = &stmt.args[1.min(stmt.args.len())..];
    let mut escape = None;
    if let Some(e) = rest.first().and_then(|a| a.strip_prefix("escape=")) {
        if !matches!(e, "default" | "json" | "none") {
            return Err(c.error(stmt, format!("unknown log format escaping \"{e}\"")));
        }
        escape = Some(e.to_owned());
        rest = &rest[1..];
    }
    Ok(LogFormat {
        name,
        escape,
        format: rest.concat(),
        line: stmt.line,
    })
}
