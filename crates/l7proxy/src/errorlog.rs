//! `error_log FILE|stderr [LEVEL]` in nginx's line format
//! `YYYY/MM/DD HH:MM:SS [LEVEL] PID#TID: *CID MESSAGE`, and the log files
//! (access and error) that `-s reopen` reopens in place.
//!
//! Levels as nginx orders them: `debug info notice warn error crit alert
//! emerg`; a file gets the messages at its level or more severe. The
//! main-context `error_log` (Debian's nginx default when none: `stderr` at
//! `error`) takes the process's messages; a request's messages go to its
//! location's, else its server's, else http's `error_log`, else the main
//! one. Times are UTC.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// A message's severity (most severe first, so `<=` means "at least as
/// severe").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    #[default]
    Error,
    Warn,
    Notice,
    Info,
    Debug,
}

const NAMES: [(&str, Level); 8] = [
    ("emerg", Level::Emerg),
    ("alert", Level::Alert),
    ("crit", Level::Crit),
    ("error", Level::Error),
    ("warn", Level::Warn),
    ("notice", Level::Notice),
    ("info", Level::Info),
    ("debug", Level::Debug),
];

impl Level {
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("error", |(n, _)| n)
    }

    /// The next level down in severity (nginx's `level + 1`).
    #[must_use]
    pub fn quieter(self) -> Self {
        match self {
            Level::Emerg => Level::Alert,
            Level::Alert => Level::Crit,
            Level::Crit => Level::Error,
            Level::Error => Level::Warn,
            Level::Warn => Level::Notice,
            Level::Notice => Level::Info,
            Level::Info | Level::Debug => Level::Debug,
        }
    }

    /// A level named in `error_log`.
    pub fn parse(name: &str) -> Result<Self, String> {
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .ok_or_else(|| format!("invalid log level \"{name}\""))
    }
}

/// A log file shared by every location and worker that names its path;
/// `reopen` swaps the open file for a new one at the same path (after a
/// rotation moved it away).
#[derive(Debug)]
pub struct LogFile {
    path: String,
    /// `None`: standard error.
    file: RwLock<Option<File>>,
}

fn open_append(path: &str) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("open() \"{path}\" failed ({})", os_error(&e)))
}

impl LogFile {
    /// Opens `path` for appending (`stderr`: standard error).
    pub fn open(path: &str) -> Result<Arc<Self>, String> {
        if path.starts_with("syslog:") || path.starts_with("memory:") {
            return Err(format!("logging to \"{path}\" is not supported yet"));
        }
        let file = if path == "stderr" {
            None
        } else {
            Some(open_append(path)?)
        };
        Ok(Arc::new(Self {
            path: path.to_owned(),
            file: RwLock::new(file),
        }))
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Appends `bytes` (one line: a single write, so lines of different
    /// threads do not interleave).
    pub fn write(&self, bytes: &[u8]) {
        let Ok(guard) = self.file.read() else { return };
        match &*guard {
            Some(f) => {
                let _ = (&*f).write_all(bytes);
            }
            None => {
                let _ = std::io::stderr().write_all(bytes);
            }
        }
    }

    /// Makes standard error this file (no-op for `stderr`).
    pub fn redirect_stderr(&self) {
        if let Ok(guard) = self.file.read() {
            if let Some(f) = &*guard {
                let _ = nix::unistd::dup2_stderr(f);
            }
        }
    }

    /// Opens the path anew and writes there from now on.
    pub fn reopen(&self) -> Result<(), String> {
        if self.path == "stderr" {
            return Ok(());
        }
        // Opened under the lock: once the new file exists, no line can
        // still go to the old one.
        let mut guard = self
            .file
            .write()
            .map_err(|_| format!("reopen \"{}\": poisoned lock", self.path))?;
        *guard = Some(open_append(&self.path)?);
        Ok(())
    }
}

/// `strerror`-style text as nginx prints it: `111: Connection refused`.
pub fn os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(n) => {
            let plain = text
                .strip_suffix(&format!(" (os error {n})"))
                .unwrap_or(&text);
            format!("{n}: {plain}")
        }
        None => text,
    }
}

/// Where a context's error messages go: files with their levels.
#[derive(Debug, Clone, Default)]
pub struct Target(pub Vec<(Arc<LogFile>, Level)>);

/// The error lines' `*N`: one per logged request here.
static EVENTS: AtomicU64 = AtomicU64::new(1);

/// nginx's connection numbers (`$connection`): one per accepted client
/// connection and per upstream connection attempt, as nginx counts them.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// A fresh `*N` for an error line.
pub fn connection_number() -> u64 {
    EVENTS.fetch_add(1, Ordering::Relaxed)
}

/// A fresh connection number (`$connection`).
pub fn next_connection() -> u64 {
    CONNECTIONS.fetch_add(1, Ordering::Relaxed)
}

/// One line: time, level, pid#tid, the connection number if any, message.
pub fn line(level: Level, connection: Option<u64>, message: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cid = connection.map(|c| format!("*{c} ")).unwrap_or_default();
    format!(
        "{} [{}] {}#{}: {cid}{message}\n",
        crate::date::error_log_time(secs),
        level.name(),
        std::process::id(),
        nix::unistd::gettid(),
    )
}

impl Target {
    /// Whether any file takes messages of `level`.
    pub fn wants(&self, level: Level) -> bool {
        self.0.iter().any(|(_, l)| level <= *l)
    }

    /// Writes `message` to the files whose level admits it.
    pub fn log(&self, level: Level, connection: Option<u64>, message: &str) {
        if !self.wants(level) {
            return;
        }
        let text = line(level, connection, message);
        for (f, l) in &self.0 {
            if level <= *l {
                f.write(text.as_bytes());
            }
        }
    }
}

/// The main context's error log, for the process's own messages.
static MAIN: RwLock<Option<Arc<Target>>> = RwLock::new(None);

/// Makes `target` the process's error log (at start and on reload).
pub fn set_main(target: Arc<Target>) {
    if let Ok(mut m) = MAIN.write() {
        *m = Some(target);
    }
}

/// The process's error log (standard error at `error` until one is set).
pub fn main_target() -> Arc<Target> {
    MAIN.read().ok().and_then(|m| m.clone()).unwrap_or_else(|| {
        Arc::new(Target(vec![(
            Arc::new(LogFile {
                path: "stderr".to_owned(),
                file: RwLock::new(None),
            }),
            Level::Error,
        )]))
    })
}

/// Logs a process message (no connection number) to the main error log.
pub fn log(level: Level, message: &str) {
    main_target().log(level, None, message);
}

/// What nginx appends to a request's error messages.
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    pub client: std::net::IpAddr,
    /// The server's first `server_name` (empty when it has none).
    pub server: &'a str,
    /// The request line as received.
    pub request: &'a str,
    /// `http://PEER/URI`, or `http://GROUP/URI` when no peer was chosen.
    pub upstream: Option<&'a str>,
    pub host: Option<&'a str>,
}

impl RequestContext<'_> {
    /// `while ACTION, client: …, server: …, request: "…", upstream: "…",
    /// host: "…"` after `message`.
    pub fn format(&self, message: &str, action: &str) -> String {
        let mut out = message.to_owned();
        if !action.is_empty() {
            let _ = write!(out, " while {action}");
        }
        let _ = write!(
            out,
            ", client: {}, server: {}, request: \"{}\"",
            self.client, self.server, self.request
        );
        if let Some(u) = self.upstream {
            let _ = write!(out, ", upstream: \"{u}\"");
        }
        if let Some(h) = self.host {
            let _ = write!(out, ", host: \"{h}\"");
        }
        out
    }
}

std::thread_local! {
    /// The last upstream connect failure on this worker thread, noted by
    /// the connecting code and taken by the request that saw it fail (no
    /// await point lies between the two).
    static CONNECT_FAILURE: std::cell::RefCell<Option<(Level, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// Notes a failed upstream `connect()`.
pub fn note_connect_error(e: &std::io::Error) {
    let text = format!("connect() failed ({})", os_error(e));
    CONNECT_FAILURE.with(|c| *c.borrow_mut() = Some((Level::Error, text)));
}

/// Notes a failed synchronous `connect()` (a unix socket's): nginx names
/// the peer, at `crit` unless the error is one it expects
/// (`ngx_event_connect_peer`).
pub fn note_connect_error_to(peer: &crate::peer::Peer, e: &std::io::Error) {
    use nix::errno::Errno;
    let expected = e.raw_os_error().is_some_and(|n| {
        [
            Errno::ECONNREFUSED,
            Errno::EAGAIN,
            Errno::ECONNRESET,
            Errno::ENETDOWN,
            Errno::ENETUNREACH,
            Errno::EHOSTDOWN,
            Errno::EHOSTUNREACH,
        ]
        .contains(&Errno::from_raw(n))
    });
    let level = if expected { Level::Error } else { Level::Crit };
    let text = format!("connect() to {peer} failed ({})", os_error(e));
    CONNECT_FAILURE.with(|c| *c.borrow_mut() = Some((level, text)));
}

/// Notes an upstream that did not take the request within
/// `proxy_send_timeout`.
pub fn note_send_timeout() {
    SEND_TIMEOUT.with(|c| c.set(true));
}

std::thread_local! {
    /// The last upstream failure on this worker thread was a
    /// `proxy_send_timeout` (taken as `CONNECT_FAILURE` is).
    static SEND_TIMEOUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Notes an upstream `connect()` that timed out.
pub fn note_connect_timeout() {
    CONNECT_FAILURE.with(|c| {
        *c.borrow_mut() = Some((
            Level::Error,
            "upstream timed out (110: Connection timed out)".to_owned(),
        ));
    });
}

/// A server's first `server_name` (nginx's `$server_name`; empty when it
/// has none).
pub fn server_name(site: &crate::site::Site, server: usize) -> String {
    site.http.servers[server]
        .server_names
        .first()
        .map(|n| match n {
            nginx_conf::model::listen::ServerName::Exact(n)
            | nginx_conf::model::listen::ServerName::Wildcard(n) => n.clone(),
            nginx_conf::model::listen::ServerName::Regex(r) => format!("~{r}"),
        })
        .unwrap_or_default()
}

/// nginx's `client timed out` (info) for a connection closed by
/// `client_header_timeout`: `bytes` is what came of the head (none:
/// "while waiting for request", which names the listening address).
pub fn client_timed_out(
    site: &crate::site::Site,
    listener: usize,
    client: std::net::IpAddr,
    bytes: &[u8],
) {
    let l = &site.listeners[listener];
    let target = site.request_errors(l.default, None);
    if !target.wants(Level::Info) {
        return;
    }
    let head = "client timed out (110: Connection timed out)";
    let message = if bytes.is_empty() {
        format!(
            "{head} while waiting for request, client: {client}, server: {}",
            l.addr
        )
    } else {
        let server = server_name(site, l.default);
        let mut lines = bytes.split(|&b| b == b'\n');
        let first = lines.next().unwrap_or_default();
        let complete = bytes.contains(&b'\n');
        let request = String::from_utf8_lossy(first.strip_suffix(b"\r").unwrap_or(first));
        let action = if complete {
            "reading client request headers"
        } else {
            "reading client request line"
        };
        let ctx = RequestContext {
            client,
            server: &server,
            request: &request,
            upstream: None,
            host: None,
        };
        let mut m = ctx.format(head, action);
        // The Host header, once its line is complete.
        let mut complete_lines: Vec<&[u8]> = lines.collect();
        complete_lines.pop();
        if let Some(h) = complete_lines.iter().find_map(|line| {
            let (name, value) = std::str::from_utf8(line).ok()?.split_once(':')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim().to_owned())
        }) {
            let _ = write!(m, ", host: \"{h}\"");
        }
        m
    };
    target.log(Level::Info, Some(connection_number()), &message);
}

/// The request an upstream event happened to, for its error lines.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub site: &'a crate::site::Site,
    pub server: usize,
    /// The location's path of indexes (empty: the server's level).
    pub location: &'a [usize],
    pub client: std::net::IpAddr,
    pub method: &'a str,
    pub target: &'a str,
    /// `HTTP/1.1`, `HTTP/1.0`, `HTTP/2.0`.
    pub version: &'a str,
    pub host: Option<&'a str>,
    /// The `upstream: "…"` of lines written after the upstream failed
    /// (`error_page` targets), as nginx keeps it.
    pub upstream: Option<&'a str>,
}

/// An [`Event`] that owns its request's facts, for a message written
/// after the request's code returned (a response body that timed out).
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    site: Arc<crate::site::Site>,
    server: usize,
    location: Vec<usize>,
    client: std::net::IpAddr,
    method: String,
    target: String,
    version: String,
    host: Option<String>,
}

impl OwnedEvent {
    pub fn new(e: &Event<'_>, site: Arc<crate::site::Site>) -> Self {
        Self {
            site,
            server: e.server,
            location: e.location.to_vec(),
            client: e.client,
            method: e.method.to_owned(),
            target: e.target.to_owned(),
            version: e.version.to_owned(),
            host: e.host.map(str::to_owned),
        }
    }

    pub fn event(&self) -> Event<'_> {
        Event {
            site: &self.site,
            server: self.server,
            location: &self.location,
            client: self.client,
            method: &self.method,
            target: &self.target,
            version: &self.version,
            host: self.host.as_deref(),
            upstream: None,
        }
    }
}

/// The target of the upstream request head `head` (`/uri` of
/// `GET /uri HTTP/1.1`).
pub fn upstream_target(head: &[u8]) -> &str {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let target = words.nth(1).unwrap_or_default();
    std::str::from_utf8(target).unwrap_or("/")
}

impl Event<'_> {
    fn target(&self) -> Arc<Target> {
        let server = &self.site.http.servers[self.server];
        let location = crate::route::location_at(server, self.location);
        self.site.request_errors(self.server, location)
    }

    fn write(&self, level: Level, message: &str, action: &str, upstream: Option<&str>) {
        let target = self.target();
        if !target.wants(level) {
            return;
        }
        let server = server_name(self.site, self.server);
        let request = format!("{} {} {}", self.method, self.target, self.version);
        let ctx = RequestContext {
            client: self.client,
            server: &server,
            request: &request,
            upstream: upstream.or(self.upstream),
            host: self.host,
        };
        target.log(
            level,
            Some(connection_number()),
            &ctx.format(message, action),
        );
    }

    /// A try at `peer` failed (`timeout`: it timed out): nginx's
    /// `connect() failed (…) while connecting to upstream` when the
    /// connection could not be made, else the reading failure; then
    /// `upstream server temporarily disabled` (warn) when the peer has just
    /// reached `max_fails`.
    pub fn upstream_failed(
        &self,
        peer: &crate::peer::Peer,
        uri: &str,
        timeout: bool,
        disabled: bool,
    ) {
        let upstream = format!("http://{peer}{}{uri}", peer.uri_separator());
        let sending = SEND_TIMEOUT.with(|c| c.replace(false));
        let (level, message, action) = match CONNECT_FAILURE.with(|c| c.borrow_mut().take()) {
            Some((level, m)) => (level, m, "connecting to upstream"),
            None if sending => (
                Level::Error,
                "upstream timed out (110: Connection timed out)".to_owned(),
                "sending request to upstream",
            ),
            None if timeout => (
                Level::Error,
                "upstream timed out (110: Connection timed out)".to_owned(),
                "reading response header from upstream",
            ),
            None => (
                Level::Error,
                "upstream prematurely closed connection".to_owned(),
                "reading response header from upstream",
            ),
        };
        self.write(level, &message, action, Some(&upstream));
        if disabled {
            self.write(
                Level::Warn,
                "upstream server temporarily disabled",
                action,
                Some(&upstream),
            );
        }
    }

    /// No connection to `peer` could be made: every `worker_connections`
    /// place is taken (nginx's alert; the request gets 500).
    pub fn exhausted(&self, peer: &crate::peer::Peer, uri: &str) {
        let upstream = format!("http://{peer}{}{uri}", peer.uri_separator());
        self.write(
            Level::Alert,
            &format!(
                "{} worker_connections are not enough",
                crate::limit::configured()
            ),
            "connecting to upstream",
            Some(&upstream),
        );
    }

    /// `send_timeout` passed while the body was being relayed (info).
    pub fn client_send_timed_out(&self, peer: &crate::peer::Peer, uri: &str) {
        self.write(
            Level::Info,
            "client timed out (110: Connection timed out)",
            "sending to client",
            Some(&format!("http://{peer}{}{uri}", peer.uri_separator())),
        );
    }

    /// `proxy_read_timeout` passed while the body was being relayed.
    pub fn upstream_read_timed_out(&self, peer: &crate::peer::Peer, uri: &str) {
        self.write(
            Level::Error,
            "upstream timed out (110: Connection timed out)",
            "reading upstream",
            Some(&format!("http://{peer}{}{uri}", peer.uri_separator())),
        );
    }

    /// No peer of `group` could be chosen: nginx's `no live upstreams`.
    pub fn no_live_upstreams(&self, group: &str, uri: &str) {
        let upstream = format!("http://{group}{uri}");
        self.write(
            Level::Error,
            "no live upstreams",
            "connecting to upstream",
            Some(&upstream),
        );
    }

    /// An error of the request outside any upstream exchange (no
    /// `while …`, no `upstream: …`), as nginx writes them.
    pub fn error(&self, message: &str) {
        self.write(Level::Error, message, "", None);
    }

    /// [`Event::error`] at another level.
    pub fn log(&self, level: Level, message: &str) {
        self.write(level, message, "", None);
    }

    /// The same at `crit`.
    pub fn crit(&self, message: &str) {
        self.write(Level::Crit, message, "", None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_filter_like_nginx() {
        let t = Target(vec![(LogFile::open("stderr").unwrap(), Level::Warn)]);
        assert!(t.wants(Level::Emerg) && t.wants(Level::Error) && t.wants(Level::Warn));
        assert!(!t.wants(Level::Notice) && !t.wants(Level::Debug));
        assert_eq!(Level::parse("crit"), Ok(Level::Crit));
        assert!(Level::parse("loud").is_err());
    }

    #[test]
    fn lines_have_nginx_s_prefix() {
        let l = line(Level::Error, Some(7), "m");
        let (time, rest) = l.split_at(19);
        assert_eq!(time.as_bytes()[4], b'/');
        assert_eq!(time.as_bytes()[13], b':');
        let pid = std::process::id();
        assert!(rest.starts_with(&format!(" [error] {pid}#")), "{l}");
        assert!(rest.ends_with(": *7 m\n"), "{l}");
    }

    #[test]
    fn os_errors_read_as_strerror() {
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(os_error(&e), "111: Connection refused");
    }
}
