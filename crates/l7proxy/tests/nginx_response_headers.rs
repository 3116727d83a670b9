//! Differential: the response-side directives `add_header` (levels,
//! statuses, `always`, variables, empty values, `ETag`/`Last-Modified`
//! replaced), `proxy_redirect` (`default` with and without a URI part,
//! `off`, prefix rules with variables, regular expressions with captures;
//! `Location` and `Refresh`), the header filter's absolute redirects
//! (`absolute_redirect`, `server_name_in_redirect`, `port_in_redirect`),
//! and `proxy_hide_header` / `proxy_pass_header`. nginx 1.22 and l7proxy
//! run the same file in front of one backend whose answers the client
//! chooses through request headers; every response (head and body) must
//! be byte for byte the same, with only `Date`'s value, our `Server` name,
//! the listening port and the error pages' signature masked. Each request
//! is sent as a `GET` (our plain HTTP/1 path) and as a `POST` with a body
//! (hyper's path, where header names are compared Title-Cased: hyper
//! writes them so).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod support;
use support::{free_port, require_nginx, temp_paths, Proc, NGINX, OURS};

/// The backend: status, `Location` and `Refresh` from the request's
/// `X-Status`, `X-Loc` and `X-Refresh` headers, a fixed set of others.
fn backend() -> u16 {
    support::spawn_backend(500, serve)
}

fn serve(conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    for _ in 0..100 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let (mut length, mut status, mut loc, mut refresh) = (0, 200u16, None, None);
        loop {
            let mut header = String::new();
            if r.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            let (n, v) = header.trim_end().split_once(':').unwrap_or(("", ""));
            let v = v.trim().to_owned();
            match n.to_ascii_lowercase().as_str() {
                "content-length" => length = v.parse().unwrap_or(0),
                "x-status" => status = v.parse().unwrap_or(200),
                "x-loc" => loc = Some(v),
                "x-refresh" => refresh = Some(v),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let reason = match status {
            201 => "Created",
            204 => "No Content",
            302 => "Found",
            404 => "Not Found",
            _ => "OK",
        };
        let mut a = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nX-Up: 1\r\nLast-Modified: Tue, 02 Jan 2001 00:00:00 GMT\r\nETag: \"e1\"\r\n\
             Server: upstream-srv\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nX-Pad: pad\r\n\
             X-Accel-Charset: utf-8\r\nX-Secret: s\r\n"
        );
        if let Some(l) = loc {
            let _ = write!(a, "Location: {l}\r\n");
        }
        if let Some(r) = refresh {
            let _ = write!(a, "Refresh: {r}\r\n");
        }
        let text = format!("{path} got {} body bytes", body.len());
        if status == 204 {
            a.push_str("X-Tail: t\r\n\r\n");
        } else {
            let _ = write!(
                a,
                "Content-Length: {}\r\nX-Tail: t\r\n\r\n{text}",
                text.len()
            );
        }
        if w.write_all(a.as_bytes()).is_err() {
            return;
        }
    }
}

const CONF: &str = r#"
worker_processes 1;
pid DIR/NAME.pid;
error_log DIR/NAME-error.log;
events { worker_connections 64; }
http {
  access_log off;
  TEMP
  upstream be { server 127.0.0.1:BE; keepalive 4; }
  upstream half { server 127.0.0.1:DEAD; server 127.0.0.1:BE; }
  add_header X-Http "http level";
  server {
    listen 127.0.0.1:PORT;
    server_name a;
    add_header X-Server "srv $host" always;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /add/ {
      proxy_pass http://be;
      add_header X-Added "$status $host $request_uri";
      add_header X-Always yes always;
      add_header X-Empty "$http_x_none";
      add_header Link "<x>";
      add_header X-Up-Addr $upstream_addr;
      add_header X-Proxy-Host $proxy_host always;
      location /add/nested/ { proxy_pass http://be; }
      location /add/own/ { proxy_pass http://be; add_header X-Own o; }
    }
    location /app/ { proxy_pass http://be/back/; }
    location /off/ { proxy_pass http://be; proxy_redirect off; }
    location /custom/ {
      proxy_pass http://be;
      proxy_redirect http://old.example/ http://$host/new/;
      proxy_redirect http://rel.example/ /rel/;
    }
    location /re/ {
      proxy_pass http://be;
      proxy_redirect ~^http://([^/]+)/re/(.*)$ /moved/$2?from=$1;
      proxy_redirect ~*^HTTP://CASE/ http://$host/case/;
    }
    location /hide/ {
      proxy_pass http://be;
      proxy_hide_header X-Secret;
      proxy_pass_header Server;
      proxy_pass_header Date;
      proxy_pass_header X-Accel-Charset;
    }
    location /hide-server-only/ { proxy_pass http://be; proxy_pass_header Server; }
    location /etag/ {
      proxy_pass http://be;
      add_header ETag "\"mine\"";
      add_header Last-Modified "";
      add_header X-After a;
    }
    location /etag-always/ { proxy_pass http://be; add_header ETag "$status" always; }
    location /fail/ {
      proxy_pass http://127.0.0.1:DEAD;
      add_header X-Fail-Always "$status" always;
      add_header X-Fail-Not n;
      add_header X-Fail-Addr $upstream_addr always;
    }
    location /half/ { proxy_pass http://half; add_header X-Tried $upstream_addr; }
    location /ret/ { return 301 /elsewhere; }
    location /ret200/ { return 200 "ok"; add_header X-Ret r; }
  }
  server {
    listen 127.0.0.1:PORT;
    server_name b;
    location / { proxy_pass http://be; }
  }
  server {
    listen 127.0.0.1:PORT;
    server_name C.example alias.example;
    server_name_in_redirect on;
    port_in_redirect off;
    location / { proxy_pass http://be; }
    location /rel/ { proxy_pass http://be; absolute_redirect off; }
    location /ret/ { return 302 /target; }
    location /relret/ { absolute_redirect off; return 302 /target; add_header X-R r; }
  }
  server {
    listen 127.0.0.1:PORT;
    server_name d;
    add_header X-D "d $status" always;
    add_header X-D-Safe n;
    location /only/ { proxy_pass http://be; }
  }
}
"#;

/// (host, target, extra request header lines)
const REQUESTS: &[(&str, &str, &str)] = &[
    ("a", "/plain", ""),
    ("a", "/add/x?q=1", ""),
    ("a", "/add/x", "X-Status: 404\r\n"),
    ("a", "/add/x", "X-Status: 204\r\n"),
    ("a", "/add/x", "X-Status: 201\r\nX-Loc: http://be/made\r\n"),
    ("a", "/add/nested/", ""),
    ("a", "/add/own/", ""),
    (
        "a",
        "/app/x",
        "X-Status: 302\r\nX-Loc: http://be/back/there?z=1\r\n",
    ),
    ("a", "/app/x", "X-Status: 302\r\nX-Loc: http://other/x\r\n"),
    ("a", "/app/x", "X-Status: 302\r\nX-Loc: /relative\r\n"),
    ("a", "/app/x", "X-Refresh: 3; URL=http://be/back/r\r\n"),
    ("a", "/app/x", "X-Refresh: 3\r\n"),
    (
        "a",
        "/z",
        "X-Status: 302\r\nX-Loc: http://be/z\r\nX-Refresh: 0;url=http://be/y\r\n",
    ),
    ("a", "/off/", "X-Status: 302\r\nX-Loc: http://be/z\r\n"),
    (
        "a",
        "/custom/",
        "X-Status: 302\r\nX-Loc: http://old.example/p\r\n",
    ),
    (
        "a",
        "/custom/",
        "X-Status: 302\r\nX-Loc: http://rel.example/q\r\n",
    ),
    ("a", "/re/", "X-Status: 302\r\nX-Loc: http://be/re/abc\r\n"),
    ("a", "/re/", "X-Status: 302\r\nX-Loc: http://case/x\r\n"),
    ("a", "/re/", "X-Refresh: 5; url=http://be/re/r\r\n"),
    ("a", "/re/", "X-Status: 302\r\nX-Loc: http://be/other\r\n"),
    ("a", "/etag/", ""),
    ("a", "/etag/", "X-Status: 404\r\n"),
    ("a", "/etag-always/", "X-Status: 404\r\n"),
    ("a", "/hide/", ""),
    ("a", "/hide-server-only/", ""),
    ("a", "/fail/", ""),
    ("a", "/half/", ""),
    ("a", "/ret/", ""),
    ("a", "/ret200/", ""),
    (
        "alias.example",
        "/",
        "X-Status: 302\r\nX-Loc: http://be/z\r\n",
    ),
    (
        "alias.example",
        "/rel/",
        "X-Status: 302\r\nX-Loc: http://be/z\r\n",
    ),
    ("alias.example", "/ret/", ""),
    ("alias.example", "/relret/", ""),
    ("d", "/elsewhere", ""),
    ("d", "/only/", "X-Status: 404\r\n"),
    ("b", "/", ""),
    ("b", "/", "X-Status: 404\r\n"),
];

/// One request on its own connection (`Connection: close`): the whole
/// response, normalised.
fn fetch(port: u16, post: bool, (host, target, extra): (&str, &str, &str)) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = if post {
        format!("POST {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 1\r\nConnection: close\r\n\r\nx")
    } else {
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
    };
    c.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    let text = String::from_utf8_lossy(&got).replace(&format!(":{port}"), ":PORT");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let page = body.contains("<hr><center>");
    let mut out = String::new();
    for line in head.split("\r\n") {
        // hyper's path writes names Title-Case (docs/l7proxy.md, known
        // differences): on it, names are compared in that form.
        let titled;
        let line = match line.split_once(": ") {
            Some((name, value)) if post => {
                titled = format!("{}: {value}", title_case(name));
                titled.as_str()
            }
            _ => line,
        };
        let l = if line.starts_with("Date: ") && !line.contains("2001") {
            "Date: *"
        } else if line == "Server: nginx/1.22.1" {
            "Server: l7proxy"
        } else if page && line.starts_with("Content-Length: ") {
            "Content-Length: *"
        } else {
            line
        };
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body.replace("<center>nginx/1.22.1</center>", "<center>l7proxy</center>"));
    out
}

/// Every proxied request (no `return`, no error page: those hand the
/// connection to hyper or differ in length) pipelined as `GET`s on one
/// keep-alive connection, the last with `Connection: close`: the whole
/// byte stream, `Date`, `Server` and the port masked line by line.
fn pipelined(port: u16) -> String {
    let proxied = proxied();
    let mut req = String::new();
    for (i, (host, target, extra)) in proxied.iter().enumerate() {
        let close = if i + 1 == proxied.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        let _ = write!(
            req,
            "GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}{close}\r\n"
        );
    }
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    let text = String::from_utf8_lossy(&got).replace(&format!(":{port}"), ":PORT");
    text.split("\r\n")
        .map(|line| {
            if line.starts_with("Date: ") && !line.contains("2001") {
                "Date: *"
            } else if line == "Server: nginx/1.22.1" {
                "Server: l7proxy"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn proxied() -> Vec<&'static (&'static str, &'static str, &'static str)> {
    REQUESTS
        .iter()
        .filter(|(_, t, _)| !["/fail/", "/ret/", "/ret200/", "/relret/", "/elsewhere"].contains(t))
        .collect()
}

/// `x-a-b` → `X-A-B`, as hyper writes names.
fn title_case(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let o = if up {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            up = c == '-';
            o
        })
        .collect()
}

#[test]
fn response_headers_are_added_rewritten_and_hidden_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = backend();
    let dead = free_port();
    let run = |name: &str, program: &str| -> (Proc, u16) {
        let port = free_port();
        let conf = support::fill(
            CONF,
            &[
                ("DIR", &dir.path().display().to_string()),
                ("NAME", name),
                ("TEMP", &temp_paths(dir.path())),
                ("BE", &be.to_string()),
                ("DEAD", &dead.to_string()),
                ("PORT", &port.to_string()),
            ],
        );
        (support::start(dir.path(), name, &conf, port, program), port)
    };
    let (_n, nginx_port) = run("nginx", NGINX);
    let (_o, our_port) = run("ours", OURS);
    let mut differ = Vec::new();
    let mut nginx_all = String::new();
    for post in [false, true] {
        for &r in REQUESTS {
            let n = fetch(nginx_port, post, r);
            let o = fetch(our_port, post, r);
            if n != o {
                differ.push(format!(
                    "{} {r:?}\n--- nginx\n{n}\n--- ours\n{o}",
                    if post { "POST" } else { "GET" }
                ));
            }
            nginx_all.push_str(&n);
        }
    }
    // The oracle did what the cases are about.
    for want in [
        "X-Added: 200 a /add/x?q=1\r\n",
        "Location: http://a:PORT/app/there?z=1\r\n",
        "Refresh: 3; URL=/app/r\r\n",
        "Location: http://a/new/p\r\n",
        "Server: upstream-srv\r\n",
        "X-Fail-Always: 502\r\n",
        "X-D: d 404\r\n",
        "X-Fail-Addr: 127.0.0.1:",
        ", 127.0.0.1:",
        "Location: http://a:PORT/elsewhere\r\n",
        "X-Http: http level\r\n",
        "X-Added: 200 a /add/nested/\r\n",
        "X-Own: o\r\n",
        "Location: http://c.example/z\r\n",
        "X-Secret: s\r\nLocation: /z\r\n",
        "Location: http://c.example/target\r\n",
        "Connection: close\r\nLocation: /target\r\nX-R: r\r\n",
        "ETag: \"mine\"\r\nX-Secret",
        "ETag: 404\r\n",
        "Location: http://a:PORT/moved/abc?from=be\r\n",
        "Location: http://a/case/\r\n",
        "Refresh: 5; url=/moved/r?from=be\r\n",
    ] {
        assert!(nginx_all.contains(want), "nginx lacks {want:?}");
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
    // The same on one keep-alive connection (the plain path throughout).
    let (n, o) = (pipelined(nginx_port), pipelined(our_port));
    assert_eq!(n.matches("HTTP/1.1 ").count(), proxied().len(), "{n}");
    assert!(n.contains("Connection: keep-alive\r\n"), "{n}");
    assert!(n == o, "pipelined:\n--- nginx\n{n}\n--- ours\n{o}");
}
