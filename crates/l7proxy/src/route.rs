//! Which `server` and which `location` answer a request, as nginx decides.
//!
//! Servers (`ngx_http_find_virtual_server`): among the servers on the
//! listening address, an exact name, then the longest leading wildcard
//! (`*.example.com`, `.example.com`), then the longest trailing wildcard
//! (`www.example.*`), then the first matching regex; else the
//! `default_server` of that address, else its first server. A request
//! without a Host has the empty name, which a server without
//! `server_name` (or with `server_name ""`) has.
//!
//! Locations (`ngx_http_core_find_location`), at each level: the longest
//! matching prefix (an `=` location that equals the URI returns at once);
//! if one matched, its nested locations are searched the same way; unless
//! that prefix is `^~`, this level's regex locations are then tried in
//! order and the first match wins (its nested locations searched in turn)
//! and ends the search, so a regex nested in the matched prefix beats the
//! outer regexes; else the longest prefix stands.

use nginx_conf::model::http::{Location, LocationMatch, Server};
use nginx_conf::model::listen::ServerName;
use regex::bytes::{Regex, RegexBuilder};

/// A compiled location level.
#[derive(Debug)]
struct Level {
    /// (name, is `=`, index) for exact and prefix locations.
    statics: Vec<Static>,
    /// Regex locations in config order: (regex, index).
    regexes: Vec<(Regex, usize)>,
    /// Compiled nested levels, by location index.
    nested: Vec<Option<Level>>,
}

#[derive(Debug)]
struct Static {
    name: Vec<u8>,
    exact: bool,
    noregex: bool,
    index: usize,
}

/// The path of indexes from a server's locations down to the chosen one.
pub type LocationPath = Vec<usize>;

/// A regex nginx would accept that `regex` does not (lookaround,
/// backreferences, possessive quantifiers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    pub pattern: String,
    pub message: String,
}

fn compile(pattern: &str, caseless: bool) -> Result<Regex, RegexError> {
    RegexBuilder::new(pattern)
        .case_insensitive(caseless)
        .unicode(false)
        .build()
        .map_err(|e| RegexError {
            pattern: pattern.to_owned(),
            message: e.to_string(),
        })
}

impl Level {
    fn new(locations: &[Location]) -> Result<Self, RegexError> {
        let mut statics = Vec::new();
        let mut regexes = Vec::new();
        let mut nested = Vec::with_capacity(locations.len());
        for (index, loc) in locations.iter().enumerate() {
            match &loc.matcher {
                LocationMatch::Exact(n) => statics.push(Static {
                    name: n.as_bytes().to_vec(),
                    exact: true,
                    noregex: false,
                    index,
                }),
                LocationMatch::Prefix(n) => statics.push(Static {
                    name: n.as_bytes().to_vec(),
                    exact: false,
                    noregex: false,
                    index,
                }),
                LocationMatch::PrefixNoRegex(n) => statics.push(Static {
                    name: n.as_bytes().to_vec(),
                    exact: false,
                    noregex: true,
                    index,
                }),
                LocationMatch::Regex(p) => regexes.push((compile(p, false)?, index)),
                LocationMatch::RegexCaseless(p) => regexes.push((compile(p, true)?, index)),
                LocationMatch::Named(_) => {}
            }
            nested.push(if loc.locations.is_empty() {
                None
            } else {
                Some(Level::new(&loc.locations)?)
            });
        }
        Ok(Self {
            statics,
            regexes,
            nested,
        })
    }

    /// nginx's static lookup: an exact location equal to `uri` wins at once
    /// (`Found::Exact`); else the longest prefix location (`Found::Prefix`).
    fn find_static(&self, uri: &[u8]) -> Found {
        let mut best: Option<&Static> = None;
        for s in &self.statics {
            if s.exact {
                if uri == s.name.as_slice() {
                    return Found::Exact(s.index);
                }
            } else if uri.starts_with(&s.name) && best.is_none_or(|b| s.name.len() > b.name.len()) {
                best = Some(s);
            }
        }
        best.map_or(Found::None, |b| Found::Prefix(b.index, b.noregex))
    }

    /// Fills `path` with the chosen location; returns true when the search
    /// is over: an exact match, or a regex match (at any depth; nginx
    /// returns `NGX_OK` for both, so outer levels try no regexes).
    fn find(&self, uri: &[u8], path: &mut LocationPath) -> bool {
        let depth = path.len();
        let mut noregex = false;
        match self.find_static(uri) {
            Found::Exact(i) => {
                path.push(i);
                return true;
            }
            Found::Prefix(i, nr) => {
                path.push(i);
                noregex = nr;
                if let Some(inner) = &self.nested[i] {
                    if inner.find(uri, path) {
                        return true;
                    }
                }
            }
            Found::None => {}
        }
        if !noregex {
            for (re, i) in &self.regexes {
                if re.is_match(uri) {
                    path.truncate(depth);
                    path.push(*i);
                    if let Some(inner) = &self.nested[*i] {
                        inner.find(uri, path);
                    }
                    return true;
                }
            }
        }
        false
    }
}

enum Found {
    Exact(usize),
    Prefix(usize, bool),
    None,
}

/// One server's compiled names and locations.
#[derive(Debug)]
pub struct ServerRoutes {
    exact: Vec<String>,
    /// Leading wildcards as the suffix to match (`.example.com`), and
    /// whether the bare domain matches too (`.example.com` form).
    leading: Vec<(String, bool)>,
    /// Trailing wildcards as the prefix to match (`www.example.`).
    trailing: Vec<String>,
    regexes: Vec<Regex>,
    locations: Level,
}

impl ServerRoutes {
    pub fn new(server: &Server) -> Result<Self, RegexError> {
        let (mut exact, mut leading, mut trailing, mut regexes) = (vec![], vec![], vec![], vec![]);
        // A server without `server_name` has the empty name (nginx ≥
        // 0.8.48): requests without a Host choose it over the default.
        if server.server_names.is_empty() {
            exact.push(String::new());
        }
        for name in &server.server_names {
            match name {
                ServerName::Exact(n) => exact.push(n.to_ascii_lowercase()),
                ServerName::Wildcard(w) => {
                    let w = w.to_ascii_lowercase();
                    if let Some(rest) = w.strip_prefix("*.") {
                        leading.push((format!(".{rest}"), false));
                    } else if let Some(rest) = w.strip_prefix('.') {
                        leading.push((format!(".{rest}"), true));
                    } else if let Some(rest) = w.strip_suffix(".*") {
                        trailing.push(format!("{rest}."));
                    }
                }
                ServerName::Regex(r) => regexes.push(compile(r, false)?),
            }
        }
        Ok(Self {
            exact,
            leading,
            trailing,
            regexes,
            locations: Level::new(&server.locations)?,
        })
    }

    /// The location for a normalised URI: indexes from the server's
    /// locations down the nesting; empty when none matched.
    pub fn location(&self, uri: &[u8]) -> LocationPath {
        let mut path = Vec::new();
        self.locations.find(uri, &mut path);
        path
    }
}

/// How well a server's names match a host: lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NameMatch {
    Exact,
    /// Longer wildcards win: stored negated so that smaller is better.
    Leading(isize),
    Trailing(isize),
    Regex,
}

fn name_match(routes: &ServerRoutes, host: &str) -> Option<NameMatch> {
    if routes.exact.iter().any(|n| n == host) {
        return Some(NameMatch::Exact);
    }
    let lead = routes
        .leading
        .iter()
        .filter(|(suffix, bare)| host.ends_with(suffix.as_str()) || (*bare && host == &suffix[1..]))
        .map(|(s, _)| s.len())
        .max();
    if let Some(len) = lead {
        return Some(NameMatch::Leading(
            -isize::try_from(len).unwrap_or(isize::MAX),
        ));
    }
    let trail = routes
        .trailing
        .iter()
        .filter(|p| host.starts_with(p.as_str()))
        .map(String::len)
        .max();
    if let Some(len) = trail {
        return Some(NameMatch::Trailing(
            -isize::try_from(len).unwrap_or(isize::MAX),
        ));
    }
    routes
        .regexes
        .iter()
        .any(|r| r.is_match(host.as_bytes()))
        .then_some(NameMatch::Regex)
}

/// The `Host` as nginx compares it: lower case, no port, no trailing dot.
pub fn host_key(host: &str) -> String {
    let h = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// Chooses among `candidates` (indexes into `routes`, in config order) for
/// `host`; `default` is the address's default server.
pub fn select_server(
    routes: &[ServerRoutes],
    candidates: &[usize],
    default: usize,
    host: &str,
) -> usize {
    let key = host_key(host);
    let mut best: Option<(NameMatch, usize)> = None;
    for &c in candidates {
        if let Some(m) = name_match(&routes[c], &key) {
            // Exact and wildcard ties go to the first server; regexes to the first too.
            if best.is_none_or(|(b, _)| m < b) {
                best = Some((m, c));
            }
        }
    }
    best.map_or(default, |(_, c)| c)
}

/// The location a path of indexes names.
pub fn location_at<'a>(server: &'a Server, path: &[usize]) -> Option<&'a Location> {
    let (&first, rest) = path.split_first()?;
    let mut loc = server.locations.get(first)?;
    for &i in rest {
        loc = loc.locations.get(i)?;
    }
    Some(loc)
}
