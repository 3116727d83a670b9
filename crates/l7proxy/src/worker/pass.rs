//! Sending a request to a location's upstream once the location, the
//! target and the body are known: the upstream head (with nginx's
//! spellings), the balancing input, then the tries. Used by `route` and
//! by an `error_page` whose target is a proxied location.

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method as HttpMethod, Response, Version};

use super::upstream::Outgoing;
use super::Worker;
use crate::balance::{Input, Method};
use crate::body::Body;
use crate::headers::Vars;
use crate::plan::ProxyPlan;

/// One request to send upstream.
pub(super) struct Send<'a> {
    pub plan: &'a ProxyPlan,
    pub parts: &'a http::request::Parts,
    pub method: HttpMethod,
    pub target: http::Uri,
    pub body: Bytes,
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

/// An internal redirect's URI and, when it set them, its arguments.
pub(super) type Redirected = (String, Option<Option<String>>);

/// The target sent upstream: the `proxy_pass` URI part replacing the
/// location's prefix, or without one the client's target as it came (the
/// escaped new URI after an internal redirect to another URI).
/// `escaped`: the request's path was escaped (nginx then escapes the rest
/// of the URI it sends under a URI part).
pub(super) fn target(
    plan: &ProxyPlan,
    client: &http::Uri,
    normalized: &str,
    args: Option<&str>,
    redirected: Option<&Redirected>,
    escaped: bool,
) -> Option<http::Uri> {
    if let Some(fixed) = &plan.fixed_uri {
        return fixed.parse().ok();
    }
    match &plan.pass_uri {
        None => match redirected {
            Some((u, new)) if *u != *normalized => {
                let args = new.as_ref().map_or(args, Option::as_deref);
                super::upstream_target("", None, u, args, true).parse().ok()
            }
            _ => Some(client.path_and_query().map_or_else(
                || http::Uri::from_static("/"),
                |p| http::Uri::from(p.clone()),
            )),
        },
        Some((uri, prefix)) => {
            let (from, args, escape) = match redirected {
                Some((u, new)) => (
                    u.as_str(),
                    new.as_ref().map_or(args, Option::as_deref),
                    true,
                ),
                None => (normalized, args, escaped),
            };
            super::upstream_target(uri, *prefix, from, args, escape)
                .parse()
                .ok()
        }
    }
}

impl Worker {
    /// Builds the upstream head of `send` (variables from `vars`) and
    /// makes the tries.
    pub(super) async fn pass(
        self: &Rc<Self>,
        send: Send<'_>,
        vars: &Vars<'_>,
        event: &crate::errorlog::Event<'_>,
        tries: &mut Vec<crate::logformat::Try>,
    ) -> Response<Body> {
        let Send {
            plan,
            parts,
            method,
            target,
            body,
            upgrade,
        } = send;
        let head: HeaderMap = plan.headers.build(vars);
        // Spelling as nginx: configured names as configured, the
        // client's as it sent them (lower case from HTTP/2), the
        // defaults in theirs.
        let mut client_spelling = parts
            .extensions
            .get::<crate::server::ClientSpelling>()
            .map(|c| crate::casemap::Spellings::new(&c.0));
        let h2 = parts.version == Version::HTTP_2;
        let spelled = crate::casemap::Spelled::of(&head, |n| {
            if let Some(s) = plan.headers.spelling(n) {
                return Some(s.as_bytes());
            }
            if h2 {
                return Some(n.as_bytes());
            }
            client_spelling.as_mut()?.next(n)
        });
        let case = crate::casemap::case_map(&spelled).await;
        let spec = self.site.spec(&plan.group);
        let spec = spec.as_deref();
        let key = spec
            .and_then(|u| u.hash_key.as_ref())
            .map(|k| vars.expand(k));
        let input = match spec.map(|u| &u.method) {
            Some(Method::IpHash) => Input::Client(vars.remote_addr.ip()),
            Some(Method::Hash | Method::HashConsistent) => {
                Input::Key(key.as_deref().unwrap_or("").as_bytes())
            }
            _ => Input::None,
        };
        let outgoing = Outgoing {
            method,
            target,
            version: plan.version,
            head,
            case,
            body,
            upgrade,
            client_io: parts.extensions.get::<Arc<crate::timed::Limits>>().cloned(),
        };
        self.proxy(plan, input, outgoing, event, tries).await
    }
}

/// An `error_page` target that is a proxied location.
pub(super) struct ErrorTarget<'a> {
    pub node: Option<&'a crate::plan::PlanTree>,
    pub parts: &'a http::request::Parts,
    pub normalized: &'a str,
    pub args: Option<&'a str>,
    pub redirected: Redirected,
    /// GET or HEAD (a URI target), `None`: the request's (a named one,
    /// with `body`).
    pub method: Option<&'static str>,
    pub body: Bytes,
}

impl Worker {
    /// Proxies an `error_page` target as nginx's internal redirect does.
    pub(super) async fn error_target(
        self: &Rc<Self>,
        to: ErrorTarget<'_>,
        vars: &Vars<'_>,
        event: &crate::errorlog::Event<'_>,
        tries: &mut Vec<crate::logformat::Try>,
    ) -> Response<Body> {
        use http::StatusCode;
        let Some(crate::plan::Action::Proxy(plan)) = to.node.map(|n| &n.action) else {
            return super::error_page(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let resolved;
        let plan: &ProxyPlan = match &plan.dynamic {
            None => plan,
            Some(template) => match plan.resolve(template, vars, &self.site) {
                Ok(p) => {
                    resolved = p;
                    &resolved
                }
                Err((status, message)) => {
                    event.error(&message);
                    return super::error_page(status);
                }
            },
        };
        let Some(target) = target(
            plan,
            &to.parts.uri,
            to.normalized,
            to.args,
            Some(&to.redirected),
            false,
        ) else {
            return super::error_page(StatusCode::BAD_REQUEST);
        };
        let (method, body) = match to.method {
            Some("HEAD") => (HttpMethod::HEAD, Bytes::new()),
            Some(_) => (HttpMethod::GET, Bytes::new()),
            None => (to.parts.method.clone(), to.body),
        };
        let vars = Vars {
            proxy_host: &plan.proxy_host,
            // A named target resends the request's body, with its length.
            body_length: (!body.is_empty()
                || (to.method.is_none()
                    && (to.parts.headers.contains_key(http::header::CONTENT_LENGTH)
                        || to
                            .parts
                            .headers
                            .contains_key(http::header::TRANSFER_ENCODING))))
            .then_some(body.len() as u64),
            ..*vars
        };
        let send = Send {
            plan,
            parts: to.parts,
            method,
            target,
            body,
            upgrade: None,
        };
        self.pass(send, &vars, event, tries).await
    }
}
