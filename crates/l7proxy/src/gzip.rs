//! `gzip on` (`ngx_http_gzip_filter_module`): which responses are
//! compressed (status 200/403/404, no `Content-Encoding`, long enough, a
//! listed type) for which requests (`Accept-Encoding: gzip`,
//! HTTP version, `User-Agent`, `Via` and `gzip_proxied`), the header
//! changes (`Content-Encoding: gzip` last, no length, no
//! `Accept-Ranges`, a weak `ETag`), and the compressing body. The bytes
//! are deflate's (miniz), not zlib's: the same content, not the same
//! bytes as nginx's.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use nginx_conf::model::gzip::GzipSettings;

/// A location's compiled gzip settings.
#[derive(Debug, Clone, Default)]
pub struct Gzip {
    pub enabled: bool,
    /// Lower-case types (`text/html` always among them); `None`: any.
    types: Option<Vec<String>>,
    min_length: u64,
    level: u32,
    /// `gzip_http_version`: the lowest version served compressed.
    min_version: http::Version,
    proxied: Vec<String>,
    pub vary: bool,
    disable: Vec<regex::Regex>,
    msie6: bool,
}

/// `Vary: Accept-Encoding` goes after `Connection` (a response extension
/// for `server::finish`).
#[derive(Debug, Clone, Copy)]
pub struct Vary;

impl Gzip {
    pub fn new(s: &GzipSettings) -> Result<Self, String> {
        let mut types: Vec<String> = s
            .types
            .iter()
            .flatten()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let any_type = types.iter().any(|t| t == "*");
        if !types.iter().any(|t| t == "text/html") {
            types.push("text/html".into());
        }
        let mut disable = Vec::new();
        let mut msie6 = false;
        for d in s.disable.iter().flatten() {
            if d == "msie6" {
                msie6 = true;
                continue;
            }
            disable.push(
                regex::RegexBuilder::new(d)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("gzip_disable \"{d}\": {e}"))?,
            );
        }
        Ok(Self {
            enabled: s.enable.unwrap_or(false),
            types: (!any_type).then_some(types),
            min_length: s.min_length.unwrap_or(20),
            level: s.level.unwrap_or(1),
            min_version: if s.http11.unwrap_or(true) {
                http::Version::HTTP_11
            } else {
                http::Version::HTTP_10
            },
            proxied: s.proxied.clone().unwrap_or_else(|| vec!["off".into()]),
            vary: s.vary.unwrap_or(false),
            disable,
            msie6,
        })
    }

    /// Whether a response could be compressed (nginx then also sends
    /// `Vary` when `gzip_vary` is on, compressed or not). A HEAD answer
    /// is (nginx's gzip filter runs before the header filter marks it
    /// header-only): its head says gzip.
    pub fn eligible(&self, status: u16, headers: &HeaderMap) -> bool {
        if !self.enabled || !matches!(status, 200 | 403 | 404) {
            return false;
        }
        if headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.is_empty())
        {
            return false;
        }
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        if length.is_some_and(|n| n < self.min_length) {
            return false;
        }
        let Some(ct) = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        self.types.as_ref().is_none_or(|t| t.contains(&ct))
    }

    /// [`Gzip::eligible`] on an upstream head as `httparse` read it.
    pub fn eligible_raw(&self, status: u16, headers: &[httparse::Header<'_>]) -> bool {
        let mut map = HeaderMap::new();
        for h in headers {
            let n = h.name;
            if n.eq_ignore_ascii_case("content-type")
                || n.eq_ignore_ascii_case("content-length")
                || n.eq_ignore_ascii_case("content-encoding")
            {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(n.as_bytes()),
                    HeaderValue::from_bytes(h.value),
                ) {
                    map.append(name, value);
                }
            }
        }
        self.eligible(status, &map)
    }

    /// Whether the request takes a gzip answer (`ngx_http_gzip_ok`).
    pub fn request_ok(&self, version: http::Version, req: &HeaderMap, resp: &HeaderMap) -> bool {
        let Some(ae) = req
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if !accepts_gzip(ae) {
            return false;
        }
        let ua = req.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        if self.msie6 && ua.is_some_and(is_msie6) {
            return false;
        }
        if version < self.min_version {
            return false;
        }
        if let Some(ua) = ua {
            if self.disable.iter().any(|r| r.is_match(ua)) {
                return false;
            }
        }
        if !req.contains_key(header::VIA) {
            return true;
        }
        let has = |p: &str| self.proxied.iter().any(|x| x == p);
        if has("off") {
            return false;
        }
        if has("any") || (has("auth") && req.contains_key(header::AUTHORIZATION)) {
            return true;
        }
        if has("expired") && resp.contains_key(header::EXPIRES) {
            return true;
        }
        let cc = resp
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
            .to_ascii_lowercase();
        ["no-cache", "no-store", "private"]
            .iter()
            .any(|d| has(d) && cc.contains(d))
            || (has("no_last_modified") && !resp.contains_key(header::LAST_MODIFIED))
            || (has("no_etag") && !resp.contains_key(header::ETAG))
    }

    /// The header changes of a compressed response.
    pub fn apply(headers: &mut HeaderMap) {
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::ACCEPT_RANGES);
        if let Some(etag) = headers.get(header::ETAG).cloned() {
            if etag.as_bytes().starts_with(b"\"") {
                let mut weak = b"W/".to_vec();
                weak.extend_from_slice(etag.as_bytes());
                if let Ok(v) = HeaderValue::from_bytes(&weak) {
                    headers.insert(header::ETAG, v);
                }
            } else if !etag.as_bytes().starts_with(b"W/") {
                headers.remove(header::ETAG);
            }
        }
        headers.append(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }

    /// `body` compressed at this location's level.
    pub fn wrap(&self, body: crate::body::Body) -> Compressed {
        Compressed {
            inner: body,
            encoder: Some(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(self.level),
            )),
        }
    }
}

/// Whether `Accept-Encoding` names gzip without `q=0`.
pub fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case("gzip") && !refused
    })
}

fn is_msie6(ua: &str) -> bool {
    ua.find("MSIE ").is_some_and(|i| {
        let v = &ua[i + 5..];
        v.starts_with(|c: char| ('4'..='6').contains(&c)) && !ua.contains("SV1")
    })
}

/// A body compressed as it streams.
pub struct Compressed {
    inner: crate::body::Body,
    encoder: Option<flate2::write::GzEncoder<Vec<u8>>>,
}

impl std::fmt::Debug for Compressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Compressed").field(&self.inner).finish()
    }
}

impl Compressed {
    pub fn inner(&self) -> &crate::body::Body {
        &self.inner
    }
}

impl HttpBody for Compressed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let me = self.get_mut();
        loop {
            let Some(enc) = me.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut me.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    // Writing to a Vec does not fail.
                    let _ = enc.write_all(&data);
                    let out = std::mem::take(enc.get_mut());
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out.into()))));
                    }
                }
                Poll::Ready(None) => {
                    let out = me
                        .encoder
                        .take()
                        .and_then(|e| e.finish().ok())
                        .unwrap_or_default();
                    return Poll::Ready(Some(Ok(Frame::data(out.into()))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_as_nginx_reads_it() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, GZIP;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.000"));
        assert!(!accepts_gzip("deflate, br"));
        assert!(!accepts_gzip("x-gzip"));
    }
}
