//! The variables `map` blocks define (`ngx_http_map_module`), evaluated
//! when a request reads them: the source text expanded, then looked up as
//! `ngx_http_map_find` does: exact keys case-insensitively (the empty
//! string too), with `hostnames` the longest `*.domain` then `name.*`
//! wildcard, then (for a non-empty value) the regexes in file order;
//! else `default`. A regex's captures (`$1`, `$name`) are seen by its
//! value.

use std::cell::Cell;
use std::collections::HashMap;

use crate::headers::Vars;

/// Deepest chain of maps whose values read other maps; nginx refuses a
/// cycle at run time, here a deeper chain reads as empty.
const MAX_DEPTH: u32 = 8;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// No maps (for tests that build [`Vars`] by hand).
#[cfg(test)]
pub static EMPTY: std::sync::LazyLock<Maps> = std::sync::LazyLock::new(Maps::default);

/// One compiled `map`.
#[derive(Debug)]
struct Compiled {
    source: String,
    hostnames: bool,
    default: String,
    exact: HashMap<String, String>,
    head_wildcards: HashMap<String, String>,
    tail_wildcards: HashMap<String, String>,
    regexes: Vec<(regex::Regex, String)>,
}

/// Where a map's source and values take the variables they read.
pub trait Source {
    /// Appends the value of `$name` (nothing when unknown).
    fn var_into(&self, name: &str, out: &mut Vec<u8>);
}

impl Source for Vars<'_> {
    fn var_into(&self, name: &str, out: &mut Vec<u8>) {
        self.get_into(name, out);
    }
}

/// Every map (and `split_clients`, and `geo`) of a configuration, by the
/// variable it defines.
#[derive(Debug, Default)]
pub struct Maps(
    HashMap<String, Compiled>,
    HashMap<String, Split>,
    HashMap<String, Geo>,
    /// The names `set` makes (lower case): no table, but the file's own
    /// variables too (a log format reads them from the request's end).
    Vec<String>,
);

/// One `geo`: per prefix length (longest first), the networks of that
/// length and their values.
#[derive(Debug)]
struct Geo {
    source: Option<String>,
    default: String,
    by_len: Vec<(u16, HashMap<std::net::IpAddr, String>)>,
}

impl Geo {
    fn new(g: &nginx_conf::model::geo::Geo) -> Self {
        let mut by_len: Vec<(u16, HashMap<std::net::IpAddr, String>)> = Vec::new();
        for (net, len, value) in &g.networks {
            // Families apart: a /0 of each (IPv6 lengths from 256 on).
            let key = u16::from(*len) + if net.is_ipv4() { 0 } else { 256 };
            match by_len.iter_mut().find(|(l, _)| *l == key) {
                Some((_, m)) => {
                    m.insert(*net, value.clone());
                }
                None => by_len.push((key, HashMap::from([(*net, value.clone())]))),
            }
        }
        by_len.sort_by_key(|b| std::cmp::Reverse(b.0));
        Self {
            source: g.source.clone(),
            default: g.default.clone().unwrap_or_default(),
            by_len,
        }
    }

    /// The value for `addr` (nginx looks up an IPv4-mapped address as
    /// IPv4; a value that is no address finds the default).
    fn lookup(&self, addr: &str) -> &str {
        let Ok(ip) = addr.trim().parse::<std::net::IpAddr>() else {
            return &self.default;
        };
        let ip = match ip {
            std::net::IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 @ std::net::IpAddr::V4(_) => v4,
        };
        for (key, nets) in &self.by_len {
            let v4 = *key < 256;
            if v4 != ip.is_ipv4() {
                continue;
            }
            let len = u8::try_from(key % 256).unwrap_or(0);
            if let Some(v) = nets.get(&nginx_conf::model::access::masked(ip, len)) {
                return v;
            }
        }
        &self.default
    }
}

/// One `split_clients`: its source and its parts' upper bounds in the
/// 32-bit hash space (0: the rest), with their values.
#[derive(Debug)]
struct Split {
    source: String,
    parts: Vec<(u32, String)>,
}

impl Maps {
    /// These, with the names `set` makes.
    #[must_use]
    pub fn with_sets(mut self, sets: Vec<String>) -> Self {
        self.3 = sets;
        self
    }

    /// Whether `set` makes `name` (lower case).
    pub fn is_set(&self, name: &str) -> bool {
        self.3.iter().any(|s| s == name)
    }

    /// Compiles the maps (a bad regex is nginx's `-t` failure) and the
    /// `split_clients`.
    pub fn new(
        maps: &[nginx_conf::model::map::Map],
        splits: &[nginx_conf::model::split::SplitClients],
        geos: &[nginx_conf::model::geo::Geo],
    ) -> Result<Self, String> {
        let mut out = HashMap::new();
        for m in maps {
            let mut regexes = Vec::new();
            for (pattern, caseless, value) in &m.regexes {
                let re = regex::RegexBuilder::new(pattern)
                    .case_insensitive(*caseless)
                    .build()
                    .map_err(|e| format!("map regex \"{pattern}\": {e}"))?;
                regexes.push((re, value.clone()));
            }
            let compiled = Compiled {
                source: m.source.clone(),
                hostnames: m.hostnames,
                default: m.default.clone().unwrap_or_default(),
                exact: m.exact.iter().cloned().collect(),
                head_wildcards: m.head_wildcards.iter().cloned().collect(),
                tail_wildcards: m.tail_wildcards.iter().cloned().collect(),
                regexes,
            };
            // A later map of the same variable replaces the earlier one.
            out.insert(m.variable.to_ascii_lowercase(), compiled);
        }
        let mut split = HashMap::new();
        for sc in splits {
            let mut last = 0u64;
            let parts = sc
                .parts
                .iter()
                .map(|(share, value)| {
                    if *share == 0 {
                        return (0, value.clone());
                    }
                    // nginx: `last += percent * 0xffffffff / 10000`.
                    last += u64::from(*share) * 0xffff_ffff / 10_000;
                    (u32::try_from(last).unwrap_or(u32::MAX), value.clone())
                })
                .collect();
            let s = Split {
                source: sc.source.clone(),
                parts,
            };
            split.insert(sc.variable.to_ascii_lowercase(), s);
        }
        let geo = geos
            .iter()
            .map(|g| (g.variable.to_ascii_lowercase(), Geo::new(g)))
            .collect();
        Ok(Self(out, split, geo, Vec::new()))
    }

    /// Whether `name` is a map's variable.
    pub fn defines(&self, name: &str) -> bool {
        (!self.0.is_empty() || !self.1.is_empty() || !self.2.is_empty()) && {
            let n = name.to_ascii_lowercase();
            self.0.contains_key(&n) || self.1.contains_key(&n) || self.2.contains_key(&n)
        }
    }

    /// The variables other than maps' that the map of `name` reads, in its
    /// source, values and default, through the maps it reads.
    pub fn reads(&self, name: &str) -> Vec<String> {
        let mut seen = vec![name.to_ascii_lowercase()];
        let mut out = Vec::new();
        let mut i = 0;
        while i < seen.len() {
            if let Some(m) = self.0.get(&seen[i]) {
                let texts = std::iter::once(&m.source)
                    .chain(std::iter::once(&m.default))
                    .chain(m.exact.values())
                    .chain(m.head_wildcards.values())
                    .chain(m.tail_wildcards.values())
                    .chain(m.regexes.iter().map(|(_, v)| v));
                for t in texts {
                    crate::headers::expand_with(t, &mut Vec::new(), &mut |n, _| {
                        let n = n.to_ascii_lowercase();
                        if self.0.contains_key(&n) {
                            if !seen.contains(&n) {
                                seen.push(n);
                            }
                        } else if !out.contains(&n) {
                            out.push(n);
                        }
                    });
                }
            }
            i += 1;
        }
        out
    }

    /// Appends the value of the map variable `name` to `out`, reading
    /// other variables from `src`; false when no map defines it.
    pub fn eval_into(&self, name: &str, src: &dyn Source, out: &mut Vec<u8>) -> bool {
        if self.0.is_empty() && self.1.is_empty() && self.2.is_empty() {
            return false;
        }
        let low = name.to_ascii_lowercase();
        if let Some(g) = self.2.get(&low) {
            let mut addr = Vec::new();
            match &g.source {
                Some(t) => expand(t, src, &mut addr),
                None => src.var_into("remote_addr", &mut addr),
            }
            out.extend_from_slice(g.lookup(&String::from_utf8_lossy(&addr)).as_bytes());
            return true;
        }
        if let Some(sc) = self.1.get(&low) {
            let mut key = Vec::new();
            expand(&sc.source, src, &mut key);
            let hash = murmur2(&key);
            // The first part whose bound the hash is under, or the rest;
            // none: the empty string.
            if let Some((_, v)) = sc.parts.iter().find(|(b, _)| hash < *b || *b == 0) {
                expand(v, src, out);
            }
            return true;
        }
        let Some(m) = self.0.get(&low) else {
            return false;
        };
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        if depth <= MAX_DEPTH {
            m.eval_into(src, out);
        }
        DEPTH.with(|d| d.set(d.get() - 1));
        true
    }
}

impl Compiled {
    fn eval_into(&self, src: &dyn Source, out: &mut Vec<u8>) {
        let mut bytes = Vec::new();
        expand(&self.source, src, &mut bytes);
        let mut value = String::from_utf8_lossy(&bytes).into_owned();
        if self.hostnames && value.ends_with('.') {
            value.pop();
        }
        let low = value.to_ascii_lowercase();
        if let Some(v) = self.exact.get(&low) {
            return expand(v, src, out);
        }
        if self.hostnames {
            if let Some(v) = self.wildcard(&low) {
                return expand(v, src, out);
            }
        }
        if !value.is_empty() {
            for (re, v) in &self.regexes {
                if let Some(caps) = re.captures(&value) {
                    return expand_with_captures(v, src, &caps, re, out);
                }
            }
        }
        expand(&self.default, src, out);
    }

    /// The longest `*.domain` covering `host`, else the longest `name.*`.
    fn wildcard(&self, host: &str) -> Option<&String> {
        let mut at = 0;
        while let Some(dot) = host[at..].find('.') {
            let domain = &host[at + dot + 1..];
            if let Some(v) = self.head_wildcards.get(domain) {
                return Some(v);
            }
            at += dot + 1;
        }
        let mut end = host.len();
        while let Some(dot) = host[..end].rfind('.') {
            if let Some(v) = self.tail_wildcards.get(&host[..dot]) {
                return Some(v);
            }
            end = dot;
        }
        None
    }
}

/// MurmurHash2 with seed 0, as `ngx_murmur_hash2`.
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if rest.len() >= 3 {
            h ^= u32::from(rest[2]) << 16;
        }
        if rest.len() >= 2 {
            h ^= u32::from(rest[1]) << 8;
        }
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// `template` with its variables read from `src`.
fn expand(template: &str, src: &dyn Source, out: &mut Vec<u8>) {
    crate::headers::expand_with(template, out, &mut |name, out| src.var_into(name, out));
}

/// `template` expanded, `$1`…`$9` and the regex's named groups taken from
/// `caps` (empty when the group did not take part), other names from `src`.
fn expand_with_captures(
    template: &str,
    src: &dyn Source,
    caps: &regex::Captures<'_>,
    re: &regex::Regex,
    out: &mut Vec<u8>,
) {
    crate::headers::expand_with(template, out, &mut |name, out| {
        let group = if name.bytes().all(|b| b.is_ascii_digit()) {
            name.parse::<usize>().ok().map(|i| caps.get(i))
        } else if re.capture_names().flatten().any(|n| n == name) {
            Some(caps.name(name))
        } else {
            None
        };
        match group {
            Some(m) => out.extend_from_slice(m.map_or("", |m| m.as_str()).as_bytes()),
            None => src.var_into(name, out),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(text: &str) -> Maps {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, format!("events {{}} http {{ {text} }}")).unwrap();
        let model = nginx_conf::model::load(path.to_str().unwrap()).unwrap();
        let http = model.http.unwrap();
        Maps::new(&http.maps, &http.split_clients, &http.geos).unwrap()
    }

    fn eval(m: &Maps, name: &str, headers: &[(&str, &str)]) -> String {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let vars = Vars {
            proxy_host: "",
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            host: "h",
            scheme: "http",
            request_uri: "/",
            uri: "/",
            args: None,
            body_length: None,
            client_headers: crate::headers::Client::Map(&h),
            maps: m,
            rewritten: None,
        };
        let mut out = Vec::new();
        assert!(m.eval_into(name, &vars, &mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn exact_regex_and_default_as_nginx_looks_them_up() {
        let m = maps(
            "map $http_x $v { default d; '' empty; Gold g; ~^si(lver)$ s-$1; \
             ~*^(?<m>BR)onze c-$m; \\~tilde t; }",
        );
        assert_eq!(eval(&m, "v", &[]), "empty");
        assert_eq!(eval(&m, "v", &[("x", "gOLD")]), "g");
        assert_eq!(eval(&m, "v", &[("x", "silver")]), "s-lver");
        assert_eq!(
            eval(&m, "v", &[("x", "SILVER")]),
            "d",
            "~ is case-sensitive"
        );
        assert_eq!(eval(&m, "v", &[("x", "bronze")]), "c-br");
        assert_eq!(eval(&m, "v", &[("x", "~tilde")]), "t");
        assert_eq!(eval(&m, "v", &[("x", "other")]), "d");
    }

    #[test]
    fn hostnames_take_the_longest_wildcard() {
        let m = maps(
            "map $http_x $v { hostnames; .a.com dot; *.b.a.com star; www.c.* tail; \
             www.c.org.* longer; }",
        );
        assert_eq!(eval(&m, "v", &[("x", "a.com")]), "dot");
        assert_eq!(eval(&m, "v", &[("x", "x.a.com.")]), "dot");
        assert_eq!(eval(&m, "v", &[("x", "x.b.a.com")]), "star");
        assert_eq!(eval(&m, "v", &[("x", "b.a.com")]), "dot");
        assert_eq!(eval(&m, "v", &[("x", "www.c.net")]), "tail");
        assert_eq!(eval(&m, "v", &[("x", "www.c.org.uk")]), "longer");
        assert_eq!(eval(&m, "v", &[("x", "c.net")]), "");
    }

    #[test]
    fn murmur2_of_nothing_is_zero() {
        // The rest is checked against nginx's choices (nginx_map.rs).
        assert_eq!(murmur2(b""), 0);
    }

    #[test]
    fn maps_read_maps_and_a_cycle_ends() {
        let m = maps("map $http_x $a { default \"<$b>\"; } map $a $b { default \"[$a]\"; }");
        let v = eval(&m, "a", &[]);
        assert!(v.starts_with("<[<["), "{v}");
        assert_eq!(m.reads("b"), ["http_x"]);
    }
}
