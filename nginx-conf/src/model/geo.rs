//! `geo [$ADDRESS] $VARIABLE { … }` (`ngx_http_geo_module`): networks
//! and their values, the longest prefix winning. `ranges`, `proxy` and
//! `include` inside a geo block are not supported by l7proxy (`-t`
//! refuses them rather than answering otherwise than nginx).

use std::net::IpAddr;

use super::access::masked;
use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// One `geo` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geo {
    /// The address looked up (text with variables; none: the client's).
    pub source: Option<String>,
    /// The variable defined, without its `$`.
    pub variable: String,
    /// `default` (the empty string if none).
    pub default: Option<String>,
    /// Networks (address with its low bits cleared, prefix length) and
    /// their values; a later entry for the same network replaced the
    /// earlier one, `delete` removed one.
    pub networks: Vec<(IpAddr, u8, String)>,
}

/// Reads a `geo` block.
pub fn parse_geo(stmt: &Stmt, c: &Cursor) -> Result<Geo, ModelError> {
    let (source, variable) = match stmt.args.as_slice() {
        [v] => (None, v.clone()),
        [s, v] => (Some(s.clone()), v.clone()),
        _ => {
            return Err(c.error(
                stmt,
                "invalid number of arguments in \"geo\" directive".into(),
            ))
        }
    };
    let Some(name) = variable.strip_prefix('$') else {
        return Err(c.error(stmt, format!("invalid variable name \"{variable}\"")));
    };
    super::variables::check_made(name, stmt, c)?;
    let mut geo = Geo {
        source,
        variable: name.to_owned(),
        default: None,
        networks: Vec::new(),
    };
    for d in stmt.block.as_deref().unwrap_or_default() {
        let key = d.directive.as_str();
        if matches!(key, "ranges" | "proxy" | "proxy_recursive" | "include") {
            return Err(c.error(
                d,
                format!("\"{key}\" inside \"geo\" is not supported by l7proxy"),
            ));
        }
        let [value] = d.args.as_slice() else {
            return Err(c.error(d, "invalid number of the geo parameters".into()));
        };
        if key == "default" {
            geo.default = Some(value.clone());
            continue;
        }
        let (text, delete) = if key == "delete" {
            (value.as_str(), true)
        } else {
            (key, false)
        };
        let (addr, len) = text
            .split_once('/')
            .map_or((text, None), |(a, l)| (a, Some(l)));
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| c.error(d, format!("invalid network \"{text}\"")))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| c.error(d, format!("invalid network \"{text}\"")))?,
        };
        let net = masked(ip, len);
        // nginx warns of a duplicate, or of nothing to delete, and goes on.
        geo.networks.retain(|(n, l, _)| !(*n == net && *l == len));
        if !delete {
            geo.networks.push((net, len, value.clone()));
        }
    }
    Ok(geo)
}
