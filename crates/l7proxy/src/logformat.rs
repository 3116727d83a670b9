//! `log_format`: a format compiled once into text and variables, and the
//! line rendered from a request's [`Facts`] as nginx's
//! `ngx_http_log_module` does (escaping per `escape=`, `-` for a variable
//! that is not found, nothing for it with `escape=json`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// nginx's predefined format.
pub const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status \
$body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/// How variable values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `"`, `\` and bytes outside 0x20..0x7e as `\xXX`.
    Default,
    /// JSON string escapes.
    Json,
    None,
}

/// The variables a format can use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    RemoteAddr,
    RemotePort,
    RemoteUser,
    TimeLocal,
    TimeIso8601,
    Msec,
    Request,
    RequestMethod,
    RequestUri,
    Uri,
    Args,
    Arg(String),
    /// A request header (lower case, `-` for `_`).
    Http(Arc<str>),
    Cookie(String),
    Status,
    BodyBytesSent,
    BytesSent,
    RequestTime,
    UpstreamAddr,
    UpstreamStatus,
    UpstreamResponseTime,
    Host,
    ServerName,
    ServerAddr,
    ServerPort,
    ServerProtocol,
    Scheme,
    Connection,
    ConnectionRequests,
    Pid,
    Hostname,
    /// A `map`'s variable (lower case).
    Map(Arc<str>),
    /// A variable nginx has (checked with the whole file, see
    /// `nginx_conf::model::variables`) that l7proxy does not log: never
    /// found, so `-`.
    Unsupported(Arc<str>),
    /// One `set` makes: its value at the request's end, empty when the
    /// request set none (nginx's value of an uninitialized variable).
    Set(Arc<str>),
}

#[derive(Debug, Clone)]
enum Seg {
    Text(String),
    Var(Var),
}

/// A compiled format.
#[derive(Debug, Clone)]
pub struct Format {
    segs: Vec<Seg>,
    escape: Escape,
    /// The maps the `Map` variables read.
    maps: Arc<crate::map::Maps>,
}

fn var(name: &str) -> Option<Var> {
    Some(match name {
        "remote_addr" => Var::RemoteAddr,
        "remote_port" => Var::RemotePort,
        "remote_user" => Var::RemoteUser,
        "time_local" => Var::TimeLocal,
        "time_iso8601" => Var::TimeIso8601,
        "msec" => Var::Msec,
        "request" => Var::Request,
        "request_method" => Var::RequestMethod,
        "request_uri" => Var::RequestUri,
        "uri" | "document_uri" => Var::Uri,
        "args" | "query_string" => Var::Args,
        "status" => Var::Status,
        "body_bytes_sent" => Var::BodyBytesSent,
        "bytes_sent" => Var::BytesSent,
        "request_time" => Var::RequestTime,
        "upstream_addr" => Var::UpstreamAddr,
        "upstream_status" => Var::UpstreamStatus,
        "upstream_response_time" => Var::UpstreamResponseTime,
        "host" => Var::Host,
        "server_name" => Var::ServerName,
        "server_addr" => Var::ServerAddr,
        "server_port" => Var::ServerPort,
        "server_protocol" => Var::ServerProtocol,
        "scheme" => Var::Scheme,
        "connection" => Var::Connection,
        "connection_requests" => Var::ConnectionRequests,
        "pid" => Var::Pid,
        "hostname" => Var::Hostname,
        _ => {
            if let Some(h) = name.strip_prefix("http_").filter(|h| !h.is_empty()) {
                return Some(Var::Http(h.replace('_', "-").to_ascii_lowercase().into()));
            }
            if let Some(a) = name.strip_prefix("arg_").filter(|a| !a.is_empty()) {
                return Some(Var::Arg(a.to_owned()));
            }
            if let Some(c) = name.strip_prefix("cookie_").filter(|c| !c.is_empty()) {
                return Some(Var::Cookie(c.to_owned()));
            }
            return None;
        }
    })
}

impl Format {
    /// Compiles `text` (`$name`, `${name}`). `maps` define variables too;
    /// a name nginx knows that we do not log is [`Format::unsupported`]
    /// (the model has refused names nginx does not know).
    pub fn new(text: &str, escape: Escape, maps: &Arc<crate::map::Maps>) -> Result<Self, String> {
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, next) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').ok_or_else(|| {
                    format!("the closing bracket in \"{braced}\" variable is missing")
                })?;
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if name.is_empty() {
                return Err("invalid variable name \"$\"".to_owned());
            }
            let lower = name.to_ascii_lowercase();
            let v = if maps.defines(name) {
                Var::Map(lower.into())
            } else if maps.is_set(&lower) {
                Var::Set(lower.into())
            } else {
                var(name).unwrap_or_else(|| Var::Unsupported(name.to_ascii_lowercase().into()))
            };
            if !lit.is_empty() {
                segs.push(Seg::Text(std::mem::take(&mut lit)));
            }
            segs.push(Seg::Var(v));
            rest = next;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segs.push(Seg::Text(lit));
        }
        Ok(Self {
            segs,
            escape,
            maps: Arc::clone(maps),
        })
    }

    /// The variables the format writes as `-` because l7proxy does not
    /// have them.
    pub fn unsupported(&self) -> impl Iterator<Item = &str> {
        self.segs.iter().filter_map(|s| match s {
            Seg::Var(Var::Unsupported(n)) => Some(&**n),
            _ => None,
        })
    }

    /// The request headers the format reads (lower case).
    pub fn headers(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = Vec::new();
        let mut vars: Vec<Var> = Vec::new();
        for s in &self.segs {
            match s {
                Seg::Var(Var::Map(m)) => {
                    vars.extend(self.maps.reads(m).iter().filter_map(|n| var(n)));
                }
                Seg::Var(v) => vars.push(v.clone()),
                Seg::Text(_) => {}
            }
        }
        for v in vars {
            let name: Arc<str> = match v {
                Var::Http(h) => h,
                Var::Cookie(_) => "cookie".into(),
                Var::RemoteUser => "authorization".into(),
                _ => continue,
            };
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// The line for `f` (with its newline when `newline`).
    pub fn render(&self, f: &Facts<'_>, newline: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut val = Vec::with_capacity(64);
        for s in &self.segs {
            match s {
                Seg::Text(t) => out.extend_from_slice(t.as_bytes()),
                Seg::Var(v) => {
                    val.clear();
                    if self.value(f, v, &mut val) {
                        escape(&mut out, &val, self.escape);
                    } else if self.escape != Escape::Json {
                        out.push(b'-');
                    }
                }
            }
        }
        if newline {
            out.push(b'\n');
        }
        out
    }

    /// Whether an `if=` condition holds (not "" and not "0").
    pub fn holds(&self, f: &Facts<'_>) -> bool {
        let mut out = Vec::new();
        let mut val = Vec::new();
        for s in &self.segs {
            match s {
                Seg::Text(t) => out.extend_from_slice(t.as_bytes()),
                Seg::Var(v) => {
                    val.clear();
                    if self.value(f, v, &mut val) {
                        out.extend_from_slice(&val);
                    }
                }
            }
        }
        !(out.is_empty() || out == b"0")
    }

    /// Appends the value of `v` for `f`; false when it is not found (a
    /// map's value always is).
    fn value(&self, f: &Facts<'_>, v: &Var, out: &mut Vec<u8>) -> bool {
        match v {
            Var::Map(name) => {
                let src = LogSource {
                    facts: f,
                    maps: &self.maps,
                };
                self.maps.eval_into(name, &src, out)
            }
            _ => f.value(v, out),
        }
    }
}

/// The variables a map reads while a line is written.
struct LogSource<'a, 'f> {
    facts: &'a Facts<'f>,
    maps: &'a crate::map::Maps,
}

impl crate::map::Source for LogSource<'_, '_> {
    fn var_into(&self, name: &str, out: &mut Vec<u8>) {
        if self.maps.eval_into(name, self, out) {
            return;
        }
        if let Some(v) = var(name) {
            self.facts.value(&v, out);
        }
    }
}

fn escape(out: &mut Vec<u8>, bytes: &[u8], how: Escape) {
    match how {
        Escape::None => out.extend_from_slice(bytes),
        Escape::Default => {
            for &b in bytes {
                if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
                    let _ = write!(HexOut(out), "\\x{b:02X}");
                } else {
                    out.push(b);
                }
            }
        }
        Escape::Json => {
            for &b in bytes {
                match b {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0x08 => out.extend_from_slice(b"\\b"),
                    0x0c => out.extend_from_slice(b"\\f"),
                    0..0x20 => {
                        let _ = write!(HexOut(out), "\\u{b:04x}");
                    }
                    _ => out.push(b),
                }
            }
        }
    }
}

struct HexOut<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for HexOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// One upstream try: the peer (or the group when none could be chosen),
/// its status (502/504 when it failed) and how long it took.
#[derive(Debug, Clone)]
pub struct Try {
    pub addr: TryAt,
    pub status: u16,
    pub secs: f64,
}

/// Where a try went: a peer, or the group when none could be chosen
/// (formatted only when a line is written).
#[derive(Debug, Clone)]
pub enum TryAt {
    Peer(crate::peer::Peer),
    Group(std::sync::Arc<str>),
}

impl std::fmt::Display for TryAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryAt::Peer(p) => write!(f, "{p}"),
            TryAt::Group(g) => f.write_str(g),
        }
    }
}

/// Everything a line can say about a request.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub method: &'a str,
    /// The request target as received.
    pub target: &'a str,
    /// `HTTP/1.1`, `HTTP/1.0`, `HTTP/2.0`.
    pub protocol: &'a str,
    /// The normalised URI (`$uri`).
    pub uri: &'a str,
    /// The request headers the formats read (lower-case names).
    pub headers: &'a [(Arc<str>, bytes::Bytes)],
    pub host: &'a str,
    pub server_name: &'a str,
    pub scheme: &'a str,
    pub connection: u64,
    pub requests: u64,
    pub start: SystemTime,
    pub now: SystemTime,
    pub status: u16,
    pub body_bytes: u64,
    pub header_bytes: u64,
    pub tries: &'a [Try],
    /// `set` variables (lower-case names) and their values.
    pub sets: &'a [(String, String)],
    /// A request line as far as it came (a request closed by
    /// `client_header_timeout`): `$request` is it, not the parsed parts.
    pub request_line: Option<&'a [u8]>,
}

fn secs_ms(out: &mut Vec<u8>, secs: f64) {
    let _ = write!(HexOut(out), "{:.3}", secs.max(0.0));
}

impl Facts<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| &v[..])
    }

    fn args(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, a)| a)
    }

    /// Appends the value of `v`; false when it is not found.
    #[allow(clippy::too_many_lines)] // one arm per variable
    fn value(&self, v: &Var, out: &mut Vec<u8>) -> bool {
        let since = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let mut w = |s: &str| out.extend_from_slice(s.as_bytes());
        match v {
            // Maps are evaluated by `Format::value`, which has them;
            // variables l7proxy does not have are not found.
            Var::Map(_) | Var::Unsupported(_) => return false,
            Var::Set(name) => {
                if let Some((_, v)) = self.sets.iter().find(|(n, _)| **n == **name) {
                    w(v);
                }
            }
            Var::RemoteAddr => w(&self.remote.ip().to_string()),
            Var::RemotePort => w(&self.remote.port().to_string()),
            Var::RemoteUser => match self.header("authorization").and_then(basic_user) {
                Some(u) => out.extend_from_slice(&u),
                None => return false,
            },
            Var::TimeLocal => w(&crate::date::time_local(since(self.now).as_secs())),
            Var::TimeIso8601 => w(&crate::date::time_iso8601(since(self.now).as_secs())),
            Var::Msec => {
                let d = since(self.now);
                w(&format!("{}.{:03}", d.as_secs(), d.subsec_millis()));
            }
            Var::Request if self.request_line.is_some() => {
                let line = self.request_line.unwrap_or_default();
                if line.is_empty() {
                    return false;
                }
                out.extend_from_slice(line);
            }
            Var::Request => {
                w(self.method);
                w(" ");
                w(self.target);
                w(" ");
                w(self.protocol);
            }
            Var::RequestMethod => w(self.method),
            Var::RequestUri => w(self.target),
            Var::Uri => w(self.uri),
            Var::Args => match self.args() {
                Some(a) => w(a),
                None => return false,
            },
            Var::Arg(name) => {
                let found = self.args().and_then(|a| {
                    a.split('&').find_map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        k.eq_ignore_ascii_case(name).then_some(v)
                    })
                });
                match found {
                    Some(v) => w(v),
                    None => return false,
                }
            }
            Var::Http(name) => match self.header(name) {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::Cookie(name) => {
                let found = self.header("cookie").and_then(|c| {
                    c.split(|&b| b == b';').find_map(|kv| {
                        let kv = kv.trim_ascii();
                        let eq = kv.iter().position(|&b| b == b'=')?;
                        kv[..eq]
                            .eq_ignore_ascii_case(name.as_bytes())
                            .then(|| &kv[eq + 1..])
                    })
                });
                match found {
                    Some(v) => out.extend_from_slice(v),
                    None => return false,
                }
            }
            Var::Status => w(&format!("{:03}", self.status)),
            Var::BodyBytesSent => w(&self.body_bytes.to_string()),
            Var::BytesSent => w(&(self.body_bytes + self.header_bytes).to_string()),
            Var::RequestTime => {
                let t = self.now.duration_since(self.start).unwrap_or_default();
                secs_ms(out, t.as_secs_f64());
            }
            Var::UpstreamAddr | Var::UpstreamStatus | Var::UpstreamResponseTime => {
                if self.tries.is_empty() {
                    return false;
                }
                for (i, t) in self.tries.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    match v {
                        Var::UpstreamAddr => {
                            let _ = write!(HexOut(out), "{}", t.addr);
                        }
                        Var::UpstreamStatus => {
                            out.extend_from_slice(t.status.to_string().as_bytes());
                        }
                        _ => secs_ms(out, t.secs),
                    }
                }
            }
            Var::Host => w(self.host),
            Var::ServerName => w(self.server_name),
            Var::ServerAddr => w(&self.local.ip().to_string()),
            Var::ServerPort => w(&self.local.port().to_string()),
            Var::ServerProtocol => w(self.protocol),
            Var::Scheme => w(self.scheme),
            Var::Connection => w(&self.connection.to_string()),
            Var::ConnectionRequests => w(&self.requests.to_string()),
            Var::Pid => w(&std::process::id().to_string()),
            Var::Hostname => w(&hostname()),
        }
        true
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The user of `Authorization: Basic …` (nginx's `$remote_user`).
fn basic_user(v: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(v).ok()?.trim();
    let (scheme, data) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64(data.trim())?;
    let end = decoded.iter().position(|&b| b == b':')?;
    Some(decoded[..end].to_vec())
}

fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(headers: &'a [(Arc<str>, bytes::Bytes)], tries: &'a [Try]) -> Facts<'a> {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(784_111_777_250);
        Facts {
            remote: "192.0.2.7:1234".parse().unwrap(),
            local: "198.51.100.1:80".parse().unwrap(),
            method: "GET",
            target: "/a?b=\"c\"&x=1",
            protocol: "HTTP/1.1",
            uri: "/a",
            headers,
            host: "example.com",
            server_name: "ex",
            scheme: "http",
            connection: 3,
            requests: 2,
            start: t,
            now: t,
            status: 200,
            body_bytes: 12,
            header_bytes: 100,
            tries,
            sets: &[],
            request_line: None,
        }
    }

    #[test]
    fn combined_lines_escape_like_nginx() {
        let h = [(
            "user-agent".into(),
            bytes::Bytes::from_static(b"curl/8 \"x\""),
        )];
        let f = Format::new(COMBINED, Escape::Default, &Arc::default()).unwrap();
        let line = String::from_utf8(f.render(&facts(&h, &[]), true)).unwrap();
        assert_eq!(
            line,
            "192.0.2.7 - - [06/Nov/1994:08:49:37 +0000] \"GET /a?b=\\x22c\\x22&x=1 HTTP/1.1\" 200 12 \"-\" \"curl/8 \\x22x\\x22\"\n"
        );
    }

    #[test]
    fn json_escaping_and_missing_values() {
        let h = [(
            "authorization".into(),
            bytes::Bytes::from_static(b"Basic dXNlcjpwYXNz"),
        )];
        let tries = [
            Try {
                addr: TryAt::Peer(crate::peer::Peer::Inet("127.0.0.1:9".parse().unwrap())),
                status: 502,
                secs: 0.0,
            },
            Try {
                addr: TryAt::Group("127.0.0.1:8".into()),
                status: 200,
                secs: 0.0125,
            },
        ];
        let f = Format::new(
            "{\"u\":\"$remote_user\",\"r\":\"$http_referer\",\"a\":\"$arg_b\",\"up\":\"$upstream_addr $upstream_status $upstream_response_time\",\"t\":\"$time_iso8601\"}",
            Escape::Json,
            &Arc::default(),
        )
        .unwrap();
        let line = String::from_utf8(f.render(&facts(&h, &tries), false)).unwrap();
        assert_eq!(
            line,
            "{\"u\":\"user\",\"r\":\"\",\"a\":\"\\\"c\\\"\",\"up\":\"127.0.0.1:9, 127.0.0.1:8 502, 200 0.000, 0.013\",\"t\":\"1994-11-06T08:49:37+00:00\"}"
        );
        let f = Format::new("$ssl_cipher $uri", Escape::Default, &Arc::default()).unwrap();
        assert_eq!(f.unsupported().collect::<Vec<_>>(), ["ssl_cipher"]);
    }
}
