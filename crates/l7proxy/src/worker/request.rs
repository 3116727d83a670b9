//! Checks and reads of the client's request on hyper's path: nginx's
//! header-buffer limits, HTTP/2 header lists as nginx builds them, the
//! host, and the body (read whole, or discarded), with
//! `client_body_timeout` and `client_max_body_size`.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// nginx's `large_client_header_buffers 4 8k`: a request line or header
/// line must fit one 8k buffer (else 414 / 400), the head four of them.
const HEADER_BUFFER: usize = 8192;
const HEADER_BUFFERS: usize = 4;

/// nginx's verdict on the request head's size, if it refuses it.
pub(super) fn head_too_large<B>(req: &Request<B>) -> Option<StatusCode> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if req.method().as_str().len() + target + "  HTTP/1.1\r\n".len() > HEADER_BUFFER {
        return Some(StatusCode::URI_TOO_LONG);
    }
    let mut total = 0;
    for (n, v) in req.headers() {
        let line = n.as_str().len() + 2 + v.len() + 2;
        if line > HEADER_BUFFER {
            return Some(StatusCode::BAD_REQUEST);
        }
        total += line;
    }
    (total > HEADER_BUFFER * HEADER_BUFFERS).then_some(StatusCode::BAD_REQUEST)
}

/// An HTTP/2 request's headers as nginx 1.22 lists them
/// (`ngx_http_v2_state_process_header`, `ngx_http_v2_construct_cookie_header`):
/// `:authority` becomes a `host` header first (unless the client sent
/// one), and the `cookie` fields, which HTTP/2 splits (RFC 9113 §8.2.3),
/// are joined with `"; "` into one `cookie` header after all the others.
/// False when the request has both `:authority` and `host`.
pub(super) fn h2_headers(parts: &mut http::request::Parts) -> bool {
    let cookies = parts.headers.get_all(header::COOKIE).iter().count();
    if parts.uri.authority().is_some() && parts.headers.contains_key(header::HOST) {
        return false;
    }
    let authority = parts
        .uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    if cookies == 0 && authority.is_none() {
        return true;
    }
    let old = std::mem::take(&mut parts.headers);
    let mut joined: Vec<u8> = Vec::new();
    let mut out = HeaderMap::with_capacity(old.len() + 1);
    if let Some(a) = authority {
        out.insert(header::HOST, a);
    }
    for (name, value) in &old {
        if name == header::COOKIE {
            if !joined.is_empty() {
                joined.extend_from_slice(b"; ");
            }
            joined.extend_from_slice(value.as_bytes());
        } else {
            out.append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        if cookies > 0 {
            out.append(header::COOKIE, v);
        }
    }
    parts.headers = out;
    true
}

/// Reads and drops a request body answered without it (`return`, 404),
/// as nginx discards it: the connection stays usable, and a client that
/// sent `Expect: 100-continue` gets its `100 Continue` (hyper writes it
/// when the body is first read). Gives up after `timeout` without data
/// (hyper then closes the connection).
pub(super) async fn discard(mut body: Incoming, timeout: Duration) {
    if hyper::body::Body::is_end_stream(&body) {
        return;
    }
    while let Ok(Some(Ok(_))) = tokio::time::timeout(timeout, body.frame()).await {}
}

/// Why a request body could not be read.
pub(super) enum BodyError {
    /// A malformed body (hyper's framing error).
    Bad,
    /// `client_body_timeout` passed between two reads.
    Timeout,
    /// A body of no declared length grew over `client_max_body_size`:
    /// nginx's error line.
    TooLarge(String),
}

/// Reads a request body, each read within `limits.body_timeout` (nginx's
/// `client_body_timeout`, between two successive reads), at most
/// `client_max_body_size` of it. nginx checks a chunked body at each chunk
/// head, against the chunks before it plus the chunk's declared size; a
/// frame from hyper stands for a chunk here (or for its part that had
/// come when read), so the error line's second figure can be smaller.
pub(super) async fn read_body(
    mut body: Incoming,
    limits: &crate::plan::ClientLimits,
    h2: bool,
) -> Result<Bytes, BodyError> {
    let mut out = bytes::BytesMut::new();
    loop {
        match tokio::time::timeout(limits.body_timeout, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => return Ok(out.freeze()),
            Ok(Some(Err(_))) => return Err(BodyError::Bad),
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    let (before, len) = (out.len() as u64, d.len() as u64);
                    if limits.too_large(before + len) {
                        return Err(BodyError::TooLarge(if h2 {
                            format!(
                                "client intended to send too large chunked body: {} bytes",
                                before + len
                            )
                        } else {
                            format!(
                                "client intended to send too large chunked body: {before}+{len} bytes"
                            )
                        }));
                    }
                    out.extend_from_slice(&d);
                }
            }
        }
    }
}

pub(super) fn host_of(parts: &http::request::Parts) -> &str {
    parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("")
}
