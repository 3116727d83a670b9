//! Static files as nginx 1.22's static, index and core modules serve
//! them: `root` / `alias`, `index`, `types` and `default_type`; 404, 403
//! and 405 with nginx's error lines, 301 to the slash form of a
//! directory, `If-Modified-Since` (exact) and `If-None-Match` → 304.
//! `Range` (`ranges.rs`). Regular files only (no autoindex); a file is
//! read as it is sent (`body::FilePart`).

use std::collections::HashMap;
use std::sync::OnceLock;

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use crate::body::{Body, FilePart, Piece};
use crate::errorlog::{os_error, Event};
use crate::headers::Vars;

/// Where relative `root` and `alias` paths start: nginx's prefix
/// (`-p`, else Debian's `/usr/share/nginx/`).
static PREFIX: OnceLock<String> = OnceLock::new();

/// Sets the prefix (`-p`), before the file is loaded.
pub fn set_prefix(p: &str) {
    let mut p = p.to_owned();
    if !p.ends_with('/') {
        p.push('/');
    }
    let _ = PREFIX.set(p);
}

fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        let prefix = PREFIX.get().map_or("/usr/share/nginx/", String::as_str);
        format!("{prefix}{path}")
    }
}

/// nginx's compiled-in `types` (used when no level sets any).
const DEFAULT_TYPES: [(&str, &str); 3] = [
    ("html", "text/html"),
    ("gif", "image/gif"),
    ("jpg", "image/jpeg"),
];

/// How a location maps its URI to a path.
#[derive(Debug, Clone)]
pub enum DocRoot {
    /// `root`: the path, then the whole URI.
    Root(String),
    /// `alias` of a prefix location: the path replaces the location's
    /// prefix (of `prefix` bytes); of a regex location: the path itself.
    Alias { path: String, prefix: Option<usize> },
}

/// A location's static file settings, compiled at load.
#[derive(Debug, Clone)]
pub struct StaticPlan {
    pub root: DocRoot,
    pub index: Vec<String>,
    pub types: HashMap<String, String>,
    pub default_type: String,
    /// The location's `try_files` (`errorpage::run` applies it).
    pub try_files: Option<Vec<String>>,
}

impl StaticPlan {
    /// From a level's (inherited) settings and its `alias`.
    #[must_use]
    pub fn new(
        settings: &nginx_conf::model::http::Common,
        alias: Option<&str>,
        prefix: Option<usize>,
    ) -> Self {
        let root = match alias {
            Some(a) => DocRoot::Alias {
                path: absolute(a),
                prefix,
            },
            None => DocRoot::Root(absolute(settings.root.as_deref().unwrap_or("html"))),
        };
        let types = match &settings.types {
            Some(t) => t.iter().cloned().collect(),
            None => DEFAULT_TYPES
                .iter()
                .map(|(e, t)| ((*e).to_owned(), (*t).to_owned()))
                .collect(),
        };
        Self {
            root,
            index: settings
                .index
                .clone()
                .unwrap_or_else(|| vec!["index.html".to_owned()]),
            types,
            default_type: settings
                .default_type
                .clone()
                .unwrap_or_else(|| "text/plain".to_owned()),
            try_files: None,
        }
    }

    /// The path `try_files` tests for `name` (a name that is no
    /// absolute, `..`-free URI tests nothing).
    pub(crate) fn try_path(&self, name: &str, vars: &Vars<'_>) -> Option<String> {
        if !name.starts_with('/') || name.split('/').any(|s| s == "..") {
            return None;
        }
        self.path(name, vars)
    }

    /// The file path of `uri`. `None` when an `alias` without a trailing
    /// `/` under a location with one (`location /i { alias /srv/i/; }`,
    /// `/i../x`) would make a `..` segment: nginx serves what it names,
    /// outside the alias; l7proxy refuses it (404). Variables in `root`
    /// are expanded (`root /srv/$host;`); a value that adds a `..`
    /// segment gives `None` too.
    fn path(&self, uri: &str, vars: &Vars<'_>) -> Option<String> {
        let dots = |p: &str| p.split('/').filter(|s| *s == "..").count();
        Some(match &self.root {
            DocRoot::Root(r) if r.contains('$') => {
                let root = vars.expand(r);
                if dots(&root) > dots(r) {
                    return None;
                }
                format!("{}{uri}", root.trim_end_matches('/'))
            }
            DocRoot::Root(r) => format!("{}{uri}", r.trim_end_matches('/')),
            DocRoot::Alias { path, prefix: None } => path.clone(),
            DocRoot::Alias {
                path,
                prefix: Some(n),
            } => {
                let joined = format!("{path}{}", uri.get(*n..).unwrap_or(""));
                if dots(&joined) > dots(path) {
                    return None;
                }
                joined
            }
        })
    }

    /// `Content-Type` of `uri` by its extension (lower-cased), else
    /// `default_type`.
    fn content_type(&self, uri: &str) -> &str {
        let last = uri.rsplit('/').next().unwrap_or("");
        last.rsplit_once('.')
            .and_then(|(_, ext)| self.types.get(&ext.to_ascii_lowercase()))
            .map_or(&self.default_type, |t| t)
    }
}

/// The request as the static module sees it.
#[derive(Debug, Clone, Copy)]
pub struct Req<'a> {
    pub method: &'a str,
    /// The normalized (decoded) URI.
    pub uri: &'a str,
    pub args: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// What serving a URI gave.
#[derive(Debug)]
pub enum Served {
    /// A response to send (200, 304, 301).
    Page(Response<Body>),
    /// An error status for nginx's error page (or an `error_page`).
    Error(StatusCode),
    /// `index` found a file: an internal redirect to this URI.
    Internal(String),
}

/// Serves `req` from `plan`, writing nginx's error lines through `event`.
#[must_use]
pub fn serve(plan: &StaticPlan, req: &Req<'_>, event: &Event<'_>, vars: &Vars<'_>) -> Served {
    if !matches!(req.method, "GET" | "HEAD" | "POST") {
        return Served::Error(StatusCode::METHOD_NOT_ALLOWED);
    }
    if req.uri.ends_with('/') {
        return index(plan, req, event, vars);
    }
    let Some(path) = plan.path(req.uri, vars) else {
        event.error(&format!(
            "l7proxy: \"{}\" leads outside the root or alias, refused",
            req.uri
        ));
        return Served::Error(StatusCode::NOT_FOUND);
    };
    // Non-blocking, as nginx's: a FIFO in the tree must not hang the
    // worker (it is refused below as not a regular file).
    let open = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&path)
    };
    let file = match open {
        Ok(f) => f,
        Err(e) => return open_failed(&e, &path, event),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            event.crit(&format!("fstat() \"{path}\" failed ({})", os_error(&e)));
            return Served::Error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    if meta.is_dir() {
        let mut location = format!("{}/", req.uri);
        if let Some(a) = req.args {
            location.push('?');
            location.push_str(a);
        }
        let mut r = crate::worker::error_page(StatusCode::MOVED_PERMANENTLY);
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Served::Page(r);
    }
    if !meta.is_file() {
        event.crit(&format!("\"{path}\" is not a regular file"));
        return Served::Error(StatusCode::NOT_FOUND);
    }
    if req.method == "POST" {
        return Served::Error(StatusCode::METHOD_NOT_ALLOWED);
    }
    Served::Page(respond(plan, req, file, &meta))
}

/// nginx's static module on an `open()` error.
fn open_failed(e: &std::io::Error, path: &str, event: &Event<'_>) -> Served {
    let Some(code) = e.raw_os_error() else {
        // A NUL in the path: nothing nginx would find either.
        return Served::Error(StatusCode::NOT_FOUND);
    };
    let message = format!("open() \"{path}\" failed ({})", os_error(e));
    match code {
        nix::libc::ENOENT | nix::libc::ENOTDIR | nix::libc::ENAMETOOLONG => {
            event.error(&message);
            Served::Error(StatusCode::NOT_FOUND)
        }
        nix::libc::EACCES => {
            event.error(&message);
            Served::Error(StatusCode::FORBIDDEN)
        }
        _ => {
            event.crit(&message);
            Served::Error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// nginx's index module, then the core's "directory index is forbidden".
fn index(plan: &StaticPlan, req: &Req<'_>, event: &Event<'_>, vars: &Vars<'_>) -> Served {
    let Some(dir) = plan.path(req.uri, vars) else {
        event.error(&format!(
            "l7proxy: \"{}\" leads outside the root or alias, refused",
            req.uri
        ));
        return Served::Error(StatusCode::NOT_FOUND);
    };
    let mut dir_tested = false;
    for name in &plan.index {
        if name.starts_with('/') {
            return Served::Internal(name.clone());
        }
        let path = format!("{dir}{name}");
        match std::fs::metadata(&path) {
            Ok(_) => return Served::Internal(format!("{}{name}", req.uri)),
            Err(e) => match e.raw_os_error() {
                Some(nix::libc::ENOENT) if !dir_tested => {
                    // Whether the directory itself is there.
                    if let Err(d) = std::fs::metadata(&dir) {
                        if d.raw_os_error() == Some(nix::libc::ENOENT) {
                            event.error(&format!("\"{path}\" is not found ({})", os_error(&d)));
                            return Served::Error(StatusCode::NOT_FOUND);
                        }
                    }
                    dir_tested = true;
                }
                Some(nix::libc::ENOENT) => {}
                Some(nix::libc::EACCES) => {
                    event.error(&format!("\"{path}\" is forbidden ({})", os_error(&e)));
                    return Served::Error(StatusCode::FORBIDDEN);
                }
                Some(nix::libc::ENOTDIR | nix::libc::ENAMETOOLONG) => {
                    event.error(&format!("\"{path}\" is not found ({})", os_error(&e)));
                    return Served::Error(StatusCode::NOT_FOUND);
                }
                _ => {
                    event.crit(&format!("stat() \"{path}\" failed ({})", os_error(&e)));
                    return Served::Error(StatusCode::INTERNAL_SERVER_ERROR);
                }
            },
        }
    }
    event.error(&format!("directory index of \"{dir}\" is forbidden"));
    Served::Error(StatusCode::FORBIDDEN)
}

/// The 200 (or 304) of a regular file, with nginx's head.
fn respond(
    plan: &StaticPlan,
    req: &Req<'_>,
    file: std::fs::File,
    meta: &std::fs::Metadata,
) -> Response<Body> {
    use std::os::unix::fs::MetadataExt;
    let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
    let size = meta.len();
    let modified = crate::date::imf_fixdate(mtime);
    let etag = format!("\"{mtime:x}-{size:x}\"");
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    // nginx's not_modified filter: If-Unmodified-Since/If-Match are not
    // checked here; If-None-Match wins over If-Modified-Since.
    let none_match = req.headers.get(header::IF_NONE_MATCH).map(|v| {
        v.to_str().unwrap_or("").split(',').any(|t| {
            let t = t.trim();
            t == "*" || t == etag || t.strip_prefix("W/") == Some(etag.as_str())
        })
    });
    let not_modified = none_match.unwrap_or_else(|| {
        req.headers
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|v| v.as_bytes() == modified.as_bytes())
    });
    if not_modified {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        let h = r.headers_mut();
        insert(h, header::LAST_MODIFIED, &modified);
        insert(h, header::ETAG, &etag);
        return r;
    }
    let content_type = plan.content_type(req.uri);
    insert(h, header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    insert(h, header::LAST_MODIFIED, &modified);
    insert(h, header::ETAG, &etag);
    let if_range = req.headers.get(header::IF_RANGE).map(HeaderValue::as_bytes);
    let ranges = match req.headers.get(header::RANGE) {
        Some(v) if crate::ranges::if_range(if_range, &etag, &modified) => {
            crate::ranges::parse(v.as_bytes(), size)
        }
        _ => crate::ranges::Ranges::Whole,
    };
    let parts = match ranges {
        crate::ranges::Ranges::Whole => None,
        crate::ranges::Ranges::Unsatisfiable => {
            let mut r = crate::worker::error_page(StatusCode::RANGE_NOT_SATISFIABLE);
            insert(
                r.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            return r;
        }
        crate::ranges::Ranges::Parts(p) => Some(p),
    };
    if parts.is_none() {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    if req.method != "HEAD" && size == 0 {
        // Our own length in its place (hyper writes its own for no body).
        *r.body_mut() = Body::text(bytes::Bytes::new());
    }
    match &parts {
        Some(p) => partial(&mut r, file, p, size, content_type, req.method == "HEAD"),
        None if req.method != "HEAD" && size > 0 => {
            let range = Piece::Range {
                offset: 0,
                len: size,
            };
            *r.body_mut() = Body::File(Box::new(FilePart::new(file, vec![range])));
        }
        None => {}
    }
    r
}

/// 206: one range with `Content-Range`, several as
/// `multipart/byteranges` (nginx's layout), read as they are sent.
fn partial(
    r: &mut Response<Body>,
    file: std::fs::File,
    parts: &[(u64, u64)],
    size: u64,
    content_type: &str,
    head: bool,
) {
    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    let range = |(start, end): (u64, u64)| Piece::Range {
        offset: start,
        len: end - start,
    };
    let h = r.headers_mut();
    let pieces = if let [one] = parts {
        insert(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{size}", one.0, one.1 - 1),
        );
        vec![range(*one)]
    } else {
        let boundary = crate::ranges::boundary();
        let mut pieces = Vec::with_capacity(parts.len() * 2 + 1);
        for &(start, end) in parts {
            let head = format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\
                 Content-Range: bytes {start}-{}/{size}\r\n\r\n",
                end - 1
            );
            pieces.push(Piece::Bytes(head.into()));
            pieces.push(range((start, end)));
        }
        pieces.push(Piece::Bytes(format!("\r\n--{boundary}--\r\n").into()));
        insert(
            h,
            header::CONTENT_TYPE,
            &format!("multipart/byteranges; boundary={boundary}"),
        );
        pieces
    };
    let body = FilePart::new(file, pieces);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if !head {
        *r.body_mut() = Body::File(Box::new(body));
    }
}

/// Moves `Accept-Ranges` and `Content-Range` after the headers
/// `add_header` appended, where nginx's range filter writes them.
pub fn ranges_last(h: &mut HeaderMap) {
    for name in [header::ACCEPT_RANGES, header::CONTENT_RANGE] {
        if let Some(v) = h.remove(&name) {
            h.insert(name, v);
        }
    }
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// A decoded URI as nginx sends it upstream after an internal redirect or
/// a rewrite (`ngx_escape_uri`'s `NGX_ESCAPE_URI`: spaces, controls, `%`,
/// `?`, `#`, `"` and bytes past ASCII escaped; nginx 1.22 sends `/a"b` as
/// `/a%22b`).
#[must_use]
pub fn escape(uri: &str) -> std::borrow::Cow<'_, str> {
    let bad = |b: u8| b <= b' ' || b >= 0x7f || matches!(b, b'%' | b'?' | b'#' | b'"');
    if !uri.bytes().any(bad) {
        return std::borrow::Cow::Borrowed(uri);
    }
    let mut out = String::with_capacity(uri.len() + 8);
    for b in uri.bytes() {
        if bad(b) {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    std::borrow::Cow::Owned(out)
}
