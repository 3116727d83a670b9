//! `limit_req_zone` and `limit_req` (`ngx_http_limit_req_module`), read
//! with nginx's checks and messages.

use super::values::parse_size;
use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// `limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReqZone {
    /// The key (text with variables); an empty value is not limited.
    pub key: String,
    pub name: String,
    /// The zone's size in bytes (how many keys it can hold).
    pub size: u64,
    /// Requests per 1000 seconds (nginx's `rate * 1000 / scale`).
    pub rate: u64,
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReq {
    pub zone: String,
    /// Requests allowed above the rate (0 by default).
    pub burst: u64,
    /// Requests of the burst served without delay (`nodelay`: all of
    /// them, `u64::MAX`; 0 by default).
    pub delay: u64,
}

/// Reads a `limit_req_zone`; `known` are the zones before it.
pub fn parse_zone(
    stmt: &Stmt,
    known: &[LimitReqZone],
    c: &Cursor,
) -> Result<LimitReqZone, ModelError> {
    let err = |m: String| c.error(stmt, m);
    let key = stmt.args.first().cloned().unwrap_or_default();
    let (mut name, mut size, mut rate) = (None, 0, 0);
    for arg in &stmt.args[1..] {
        if let Some(zone) = arg.strip_prefix("zone=") {
            let (n, s) = zone
                .split_once(':')
                .ok_or_else(|| err(format!("invalid zone size \"{arg}\"")))?;
            size = parse_size(s)
                .filter(|_| !n.is_empty())
                .ok_or_else(|| err(format!("invalid zone size \"{arg}\"")))?;
            // nginx's floor: eight pages.
            if size < 8 * 4096 {
                return Err(err(format!("zone \"{arg}\" is too small")));
            }
            name = Some(n.to_owned());
        } else if let Some(r) = arg.strip_prefix("rate=") {
            let (n, scale) = if let Some(n) = r.strip_suffix("r/s") {
                (n, 1)
            } else if let Some(n) = r.strip_suffix("r/m") {
                (n, 60)
            } else {
                (r, 1)
            };
            rate = n
                .parse::<u64>()
                .ok()
                .filter(|&v| v > 0 && n.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| err(format!("invalid rate \"{arg}\"")))?
                * 1000
                / scale;
        } else {
            return Err(err(format!("invalid parameter \"{arg}\"")));
        }
    }
    let Some(name) = name else {
        return Err(err(
            "\"limit_req_zone\" must have \"zone\" parameter".to_owned()
        ));
    };
    if let Some(other) = known.iter().find(|z| z.name == name && z.key != key) {
        return Err(err(format!(
            "limit_req_zone \"{name}\" is already bound to key \"{}\"",
            other.key
        )));
    }
    Ok(LimitReqZone {
        key,
        name,
        size,
        rate,
    })
}

/// Reads a `limit_req`.
pub fn parse_limit(stmt: &Stmt, c: &Cursor) -> Result<LimitReq, ModelError> {
    let err = |m: String| c.error(stmt, m);
    let (mut zone, mut burst, mut delay) = (None, 0, 0);
    for arg in &stmt.args {
        if let Some(z) = arg.strip_prefix("zone=") {
            zone = Some(z.to_owned());
        } else if let Some(b) = arg.strip_prefix("burst=") {
            burst = positive(b).ok_or_else(|| err(format!("invalid burst value \"{arg}\"")))?;
        } else if arg == "nodelay" {
            delay = u64::MAX;
        } else if let Some(d) = arg.strip_prefix("delay=") {
            delay = positive(d).ok_or_else(|| err(format!("invalid delay value \"{arg}\"")))?;
        } else {
            return Err(err(format!("invalid parameter \"{arg}\"")));
        }
    }
    let Some(zone) = zone else {
        return Err(err("\"limit_req\" must have \"zone\" parameter".to_owned()));
    };
    Ok(LimitReq { zone, burst, delay })
}

fn positive(text: &str) -> Option<u64> {
    text.parse::<u64>()
        .ok()
        .filter(|&v| v > 0 && text.bytes().all(|b| b.is_ascii_digit()))
}

/// `limit_conn_zone KEY zone=NAME:SIZE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConnZone {
    pub key: String,
    pub name: String,
    pub size: u64,
}

/// `limit_conn ZONE N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConn {
    pub zone: String,
    pub max: u64,
}

/// Reads a `limit_conn_zone`; `known` are the zones before it.
pub fn parse_conn_zone(
    stmt: &Stmt,
    known: &[LimitConnZone],
    c: &Cursor,
) -> Result<LimitConnZone, ModelError> {
    let err = |m: String| c.error(stmt, m);
    let key = stmt.args.first().cloned().unwrap_or_default();
    let arg = stmt.args.get(1).map_or("", String::as_str);
    let Some(zone) = arg.strip_prefix("zone=") else {
        return Err(err(format!("invalid parameter \"{arg}\"")));
    };
    let (name, size) = zone
        .split_once(':')
        .and_then(|(n, s)| Some((n, parse_size(s).filter(|_| !n.is_empty())?)))
        .ok_or_else(|| err(format!("invalid zone size \"{arg}\"")))?;
    if size < 8 * 4096 {
        return Err(err(format!("zone \"{arg}\" is too small")));
    }
    if let Some(other) = known.iter().find(|z| z.name == name && z.key != key) {
        return Err(err(format!(
            "limit_conn_zone \"{name}\" is already bound to key \"{}\"",
            other.key
        )));
    }
    Ok(LimitConnZone {
        key,
        name: name.to_owned(),
        size,
    })
}

/// Reads a `limit_conn`; `level` holds the level's earlier ones.
pub fn parse_conn(stmt: &Stmt, level: &[LimitConn], c: &Cursor) -> Result<LimitConn, ModelError> {
    let zone = stmt.args.first().cloned().unwrap_or_default();
    let n = stmt.args.get(1).map_or("", String::as_str);
    if level.iter().any(|l| l.zone == zone) {
        return Err(c.error(stmt, "\"limit_conn\" directive is duplicate".to_owned()));
    }
    let max = positive(n)
        .ok_or_else(|| c.error(stmt, format!("invalid number of connections \"{n}\"")))?;
    Ok(LimitConn { zone, max })
}

/// `limit_req_status` / `limit_conn_status`: 400 to 599.
pub(crate) fn limit_status(stmt: &Stmt, c: &Cursor) -> Result<u16, ModelError> {
    let text = stmt.args.first().map_or("", String::as_str);
    let code = text.parse::<u16>().map_err(|_| {
        c.error(
            stmt,
            format!("\"{}\" directive invalid number", stmt.directive),
        )
    })?;
    if !(400..=599).contains(&code) {
        return Err(c.error(stmt, "value must be between 400 and 599".into()));
    }
    Ok(code)
}

/// `limit_req_log_level` / `limit_conn_log_level`.
pub(crate) fn limit_level(stmt: &Stmt, c: &Cursor) -> Result<String, ModelError> {
    let text = stmt.args.first().cloned().unwrap_or_default();
    if !matches!(text.as_str(), "info" | "notice" | "warn" | "error") {
        return Err(c.error(stmt, format!("invalid value \"{text}\"")));
    }
    Ok(text)
}
