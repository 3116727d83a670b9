//! Unit tests of the response rules.

use super::*;
use crate::headers::Client;
use crate::headers::Vars;

fn vars(h: &HeaderMap) -> Vars<'_> {
    Vars {
        proxy_host: "be",
        remote_addr: "198.51.100.7:5555".parse().unwrap(),
        host: "example.com",
        scheme: "http",
        request_uri: "/a?b=1",
        uri: "/a",
        args: Some("b=1"),
        body_length: None,
        client_headers: Client::Map(h),
        maps: &crate::map::EMPTY,
        rewritten: None,
    }
}

const DEFAULT: Redirects<'static> = Redirects {
    absolute: true,
    port_in: true,
    server_name: None,
};

fn settings(redirects: Option<Vec<Redirect>>) -> ProxySettings {
    ProxySettings {
        redirects,
        hide_headers: Some(vec!["X-Secret".to_owned(), "Server".to_owned()]),
        pass_headers: Some(vec!["server".to_owned()]),
        ..ProxySettings::default()
    }
}

#[test]
fn default_redirect_follows_proxy_pass_and_the_location() {
    let h = HeaderMap::new();
    let v = vars(&h);
    let ctx = Ctx {
        vars: &v,
        status: 302,
        upstream: Peers::None,
        local: "127.0.0.1:8080".parse().unwrap(),
        tls: false,
    };
    let pass = Pass {
        url: "http://be/app/",
        has_uri: true,
        location: "/one/",
    };
    let s = Shape::new(None, &settings(None), Some(pass), DEFAULT).unwrap();
    assert_eq!(
        s.redirect(&ctx, b"http://be/app/x?y", false).as_deref(),
        Some(&b"/one/x?y"[..])
    );
    assert_eq!(s.redirect(&ctx, b"http://BE/app/x", false), None);
    assert_eq!(
        s.redirect(&ctx, b"5; URL=http://be/app/r", true).as_deref(),
        Some(&b"5; URL=/one/r"[..])
    );
    let bare = Pass {
        url: "http://be",
        has_uri: false,
        location: "/one/",
    };
    let s = Shape::new(None, &settings(None), Some(bare), DEFAULT).unwrap();
    assert_eq!(
        s.redirect(&ctx, b"http://be/app/x", false).as_deref(),
        Some(&b"/app/x"[..])
    );
    let mut abs = Vec::new();
    s.absolute(&ctx, b"/app/x", &mut abs);
    assert_eq!(abs, b"http://example.com:8080/app/x");
    let named = Shape::new(
        None,
        &settings(None),
        Some(bare),
        Redirects {
            absolute: true,
            port_in: false,
            server_name: Some("Name.Example"),
        },
    )
    .unwrap();
    abs.clear();
    named.absolute(&ctx, b"/app/x", &mut abs);
    assert_eq!(abs, b"http://name.example/app/x");
    let off = Shape::new(None, &settings(Some(vec![])), Some(bare), DEFAULT).unwrap();
    assert!(!off.redirects());
    assert!(Shape::new(
        None,
        &settings(Some(vec![Redirect::Default])),
        None,
        DEFAULT
    )
    .is_err());
}

#[test]
fn regex_redirects_replace_the_whole_value_with_one_digit_captures() {
    let h = HeaderMap::new();
    let v = vars(&h);
    let ctx = Ctx {
        vars: &v,
        status: 302,
        upstream: Peers::None,
        local: "127.0.0.1:443".parse().unwrap(),
        tls: true,
    };
    let rules = vec![Redirect::Prefix {
        pattern: "~*^HTTP://([^/]+)/(.*)$".to_owned(),
        replacement: "/x/$2y$1${host}$9".to_owned(),
    }];
    let s = Shape::new(None, &settings(Some(rules)), None, DEFAULT).unwrap();
    assert_eq!(
        s.redirect(&ctx, b"http://be/p", false).as_deref(),
        Some(&b"/x/pybeexample.com"[..])
    );
    let mut abs = Vec::new();
    s.absolute(&ctx, b"/x", &mut abs);
    assert_eq!(abs, b"https://example.com/x");
    abs.clear();
    s.absolute(&Ctx { tls: false, ..ctx }, b"/x", &mut abs);
    assert_eq!(abs, b"http://example.com:443/x");
    let bad = vec![Redirect::Prefix {
        pattern: "~(".to_owned(),
        replacement: "/".to_owned(),
    }];
    assert!(Shape::new(None, &settings(Some(bad)), None, DEFAULT).is_err());
}

#[test]
fn the_builtin_places_agree_with_the_table() {
    let pass = Pass {
        url: "http://be",
        has_uri: false,
        location: "/",
    };
    for (redirects, pass) in [(None, Some(pass)), (Some(vec![]), Some(pass))] {
        let s = Shape::new(
            None,
            &ProxySettings {
                redirects,
                ..ProxySettings::default()
            },
            pass,
            DEFAULT,
        )
        .unwrap();
        assert!(s.standard);
        let table = Shape {
            standard: false,
            ..s.clone()
        };
        let names = DEFAULT_HIDDEN.iter().copied().chain([
            "Content-Type",
            "CONTENT-LENGTH",
            "Connection",
            "Keep-Alive",
            "Upgrade",
            "Transfer-Encoding",
            "Location",
            "Refresh",
            "X-Other",
            "Last-Modified",
            "ETag",
            "",
            "locatio",
            "X-Accel-Chars3t",
        ]);
        for n in names {
            assert_eq!(s.place(n), table.place(n), "{n}");
        }
    }
}

#[test]
fn hidden_is_the_default_set_plus_hide_minus_pass() {
    let s = Shape::new(None, &settings(None), None, DEFAULT).unwrap();
    assert!(s.hidden("x-secret") && s.hidden("Date") && s.hidden("X-Accel-Charset"));
    assert!(!s.hidden("server") && !s.hidden("x-other"));
}

#[test]
fn added_headers_only_for_safe_statuses_unless_always_and_not_when_empty() {
    let h = HeaderMap::new();
    let v = vars(&h);
    let add = vec![
        AddHeader {
            name: "X-A".to_owned(),
            value: "$status ${host}$request_uri".to_owned(),
            always: false,
        },
        AddHeader {
            name: "X-Empty".to_owned(),
            value: "$http_nothing".to_owned(),
            always: true,
        },
        AddHeader {
            name: "X-B".to_owned(),
            value: "b".to_owned(),
            always: true,
        },
    ];
    let s = Shape::new(Some(&add), &ProxySettings::default(), None, DEFAULT).unwrap();
    let mut ctx = Ctx {
        vars: &v,
        status: 206,
        upstream: Peers::List(&[
            crate::logformat::Try {
                addr: crate::logformat::TryAt::Peer(crate::peer::Peer::Inet(
                    "127.0.0.1:9".parse().unwrap(),
                )),
                status: 502,
                secs: 0.0,
            },
            crate::logformat::Try {
                addr: crate::logformat::TryAt::Peer(crate::peer::Peer::Inet(
                    "[2001:db8::1]:80".parse().unwrap(),
                )),
                status: 206,
                secs: 0.0,
            },
        ]),
        local: "127.0.0.1:80".parse().unwrap(),
        tls: false,
    };
    let mut out = Vec::new();
    s.write_added(&ctx, &mut out, [false; 2]);
    assert_eq!(out, b"X-A: 206 example.com/a?b=1\r\nX-B: b\r\n");
    out.clear();
    ctx.var("upstream_addr", &mut out);
    assert_eq!(out, b"127.0.0.1:9, [2001:db8::1]:80");
    ctx.status = 404;
    out.clear();
    s.write_added(&ctx, &mut out, [false; 2]);
    assert_eq!(out, b"X-B: b\r\n");
}
