//! The response side of a location, compiled once at load: `add_header`
//! (`ngx_http_headers_filter_module`), `proxy_redirect`,
//! `proxy_hide_header` / `proxy_pass_header` (`ngx_http_proxy_module`,
//! `ngx_http_upstream`), and the header filter's absolute redirects
//! (`absolute_redirect on`, `server_name_in_redirect off`,
//! `port_in_redirect on`).
//!
//! nginx's order, which both paths follow: the upstream's headers go to
//! the response's list in the upstream's order (hidden ones left out,
//! `Location` and `Refresh` rewritten by the `proxy_redirect` rules), then
//! the `add_header` ones are appended to the list. The header filter writes
//! `Server` and `Date` (unless a passed upstream one is in the list),
//! `Content-Type`, `Content-Length`, `Last-Modified`, then a rewritten
//! `Location` that starts with `/` made absolute, then the framing and
//! `Connection`, then the list.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use nginx_conf::model::http::{AddHeader, ProxySettings, Redirect};

mod template;

pub use template::{Ctx, Peers, BACKUP};
use template::{Seg, Tpl};

/// Upstream headers nginx's proxy module hides by default
/// (`ngx_http_proxy_hide_headers`), lower case.
const DEFAULT_HIDDEN: [&str; 8] = [
    "date",
    "server",
    "x-pad",
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
];

/// One compiled `add_header`.
#[derive(Debug, Clone)]
struct Added {
    name: Box<str>,
    header: HeaderName,
    value: Tpl,
    always: bool,
    /// `ETag` or `Last-Modified`: replaces the upstream's (nginx's
    /// `ngx_http_set_response_header`), or removes it when empty.
    replaces: Option<Replaced>,
}

/// The upstream headers an `add_header` replaces rather than adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    ETag,
    LastModified,
}

impl Replaced {
    /// Which one `name` is, if any.
    pub fn of(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("etag") {
            Some(Self::ETag)
        } else if name.eq_ignore_ascii_case("last-modified") {
            Some(Self::LastModified)
        } else {
            None
        }
    }
}

/// One compiled `proxy_redirect REDIRECT REPLACEMENT`.
#[derive(Debug, Clone)]
struct Rule {
    pattern: Pattern,
    replacement: Tpl,
}

/// A `proxy_redirect` pattern: a prefix (with variables) whose match is
/// replaced, or a regular expression (`~`, `~*`) whose match replaces
/// the whole value.
#[derive(Debug, Clone)]
enum Pattern {
    Prefix(Tpl),
    Regex(regex::bytes::Regex),
}

/// The response rules of one location (or of a server, for the requests
/// no location takes).
#[derive(Debug, Clone, Default)]
#[allow(clippy::struct_excessive_bools)] // one flag per nginx directive
pub struct Shape {
    add: Box<[Added]>,
    redirects: Box<[Rule]>,
    /// Upstream headers not passed on, lower case.
    hidden: Box<[Box<str>]>,
    /// Every upstream header name with a [`place`] other than `REST`
    /// (first match wins), and a bit per name length present, so that
    /// most names are classed by one test.
    places: Box<[(Box<str>, u8)]>,
    lengths: u64,
    /// No `proxy_hide_header` / `proxy_pass_header`: [`builtin_place`]
    /// answers alone.
    standard: bool,
    /// Whether an `add_header` replaces `ETag` or `Last-Modified`.
    replaces: bool,
    /// `absolute_redirect` (default on), `port_in_redirect` (on), and the
    /// server's first name when `server_name_in_redirect` is on.
    absolute: bool,
    port_in: bool,
    server_name: Option<Box<str>>,
    /// `limit_rate` (bytes per second) and `limit_rate_after` of the level:
    /// an output rule too, set by the plan ([`crate::rate::Limit::of`]).
    pub limit_rate: Option<(u64, u64)>,
}

/// The redirect settings of a level (`absolute_redirect`,
/// `port_in_redirect`, and the server's first name if
/// `server_name_in_redirect` is on).
#[derive(Debug, Clone, Copy)]
pub struct Redirects<'a> {
    pub absolute: bool,
    pub port_in: bool,
    pub server_name: Option<&'a str>,
}

impl Redirects<'_> {
    /// From a level's settings and its server.
    pub fn of<'a>(
        common: &nginx_conf::model::http::Common,
        server: &'a nginx_conf::model::http::Server,
    ) -> Redirects<'a> {
        use nginx_conf::model::ServerName;
        Redirects {
            absolute: common.absolute_redirect.unwrap_or(true),
            port_in: common.port_in_redirect.unwrap_or(true),
            server_name: common.server_name_in_redirect.unwrap_or(false).then(|| {
                match server.server_names.first() {
                    Some(ServerName::Exact(n) | ServerName::Wildcard(n)) => n.as_str(),
                    // The first name as written: a regex keeps its `~`,
                    // which the owned text has lost; none means "".
                    Some(ServerName::Regex(_)) | None => "",
                }
            }),
        }
    }
}

/// Where an upstream header goes in the plain path's client head.
pub mod place {
    /// After `Connection`, in the upstream's order.
    pub const REST: u8 = 0;
    pub const CONTENT_TYPE: u8 = 1;
    pub const CONTENT_LENGTH: u8 = 2;
    /// `Location` and `Refresh` under `proxy_redirect` rules: in the
    /// upstream's order, rewritten (a rewritten `Location` starting with
    /// `/` goes absolute to its own place before the framing).
    pub const LOCATION: u8 = 4;
    pub const REFRESH: u8 = 5;
    /// `Server` / `Date` passed by `proxy_pass_header`: in the upstream's
    /// order, and ours are not written.
    pub const SERVER: u8 = 6;
    pub const DATE: u8 = 7;
    /// Not passed on.
    pub const HIDDEN: u8 = u8::MAX;
}

/// The [`place`] of `name` under nginx's default hidden set with
/// `proxy_redirect` rules, by length then literal (the common case, on
/// every upstream header of the plain path).
fn builtin_place(name: &str) -> u8 {
    let is = |lit: &str| name.eq_ignore_ascii_case(lit);
    let hidden = match name.len() {
        4 => is("date"),
        5 => is("x-pad"),
        6 => is("server"),
        7 => {
            if is("refresh") {
                return place::REFRESH;
            }
            is("upgrade")
        }
        8 => {
            return if is("location") {
                place::LOCATION
            } else {
                place::REST
            }
        }
        10 => is("connection") || is("keep-alive"),
        12 => {
            return if is("content-type") {
                place::CONTENT_TYPE
            } else {
                place::REST
            }
        }
        14 => {
            return if is("content-length") {
                place::CONTENT_LENGTH
            } else {
                place::REST
            }
        }
        15 => is("x-accel-expires") || is("x-accel-charset"),
        16 => is("x-accel-redirect"),
        17 => is("transfer-encoding") || is("x-accel-buffering"),
        18 => is("x-accel-limit-rate"),
        _ => false,
    };
    if hidden {
        place::HIDDEN
    } else {
        place::REST
    }
}

/// The statuses `add_header` applies to without `always`.
fn safe_status(s: u16) -> bool {
    matches!(s, 200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308)
}

/// What a location's `proxy_pass` says, for `proxy_redirect default`.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    /// The `proxy_pass` argument as written.
    pub url: &'a str,
    /// Whether it has a URI part.
    pub has_uri: bool,
    /// The location's name (its prefix).
    pub location: &'a str,
}

impl Shape {
    /// From a level's (inherited) settings; `pass` is its `proxy_pass`, if
    /// any.
    pub fn new(
        add: Option<&[AddHeader]>,
        proxy: &ProxySettings,
        pass: Option<Pass<'_>>,
        redirect: Redirects<'_>,
    ) -> Result<Self, String> {
        let mut added = Vec::new();
        for a in add.unwrap_or_default() {
            let header = HeaderName::from_bytes(a.name.as_bytes())
                .map_err(|_| format!("invalid header name \"{}\" in \"add_header\"", a.name))?;
            added.push(Added {
                name: a.name.as_str().into(),
                header,
                value: Tpl::new(&a.value),
                always: a.always,
                replaces: Replaced::of(&a.name),
            });
        }
        let mut redirects = Vec::new();
        let default = [Redirect::Default];
        let rules: &[Redirect] = match (&proxy.redirects, pass) {
            (Some(r), _) => r,
            (None, Some(_)) => &default,
            (None, None) => &[],
        };
        for r in rules {
            match r {
                Redirect::Default => {
                    let Some(p) = pass else {
                        return Err(
                            "\"proxy_redirect default\" should be placed after the \"proxy_pass\" directive"
                                .to_owned(),
                        );
                    };
                    redirects.push(if p.has_uri {
                        Rule {
                            pattern: Pattern::Prefix(Tpl::new(p.url)),
                            replacement: Tpl::new(p.location),
                        }
                    } else {
                        Rule {
                            pattern: Pattern::Prefix(Tpl(vec![Seg::Lit(
                                format!("{}/", p.url).into(),
                            )]
                            .into())),
                            replacement: Tpl(vec![Seg::Lit("/".into())].into()),
                        }
                    });
                }
                Redirect::Prefix {
                    pattern,
                    replacement,
                } => {
                    let pattern = match pattern.strip_prefix('~') {
                        Some(re) => {
                            let (re, caseless) = match re.strip_prefix('*') {
                                Some(r) => (r, true),
                                None => (re, false),
                            };
                            let compiled = regex::bytes::RegexBuilder::new(re)
                                .case_insensitive(caseless)
                                .build()
                                .map_err(|e| format!("pcre: \"{re}\": {e}"))?;
                            Pattern::Regex(compiled)
                        }
                        None => Pattern::Prefix(Tpl::new(pattern)),
                    };
                    redirects.push(Rule {
                        pattern,
                        replacement: Tpl::new(replacement),
                    });
                }
            }
        }
        let lower = |v: &Option<Vec<String>>| -> Vec<String> {
            v.iter().flatten().map(|n| n.to_ascii_lowercase()).collect()
        };
        let (hide, pass_on) = (lower(&proxy.hide_headers), lower(&proxy.pass_headers));
        let mut hidden: Vec<Box<str>> = Vec::new();
        for n in DEFAULT_HIDDEN.iter().map(|s| (*s).to_owned()).chain(hide) {
            if !pass_on.contains(&n) && !hidden.iter().any(|h| **h == *n) {
                hidden.push(n.into());
            }
        }
        // Placed before the hidden check, as the plain path always did;
        // then nginx's hop-by-hop ones, ignored whatever
        // `proxy_pass_header` says.
        let mut places: Vec<(Box<str>, u8)> = vec![
            ("content-type".into(), place::CONTENT_TYPE),
            ("content-length".into(), place::CONTENT_LENGTH),
        ];
        for n in ["connection", "upgrade", "keep-alive", "transfer-encoding"] {
            places.push((n.into(), place::HIDDEN));
        }
        for h in &hidden {
            places.push((h.clone(), place::HIDDEN));
        }
        places.push(("server".into(), place::SERVER));
        places.push(("date".into(), place::DATE));
        if !redirects.is_empty() {
            places.push(("location".into(), place::LOCATION));
            places.push(("refresh".into(), place::REFRESH));
        }
        let lengths = places
            .iter()
            .fold(0u64, |m, (n, _)| m | 1 << n.len().min(63));
        let standard = hidden.len() == DEFAULT_HIDDEN.len()
            && hidden.iter().zip(DEFAULT_HIDDEN).all(|(h, d)| **h == *d);
        Ok(Self {
            absolute: redirect.absolute,
            port_in: redirect.port_in,
            server_name: redirect.server_name.map(|n| n.to_ascii_lowercase().into()),
            standard,
            replaces: added.iter().any(|a| a.replaces.is_some()),
            add: added.into(),
            redirects: redirects.into(),
            hidden: hidden.into(),
            places: places.into(),
            lengths,
            limit_rate: None,
        })
    }

    /// Whether a `Location` starting with `/` is made absolute
    /// (`absolute_redirect`).
    pub fn absolute_redirect(&self) -> bool {
        self.absolute
    }

    /// Appends `value` made absolute as nginx's header filter does:
    /// `http[s]://HOST[:PORT]value`, the host the server's first name
    /// (`server_name_in_redirect on`) or the request's `Host` (else the
    /// local address), the port of the listening socket unless it is the
    /// scheme's default or `port_in_redirect` is off.
    pub fn absolute(&self, ctx: &Ctx<'_>, value: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(if ctx.tls { b"https://" } else { b"http://" });
        if let Some(n) = &self.server_name {
            out.extend_from_slice(n.as_bytes());
        } else if ctx.vars.host.is_empty() {
            // ngx_sock_ntop without a port: no brackets around IPv6.
            out.extend_from_slice(ctx.local.ip().to_string().as_bytes());
        } else {
            out.extend_from_slice(ctx.vars.host.as_bytes());
        }
        let port = ctx.local.port();
        if self.port_in && port != if ctx.tls { 443 } else { 80 } {
            out.push(b':');
            out.extend_from_slice(port.to_string().as_bytes());
        }
        out.extend_from_slice(value);
    }

    /// The [`place`] of an upstream header named `name`.
    pub fn place(&self, name: &str) -> u8 {
        if self.standard {
            return match builtin_place(name) {
                place::LOCATION | place::REFRESH if self.redirects.is_empty() => place::REST,
                p => p,
            };
        }
        let b = name.as_bytes();
        if self.lengths & 1 << b.len().min(63) == 0 {
            return place::REST;
        }
        // The table is lower case: one side to fold, and the first byte
        // rules most entries out.
        let first = b.first().map_or(0, u8::to_ascii_lowercase);
        for (n, p) in &*self.places {
            let t = n.as_bytes();
            if t.len() == b.len()
                && t.first() == Some(&first)
                && b.iter().zip(t).all(|(x, y)| x.to_ascii_lowercase() == *y)
            {
                return *p;
            }
        }
        place::REST
    }

    /// Whether the upstream header `name` is not passed on.
    pub fn hidden(&self, name: &str) -> bool {
        self.hidden.iter().any(|h| name.eq_ignore_ascii_case(h))
    }

    /// Whether `Location` and `Refresh` are rewritten at all.
    pub fn redirects(&self) -> bool {
        !self.redirects.is_empty()
    }

    /// Whether an `add_header` applies to `status`.
    pub fn adds(&self, status: u16) -> bool {
        self.add.iter().any(|a| a.always || safe_status(status))
    }

    /// The upstream `Location` (`refresh` false) or `Refresh` value
    /// rewritten by the first `proxy_redirect` rule whose pattern prefixes
    /// it (in `Refresh`, the part after `url=`); `None` when none does.
    pub fn redirect(&self, ctx: &Ctx<'_>, value: &[u8], refresh: bool) -> Option<Vec<u8>> {
        let at = if refresh {
            value
                .windows(4)
                .position(|w| w.eq_ignore_ascii_case(b"url="))?
                + 4
        } else {
            0
        };
        let rest = &value[at..];
        let mut pattern = Vec::new();
        for r in &*self.redirects {
            match &r.pattern {
                Pattern::Prefix(p) => {
                    pattern.clear();
                    p.write(ctx, &mut pattern);
                    if rest.starts_with(&pattern) {
                        let mut out = Vec::with_capacity(value.len() + 16);
                        out.extend_from_slice(&value[..at]);
                        r.replacement.write(ctx, &mut out);
                        out.extend_from_slice(&rest[pattern.len()..]);
                        return Some(out);
                    }
                }
                Pattern::Regex(re) => {
                    // nginx: a match anywhere; the replacement takes the
                    // whole (rest of the) value.
                    if let Some(caps) = re.captures(rest) {
                        let mut out = Vec::with_capacity(value.len() + 16);
                        out.extend_from_slice(&value[..at]);
                        r.replacement.write_with(ctx, Some(&caps), &mut out);
                        return Some(out);
                    }
                }
            }
        }
        None
    }

    /// Whether an `add_header` name is spelled other than hyper's
    /// Title-Case would write it (then hyper's path needs a case map).
    pub fn spells_added(&self) -> bool {
        self.add.iter().any(|a| {
            let mut upper = true;
            !a.name.bytes().all(|b| {
                let ok = if upper {
                    !b.is_ascii_lowercase()
                } else {
                    !b.is_ascii_uppercase()
                };
                upper = b == b'-';
                ok
            })
        })
    }

    /// The configured spelling of the `add_header` named `name` (lower
    /// case), if any.
    pub fn added_spelling(&self, name: &str) -> Option<&str> {
        self.add
            .iter()
            .find(|a| a.header.as_str() == name)
            .map(|a| &*a.name)
    }

    /// Whether an `add_header` replaces upstream `ETag`s or
    /// `Last-Modified`s (see [`Shape::replacement`]).
    pub fn replaces(&self) -> bool {
        self.replaces
    }

    /// The `add_header` that replaces the upstream's `which` header, if
    /// one applies to `ctx.status`: its name as configured and its value
    /// (empty: the upstream's is removed). The last one wins.
    pub fn replacement(&self, ctx: &Ctx<'_>, which: Replaced) -> Option<(&str, Vec<u8>)> {
        let safe = safe_status(ctx.status);
        let a = self
            .add
            .iter()
            .rev()
            .find(|a| a.replaces == Some(which) && (a.always || safe))?;
        let mut v = Vec::new();
        a.value.write(ctx, &mut v);
        Some((&a.name, v))
    }

    /// Appends the `add_header` lines that apply to `ctx.status`
    /// (`Name: value\r\n`, the name as configured; an empty value is not
    /// added), but those that replaced an upstream header (`replaced`:
    /// `ETag`, `Last-Modified`).
    pub fn write_added(&self, ctx: &Ctx<'_>, out: &mut Vec<u8>, replaced: [bool; 2]) {
        let safe = safe_status(ctx.status);
        for a in &*self.add {
            if !(a.always || safe) {
                continue;
            }
            match a.replaces {
                Some(Replaced::ETag) if replaced[0] => continue,
                Some(Replaced::LastModified) if replaced[1] => continue,
                _ => {}
            }
            let start = out.len();
            out.extend_from_slice(a.name.as_bytes());
            out.extend_from_slice(b": ");
            let at = out.len();
            a.value.write(ctx, out);
            if out.len() == at {
                out.truncate(start);
            } else {
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends the `add_header` headers that apply to `ctx.status` to
    /// `headers` (hyper's path).
    pub fn add_to(&self, ctx: &Ctx<'_>, headers: &mut HeaderMap) {
        let safe = safe_status(ctx.status);
        let mut v = Vec::new();
        // `ETag` / `Last-Modified` replace the upstream's in place.
        let had = [
            headers.contains_key(http::header::ETAG),
            headers.contains_key(http::header::LAST_MODIFIED),
        ];
        let mut removed: Vec<HeaderName> = Vec::new();
        for (which, name, had) in [
            (Replaced::ETag, http::header::ETAG, had[0]),
            (Replaced::LastModified, http::header::LAST_MODIFIED, had[1]),
        ] {
            if !had {
                continue;
            }
            if let Some((_, value)) = self.replacement(ctx, which) {
                match HeaderValue::from_bytes(&value) {
                    // In place (insert keeps the name's position).
                    Ok(value) if !value.is_empty() => {
                        headers.insert(name, value);
                    }
                    _ => removed.push(name),
                }
            }
        }
        if !removed.is_empty() {
            // HeaderMap::remove would move the last name into the gap.
            let mut kept = HeaderMap::with_capacity(headers.len());
            let mut last = None;
            for (name, value) in std::mem::take(headers) {
                if let Some(n) = name {
                    last = Some(n);
                }
                if let Some(n) = last.as_ref().filter(|n| !removed.contains(n)) {
                    kept.append(n.clone(), value);
                }
            }
            *headers = kept;
        }
        for a in &*self.add {
            if !(a.always || safe) {
                continue;
            }
            match a.replaces {
                Some(Replaced::ETag) if had[0] => continue,
                Some(Replaced::LastModified) if had[1] => continue,
                _ => {}
            }
            v.clear();
            a.value.write(ctx, &mut v);
            if let (false, Ok(value)) = (v.is_empty(), HeaderValue::from_bytes(&v)) {
                headers.append(a.header.clone(), value);
            }
        }
    }
}

/// What hyper's path writes itself after [`shape_upstream`] or
/// [`shape_page`] ran (a response extension for `server::finish`).
#[derive(Debug, Clone)]
pub struct Shaped {
    /// Write our `Server` / `Date` (no passed upstream one).
    pub server: bool,
    pub date: bool,
    /// A rewritten `Location` made absolute, for its fixed place.
    pub location: Option<HeaderValue>,
    /// Our own `Location` stays in the list (`absolute_redirect off`: the
    /// header filter leaves a relative one where it is).
    pub listed_location: bool,
}

/// The response rules of a request on hyper's path whose `add_header`
/// names need their configured spelling (a response extension).
#[derive(Debug, Clone)]
pub struct AddedNames(pub std::sync::Arc<Shape>);

/// Applies `shape` to an upstream response's headers on hyper's path:
/// hidden ones dropped, `Location`/`Refresh` rewritten, `add_header` ones
/// appended; records what `server::finish` must write.
pub fn shape_upstream(shape: &Shape, ctx: &Ctx<'_>, headers: &mut HeaderMap) -> Shaped {
    let mut out = HeaderMap::with_capacity(headers.len() + shape.add.len());
    let mut shaped = Shaped {
        server: true,
        date: true,
        location: None,
        listed_location: false,
    };
    let mut last = None;
    for (name, value) in headers.drain() {
        if let Some(n) = name {
            last = Some(n);
        }
        let Some(n) = &last else { continue };
        if shape.hidden(n.as_str()) {
            continue;
        }
        let mut value = value;
        if shape.redirects() && (n == http::header::LOCATION || n.as_str() == "refresh") {
            let location = n == http::header::LOCATION;
            if let Some(v) = shape.redirect(ctx, value.as_bytes(), !location) {
                if location && v.first() == Some(&b'/') && shape.absolute {
                    let mut abs = Vec::with_capacity(v.len() + 32);
                    shape.absolute(ctx, &v, &mut abs);
                    shaped.location = HeaderValue::from_bytes(&abs).ok();
                    continue;
                }
                if let Ok(v) = HeaderValue::from_bytes(&v) {
                    value = v;
                }
            }
        }
        match n.as_str() {
            "server" => shaped.server = false,
            "date" => shaped.date = false,
            _ => {}
        }
        out.append(n.clone(), value);
    }
    shape.add_to(ctx, &mut out);
    *headers = out;
    shaped
}

/// Applies `shape` to one of our own responses on hyper's path (an error
/// page, a `return`): `add_header` appended, a `Location` starting with
/// `/` made absolute. True when that `Location` takes the header's fixed
/// place; any other stays in the list, after `Connection`, as nginx's
/// header filter leaves it.
pub fn shape_page(shape: &Shape, ctx: &Ctx<'_>, headers: &mut HeaderMap) -> bool {
    let mut placed = false;
    if let Some(v) = headers.get(http::header::LOCATION) {
        if v.as_bytes().first() == Some(&b'/') && shape.absolute {
            let mut abs = Vec::with_capacity(v.len() + 32);
            shape.absolute(ctx, v.as_bytes(), &mut abs);
            if let Ok(v) = HeaderValue::from_bytes(&abs) {
                headers.insert(http::header::LOCATION, v);
                placed = true;
            }
        }
    }
    shape.add_to(ctx, headers);
    placed
}

#[cfg(test)]
mod tests;
