//! The `auth_basic` step of the access phase: the verdict of
//! [`crate::auth::check`] turned into nginx's answer and error line.

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use crate::auth::{Auth, Verdict};
use crate::body::Body;
use crate::errorlog::Event;
use crate::headers::Vars;
use crate::worker::error_page;

/// `None` when the request may go on; else the answer (401 with
/// `WWW-Authenticate`, 403 or 500), its error line logged.
pub(super) fn basic(
    auth: &Auth,
    vars: &Vars<'_>,
    headers: &HeaderMap,
    event: &Event<'_>,
) -> Option<Response<Body>> {
    let expand = |t: &str| {
        let mut out = Vec::new();
        vars.expand_into(t, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let realm = expand(&auth.realm);
    if realm == "off" {
        return None;
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match crate::auth::check(&realm, &expand(&auth.file), given) {
        Verdict::Pass => None,
        Verdict::Challenge(realm, level, line) => {
            event.log(level, &line);
            let mut r = error_page(StatusCode::UNAUTHORIZED);
            let value = format!("Basic realm=\"{realm}\"");
            if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            Some(r)
        }
        Verdict::Fail(code, level, line) => {
            event.log(level, &line);
            Some(error_page(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ))
        }
    }
}
