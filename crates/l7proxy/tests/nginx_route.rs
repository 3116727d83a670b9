//! Differential: for a corpus of hosts and URIs, the server and location
//! our router picks must be the ones nginx 1.22 picks for the same file.
//! Every location answers `return 200 "NAME"`, so nginx tells us its pick.

use std::process::Command;

use l7proxy::route::{location_at, select_server, ServerRoutes};
use l7proxy::uri;
use nginx_conf::model::rewrite::Op;

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX};

const SERVERS: &str = r#"
  server { listen 127.0.0.1:PORT; server_name first.test;
    location / { return 200 "first:root"; } }
  server { listen 127.0.0.1:PORT default_server; server_name default.test;
    location / { return 200 "default:root"; } }
  server { listen 127.0.0.1:PORT; server_name example.com www.example.com;
    location = / { return 200 "main:exact-root"; }
    location / { return 200 "main:root"; }
    location /images/ { return 200 "main:images";
      location ~ \.png$ { return 200 "main:images-png"; } }
    location ^~ /static/ { return 200 "main:static-noregex"; }
    location ~* \.(gif|jpe?g)$ { return 200 "main:image-regex"; }
    location ~ ^/api/v[0-9]+/ { return 200 "main:api-version"; }
    location /api/ { return 200 "main:api";
      location /api/admin/ { return 200 "main:api-admin"; }
      location ~ /users$ { return 200 "main:api-users"; } }
    location = /exact { return 200 "main:exact"; }
    location /exact { return 200 "main:exact-prefix"; }
    location /documents/ { return 200 "main:documents"; }
    location ~ /documents/.*\.pdf$ { return 200 "main:pdf"; }
    location ~ \.php$ { return 200 "main:php-first"; }
    location ~ /x\.php$ { return 200 "main:php-second"; }
    location /CaSe/ { return 200 "main:case-prefix"; } }
  server { listen 127.0.0.1:PORT; server_name *.example.com;
    location / { return 200 "lead-wild:root"; } }
  server { listen 127.0.0.1:PORT; server_name *.sub.example.com;
    location / { return 200 "lead-wild-longer:root"; } }
  server { listen 127.0.0.1:PORT; server_name .example.org;
    location / { return 200 "dot-wild:root"; } }
  server { listen 127.0.0.1:PORT; server_name www.example.*;
    location / { return 200 "trail-wild:root"; } }
  server { listen 127.0.0.1:PORT; server_name ~^api[0-9]+\.example\.net$;
    location / { return 200 "regex-name:root"; } }
  server { listen 127.0.0.1:PORT; server_name ~^(www|api)\.;
    location / { return 200 "regex-name-2:root"; } }
"#;

const HOSTS: &[&str] = &[
    "example.com",
    "EXAMPLE.com",
    "www.example.com",
    "example.com.",
    "example.com:8080",
    "a.example.com",
    "b.sub.example.com",
    "example.org",
    "x.example.org",
    "www.example.net",
    "www.example.co.uk",
    "api7.example.net",
    "api.example.net",
    "unknown.test",
    "first.test",
    "default.test",
    "api.other",
];

const URIS: &[&str] = &[
    "/",
    "/index.html",
    "/images/",
    "/images/a.png",
    "/images/a.gif",
    "/images/a.PNG",
    "/static/a.gif",
    "/static/../images/b.png",
    "/a.JPG",
    "/a.jpeg",
    "/api/",
    "/api/v2/users",
    "/api/admin/x",
    "/api/admin/users",
    "/api/x/users",
    "/api",
    "/exact",
    "/exact/",
    "/exactly",
    "/documents/a.pdf",
    "/documents/a.txt",
    "/x.php",
    "/y/x.php",
    "/a.php",
    "/case/",
    "/CaSe/a",
    "/a//b/../images/c.png",
    "/%61pi/admin/",
    "/images/%2e%2e/static/x",
    "/./api/v1/",
];

#[test]
fn server_and_location_selection_match_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    let conf = format!(
        "pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; {}\n\
           {}\n}}\n",
        temp_paths(dir.path()),
        SERVERS.replace("PORT", &port.to_string())
    );
    let _nginx = support::start(dir.path(), "nginx", &conf, port, NGINX);
    let path = dir.path().join("nginx.conf");

    let config =
        nginx_conf::model::load(&path.to_string_lossy()).expect("our model loads the file");
    let http = config.http.expect("http block");
    let routes: Vec<ServerRoutes> = http
        .servers
        .iter()
        .map(|s| ServerRoutes::new(s).unwrap())
        .collect();
    let candidates: Vec<usize> = (0..http.servers.len()).collect();
    let default = http
        .servers
        .iter()
        .position(|s| s.listen.iter().any(|l| l.default_server))
        .unwrap_or(0);

    let mut differences = Vec::new();
    let mut checked = 0;
    for host in HOSTS {
        for target in URIS {
            let out = Command::new("curl")
                .args([
                    "-sS",
                    "--path-as-is",
                    "--max-time",
                    "5",
                    "-o",
                    "-",
                    "-w",
                    "|%{http_code}",
                    "-H",
                ])
                .arg(format!("Host: {host}"))
                .arg(format!("http://127.0.0.1:{port}{target}"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (body, code) = text.rsplit_once('|').unwrap_or(("", "curl failed"));
            let theirs = if code == "200" {
                body.to_owned()
            } else {
                code.to_owned()
            };
            let ours = match uri::normalize(uri::split(target).0) {
                Err(_) => "400".to_owned(),
                Ok(normalized) => {
                    let server = select_server(&routes, &candidates, default, host);
                    let path = routes[server].location(normalized.as_bytes());
                    let script =
                        location_at(&http.servers[server], &path).map(|l| l.script.as_slice());
                    match script.and_then(|s| match s.first() {
                        Some(Op::Return(r)) => Some(r),
                        _ => None,
                    }) {
                        Some(r) => r.text.clone().unwrap_or_default(),
                        None => "404".to_owned(),
                    }
                }
            };
            checked += 1;
            if ours != theirs {
                differences.push(format!(
                    "Host {host} {target}: nginx {theirs:?}, ours {ours:?}"
                ));
            }
        }
    }
    assert_eq!(checked, HOSTS.len() * URIS.len());
    assert!(
        differences.is_empty(),
        "{} of {checked} differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
