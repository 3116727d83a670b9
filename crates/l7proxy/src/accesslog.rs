//! `access_log PATH [FORMAT [if=CONDITION]]` with nginx's predefined
//! `combined` format or a `log_format` (`logformat.rs`), one line written
//! when the response body has been sent (or the client went away).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use nginx_conf::model::http::AccessLog;
use nginx_conf::model::ErrorLog;

use crate::errorlog::{Level, LogFile};
use crate::logformat::{Escape, Facts, Format, Try, COMBINED};

/// Debian's nginx writes here when the file names no `access_log`.
pub const DEFAULT_PATH: &str = "/var/log/nginx/access.log";

/// One `access_log`: the file, its format and its `if=` condition.
#[derive(Debug, Clone)]
pub struct Sink {
    pub file: Arc<LogFile>,
    pub format: Arc<Format>,
    pub condition: Option<Format>,
}

/// Where a location's requests are logged (empty: `access_log off`), and
/// the request headers its formats read.
#[derive(Debug, Clone, Default)]
pub struct Target(pub Vec<Sink>, pub Vec<Arc<str>>);

/// The open log files (access and error), by path, shared by every
/// location and worker, and the `log_format`s.
#[derive(Debug, Default)]
pub struct Files(
    HashMap<String, Arc<LogFile>>,
    HashMap<String, Arc<Format>>,
    Arc<crate::map::Maps>,
);

impl Files {
    /// Compiles the `log_format`s (and `combined`); `maps` define
    /// variables they and `if=` conditions may read.
    pub fn with_formats(
        formats: &[nginx_conf::model::LogFormat],
        maps: &Arc<crate::map::Maps>,
    ) -> Result<Self, String> {
        let mut known = HashMap::new();
        known.insert(
            "combined".to_owned(),
            Arc::new(Format::new(COMBINED, Escape::Default, maps)?),
        );
        for f in formats {
            let escape = match f.escape.as_deref() {
                Some("json") => Escape::Json,
                Some("none") => Escape::None,
                _ => Escape::Default,
            };
            let compiled = Format::new(&f.format, escape, maps)?;
            known.insert(f.name.clone(), Arc::new(compiled));
        }
        Ok(Self(HashMap::new(), known, Arc::clone(maps)))
    }

    /// `-t`'s warnings for the variables the `log_format`s write as `-`
    /// because l7proxy does not have them, by format name.
    pub fn unsupported(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .1
            .iter()
            .flat_map(|(name, f)| {
                f.unsupported().map(move |v| {
                    format!("log_format \"{name}\" writes \"-\" for \"${v}\": l7proxy does not have this variable")
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The target for an `access_log` list (`None`: the default path).
    pub fn target(&mut self, logs: Option<&Vec<AccessLog>>) -> Result<Target, String> {
        let default = [AccessLog::Path {
            path: DEFAULT_PATH.to_owned(),
            format: None,
            condition: None,
        }];
        let logs: &[AccessLog] = logs.map_or(&default[..], Vec::as_slice);
        let mut out = Vec::new();
        let mut headers: Vec<Arc<str>> = Vec::new();
        for l in logs {
            let AccessLog::Path {
                path,
                format,
                condition,
            } = l
            else {
                continue;
            };
            let name = format.as_deref().unwrap_or("combined");
            let format = self
                .1
                .get(name)
                .cloned()
                .ok_or_else(|| format!("unknown log format \"{name}\""))?;
            let condition = condition
                .as_deref()
                .map(|c| Format::new(c, Escape::None, &self.2))
                .transpose()?;
            for h in format
                .headers()
                .into_iter()
                .chain(condition.iter().flat_map(Format::headers))
            {
                if !headers.contains(&h) {
                    headers.push(h);
                }
            }
            out.push(Sink {
                file: self.open(path)?,
                format,
                condition,
            });
        }
        Ok(Target(out, headers))
    }

    /// The file at `path`, opened once.
    fn open(&mut self, path: &str) -> Result<Arc<LogFile>, String> {
        if let Some(f) = self.0.get(path) {
            return Ok(Arc::clone(f));
        }
        let file = LogFile::open(path)?;
        self.0.insert(path.to_owned(), Arc::clone(&file));
        Ok(file)
    }

    /// The error log target of an `error_log` list (`None`, empty: `None`).
    pub fn errors(
        &mut self,
        logs: Option<&Vec<ErrorLog>>,
    ) -> Result<Option<crate::errorlog::Target>, String> {
        let Some(logs) = logs.filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for l in logs {
            let level = match &l.level {
                Some(name) => Level::parse(name)?,
                None => Level::Error,
            };
            out.push((self.open(&l.path)?, level));
        }
        Ok(Some(crate::errorlog::Target(out)))
    }

    /// Every file opened.
    pub fn all(&self) -> Vec<Arc<LogFile>> {
        self.0.values().cloned().collect()
    }

    /// A log file (error log files of locations are opened at load).
    pub fn file(&self, path: &str) -> Option<Arc<LogFile>> {
        self.0.get(path).cloned()
    }
}

/// What routing learnt about a request, for its log line.
#[derive(Debug, Clone, Default)]
pub struct Routed {
    /// `$host`.
    pub host: String,
    pub server_name: String,
    /// The normalised URI.
    pub uri: String,
    pub tries: Vec<Try>,
    /// The `set` variables at the request's end (lower-case names).
    pub sets: Vec<(String, String)>,
}

/// What the log line needs from the request, captured before handling.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub method: http::Method,
    /// The request target as received.
    pub target: String,
    pub version: http::Version,
    /// The request headers the formats read, as `(lower-case name,
    /// value)` (from `all` once the target is known).
    pub headers: Vec<(Arc<str>, Bytes)>,
    /// hyper's path: every request header, until [`Self::keep_headers`].
    pub all: Option<http::HeaderMap>,
    pub scheme: &'static str,
    pub connection: u64,
    pub requests: u64,
    pub start: SystemTime,
    pub routed: Routed,
    /// The response head's length.
    pub header_bytes: u64,
}

/// The connection a request came on: its number (nginx's `$connection`)
/// and how many requests it has had (small: an idle plain connection's
/// task holds it).
#[derive(Debug, Clone, Copy)]
pub struct ConnFacts {
    pub number: u64,
    pub requests: u64,
}

impl RequestFacts {
    pub fn of<B>(
        req: &http::Request<B>,
        remote: SocketAddr,
        local: SocketAddr,
        conn: ConnFacts,
        tls: bool,
    ) -> Self {
        let uri = req.uri();
        // An absolute-form HTTP/1 target as it came; HTTP/2's
        // `:authority` is no part of nginx's `$request`.
        let target = if uri.authority().is_some() && req.version() != http::Version::HTTP_2 {
            uri.to_string()
        } else {
            uri.path_and_query().map_or("/", |p| p.as_str()).to_owned()
        };
        Self {
            remote,
            local,
            method: req.method().clone(),
            target,
            version: req.version(),
            headers: Vec::new(),
            all: Some(req.headers().clone()),
            scheme: if tls { "https" } else { "http" },
            connection: conn.number,
            requests: conn.requests,
            start: SystemTime::now(),
            routed: Routed::default(),
            header_bytes: 0,
        }
    }

    /// Keeps only the headers `names` lists (once a target is known).
    pub fn keep_headers(&mut self, names: &[Arc<str>]) {
        let Some(all) = self.all.take() else {
            return;
        };
        for name in names {
            for v in all.get_all(&**name) {
                self.headers
                    .push((Arc::clone(name), Bytes::copy_from_slice(v.as_bytes())));
            }
        }
    }
}

/// The length of the HTTP/1.1 head hyper writes for `resp` (names have
/// the same length in any case).
pub fn head_length<B>(resp: &http::Response<B>) -> u64 {
    let reason = resp
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map_or_else(
            || resp.status().canonical_reason().unwrap_or("").len(),
            |r| r.as_bytes().len(),
        );
    let mut n = "HTTP/1.1 200 \r\n".len() + reason + 2;
    for (name, v) in resp.headers() {
        n += name.as_str().len() + 2 + v.len() + 2;
    }
    n as u64
}

/// Writes the line of every `access_log` of `target` whose condition
/// holds.
pub fn write(target: &Target, facts: &RequestFacts, status: u16, sent: u64) {
    if target.0.is_empty() {
        return;
    }
    let protocol = match facts.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let f = Facts {
        remote: facts.remote,
        local: facts.local,
        method: facts.method.as_str(),
        target: &facts.target,
        protocol,
        uri: &facts.routed.uri,
        headers: &facts.headers,
        host: &facts.routed.host,
        server_name: &facts.routed.server_name,
        scheme: facts.scheme,
        connection: facts.connection,
        requests: facts.requests,
        start: facts.start,
        now: SystemTime::now(),
        status,
        body_bytes: sent,
        header_bytes: facts.header_bytes,
        tries: &facts.routed.tries,
        sets: &facts.routed.sets,
        request_line: None,
    };
    for sink in &target.0 {
        if sink.condition.as_ref().is_some_and(|c| !c.holds(&f)) {
            continue;
        }
        sink.file.write(&sink.format.render(&f, true));
    }
}

/// The line of a request closed by `client_header_timeout`: nginx logs
/// 408 with the request line as far as it came (`"-"` when none), in each
/// `access_log`'s format.
pub fn write_timed_out(
    target: &Target,
    remote: SocketAddr,
    local: SocketAddr,
    conn: ConnFacts,
    request_line: &[u8],
) {
    if target.0.is_empty() {
        return;
    }
    let now = SystemTime::now();
    let f = Facts {
        remote,
        local,
        method: "",
        target: "",
        protocol: "",
        uri: "",
        headers: &[],
        host: "",
        server_name: "",
        scheme: "http",
        connection: conn.number,
        requests: conn.requests,
        start: now,
        now,
        status: 408,
        body_bytes: 0,
        header_bytes: 0,
        tries: &[],
        sets: &[],
        request_line: Some(request_line),
    };
    for sink in &target.0 {
        if sink.condition.as_ref().is_some_and(|c| !c.holds(&f)) {
            continue;
        }
        sink.file.write(&sink.format.render(&f, true));
    }
}

/// A response body that writes the log line when it ends or is dropped.
#[derive(Debug)]
pub struct Logged {
    inner: crate::body::Body,
    pending: Option<(Arc<Target>, RequestFacts, u16)>,
    sent: u64,
    /// hyper sends the body chunked: its framing counts as sent (one
    /// chunk per data frame, then `0\r\n\r\n`).
    chunked: bool,
    ended: bool,
}

impl Logged {
    pub fn new(
        inner: crate::body::Body,
        log: Option<(Arc<Target>, RequestFacts, u16)>,
        chunked: bool,
    ) -> Self {
        Self {
            inner,
            pending: log.filter(|(t, _, _)| !t.0.is_empty()),
            sent: 0,
            chunked,
            ended: false,
        }
    }

    fn write(&mut self) {
        if let Some((target, facts, status)) = self.pending.take() {
            let end = if self.chunked && self.ended { 5 } else { 0 };
            write(&target, &facts, status, self.sent + end);
        }
    }
}

impl HttpBody for Logged {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    let n = d.len() as u64;
                    me.sent += n;
                    if me.chunked && n > 0 {
                        me.sent += u64::from(n.ilog(16)) + 1 + 4;
                    }
                }
                if me.inner.is_end_stream() {
                    me.ended = true;
                    me.write();
                }
            }
            Poll::Ready(None) => {
                me.ended = true;
                me.write();
            }
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.write();
    }
}
