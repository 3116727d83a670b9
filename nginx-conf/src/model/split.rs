//! `split_clients SOURCE $VARIABLE { PERCENT% VALUE; … * VALUE; }`
//! (`ngx_http_split_clients_module`), with nginx's checks.

use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// One `split_clients` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitClients {
    /// The text hashed (with variables).
    pub source: String,
    /// The variable defined, without its `$`.
    pub variable: String,
    /// Each part: its share in hundredths of a percent (0: `*`, the
    /// rest) and its value.
    pub parts: Vec<(u32, String)>,
}

/// `12.5` as hundredths (1250); at most two decimals, as `ngx_atofp`.
fn hundredths(text: &str) -> Option<u32> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty()
        || frac.len() > 2
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: u32 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_n: u32 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        frac_n *= 10;
    }
    int.checked_mul(100)?.checked_add(frac_n)
}

/// Reads a `split_clients` block.
pub fn parse_split(stmt: &Stmt, c: &Cursor) -> Result<SplitClients, ModelError> {
    let source = stmt.args.first().cloned().unwrap_or_default();
    let variable = stmt.args.get(1).cloned().unwrap_or_default();
    let Some(name) = variable.strip_prefix('$') else {
        return Err(c.error(stmt, format!("invalid variable name \"{variable}\"")));
    };
    super::variables::check_made(name, stmt, c)?;
    let mut parts = Vec::new();
    let mut sum = 0u32;
    for d in stmt.block.as_deref().unwrap_or_default() {
        let key = d.directive.as_str();
        let value = d.args.first().cloned().unwrap_or_default();
        let share = if key == "*" {
            0
        } else {
            key.strip_suffix('%')
                .and_then(hundredths)
                .filter(|&n| n > 0)
                .ok_or_else(|| c.error(d, format!("invalid percent value \"{key}\"")))?
        };
        sum = if share == 0 { 10_000 } else { sum + share };
        if sum > 10_000 {
            return Err(c.error(stmt, "percent total is greater than 100%".into()));
        }
        parts.push((share, value));
    }
    Ok(SplitClients {
        source,
        variable: name.to_owned(),
        parts,
    })
}
