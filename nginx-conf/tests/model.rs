//! The typed model on the corpus: every directive the proxy needs, with values.

use std::path::Path;
use std::time::Duration;

use nginx_conf::model::rewrite::Op;
use nginx_conf::model::{
    load, AccessLog, Balancing, Config, ListenAddress, LocationMatch, ProxyPass, Return,
    ServerName, WorkerProcesses,
};

fn testdata(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/nginx")
        .join(rel);
    p.canonicalize().unwrap_or(p).display().to_string()
}

fn upstreams() -> Config {
    load(&testdata("corpus/upstreams/nginx.conf")).expect("corpus/upstreams loads")
}

#[test]
fn main_and_events() {
    let c = upstreams();
    assert_eq!(c.worker_processes, Some(WorkerProcesses::Count(2)));
    assert_eq!(c.worker_connections, Some(512));
    assert_eq!(c.daemon, Some(false));
    assert_eq!(c.pid.as_deref(), Some("nginx.pid"));
    assert_eq!(c.error_log[0].path, "stderr");
    assert_eq!(c.error_log[0].level.as_deref(), Some("warn"));
    let debian = load(&testdata("corpus/debian/nginx.conf")).expect("Debian's nginx.conf loads");
    assert_eq!(debian.worker_processes, Some(WorkerProcesses::Auto));
    assert_eq!(debian.worker_connections, Some(768));
    let http = debian.http.expect("http");
    assert_eq!(http.servers.len(), 1, "sites-enabled/default is included");
    assert!(http.servers[0].listen.iter().all(|l| l.default_server));
}

#[test]
fn upstream_blocks() {
    let http = upstreams().http.unwrap();
    let backend = &http.upstreams[0];
    assert_eq!(backend.name, "backend");
    assert_eq!(backend.balancing, Balancing::LeastConn);
    let s = &backend.servers[0];
    assert_eq!(
        (s.address.as_str(), s.weight, s.max_fails),
        ("192.0.2.10:8080", 5, 3)
    );
    assert_eq!(s.fail_timeout, Duration::from_secs(30));
    assert_eq!(backend.servers[1].max_conns, 100);
    assert_eq!(backend.servers[1].weight, 1, "default weight");
    assert!(backend.servers[2].backup);
    assert_eq!(backend.keepalive, Some(32));
    assert_eq!(backend.keepalive_timeout, Some(Duration::from_secs(60)));
    assert_eq!(backend.keepalive_requests, Some(1000));
    assert_eq!(backend.zone, Some(("backend".into(), Some(64 * 1024))));
    let hashed = &http.upstreams[1];
    assert_eq!(
        hashed.balancing,
        Balancing::Hash {
            key: "$request_uri".into(),
            consistent: true
        }
    );
    assert!(hashed.servers[1].down);
}

#[test]
fn servers_listen_and_names() {
    let http = upstreams().http.unwrap();
    let server = &http.servers[0];
    let l = &server.listen[0];
    assert_eq!(l.address.text(), "127.0.0.1:8080");
    assert!(l.default_server && l.reuseport);
    assert_eq!(l.backlog, Some(511));
    assert_eq!(server.listen[1].ipv6only, Some(true));
    assert_eq!(server.listen[1].address.text(), "[::1]:8080");
    assert_eq!(
        server.server_names,
        [
            ServerName::Exact("example.com".into()),
            ServerName::Wildcard("*.example.com".into()),
            ServerName::Regex("^www\\d+\\.example\\.net$".into()),
        ]
    );
    assert_eq!(
        server.settings.access_log,
        Some(vec![AccessLog::Off]),
        "inherited from http"
    );
    assert_eq!(
        server.settings.ssl_protocols,
        Some(vec!["TLSv1.2".into(), "TLSv1.3".into()])
    );
}

#[test]
fn locations_and_proxy_settings() {
    let http = upstreams().http.unwrap();
    let locs = &http.servers[0].locations;
    assert_eq!(locs[0].matcher, LocationMatch::Exact("/exact".into()));
    assert_eq!(
        locs[0].script,
        [Op::Return(Return {
            code: 204,
            text: None
        })]
    );
    assert_eq!(
        locs[1].matcher,
        LocationMatch::PrefixNoRegex("/static/".into())
    );
    assert_eq!(locs[1].settings.root.as_deref(), Some("/var/www"));
    assert_eq!(
        locs[2].matcher,
        LocationMatch::RegexCaseless("\\.(gif|jpg)$".into())
    );
    let api = &locs[3];
    assert_eq!(api.matcher, LocationMatch::Prefix("/api/".into()));
    assert_eq!(
        api.proxy_pass,
        Some(ProxyPass::Upstream {
            scheme: "http".into(),
            name: "backend".into(),
            uri: Some("/v1/".into())
        })
    );
    let p = &api.settings.proxy;
    assert_eq!(p.http_version.as_deref(), Some("1.1"));
    assert_eq!(p.connect_timeout, Some(Duration::from_secs(5)));
    assert_eq!(p.read_timeout, Some(Duration::from_secs(90)));
    assert_eq!(p.send_timeout, Some(Duration::from_secs(60)));
    assert_eq!(
        p.next_upstream,
        Some(vec!["error".into(), "timeout".into(), "http_502".into()])
    );
    assert_eq!(p.next_upstream_tries, Some(3));
    assert_eq!(p.next_upstream_timeout, Some(Duration::from_secs(10)));
    assert_eq!(p.buffering, Some(false));
    let headers = p.set_headers.as_ref().expect("inherited from the server");
    assert_eq!(headers[0], ("Host".into(), "$host".into()));
    let nested = &api.locations[0];
    assert_eq!(
        nested.proxy_pass,
        Some(ProxyPass::Upstream {
            scheme: "http".into(),
            name: "hashed".into(),
            uri: None
        })
    );
    assert_eq!(
        nested.settings.proxy.buffering,
        Some(false),
        "inherited from /api/"
    );
    let own = &locs[4];
    assert_eq!(
        own.settings.proxy.set_headers,
        Some(vec![("X-Own".into(), "1".into())]),
        "a level that sets proxy_set_header inherits none"
    );
    assert_eq!(
        own.settings.proxy.connect_timeout,
        Some(Duration::from_secs(3)),
        "from http"
    );
    assert_eq!(
        own.proxy_pass,
        Some(ProxyPass::Url {
            scheme: "http".into(),
            host: "192.0.2.20".into(),
            port: Some(8080),
            uri: None
        })
    );
    assert_eq!(locs[5].matcher, LocationMatch::Named("fallback".into()));
}

#[test]
fn ssl_unix_listen_and_return_url() {
    let http = load(&testdata("model/ssl.conf"))
        .expect("model/ssl.conf loads")
        .http
        .unwrap();
    let s = &http.servers[0];
    assert!(s.listen[0].ssl && s.listen[0].http2);
    assert_eq!(
        s.listen[1].address,
        ListenAddress::Unix("/run/l7.sock".into())
    );
    assert_eq!(
        s.server_names,
        [ServerName::Wildcard(".example.org".into())]
    );
    assert_eq!(
        s.settings.ssl_certificate,
        Some(vec![
            "/etc/ssl/example.pem".into(),
            "/etc/ssl/example-ecdsa.pem".into()
        ])
    );
    assert_eq!(
        s.settings.ssl_certificate_key.as_ref().map(Vec::len),
        Some(2)
    );
    assert_eq!(s.settings.ssl_protocols, Some(vec!["TLSv1.3".into()]));
    assert_eq!(
        s.script,
        [Op::Return(Return {
            code: 302,
            text: Some("https://example.org$request_uri".into())
        })]
    );
    let other = &http.servers[1];
    assert_eq!(
        other.listen[0].address.text(),
        "0.0.0.0:80",
        "implicit listen"
    );
    assert_eq!(
        other.locations[0].script,
        [Op::Return(Return {
            code: 404,
            text: Some("not here".into())
        })]
    );
}

#[test]
fn semantic_errors_are_located() {
    let e = load(&testdata("invalid-model/weight-zero.conf")).unwrap_err();
    assert_eq!(e.message, "invalid parameter \"weight=0\"");
    assert_eq!(e.location.as_ref().map(|l| l.1), Some(4));
    let e = load(&testdata("invalid-model/unknown-upstream.conf")).unwrap_err();
    assert_eq!(e.message, "host not found in upstream \"nosuchupstream\"");
}

#[test]
fn balancing_logs_and_root_inheritance() {
    let http = load(&testdata("model/balancing.conf"))
        .expect("model/balancing.conf loads")
        .http
        .unwrap();
    assert_eq!(http.upstreams[0].balancing, Balancing::IpHash);
    assert_eq!(http.upstreams[0].servers[1].address, "[2001:db8::1]:8080");
    assert_eq!(http.upstreams[0].servers[1].max_fails, 0);
    assert_eq!(
        http.upstreams[1].balancing,
        Balancing::Random {
            two: true,
            least_conn: true
        }
    );
    assert_eq!(
        http.upstreams[1].servers[0].fail_timeout,
        Duration::from_secs(60)
    );
    assert_eq!(
        http.upstreams[2].balancing,
        Balancing::Random {
            two: false,
            least_conn: false
        }
    );
    assert_eq!(http.upstreams[2].servers[0].address, "unix:/run/app.sock");
    let server = &http.servers[0];
    assert_eq!(
        server.settings.access_log,
        Some(vec![AccessLog::Path {
            path: "/var/log/nginx/site.log".into(),
            format: Some("main".into()),
            condition: None,
        }])
    );
    let err = &server.settings.error_log.as_ref().expect("error_log")[0];
    assert_eq!(
        (err.path.as_str(), err.level.as_deref()),
        ("/var/log/nginx/site.err", Some("warn"))
    );
    let root = &server.locations[0];
    assert_eq!(
        root.settings.root.as_deref(),
        Some("/srv/www"),
        "root inherited from http"
    );
    assert_eq!(
        root.settings.access_log, server.settings.access_log,
        "access_log inherited"
    );
    assert_eq!(
        server.locations[1].proxy_pass,
        Some(ProxyPass::Url {
            scheme: "http".into(),
            host: "[2001:db8::1]".into(),
            port: Some(8080),
            uri: Some("/api/".into())
        })
    );
    let img = &server.locations[2];
    assert_eq!(img.settings.root.as_deref(), Some("/srv/img"));
    assert_eq!(
        img.proxy_pass,
        Some(ProxyPass::Url {
            scheme: "https".into(),
            host: "203.0.113.9".into(),
            port: None,
            uri: Some("/static".into())
        })
    );
}

#[test]
fn model_rejects_backup_with_hash_in_either_order() {
    let path = testdata("model/backup-before-hash.conf");
    assert_eq!(
        nginx_conf::check(&path),
        Ok(()),
        "nginx -t accepts this order"
    );
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.message,
        "balancing method does not support parameter \"backup\""
    );
    assert_eq!(e.location.as_ref().map(|l| l.1), Some(4));
}

#[test]
fn client_timeouts_are_inherited_down_to_locations() {
    let dir = std::env::temp_dir().join(format!("nginx-conf-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nginx.conf");
    std::fs::write(
        &path,
        "events {}\n\
         http {\n\
           keepalive_timeout 30s 20; keepalive_requests 5; client_header_timeout 500ms;\n\
           upstream u { server 127.0.0.1:1; keepalive_timeout 9s; }\n\
           server { listen 127.0.0.1:8080; client_body_timeout 7;\n\
             location / { send_timeout 1m; keepalive_timeout 0; }\n\
             location /b { } } }\n",
    )
    .unwrap();
    let c = load(&path.display().to_string()).expect("loads");
    let _ = std::fs::remove_dir_all(&dir);
    let http = c.http.unwrap();
    let server = &http.servers[0];
    let s = server.settings.client;
    assert_eq!(s.header_timeout, Some(Duration::from_millis(500)));
    assert_eq!(s.body_timeout, Some(Duration::from_secs(7)));
    assert_eq!(s.keepalive_requests, Some(5));
    assert_eq!(s.keepalive_header, Some(Duration::from_secs(20)));
    let a = server.locations[0].settings.client;
    assert_eq!(a.keepalive_timeout, Some(Duration::ZERO));
    assert_eq!(a.send_timeout, Some(Duration::from_secs(60)));
    assert_eq!(a.body_timeout, Some(Duration::from_secs(7)));
    let b = server.locations[1].settings.client;
    assert_eq!(b.keepalive_timeout, Some(Duration::from_secs(30)));
    assert_eq!(b.send_timeout, None, "nginx's default applies");
    // The upstream block's keepalive_timeout is its own.
    assert_eq!(
        http.upstreams[0].keepalive_timeout,
        Some(Duration::from_secs(9))
    );
}

#[test]
fn response_header_directives_and_their_inheritance() {
    use nginx_conf::model::http::{AddHeader, Redirect};
    let c = load(&testdata("model/response-headers.conf")).unwrap();
    let http = c.http.unwrap();
    let add = |name: &str, value: &str, always: bool| AddHeader {
        name: name.into(),
        value: value.into(),
        always,
    };
    let s = &http.servers[0];
    // The server adds its own, so the http level's is not inherited.
    let server_level = Some(vec![add("X-Server", "$host", true)]);
    assert_eq!(s.settings.add_headers, server_level);
    let root = &s.locations[0];
    assert_eq!(root.settings.add_headers, server_level);
    assert_eq!(
        root.proxy_pass_url.as_deref(),
        Some("http://127.0.0.1:8081/app/")
    );
    assert_eq!(
        root.settings.proxy.redirects,
        Some(vec![
            Redirect::Default,
            Redirect::Prefix {
                pattern: "http://other.example/".into(),
                replacement: "http://$host/".into()
            }
        ])
    );
    // Hide and pass lists are inherited separately.
    assert_eq!(
        root.settings.proxy.hide_headers,
        Some(vec!["X-Secret".to_owned()])
    );
    assert_eq!(
        root.settings.proxy.pass_headers,
        Some(vec!["Server".to_owned()])
    );
    let off = &s.locations[1];
    assert_eq!(off.settings.proxy.redirects, Some(vec![]));
    assert_eq!(off.settings.absolute_redirect, Some(false));
    assert_eq!(root.settings.absolute_redirect, None);
    assert_eq!(off.settings.port_in_redirect, Some(false));
    assert_eq!(root.settings.server_name_in_redirect, Some(true));
    assert_eq!(
        off.settings.add_headers,
        Some(vec![add("X-Off", "", false)])
    );
    assert_eq!(off.settings.proxy.pass_headers, None);
    // An http-level rule reaches the server.
    assert_eq!(
        s.settings.proxy.redirects,
        Some(vec![Redirect::Prefix {
            pattern: "http://old.example/".into(),
            replacement: "/".into()
        }])
    );
}
