//! The response head as nginx's header filter writes it: its order, the
//! upstream headers it hides, and the spelling of the names.

use super::UpstreamSpelling;
use crate::casemap::{Spelled, Spellings};
use crate::worker::LogAt;

/// Upstream headers nginx does not pass on: its hidden ones, and the
/// hop-by-hop ones it writes itself.
fn hidden(name: &str, upgrading: bool) -> bool {
    match name {
        "connection" | "upgrade" => !upgrading,
        _ => HIDDEN.contains(&name),
    }
}

/// Upstream headers never passed on (lower case), besides `Connection`
/// and `Upgrade` outside an upgrade.
pub(crate) const HIDDEN: [&str; 10] = [
    "date",
    "server",
    "x-pad",
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
    "keep-alive",
    "transfer-encoding",
];

/// The head in nginx's order (`ngx_http_header_filter`): `Server`, `Date`,
/// `Content-Type`, `Content-Length`, `Last-Modified` and `Location` (ours
/// only: nginx leaves proxied ones in the upstream's order, but for a
/// `Location` that `proxy_redirect` made absolute, see `shape`),
/// `Transfer-Encoding: chunked` (an upstream body of unknown length when
/// `chunk`), then `Connection` (`keep-alive`, or `close` when the client
/// asked or after 400/413/414/500/501, or the upstream's `upgrade` for a
/// 101; none on HTTP/2), then every other header in the upstream's order.
/// A proxied response's names are spelled as nginx does: its own in its
/// case, the upstream's as the upstream spelled them (`casemap`).
pub(super) async fn finish(
    resp: http::Response<crate::body::Body>,
    keep_alive: bool,
    h2: bool,
    chunk: bool,
) -> http::Response<crate::body::Body> {
    use http::header::{
        CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, LAST_MODIFIED, LOCATION, SERVER,
    };
    let (mut parts, body) = resp.into_parts();
    let limit = parts.extensions.remove::<crate::rate::Limit>();
    let upgrading = parts.status == http::StatusCode::SWITCHING_PROTOCOLS;
    let proxied = body.is_upstream();
    // Compressed: no length, chunked like a proxied body.
    let streamed = proxied || matches!(body, crate::body::Body::Gzip(_));
    let vary = parts.extensions.remove::<crate::gzip::Vary>().is_some();
    // Set when `shape` applied the location's response rules (its hidden
    // headers are gone already, passed `Server`/`Date` stay).
    let shaped = parts.extensions.remove::<crate::shape::Shaped>();
    let mut headers = http::HeaderMap::with_capacity(parts.headers.len() + 3);
    if shaped.as_ref().is_none_or(|s| s.server) {
        headers.insert(SERVER, http::HeaderValue::from_static("l7proxy"));
    }
    if shaped.as_ref().is_none_or(|s| s.date) {
        headers.insert(DATE, crate::date::now());
    }
    // Our own bodies' length in its place (hyper would append it after
    // the `add_header` ones).
    if let crate::body::Body::Full(Some(b)) = &body {
        let s = parts.status.as_u16();
        if s >= 200 && s != 204 && s != 304 && !parts.headers.contains_key(CONTENT_LENGTH) {
            parts
                .headers
                .insert(CONTENT_LENGTH, http::HeaderValue::from(b.len()));
        }
    }
    for name in [CONTENT_TYPE, CONTENT_LENGTH, LAST_MODIFIED, LOCATION] {
        if name == LAST_MODIFIED && proxied {
            // nginx writes a proxied one in the upstream's order.
            continue;
        }
        if name == LOCATION && shaped.as_ref().is_some_and(|s| s.listed_location) {
            continue;
        }
        if name == LOCATION && proxied {
            // A rewritten one made absolute has this place.
            if let Some(v) = shaped.as_ref().and_then(|s| s.location.clone()) {
                headers.insert(LOCATION, v);
            }
            continue;
        }
        for v in parts.headers.get_all(&name) {
            headers.append(name.clone(), v.clone());
        }
    }
    let s = parts.status.as_u16();
    if chunk
        && streamed
        && !upgrading
        && s >= 200
        && s != 204
        && s != 304
        && !parts.headers.contains_key(CONTENT_LENGTH)
    {
        headers.insert(
            http::header::TRANSFER_ENCODING,
            http::HeaderValue::from_static("chunked"),
        );
    }
    let closing = matches!(parts.status.as_u16(), 400 | 413 | 414 | 500 | 501);
    if !h2 {
        if upgrading {
            if let Some(v) = parts.headers.get(CONNECTION) {
                headers.insert(CONNECTION, v.clone());
            }
        } else if closing {
            headers.insert(CONNECTION, http::HeaderValue::from_static("close"));
        } else if keep_alive {
            headers.insert(CONNECTION, http::HeaderValue::from_static("keep-alive"));
        } else {
            headers.insert(CONNECTION, http::HeaderValue::from_static("close"));
        }
    }
    if vary {
        headers.append(
            http::header::VARY,
            http::HeaderValue::from_static("Accept-Encoding"),
        );
    }
    let mut last = None;
    for (name, value) in parts.headers.drain() {
        if let Some(n) = name {
            last = Some(n);
        }
        let Some(n) = &last else { continue };
        let placed = matches!(n.as_str(), "content-type" | "content-length" | "connection")
            || (n == LAST_MODIFIED && !proxied)
            || (n == LOCATION && !proxied && !shaped.as_ref().is_some_and(|s| s.listed_location));
        let dropped = if shaped.is_some() {
            matches!(
                n.as_str(),
                "connection" | "upgrade" | "keep-alive" | "transfer-encoding"
            )
        } else {
            hidden(n.as_str(), upgrading)
        };
        if !placed && !dropped {
            headers.append(n.clone(), value);
        }
    }
    // Spelling: nginx's own names in its case (hyper's Title-Case), the
    // upstream's others as the upstream spelled them, `add_header` ones as
    // configured.
    let added = parts.extensions.remove::<crate::shape::AddedNames>();
    let added_spelling = |n: &str| {
        added
            .as_ref()
            .and_then(|a| a.0.added_spelling(n))
            .map(str::as_bytes)
    };
    // nginx's `ETag` (static files) and `WWW-Authenticate` (`auth_basic`),
    // which Title-Case would spell `Etag` and `Www-Authenticate`.
    let nginx_spelling = |n: &str| match n {
        "etag" => Some("ETag".as_bytes()),
        "www-authenticate" => Some("WWW-Authenticate".as_bytes()),
        _ => None,
    };
    let own = !proxied && headers.keys().any(|n| nginx_spelling(n.as_str()).is_some());
    if !proxied && (added.is_some() || own) {
        let spelled = Spelled::of(&headers, |n| {
            added_spelling(n).or_else(|| nginx_spelling(n))
        });
        if let Some(map) = crate::casemap::case_map(&spelled).await {
            parts.extensions.extend(map);
        }
    }
    if proxied {
        let mut extensions = std::mem::take(&mut parts.extensions);
        let log = extensions.remove::<LogAt>();
        let reason = extensions.remove::<hyper::ext::ReasonPhrase>();
        let spelled = extensions.remove::<UpstreamSpelling>();
        if let Some(r) = reason {
            parts.extensions.insert(r);
        }
        if let Some(l) = log {
            parts.extensions.insert(l);
        }
        if let Some(UpstreamSpelling(list)) = spelled {
            let mut upstream = Spellings::new(&list);
            // A passed upstream `Server`/`Date` keeps its spelling; a
            // `Location` made absolute is nginx's own (the first one).
            let our_server = shaped.as_ref().is_none_or(|s| s.server);
            let our_date = shaped.as_ref().is_none_or(|s| s.date);
            let mut our_location = shaped.as_ref().is_some_and(|s| s.location.is_some());
            let mut own = |n: &str| match n {
                "server" => our_server,
                "date" => our_date,
                "location" => std::mem::take(&mut our_location),
                "content-type" | "content-length" | "transfer-encoding" | "connection" => true,
                _ => false,
            };
            let spelled = Spelled::of(&headers, |n| {
                if own(n) {
                    None
                } else {
                    upstream.next(n).or_else(|| added_spelling(n))
                }
            });
            if let Some(map) = crate::casemap::case_map(&spelled).await {
                parts.extensions.extend(map);
            }
        }
    }
    parts.headers = headers;
    // `limit_rate`: the body paced, the head counted as sent (its size as
    // hyper writes it, give or take the status text).
    let body = match limit {
        None => body,
        Some(limit) => {
            let head = 17
                + parts
                    .headers
                    .iter()
                    .map(|(n, v)| n.as_str().len() + v.len() + 4)
                    .sum::<usize>()
                + 2;
            crate::body::Body::Limited(Box::new(crate::rate::Limited::new(
                body,
                limit,
                head as u64,
            )))
        }
    };
    http::Response::from_parts(parts, body)
}
