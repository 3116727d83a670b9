//! Variables a configuration reads, checked as nginx checks them once the
//! whole file is read (`ngx_http_variables_init_vars`): every `$name` must
//! be a built-in variable, start with a built-in prefix, or be made by the
//! file itself (`set`, `map`, `geo`, `split_clients`, or a named capture of
//! a regex). The first unknown name fails with `unknown "NAME" variable`,
//! no file or line. A `$` that starts no name, or a `${` that is not
//! closed, fails where it is written, as nginx's script compiler does.

use super::{Cursor, ModelError};
use crate::payload::Stmt;
use crate::CheckError;

/// nginx 1.22.1's variables as Debian builds it (`nginx -V`'s static
/// modules), without the prefixed ones: each name was tried in `return 200
/// $NAME` with `nginx -t` (names taken from the binary's strings).
#[rustfmt::skip]
pub const BUILT_IN: &[&str] = &[
    "ancient_browser", "args", "binary_remote_addr", "body_bytes_sent", "bytes_sent",
    "connection", "connection_requests", "connection_time", "connections_active",
    "connections_reading", "connections_waiting", "connections_writing", "content_length",
    "content_type", "date_gmt", "date_local", "document_root", "document_uri",
    "fastcgi_path_info", "fastcgi_script_name", "grpc_internal_trailers", "gzip_ratio", "host",
    "hostname", "http2", "https", "invalid_referer", "is_args", "limit_conn_status",
    "limit_rate", "limit_req_status", "modern_browser", "msec", "msie", "nginx_version", "pid",
    "pipe", "proxy_add_x_forwarded_for", "proxy_host", "proxy_internal_body_length",
    "proxy_internal_chunked", "proxy_port", "proxy_protocol_addr", "proxy_protocol_port",
    "proxy_protocol_server_addr", "proxy_protocol_server_port", "query_string",
    "realip_remote_addr", "realip_remote_port", "realpath_root", "remote_addr", "remote_port",
    "remote_user", "request", "request_body", "request_body_file", "request_completion",
    "request_filename", "request_id", "request_length", "request_method", "request_time",
    "request_uri", "scheme", "secure_link", "secure_link_expires", "server_addr", "server_name",
    "server_port", "server_protocol", "slice_range", "ssl_alpn_protocol", "ssl_cipher",
    "ssl_ciphers", "ssl_client_cert", "ssl_client_escaped_cert", "ssl_client_fingerprint",
    "ssl_client_i_dn", "ssl_client_i_dn_legacy", "ssl_client_raw_cert", "ssl_client_s_dn",
    "ssl_client_s_dn_legacy", "ssl_client_serial", "ssl_client_v_end", "ssl_client_v_remain",
    "ssl_client_v_start", "ssl_client_verify", "ssl_curve", "ssl_curves", "ssl_early_data",
    "ssl_protocol", "ssl_server_name", "ssl_session_id", "ssl_session_reused", "status",
    "tcpinfo_rcv_space", "tcpinfo_rtt", "tcpinfo_rttvar", "tcpinfo_snd_cwnd", "time_iso8601",
    "time_local", "uid_got", "uid_reset", "uid_set", "upstream_addr", "upstream_bytes_received",
    "upstream_bytes_sent", "upstream_cache_etag", "upstream_cache_last_modified",
    "upstream_cache_status", "upstream_connect_time", "upstream_header_time",
    "upstream_response_length", "upstream_response_time", "upstream_status", "uri",
];

/// The built-in variables a file may make again with `set`, `map`, `geo`
/// or `split_clients` (nginx's `NGX_HTTP_VAR_CHANGEABLE`): each of
/// [`BUILT_IN`] was tried with `set $NAME 1` and with a `map` under `nginx
/// -t`; these passed both.
#[rustfmt::skip]
pub const CHANGEABLE: &[&str] = &[
    "ancient_browser", "args", "invalid_referer", "limit_rate", "modern_browser", "msie",
    "proxy_host", "proxy_port", "ssl_alpn_protocol", "ssl_cipher", "ssl_ciphers",
    "ssl_client_cert", "ssl_client_escaped_cert", "ssl_client_fingerprint", "ssl_client_i_dn",
    "ssl_client_i_dn_legacy", "ssl_client_raw_cert", "ssl_client_s_dn", "ssl_client_s_dn_legacy",
    "ssl_client_serial", "ssl_client_v_end", "ssl_client_v_remain", "ssl_client_v_start",
    "ssl_client_verify", "ssl_curve", "ssl_curves", "ssl_early_data", "ssl_protocol",
    "ssl_server_name", "ssl_session_id", "ssl_session_reused", "uid_reset",
];

/// nginx's error for `stmt` making `name` (`set`, `map`, `geo`,
/// `split_clients`) when it is a built-in variable that may not be made
/// again: `the duplicate "NAME" variable`.
pub(crate) fn check_made(name: &str, stmt: &Stmt, c: &Cursor) -> Result<(), ModelError> {
    let lower = name.to_ascii_lowercase();
    if BUILT_IN.contains(&lower.as_str()) && !CHANGEABLE.contains(&lower.as_str()) {
        return Err(c.error(stmt, format!("the duplicate \"{name}\" variable")));
    }
    Ok(())
}

/// Prefixes that make a variable of any name after them (`$http_x_y`).
#[rustfmt::skip]
pub const PREFIXES: &[&str] = &[
    "http_", "sent_http_", "sent_trailer_", "cookie_", "arg_", "upstream_http_",
    "upstream_trailer_", "upstream_cookie_",
];

/// What a directive's arguments hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A value nginx compiles as a script: names are read, and a bad `$`
    /// is an error where it is written.
    Script,
    /// A `log_format` string (`ngx_http_log_compile`).
    Log,
}

/// The names read, in the order nginx registers them, and the names the
/// file makes.
#[derive(Default)]
struct Walk {
    /// Read while the file is parsed (most directives).
    early: Vec<String>,
    /// Read when the levels are merged, after the whole file
    /// (`proxy_set_header`).
    late: Vec<String>,
    made: Vec<String>,
}

/// Checks the variables of the `http` blocks in `main` (the combined
/// file's top-level statements).
pub fn check(main: &[Stmt], main_file: &str) -> Result<(), CheckError> {
    let c = Cursor {
        main_file: main_file.to_owned(),
    };
    let mut w = Walk::default();
    for stmt in main.iter().filter(|s| s.directive == "http") {
        w.block(stmt.block.as_deref().unwrap_or_default(), &c)?;
    }
    let unknown = w
        .early
        .iter()
        .chain(&w.late)
        .find(|n| !known(n) && !w.made.contains(n));
    match unknown {
        Some(name) => Err(CheckError {
            message: format!("unknown \"{name}\" variable"),
            location: None,
        }),
        None => Ok(()),
    }
}

/// Whether `name` (lower case) is a built-in variable.
#[must_use]
pub fn known(name: &str) -> bool {
    BUILT_IN.contains(&name)
        || PREFIXES
            .iter()
            .any(|p| name.len() >= p.len() && name.starts_with(p))
}

impl Walk {
    fn block(&mut self, stmts: &[Stmt], c: &Cursor) -> Result<(), ModelError> {
        for s in stmts {
            self.stmt(s, c)?;
            if let Some(inner) = s.block.as_deref() {
                if !matches!(s.directive.as_str(), "map" | "geo" | "split_clients") {
                    self.block(inner, c)?;
                }
            }
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt, c: &Cursor) -> Result<(), ModelError> {
        let args = s.args.as_slice();
        match s.directive.as_str() {
            "set" => {
                if let Some(name) = args.first().and_then(|a| a.strip_prefix('$')) {
                    self.made.push(name.to_ascii_lowercase());
                }
                self.read(s, args.get(1..).unwrap_or_default(), Kind::Script, c)?;
            }
            "return"
            | "add_header"
            | "add_trailer"
            | "proxy_pass"
            | "try_files"
            | "root"
            | "alias"
            | "hash"
            | "limit_req_zone"
            | "limit_conn_zone"
            | "auth_basic"
            | "auth_basic_user_file" => {
                let args = match s.directive.as_str() {
                    // The header's name is no script; `always` has no `$`.
                    "add_header" | "add_trailer" => args.get(1..).unwrap_or_default(),
                    _ => args,
                };
                self.read(s, args, Kind::Script, c)?;
            }
            "rewrite" => {
                self.captures(args.first());
                self.read(s, args.get(1..2).unwrap_or_default(), Kind::Script, c)?;
            }
            "if" => self.condition(s, c)?,
            "error_page" => {
                let uri = args.get(args.len().saturating_sub(1)..).unwrap_or_default();
                self.read(s, uri, Kind::Script, c)?;
            }
            "proxy_redirect" => {
                // `~` patterns are regexes; `default` and `off` are words.
                let keep = args.first().is_none_or(|a| !a.starts_with('~'));
                let from = usize::from(!keep);
                self.read(s, args.get(from..).unwrap_or_default(), Kind::Script, c)?;
            }
            "proxy_set_header" => {
                let start = self.early.len();
                self.read(s, args.get(1..).unwrap_or_default(), Kind::Script, c)?;
                let names = self.early.split_off(start);
                self.late.extend(names);
            }
            "access_log" => {
                if let Some(path) = args.first() {
                    self.read(s, std::slice::from_ref(path), Kind::Script, c)?;
                }
                for a in args.iter().skip(2) {
                    if let Some(cond) = a.strip_prefix("if=") {
                        self.read(s, &[cond.to_owned()], Kind::Script, c)?;
                    }
                }
            }
            "log_format" => {
                let strings = args.iter().skip(1).filter(|a| !a.starts_with("escape="));
                self.read(s, &strings.cloned().collect::<Vec<_>>(), Kind::Log, c)?;
            }
            "location" => {
                if matches!(args.first().map(String::as_str), Some("~" | "~*")) {
                    self.captures(args.get(1));
                }
            }
            "server_name" => {
                for a in args.iter().filter(|a| a.starts_with('~')) {
                    self.captures(Some(a));
                }
            }
            "map" | "split_clients" | "geo" => self.table(s, c)?,
            _ => {}
        }
        Ok(())
    }

    /// `map`, `geo`, `split_clients`: the source is read, the last
    /// argument is made; a map's values are read and its regex keys make
    /// their named captures.
    fn table(&mut self, s: &Stmt, c: &Cursor) -> Result<(), ModelError> {
        let args = s.args.as_slice();
        if let Some(made) = args.last().and_then(|a| a.strip_prefix('$')) {
            self.made.push(made.to_ascii_lowercase());
        }
        if args.len() == 2 {
            self.read(s, &args[..1], Kind::Script, c)?;
        }
        if s.directive != "map" {
            return Ok(());
        }
        for entry in s.block.as_deref().unwrap_or_default() {
            if entry.directive.starts_with('~') {
                self.captures(Some(&entry.directive));
            }
            if !matches!(
                entry.directive.as_str(),
                "hostnames" | "volatile" | "include"
            ) {
                self.read(
                    entry,
                    entry.args.get(..1).unwrap_or_default(),
                    Kind::Script,
                    c,
                )?;
            }
        }
        Ok(())
    }

    /// `if (…)`: the variable tested, an `=`/`!=` operand or a file test's
    /// operand are read; a regex operand makes its named captures.
    fn condition(&mut self, s: &Stmt, c: &Cursor) -> Result<(), ModelError> {
        let args = s.args.as_slice();
        match args {
            [op, operand] if op.trim_start_matches('!').starts_with('-') => {
                self.read(s, std::slice::from_ref(operand), Kind::Script, c)
            }
            [var, op, operand] if op.contains('~') => {
                self.read(s, std::slice::from_ref(var), Kind::Script, c)?;
                self.captures(Some(operand));
                Ok(())
            }
            _ => self.read(s, args, Kind::Script, c),
        }
    }

    /// The named groups of a regex (`(?<n>`, `(?P<n>`, `(?'n'`).
    fn captures(&mut self, regex: Option<&String>) {
        let Some(r) = regex else { return };
        for (i, _) in r.match_indices("(?") {
            let rest = &r[i + 2..];
            let rest = rest.strip_prefix('P').unwrap_or(rest);
            let (open, close) = match rest.as_bytes().first() {
                Some(b'<') => ('<', '>'),
                Some(b'\'') => ('\'', '\''),
                _ => continue,
            };
            let body = &rest[open.len_utf8()..];
            // `(?<=` and `(?<!` are look-behinds, not names.
            if let Some(end) = body.find(close) {
                let name = &body[..end];
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    self.made.push(name.to_ascii_lowercase());
                }
            }
        }
    }

    /// Reads the `$` names of `args`, into `early`.
    fn read(
        &mut self,
        s: &Stmt,
        args: &[String],
        kind: Kind,
        c: &Cursor,
    ) -> Result<(), ModelError> {
        for a in args {
            for name in names(a, kind) {
                match name {
                    Ok(n)
                        if kind == Kind::Script
                            && n.len() == 1
                            && n.as_bytes()[0].is_ascii_digit() => {}
                    Ok(n) => self.early.push(n.to_ascii_lowercase()),
                    Err(message) => return Err(c.error(s, message)),
                }
            }
        }
        Ok(())
    }
}

/// The variable names in `text` as nginx's script compiler splits it: `$`
/// then a name of letters, digits and `_` (one digit 1-9 alone is a
/// capture), or `${name}`. A log format has no captures (`$1` is a name)
/// and words a bad `$` its own way.
fn names(text: &str, kind: Kind) -> Vec<Result<&str, String>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let dollar = i;
        i += 1;
        if kind == Kind::Script && matches!(b.get(i), Some(b'1'..=b'9')) {
            out.push(Ok(&text[i..=i]));
            i += 1;
            continue;
        }
        let bracket = b.get(i) == Some(&b'{');
        if bracket {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let name = &text[start..i];
        if bracket {
            if b.get(i) == Some(&b'}') {
                i += 1;
            } else {
                out.push(Err(format!(
                    "the closing bracket in \"{name}\" variable is missing"
                )));
                return out;
            }
        }
        if name.is_empty() {
            out.push(Err(match kind {
                Kind::Script => "invalid variable name".to_owned(),
                Kind::Log => format!("invalid parameter \"{}\"", &text[dollar..]),
            }));
            return out;
        }
        out.push(Ok(name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_nginx_does() {
        fn ok(t: &str) -> Vec<&str> {
            names(t, Kind::Script)
                .into_iter()
                .map(Result::unwrap)
                .collect()
        }
        assert_eq!(ok("a$host/${uri}x$1$0x"), ["host", "uri", "1", "0x"]);
        assert_eq!(ok("$http_x-y"), ["http_x"]);
        assert_eq!(
            names("${ab", Kind::Script),
            [Err(
                "the closing bracket in \"ab\" variable is missing".to_owned()
            )]
        );
        assert_eq!(
            names("a$", Kind::Script),
            [Err("invalid variable name".to_owned())]
        );
        assert_eq!(
            names("$-", Kind::Script),
            [Err("invalid variable name".to_owned())]
        );
        assert_eq!(names("$1", Kind::Log), [Ok("1")]);
        assert_eq!(
            names("a$-x", Kind::Log),
            [Err("invalid parameter \"$-x\"".to_owned())]
        );
    }

    #[test]
    fn prefixes_make_any_name() {
        assert!(known("http_anything") && known("arg_") && known("uri"));
        assert!(!known("http") && !known("urix"));
    }
}
