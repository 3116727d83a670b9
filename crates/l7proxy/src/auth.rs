//! `auth_basic` as `ngx_http_auth_basic_module` does it: the client's
//! `Authorization: Basic` user and password, looked up in the password
//! file (read again for each request) and checked against its hash.

use std::sync::OnceLock;

use base64::Engine as _;

use crate::errorlog::Level;

/// A level's `auth_basic` realm and `auth_basic_user_file`, as written
/// (variables are expanded per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub realm: String,
    pub file: String,
}

/// What the check says.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// 401 with `WWW-Authenticate: Basic realm="…"` (the realm given).
    Challenge(String, Level, String),
    /// Another status (403 for a missing file, 500), with the error line.
    Fail(u16, Level, String),
}

static CONF_DIR: OnceLock<String> = OnceLock::new();

/// The directory of the configuration file, which a relative
/// `auth_basic_user_file` is read from (nginx's `conf_prefix`).
pub fn set_conf_dir(conf: &str) {
    let path = std::path::absolute(conf).unwrap_or_else(|_| conf.into());
    let dir = path
        .parent()
        .map_or("/".into(), |d| d.display().to_string());
    let _ = CONF_DIR.set(if dir.ends_with('/') { dir } else { dir + "/" });
}

/// The user and password of an `Authorization: Basic` value, as
/// `ngx_http_auth_basic_user` reads it (`None`: none given or malformed).
pub fn credentials(authorization: Option<&[u8]>) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = authorization?;
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"Basic ") {
        return None;
    }
    let encoded = value[6..].trim_ascii_start();
    // nginx decodes up to the first `=`, padding or not.
    let end = encoded
        .iter()
        .position(|&b| b == b'=')
        .unwrap_or(encoded.len());
    if end == 0 {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let decoded = engine.decode(&encoded[..end]).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Checks a request's `Authorization` value against `file` (expanded
/// already), with `realm` for the challenge.
pub fn check(realm: &str, file: &str, authorization: Option<&[u8]>) -> Verdict {
    let Some((user, password)) = credentials(authorization) else {
        return Verdict::Challenge(
            realm.to_owned(),
            Level::Info,
            "no user/password was provided for basic authentication".into(),
        );
    };
    let path = if file.starts_with('/') {
        file.to_owned()
    } else {
        format!(
            "{}{file}",
            CONF_DIR.get().map_or("/etc/nginx/", String::as_str)
        )
    };
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) => {
            let (status, level) = if e.kind() == std::io::ErrorKind::NotFound {
                (403, Level::Error)
            } else {
                (500, Level::Crit)
            };
            let why = crate::errorlog::os_error(&e);
            return Verdict::Fail(status, level, format!("open() \"{path}\" failed ({why})"));
        }
    };
    let name = String::from_utf8_lossy(&user).into_owned();
    let Some(hash) = lookup(&text, &user) else {
        return Verdict::Challenge(
            realm.to_owned(),
            Level::Error,
            format!("user \"{name}\" was not found in \"{path}\""),
        );
    };
    match crate::auth::hash::matches(&password, hash) {
        Some(true) => Verdict::Pass,
        Some(false) => Verdict::Challenge(
            realm.to_owned(),
            Level::Error,
            format!("user \"{name}\": password mismatch"),
        ),
        None => Verdict::Fail(
            500,
            Level::Error,
            format!(
                "the password hash of user \"{name}\" in \"{path}\" is of a kind l7proxy \
                 cannot check ({{PLAIN}}, {{SHA}}, {{SSHA}}, $apr1$, $1$, $5$, $6$, $2a$, $2b$, $2y$)"
            ),
        ),
    }
}

/// The password field of `user`'s line, as nginx's scan finds it: the
/// first line that starts with `user:` (lines starting with `#` or CR are
/// skipped), up to the next `:`, CR, LF or the end.
fn lookup<'a>(text: &'a [u8], user: &[u8]) -> Option<&'a [u8]> {
    for line in text.split(|&b| b == b'\n') {
        if line.first().is_some_and(|&b| b == b'#' || b == b'\r') {
            continue;
        }
        let Some(rest) = line.strip_prefix(user).and_then(|r| r.strip_prefix(b":")) else {
            continue;
        };
        let end = rest
            .iter()
            .position(|&b| b == b':' || b == b'\r')
            .unwrap_or(rest.len());
        return Some(&rest[..end]);
    }
    None
}

pub mod hash;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_as_nginx_reads_them() {
        let pair = |u: &str, p: &str| Some((u.as_bytes().to_vec(), p.as_bytes().to_vec()));
        assert_eq!(
            credentials(Some(b"Basic YWxpY2U6cHc=")),
            pair("alice", "pw")
        );
        assert_eq!(
            credentials(Some(b"basic   YWxpY2U6cHc")),
            pair("alice", "pw")
        );
        assert_eq!(credentials(Some(b"Basic YTpiOmM=")), pair("a", "b:c"));
        assert_eq!(credentials(Some(b"Basic YWxpY2Vwdw==")), None); // no colon
        assert_eq!(credentials(Some(b"Basic !!!")), None);
        assert_eq!(credentials(Some(b"Bearer YWxpY2U6cHc=")), None);
        assert_eq!(credentials(Some(b"Basic ")), None);
        assert_eq!(credentials(None), None);
    }

    #[test]
    fn lookup_takes_the_first_line_of_the_user() {
        let file = b"#bob:x\nalice:{PLAIN}a:comment\r\nbob:{PLAIN}b\r\nbob:{PLAIN}c\nbo:{PLAIN}d";
        assert_eq!(lookup(file, b"alice"), Some(&b"{PLAIN}a"[..]));
        assert_eq!(lookup(file, b"bob"), Some(&b"{PLAIN}b"[..]));
        assert_eq!(lookup(file, b"bo"), Some(&b"{PLAIN}d"[..]));
        assert_eq!(lookup(file, b"carol"), None);
    }
}
