//! What answers a request without an upstream: `return` and
//! `error_page`, read with nginx's checks.

use super::http::invalid;
use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// `return CODE [TEXT|URL]` or `return URL` (302).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    pub code: u16,
    pub text: Option<String>,
}

/// `error_page CODE… [=[RESPONSE]] URI|@named|URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    pub codes: Vec<u16>,
    /// `=CODE`: `Some(Some(code))`; `=` alone: `Some(None)` (the
    /// target's status); none: the error's own status.
    pub status: Option<Option<u16>>,
    pub target: String,
}

/// `error_page`, with nginx's checks (`ngx_http_core_error_page`).
pub(crate) fn error_page(stmt: &Stmt, c: &Cursor) -> Result<ErrorPage, ModelError> {
    let args = &stmt.args;
    let (target, rest) = args.split_last().ok_or_else(|| invalid(stmt, c))?;
    let (status, codes) = match rest.split_last() {
        Some((last, codes)) if last.starts_with('=') => {
            let code = &last[1..];
            let status = if code.is_empty() {
                None
            } else {
                Some(
                    code.parse::<u16>()
                        .map_err(|_| c.error(stmt, format!("invalid value \"{last}\"")))?,
                )
            };
            (Some(status), codes)
        }
        _ => (None, rest),
    };
    if codes.is_empty() {
        return Err(c.error(
            stmt,
            "invalid number of arguments in \"error_page\" directive".to_owned(),
        ));
    }
    let codes = codes
        .iter()
        .map(|a| match a.parse::<u16>() {
            // nginx's own 499 is no code to answer with.
            Ok(n) if n != 499 && !(300..=599).contains(&n) => {
                Err(c.error(stmt, format!("value \"{a}\" must be between 300 and 599")))
            }
            Ok(n) if n != 499 => Ok(n),
            _ => Err(c.error(stmt, format!("invalid value \"{a}\""))),
        })
        .collect::<Result<_, _>>()?;
    Ok(ErrorPage {
        codes,
        status,
        target: target.clone(),
    })
}

pub(crate) fn parse_return(stmt: &Stmt, c: &Cursor) -> Result<Return, ModelError> {
    let first = stmt.args.first().map_or("", String::as_str);
    if let Ok(code) = first.parse::<u16>() {
        if code > 999 {
            return Err(c.error(stmt, format!("invalid return code \"{first}\"")));
        }
        return Ok(Return {
            code,
            text: stmt.args.get(1).cloned(),
        });
    }
    let url = ["http://", "https://", "$scheme"]
        .iter()
        .any(|p| first.starts_with(p));
    if stmt.args.len() == 1 && url {
        return Ok(Return {
            code: 302,
            text: Some(first.to_owned()),
        });
    }
    Err(c.error(stmt, format!("invalid return code \"{first}\"")))
}
