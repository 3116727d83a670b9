//! `access_log` in nginx's predefined `combined` format:
//! `$remote_addr - $remote_user [$time_local] "$request" $status
//! $body_bytes_sent "$http_referer" "$http_user_agent"`, one line written
//! when the response body has been sent (or the client went away).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use nginx_conf::model::http::AccessLog;
use nginx_conf::model::ErrorLog;

use crate::errorlog::{Level, LogFile};

/// Debian's nginx writes here when the file names no `access_log`.
pub const DEFAULT_PATH: &str = "/var/log/nginx/access.log";

/// Where a location's requests are logged (empty: `access_log off`).
#[derive(Debug, Clone, Default)]
pub struct Target(pub Vec<Arc<LogFile>>);

/// The open log files (access and error), by path, shared by every
/// location and worker.
#[derive(Debug, Default)]
pub struct Files(HashMap<String, Arc<LogFile>>);

impl Files {
    /// The target for an `access_log` list (`None`: the default path).
    pub fn target(&mut self, logs: Option<&Vec<AccessLog>>) -> Result<Target, String> {
        let default = [AccessLog::Path {
            path: DEFAULT_PATH.to_owned(),
            format: None,
        }];
        let logs: &[AccessLog] = logs.map_or(&default[..], Vec::as_slice);
        let mut out = Vec::new();
        for l in logs {
            let AccessLog::Path { path, format } = l else {
                continue;
            };
            if let Some(f) = format.as_deref().filter(|f| *f != "combined") {
                return Err(format!(
                    "unknown log format \"{f}\" (only \"combined\" is supported)"
                ));
            }
            out.push(self.open(path)?);
        }
        Ok(Target(out))
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
}

/// What the log line needs from the request, captured before handling.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub remote: SocketAddr,
    pub method: http::Method,
    pub uri: http::Uri,
    pub version: http::Version,
    pub referer: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
}

impl RequestFacts {
    pub fn of<B>(req: &http::Request<B>, remote: SocketAddr) -> Self {
        Self {
            remote,
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            referer: req.headers().get(http::header::REFERER).cloned(),
            user_agent: req.headers().get(http::header::USER_AGENT).cloned(),
        }
    }
}

/// nginx's default escaping of variable values in log lines: `"`, `\`
/// and bytes outside 0x20..0x7e become `\xXX`.
fn escape(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
}

/// One `combined` line.
pub fn combined(f: &RequestFacts, status: u16, bytes: u64, secs: u64) -> String {
    let mut line = String::with_capacity(200);
    line.push_str(&f.remote.ip().to_string());
    line.push_str(" - - [");
    line.push_str(&crate::date::time_local(secs));
    line.push_str("] \"");
    let target = f.uri.path_and_query().map_or("/", |p| p.as_str());
    let version = match f.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    escape(
        &mut line,
        format!("{} {target} {version}", f.method).as_bytes(),
    );
    let _ = write!(line, "\" {status} {bytes} \"");
    for (i, v) in [&f.referer, &f.user_agent].into_iter().enumerate() {
        match v {
            Some(v) if !v.is_empty() => escape(&mut line, v.as_bytes()),
            _ => line.push('-'),
        }
        line.push_str(if i == 0 { "\" \"" } else { "\"\n" });
    }
    line
}

/// Writes one `combined` line to every file of `target`.
pub fn write(target: &Target, facts: &RequestFacts, status: u16, sent: u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = combined(facts, status, sent, secs);
    for f in &target.0 {
        f.write(line.as_bytes());
    }
}

/// The line of a request closed by `client_header_timeout`: nginx logs
/// 408 with the request line as far as it came (`"-"` when none).
pub fn write_timed_out(target: &Target, remote: SocketAddr, request_line: &[u8]) {
    if target.0.is_empty() {
        return;
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut line = String::with_capacity(120);
    line.push_str(&remote.ip().to_string());
    line.push_str(" - - [");
    line.push_str(&crate::date::time_local(secs));
    line.push_str("] \"");
    if request_line.is_empty() {
        line.push('-');
    } else {
        escape(&mut line, request_line);
    }
    line.push_str("\" 408 0 \"-\" \"-\"\n");
    for f in &target.0 {
        f.write(line.as_bytes());
    }
}

/// A response body that writes the log line when it ends or is dropped.
#[derive(Debug)]
pub struct Logged {
    inner: crate::body::Body,
    pending: Option<(Arc<Target>, RequestFacts, u16)>,
    sent: u64,
}

impl Logged {
    pub fn new(inner: crate::body::Body, log: Option<(Arc<Target>, RequestFacts, u16)>) -> Self {
        Self {
            inner,
            pending: log.filter(|(t, _, _)| !t.0.is_empty()),
            sent: 0,
        }
    }

    fn write(&mut self) {
        if let Some((target, facts, status)) = self.pending.take() {
            write(&target, &facts, status, self.sent);
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
                    me.sent += d.len() as u64;
                }
                if me.inner.is_end_stream() {
                    me.write();
                }
            }
            Poll::Ready(None) => me.write(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_lines_escape_like_nginx() {
        let facts = RequestFacts {
            remote: "192.0.2.7:1234".parse().unwrap(),
            method: http::Method::GET,
            uri: "/a?b=\"c\""
                .parse()
                .unwrap_or_else(|_| "/a".parse().unwrap()),
            version: http::Version::HTTP_11,
            referer: None,
            user_agent: Some(HeaderValue::from_static("curl/8 \"x\"")),
        };
        let line = combined(&facts, 200, 12, 784_111_777);
        assert!(
            line.starts_with("192.0.2.7 - - [06/Nov/1994:08:49:37 +0000] \"GET /a"),
            "{line}"
        );
        assert!(
            line.ends_with(" HTTP/1.1\" 200 12 \"-\" \"curl/8 \\x22x\\x22\"\n"),
            "{line}"
        );
    }
}
