//! The request line and headers sent upstream, by nginx 1.22's rules
//! (`ngx_http_proxy_create_request`): `proxy_set_header` entries first, then
//! the defaults they do not override (`Host: $proxy_host`,
//! `Connection: close`; `Keep-Alive`, `TE`, `Expect`, `Upgrade` dropped;
//! body framing recomputed), an empty value meaning "not sent"; then every
//! client header not named by those, in the client's order.

use std::net::SocketAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The defaults of nginx 1.22 (`ngx_http_proxy_headers`), by name.
const DEFAULTS: &[(&str, &str)] = &[
    ("Host", "$proxy_host"),
    ("Connection", "close"),
    ("Content-Length", "$proxy_internal_body_length"),
    ("Transfer-Encoding", "$proxy_internal_chunked"),
    ("TE", ""),
    ("Keep-Alive", ""),
    ("Expect", ""),
    ("Upgrade", ""),
];

/// What variables in header values can refer to.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    pub proxy_host: &'a str,
    pub remote_addr: SocketAddr,
    /// The client's `Host` header (or the server name when absent).
    pub host: &'a str,
    pub scheme: &'a str,
    pub request_uri: &'a str,
    pub uri: &'a str,
    pub args: Option<&'a str>,
    pub body_length: Option<u64>,
    pub client_headers: Client<'a>,
    /// The variables `map` blocks define.
    pub maps: &'a crate::map::Maps,
    /// What the rewrite scripts set (`$uri`, `$args`, `set` variables,
    /// the last regex's captures), once they ran.
    pub rewritten: Option<&'a crate::rewrite::State>,
}

/// The client's headers: hyper's map, or the parsed head of the plain
/// HTTP/1 path (in the client's order and case).
#[derive(Debug, Clone, Copy)]
pub enum Client<'a> {
    Map(&'a HeaderMap),
    Raw(&'a [httparse::Header<'a>]),
}

impl<'a> Client<'a> {
    /// The first value of `name` (lower case), if it is text.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        match *self {
            Client::Map(m) => m.get(name).and_then(|v| v.to_str().ok()),
            Client::Raw(h) => h
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case(name))
                .map(|x| x.value)
                // As HeaderValue::to_str: visible ASCII and tabs only.
                .filter(|v| v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)))
                .and_then(|v| std::str::from_utf8(v).ok()),
        }
    }
}

impl Vars<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.client_headers.get(name)
    }

    /// The value of `$name` (empty when unknown or unset).
    pub fn get(&self, name: &str) -> String {
        match name {
            "proxy_host" => self.proxy_host.to_owned(),
            "remote_addr" => self.remote_addr.ip().to_string(),
            "remote_port" => self.remote_addr.port().to_string(),
            "host" => self.host.to_owned(),
            "scheme" => self.scheme.to_owned(),
            "request_uri" => self.request_uri.to_owned(),
            "uri" | "document_uri" => self.uri.to_owned(),
            "args" | "query_string" => self.args.unwrap_or("").to_owned(),
            "proxy_add_x_forwarded_for" => match self.header("x-forwarded-for") {
                Some(prev) => format!("{prev}, {}", self.remote_addr.ip()),
                None => self.remote_addr.ip().to_string(),
            },
            "proxy_internal_body_length" => {
                self.body_length.map(|n| n.to_string()).unwrap_or_default()
            }
            "proxy_internal_chunked" => String::new(),
            _ => {
                if let Some(r) = self.rewritten {
                    let mut out = Vec::new();
                    if r.var_into(name, &mut out) {
                        return String::from_utf8_lossy(&out).into_owned();
                    }
                }
                let mut out = Vec::new();
                if self.maps.eval_into(name, self, &mut out) {
                    return String::from_utf8(out).unwrap_or_default();
                }
                if let Some(h) = name.strip_prefix("http_") {
                    return self.header(&h.replace('_', "-")).unwrap_or("").to_owned();
                }
                if let Some(a) = name.strip_prefix("arg_") {
                    return self
                        .args
                        .unwrap_or("")
                        .split('&')
                        .find_map(|kv| {
                            kv.split_once('=')
                                .filter(|(k, _)| k.eq_ignore_ascii_case(a))
                                .map(|(_, v)| v)
                        })
                        .unwrap_or("")
                        .to_owned();
                }
                if let Some(c) = name.strip_prefix("cookie_") {
                    return self
                        .header("cookie")
                        .unwrap_or("")
                        .split(';')
                        .find_map(|kv| {
                            kv.trim()
                                .split_once('=')
                                .filter(|(k, _)| *k == c)
                                .map(|(_, v)| v)
                        })
                        .unwrap_or("")
                        .to_owned();
                }
                String::new()
            }
        }
    }

    /// Expands `$name` and `${name}` in `template`.
    pub fn expand(&self, template: &str) -> String {
        let mut out = Vec::with_capacity(template.len());
        self.expand_into(template, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the value of `$name` to `out` (without a copy for the
    /// variables that are plain text already).
    pub(crate) fn get_into(&self, name: &str, out: &mut Vec<u8>) {
        let direct = match name {
            "binary_remote_addr" => {
                match self.remote_addr.ip() {
                    std::net::IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                    std::net::IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
                }
                return;
            }
            "proxy_host" => self.proxy_host,
            "host" => self.host,
            "scheme" => self.scheme,
            "request_uri" => self.request_uri,
            "uri" | "document_uri" => self.uri,
            "args" | "query_string" => self.args.unwrap_or(""),
            "proxy_internal_body_length" if self.body_length.is_none() => "",
            "proxy_internal_chunked" => "",
            _ => {
                if self.rewritten.is_some_and(|r| r.var_into(name, out)) {
                    return;
                }
                if self.maps.eval_into(name, self, out) {
                    return;
                }
                out.extend_from_slice(self.get(name).as_bytes());
                return;
            }
        };
        out.extend_from_slice(direct.as_bytes());
    }

    /// Appends `template` with `$name` and `${name}` expanded to `out`.
    pub fn expand_into(&self, template: &str, out: &mut Vec<u8>) {
        expand_with(template, out, &mut |name, out| self.get_into(name, out));
    }
}

/// Appends `template` to `out`, each `$name` and `${name}` replaced by
/// what `var` appends for it (a `$` not followed by a name stays).
pub fn expand_with(template: &str, out: &mut Vec<u8>, var: &mut dyn FnMut(&str, &mut Vec<u8>)) {
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let (name, next) = if b.get(i + 1) == Some(&b'{') {
                match template[i + 2..].find('}') {
                    Some(end) => (&template[i + 2..i + 2 + end], i + 3 + end),
                    None => ("", b.len()),
                }
            } else {
                let end = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(b.len(), |p| i + 1 + p);
                (&template[i + 1..end], end)
            };
            if name.is_empty() {
                out.push(b'$');
                i += 1;
            } else {
                var(name, out);
                i = next;
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != b'$' {
                i += 1;
            }
            out.extend_from_slice(&b[start..i]);
        }
    }
}

/// A header value: fixed, one variable, or a template with variables.
#[derive(Debug, Clone)]
pub enum Template {
    Fixed(HeaderValue),
    Var(String),
    Vars(String),
}

/// The upstream header rules of one location, compiled once: the set
/// headers then the defaults they do not override (value templates), and
/// every name they cover (client headers with those names are not sent).
#[derive(Debug, Clone)]
pub struct HeaderPlan {
    entries: Vec<(HeaderName, Template)>,
    covered: Vec<HeaderName>,
    /// The entries' names as configured (for the plain HTTP/1 path, which
    /// keeps their case as nginx does).
    spelled: Vec<String>,
}

impl HeaderPlan {
    /// From `proxy_set_header` pairs (in order). Invalid names are skipped.
    pub fn new(set: &[(String, String)]) -> Self {
        let mut pairs: Vec<(&str, &str)> =
            set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        for &(name, value) in DEFAULTS {
            if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                pairs.push((name, value));
            }
        }
        let mut entries = Vec::new();
        let mut covered = Vec::new();
        let mut spelled = Vec::new();
        for (name, value) in pairs {
            let Ok(hn) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            covered.push(hn.clone());
            if value.is_empty() {
                continue;
            }
            let single = value.strip_prefix('$').filter(|n| {
                !n.is_empty() && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            });
            let t = if let Some(name) = single {
                Template::Var(name.to_owned())
            } else if value.contains('$') {
                Template::Vars(value.to_owned())
            } else {
                match HeaderValue::from_str(value) {
                    Ok(v) => Template::Fixed(v),
                    Err(_) => continue,
                }
            };
            entries.push((hn, t));
            spelled.push(name.to_owned());
        }
        Self {
            entries,
            covered,
            spelled,
        }
    }

    /// Writes the headers to send upstream as `Name: value\r\n` lines;
    /// returns whether a `Connection` header naming `close` was written.
    pub fn write(
        &self,
        vars: &Vars<'_>,
        client: &[httparse::Header<'_>],
        out: &mut Vec<u8>,
    ) -> bool {
        let mut close = false;
        for ((name, t), spelled) in self.entries.iter().zip(&self.spelled) {
            let start = out.len();
            out.extend_from_slice(spelled.as_bytes());
            out.extend_from_slice(b": ");
            let at = out.len();
            match t {
                Template::Fixed(v) => out.extend_from_slice(v.as_bytes()),
                Template::Var(_) | Template::Vars(_) => {
                    match t {
                        Template::Var(name) => vars.get_into(name, out),
                        Template::Vars(tpl) => vars.expand_into(tpl, out),
                        Template::Fixed(_) => {}
                    }
                    // Empty means not sent; a value HeaderValue::from_str
                    // refuses (not visible ASCII) is not sent either, as
                    // on the hyper path.
                    let text = |b: &u8| *b == b'\t' || (0x20..0x7f).contains(b);
                    if out.len() == at || !out[at..].iter().all(text) {
                        out.truncate(start);
                        continue;
                    }
                }
            }
            if name == http::header::CONNECTION
                && out[at..]
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                close = true;
            }
            out.extend_from_slice(b"\r\n");
        }
        for h in client {
            if !self
                .covered
                .iter()
                .any(|c| c.as_str().eq_ignore_ascii_case(h.name))
            {
                out.extend_from_slice(h.name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(h.value);
                out.extend_from_slice(b"\r\n");
            }
        }
        close
    }

    /// The configured spelling of `name` (lower case) when an entry sets
    /// it.
    pub fn spelling(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .zip(&self.spelled)
            .find(|((n, _), _)| n.as_str() == name)
            .map(|(_, s)| s.as_str())
    }

    /// The headers to send upstream, in order.
    pub fn build(&self, vars: &Vars<'_>) -> HeaderMap {
        let Client::Map(client) = vars.client_headers else {
            return HeaderMap::new();
        };
        let mut out = HeaderMap::with_capacity(self.entries.len() + client.len());
        for (name, t) in &self.entries {
            match t {
                Template::Fixed(v) => {
                    out.append(name.clone(), v.clone());
                }
                Template::Var(_) | Template::Vars(_) => {
                    let value = match t {
                        Template::Var(name) => vars.get(name),
                        Template::Vars(tpl) => vars.expand(tpl),
                        Template::Fixed(_) => String::new(),
                    };
                    if let (false, Ok(v)) = (value.is_empty(), HeaderValue::from_str(&value)) {
                        out.append(name.clone(), v);
                    }
                }
            }
        }
        for (name, value) in client {
            if !self.covered.contains(name) {
                out.append(name.clone(), value.clone());
            }
        }
        out
    }
}

/// The headers to send upstream as text pairs (for tests and tools).
pub fn upstream_headers(set: &[(String, String)], vars: &Vars<'_>) -> Vec<(String, String)> {
    HeaderPlan::new(set)
        .build(vars)
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn vars(client: &HeaderMap, body: Option<u64>) -> Vars<'_> {
        Vars {
            proxy_host: "backend",
            remote_addr: "198.51.100.7:5555".parse().unwrap(),
            host: "example.com",
            scheme: "http",
            request_uri: "/a?b=1",
            uri: "/a",
            args: Some("b=1&Name=x"),
            body_length: body,
            client_headers: Client::Map(client),
            maps: &crate::map::EMPTY,
            rewritten: None,
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    /// Expected output: names as HeaderMap keeps them (lower case).
    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_ascii_lowercase(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_replace_hop_by_hop_and_keep_the_rest_in_order() {
        let client = map(&[
            ("Host", "example.com"),
            ("User-Agent", "t"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "300"),
            ("Accept", "*/*"),
            ("TE", "trailers"),
            ("Upgrade", "h2c"),
            ("Expect", "100-continue"),
        ]);
        let out = upstream_headers(&[], &vars(&client, None));
        assert_eq!(
            out,
            h(&[
                ("Host", "backend"),
                ("Connection", "close"),
                ("User-Agent", "t"),
                ("Accept", "*/*")
            ])
        );
    }

    #[test]
    fn set_headers_come_first_override_defaults_and_empty_means_not_sent() {
        let client = map(&[
            ("Host", "example.com"),
            ("X-Forwarded-For", "203.0.113.9"),
            ("Accept", "*/*"),
        ]);
        let set = pairs(&[
            ("Host", "$host"),
            ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
            ("Accept", ""),
            ("X-Arg", "${arg_name}-$http_accept"),
        ]);
        let out = upstream_headers(&set, &vars(&client, Some(12)));
        assert_eq!(
            out,
            h(&[
                ("Host", "example.com"),
                ("X-Forwarded-For", "203.0.113.9, 198.51.100.7"),
                ("X-Arg", "x-*/*"),
                ("Connection", "close"),
                ("Content-Length", "12")
            ])
        );
    }
}
