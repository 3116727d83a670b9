//! `map SOURCE $VARIABLE { … }` of the http block
//! (`ngx_http_map_module`): keys are checked and sorted as nginx's
//! `ngx_http_map` does; values stay text (they may hold variables).

use std::collections::HashSet;

use super::{Cursor, ModelError};
use crate::payload::Stmt;

/// One `map` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    /// The value looked up (text with variables).
    pub source: String,
    /// The variable defined, without its `$`.
    pub variable: String,
    /// `hostnames`: keys may be wildcards, a trailing dot of the source
    /// is dropped.
    pub hostnames: bool,
    /// `default` (nginx's: the empty string).
    pub default: Option<String>,
    /// Keys without wildcards, lower case (looked up case-insensitively).
    pub exact: Vec<(String, String)>,
    /// `*.example.com` and `.example.com` keys: the domain whose
    /// subdomains they cover (lower case), the value. (`.example.com` also
    /// puts `example.com` among the exact keys, as nginx's hash does.)
    pub head_wildcards: Vec<(String, String)>,
    /// `www.example.*` keys: the part before `.*` (lower case), the value.
    pub tail_wildcards: Vec<(String, String)>,
    /// `~REGEX` and `~*REGEX` keys in file order: pattern, caseless, value.
    pub regexes: Vec<(String, bool, String)>,
}

/// Reads a `map` block.
pub fn parse_map(stmt: &Stmt, c: &Cursor) -> Result<Map, ModelError> {
    let err = |s: &Stmt, m: String| c.error(s, m);
    let [source, variable] = stmt.args.as_slice() else {
        return Err(err(
            stmt,
            "invalid number of arguments in \"map\" directive".into(),
        ));
    };
    let Some(name) = variable.strip_prefix('$') else {
        return Err(err(stmt, format!("invalid variable name \"{variable}\"")));
    };
    super::variables::check_made(name, stmt, c)?;
    let mut map = Map {
        source: source.clone(),
        variable: name.to_owned(),
        hostnames: false,
        default: None,
        exact: Vec::new(),
        head_wildcards: Vec::new(),
        tail_wildcards: Vec::new(),
        regexes: Vec::new(),
    };
    // Keys as nginx's hash holds them, for "conflicting parameter".
    let mut seen = HashSet::new();
    for d in stmt.block.as_deref().unwrap_or_default() {
        let key = d.directive.as_str();
        match (key, d.args.as_slice()) {
            ("hostnames", []) => {
                map.hostnames = true;
                continue;
            }
            ("volatile", []) => continue,
            (_, [_]) => {}
            _ => return Err(err(d, "invalid number of the map parameters".into())),
        }
        let value = d.args[0].clone();
        if key == "include" {
            return Err(err(
                d,
                "\"include\" inside \"map\" is not supported by l7proxy".into(),
            ));
        }
        if key == "default" {
            if map.default.is_some() {
                return Err(err(d, "duplicate default map parameter".into()));
            }
            map.default = Some(value);
            continue;
        }
        if let Some(pattern) = key.strip_prefix('~') {
            let (pattern, caseless) = match pattern.strip_prefix('*') {
                Some(p) => (p, true),
                None => (pattern, false),
            };
            map.regexes.push((pattern.to_owned(), caseless, value));
            continue;
        }
        let key = key.strip_prefix('\\').unwrap_or(key);
        let low = key.to_ascii_lowercase();
        let conflict = || err(d, format!("conflicting parameter \"{key}\""));
        if map.hostnames {
            if let Some(domain) = low.strip_prefix("*.").or_else(|| low.strip_prefix('.')) {
                let bare = low.starts_with('.');
                if domain.is_empty() || domain.contains('*') {
                    return Err(err(d, format!("invalid hostname or wildcard \"{key}\"")));
                }
                if !seen.insert(format!("head {domain}")) {
                    return Err(conflict());
                }
                if bare {
                    if !seen.insert(format!("exact {domain}")) {
                        return Err(conflict());
                    }
                    map.exact.push((domain.to_owned(), value.clone()));
                }
                map.head_wildcards.push((domain.to_owned(), value));
                continue;
            }
            if let Some(front) = low.strip_suffix(".*") {
                if front.is_empty() || front.contains('*') {
                    return Err(err(d, format!("invalid hostname or wildcard \"{key}\"")));
                }
                if !seen.insert(format!("tail {front}")) {
                    return Err(conflict());
                }
                map.tail_wildcards.push((front.to_owned(), value));
                continue;
            }
            if low.contains('*') {
                return Err(err(d, format!("invalid hostname or wildcard \"{key}\"")));
            }
        }
        if !seen.insert(format!("exact {low}")) {
            return Err(conflict());
        }
        map.exact.push((low, value));
    }
    Ok(map)
}
