//! Differential: `error_page` on the errors we answer (a missing file,
//! `return 404`, a dead upstream's 502): to a URI (the location looked up
//! again, POST becoming GET, HEAD staying HEAD), with `=CODE`, with `=`
//! (the target's status), to a named location, to a URL (302, or the
//! `=301` given), inherited from the server; an error of the target is
//! sent as it is (`recursive_error_pages off`). Debian's default
//! `error_page 500 502 503 504 /50x.html` with its `location =
//! /50x.html`. The same answers and error lines from nginx 1.22 and from
//! l7proxy. `proxy_intercept_errors on`: an upstream's 404/500 replaced,
//! its 403 (no rule) passed. A proxied target: a named location (the
//! original target sent, GET), a URI (its own arguments).

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

/// A backend answering each request with the status its path ends
/// with (`/i/404` → 404), a short body and `Connection: close`.
fn status_backend() -> u16 {
    use std::io::{Read, Write};
    support::spawn_backend(200, |mut c| {
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("/");
        let code = path.rsplit('/').next().unwrap_or("200");
        let _ = c.write_all(
            format!(
                "HTTP/1.1 {code} Upstream\r\nContent-Type: text/x-up\r\n\
                 Content-Length: 9\r\nConnection: close\r\n\r\nupstream\n"
            )
            .as_bytes(),
        );
    })
}

fn conf(dir: &Path, name: &str, port: u16, dead: u16, up: u16, echo: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log error;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off; include /etc/nginx/mime.types;\n\
           default_type application/octet-stream;\n\
           server {{ listen 127.0.0.1:{port}; server_name s.test; root {d}/www;\n\
             error_page 404 /err/404.html;\n\
             error_page 500 502 503 504 /50x.html;\n\
             location = /50x.html {{ root {d}/www/err; }}\n\
             location /eq/ {{ error_page 404 = /a.txt; }}\n\
             location /c/ {{ error_page 404 =200 /err/404.html; }}\n\
             location /u/ {{ error_page 404 http://example.test/x; }}\n\
             location /u2/ {{ error_page 404 =301 http://example.test/y; }}\n\
             location /n/ {{ error_page 404 @named; }}\n\
             location @named {{ return 200 \"named\\n\"; }}\n\
             location /m/ {{ error_page 404 /nothere.html; }}\n\
             location /p/ {{ proxy_pass http://127.0.0.1:{dead}; }}\n\
             location /r/ {{ return 404; }}\n\
             location /rt/ {{ return 404 \"text\"; }}\n\
             location /ret/ {{ error_page 404 /ret/x; return 404; }}\n\
             location /f/ {{ error_page 403 404 =410 /a.txt; }}\n\
             location /gone/ {{ error_page 405 /a.txt; }}\n\
             location /i/ {{ proxy_intercept_errors on; proxy_pass http://127.0.0.1:{up}; }}\n\
             location /noi/ {{ proxy_pass http://127.0.0.1:{up}; }}\n\
             location /nb/ {{ error_page 404 = @backend; }}\n\
             location /nb2/ {{ error_page 404 @backend; }}\n\
             location /nu/ {{ error_page 404 /api/fallback?z=1; }}\n\
             location /api/ {{ proxy_pass http://127.0.0.1:{echo}; }}\n\
             location /p2/ {{ proxy_pass http://127.0.0.1:{dead}; error_page 502 = @backend; }}\n\
             location @backend {{ proxy_pass http://127.0.0.1:{echo}; }}\n\
             location /ta/ {{ try_files $uri /tb/missing; error_page 404 /err/404.html; }}\n\
             location /tb/ {{ error_page 404 =200 /a.txt; add_header X-B b; }}\n\
             location /tc/ {{ error_page 404 /td/x; add_header X-C c always; }}\n\
             location /td/ {{ add_header X-D d always; }} }}\n\
           server {{ listen 127.0.0.1:{port}; server_name deb.test; root {d}/www;\n\
             error_page 500 502 503 504 /50x.html;\n\
             location / {{ proxy_pass http://127.0.0.1:{dead}; }}\n\
             location = /50x.html {{ root /usr/share/nginx/html; }} }}\n\
           server {{ listen 127.0.0.1:{port}; server_name f.test; root {d}/www;\n\
             error_page 404 /err/404.html;\n\
             location / {{ proxy_pass http://127.0.0.1:{up}; }}\n\
             location /dead/ {{ proxy_pass http://127.0.0.1:{dead}; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn req(method: &str, host: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

#[test]
fn error_pages_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("err")).unwrap();
    std::fs::create_dir_all(www.join("f/closed")).unwrap();
    std::fs::write(www.join("a.txt"), "hello\n").unwrap();
    std::fs::write(www.join("gone/b.txt"), "b\n").unwrap_or_else(|_| {
        std::fs::create_dir_all(www.join("gone")).unwrap();
        std::fs::write(www.join("gone/b.txt"), "b\n").unwrap();
    });
    std::fs::write(www.join("err/404.html"), "<p>custom 404</p>\n").unwrap();
    std::fs::write(www.join("err/50x.html"), "<p>down</p>\n").unwrap();
    // A port nothing listens on: 502.
    let dead = free_port();
    let up = status_backend();
    let echo = raw::tcp_backend();
    let s = |path: &str| req("GET", "s.test", path, "");
    let mut post_body = req("POST", "s.test", "/p2/y", "Content-Length: 4\r\n");
    post_body.extend_from_slice(b"body");
    let requests: Vec<(&str, Vec<u8>, &str)> = vec![
        ("to a URI", s("/missing"), "404"),
        (
            "POST becomes GET",
            req("POST", "s.test", "/missing", "Content-Length: 0\r\n"),
            "404",
        ),
        (
            "HEAD stays HEAD",
            req("HEAD", "s.test", "/missing", ""),
            "404",
        ),
        ("= takes the target's status", s("/eq/x"), "200"),
        ("=200", s("/c/x"), "200"),
        ("to a URL", s("/u/x"), "302"),
        ("=301 to a URL", s("/u2/x"), "301"),
        ("named location", s("/n/x"), "404"),
        ("a missing target", s("/m/x"), "404"),
        ("502 to 50x.html", s("/p/x"), "502"),
        ("return 404", s("/r/x"), "404"),
        ("return 404 with text", s("/rt/x"), "404"),
        ("no second redirect", s("/ret/x"), "404"),
        ("=410 on 403", s("/f/closed/"), "410"),
        ("405", req("DELETE", "s.test", "/gone/b.txt", ""), "405"),
        ("intercepted 404", s("/i/404"), "404"),
        ("intercepted 500", s("/i/500"), "500"),
        ("no error_page for 403", s("/i/403"), "403"),
        ("intercepted 200", s("/i/200"), "200"),
        ("not intercepted", s("/noi/404"), "404"),
        ("= @backend proxied", s("/nb/x?q=1"), "200"),
        ("@backend proxied, 404 kept", s("/nb2/x"), "404"),
        (
            "POST to @backend",
            req("POST", "s.test", "/nb/y", "Content-Length: 0\r\n"),
            "200",
        ),
        (
            "HEAD to @backend",
            req("HEAD", "s.test", "/nb/z", ""),
            "200",
        ),
        ("a proxied URI", s("/nu/x?q=2"), "404"),
        ("502 to @backend", s("/p2/x"), "200"),
        ("POST 502 to @backend, body again", post_body.clone(), "200"),
        (
            "Debian's default, no 50x.html here",
            req("GET", "deb.test", "/x", ""),
            "404",
        ),
        ("the final location's error_page", s("/ta/x"), "200"),
        ("the target location's add_header", s("/tc/x"), "404"),
        // The plain path: no rule for its own errors, none intercepted.
        (
            "upstream 404 passed",
            req("GET", "f.test", "/404", ""),
            "404",
        ),
        (
            "502 without a rule",
            req("GET", "f.test", "/dead/x", ""),
            "502",
        ),
    ];
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let conf = conf(dir.path(), name, port, dead, up, echo);
        let proc = support::start(dir.path(), name, &conf, port, program);
        let got: Vec<_> = requests
            .iter()
            .map(|(_, r, _)| raw::split(&raw::exchange(port, r)))
            .collect();
        answers.push(got);
        drop(proc);
        logs.push(raw::messages(
            &dir.path().join(format!("{name}-error.log")),
            "request:",
        ));
    }
    let (nginx, ours) = answers.split_at_mut(1);
    raw::assert_answers(
        requests.iter().map(|(case, _, status)| (*case, *status)),
        &mut nginx[0],
        &ours[0],
    );
    assert!(logs[0].len() >= 10, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn a_bad_error_page_is_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for value in [
        "200 /x",
        "404",
        "404 =abc /x",
        "499 /x",
        "abc /x",
        "600 /x",
        "404 =1000 /x",
    ] {
        let conf = format!(
            "events {{}} http {{ {} error_page {value}; }}\n",
            temp_paths(dir.path())
        );
        support::checked_alike(dir.path(), &conf);
    }
}
