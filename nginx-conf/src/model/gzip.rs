//! `gzip` and its settings (`ngx_http_gzip_filter_module`), each inherited
//! on its own; `None`: nginx's default.

use super::values::parse_size;
use super::{flag, Cursor, ModelError};
use crate::payload::Stmt;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GzipSettings {
    /// `gzip` (off).
    pub enable: Option<bool>,
    /// `gzip_types` (text/html, which is always in; `*`: any).
    pub types: Option<Vec<String>>,
    /// `gzip_min_length` (20).
    pub min_length: Option<u64>,
    /// `gzip_comp_level` (1).
    pub level: Option<u32>,
    /// `gzip_http_version` 1.1 (true, the default) or 1.0.
    pub http11: Option<bool>,
    /// `gzip_proxied` (off).
    pub proxied: Option<Vec<String>>,
    /// `gzip_vary` (off).
    pub vary: Option<bool>,
    /// `gzip_disable` (regexes on `User-Agent`; `msie6`).
    pub disable: Option<Vec<String>>,
}

const PROXIED: [&str; 9] = [
    "off",
    "expired",
    "no-cache",
    "no-store",
    "private",
    "no_last_modified",
    "no_etag",
    "auth",
    "any",
];

impl GzipSettings {
    /// Reads a `gzip*` directive into this level's settings; false when
    /// `stmt` is none of them.
    pub fn read(&mut self, stmt: &Stmt, c: &Cursor) -> Result<bool, ModelError> {
        let first = stmt.args.first().map_or("", String::as_str);
        match stmt.directive.as_str() {
            "gzip" => self.enable = Some(flag(stmt, c)?),
            "gzip_vary" => self.vary = Some(flag(stmt, c)?),
            "gzip_types" => self.types = Some(stmt.args.clone()),
            "gzip_disable" => self.disable = Some(stmt.args.clone()),
            "gzip_min_length" => {
                let n = parse_size(first).ok_or_else(|| {
                    c.error(stmt, "\"gzip_min_length\" directive invalid value".into())
                })?;
                self.min_length = Some(n);
            }
            "gzip_comp_level" => {
                let n: u32 = first.parse().map_err(|_| {
                    c.error(stmt, "\"gzip_comp_level\" directive invalid number".into())
                })?;
                if !(1..=9).contains(&n) {
                    return Err(c.error(stmt, "value must be between 1 and 9".into()));
                }
                self.level = Some(n);
            }
            "gzip_http_version" => {
                self.http11 = Some(match first {
                    "1.1" => true,
                    "1.0" => false,
                    _ => return Err(c.error(stmt, format!("invalid value \"{first}\""))),
                });
            }
            "gzip_proxied" => {
                if let Some(bad) = stmt.args.iter().find(|a| !PROXIED.contains(&a.as_str())) {
                    return Err(c.error(stmt, format!("invalid value \"{bad}\"")));
                }
                self.proxied = Some(stmt.args.clone());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[must_use]
    pub fn inherit(mut self, parent: &GzipSettings) -> GzipSettings {
        fn take<T: Clone>(mine: &mut Option<T>, theirs: Option<&T>) {
            if mine.is_none() {
                *mine = theirs.cloned();
            }
        }
        take(&mut self.enable, parent.enable.as_ref());
        take(&mut self.types, parent.types.as_ref());
        take(&mut self.min_length, parent.min_length.as_ref());
        take(&mut self.level, parent.level.as_ref());
        take(&mut self.http11, parent.http11.as_ref());
        take(&mut self.proxied, parent.proxied.as_ref());
        take(&mut self.vary, parent.vary.as_ref());
        take(&mut self.disable, parent.disable.as_ref());
        self
    }
}
