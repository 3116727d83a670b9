//! Differential: the rewrite module (`rewrite` with each flag and none,
//! `return`, `set`, `break`, `if` with each kind of condition) at the
//! server and location levels, against nginx 1.22 on the same file: the
//! same answers, the same requests at the backend (the URI sent after a
//! rewrite, escaped; arguments kept, replaced or dropped), the same
//! error line for a rewrite cycle, and nginx's `-t` errors.

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, be: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           upstream pool {{ server 127.0.0.1:{be}; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name rw.test;\n\
             rewrite ^/old/(.*)$ /a/$1;\n\
             if ($http_x_block = yes) {{ return 403; }}\n\
             location /a/ {{ rewrite ^/a/(.*)$ /b/$1 break; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /a2/ {{ rewrite ^/a2/(.*)$ /b/$1 break; proxy_pass http://127.0.0.1:{be}/base/; }}\n\
             location /a3/ {{ rewrite ^/a3/(.*)$ /c/$1 last; }}\n\
             location /c/ {{ proxy_pass http://127.0.0.1:{be}/z/; }}\n\
             location /a4/ {{ rewrite ^ /new?k=v break; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /a5/ {{ rewrite ^ /new? break; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /a6/ {{ if ($http_x = y) {{ return 403; }} if ($http_x) {{ set $a 1; }}\n\
               proxy_pass http://127.0.0.1:{be}; proxy_set_header X-A $a; }}\n\
             location /r/ {{ rewrite ^/r/(.*) http://example.com/$1; }}\n\
             location /p/ {{ rewrite ^/p/(.*) /q/$1 permanent; }}\n\
             location /d/ {{ rewrite ^/d/(.*)$ /dd/$1 redirect; }}\n\
             location /l/ {{ rewrite ^ /l/ last; }}\n\
             location /n/ {{ rewrite ^/n/(.*)$ /c/$1; return 200 \"after $uri\"; }}\n\
             location /m/ {{ set $v \"m-$uri\"; rewrite ^/m/(.*)$ /mm/$1 break;\n\
               proxy_pass http://127.0.0.1:{be}; proxy_set_header X-V $v;\n\
               proxy_set_header X-U $uri; proxy_set_header X-1 $1; }}\n\
             location /f/ {{ if (-f {d}/exists) {{ return 200 file; }}\n\
               if (!-d {d}/nodir) {{ return 200 \"no dir\"; }} return 200 other; }}\n\
             location /g/ {{ if ($uri ~* ^/g/(?<word>[a-z]+)$) {{ return 200 \"word=$word\"; }}\n\
               if ($uri !~ ^/g/[0-9]) {{ return 200 \"not a digit\"; }} return 404; }}\n\
             location /s/ {{ set $target pool; proxy_pass http://$target; }}\n\
             location /e/ {{ proxy_pass http://127.0.0.1:{be}/z/; }}\n\
             location /k/ {{ if ($args ~ ^k=(.*)) {{ rewrite ^ /kk/$1? break; }}\n\
               proxy_pass http://127.0.0.1:{be}; }}\n\
             location /o/ {{ return 200 first; return 200 second; }}\n\
             location /b/ {{ set $x 1; break; return 200 unreached; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: rw.test\r\n{headers}Connection: close\r\n\r\n")
}

#[test]
fn the_rewrite_module_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exists"), "x").unwrap();
    let be = raw::tcp_backend();
    let requests: Vec<String> = [
        ("/old/x?q=1", ""),
        ("/a/x?q=1", ""),
        ("/a/x%20y%3F%22?z", ""),
        ("/a/x", "X-Block: yes\r\n"),
        ("/a2/x?q=1", ""),
        ("/a3/x?q=1", ""),
        ("/a4/x?q=1", ""),
        ("/a4/x", ""),
        ("/a5/x?q=1", ""),
        ("/a6/x", "X: z\r\n"),
        ("/a6/x", "X: y\r\n"),
        ("/a6/x", ""),
        ("/r/x?q=1", ""),
        ("/p/x?q=1", ""),
        ("/d/x", ""),
        ("/l/x", ""),
        ("/n/x", ""),
        ("/m/x?q=2", ""),
        ("/f/", ""),
        ("/g/Hello", ""),
        ("/g/x1", ""),
        ("/g/1", ""),
        ("/s/x?y", ""),
        ("/e/x%20y%23", ""),
        ("/k/?k=val", ""),
        ("/k/?j=1", ""),
        ("/o/", ""),
        ("/b/", ""),
    ]
    .iter()
    .map(|(p, h)| get(p, h))
    .collect();
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let conf = conf(dir.path(), name, port, be);
        let proc = support::start(dir.path(), name, &conf, port, program);
        // Absolute redirects name the front's own port.
        let got: Vec<_> = requests
            .iter()
            .map(|r| raw::split(&raw::exchange(port, r.as_bytes())))
            .map(|(h, b)| (h.replace(&format!(":{port}/"), ":PORT/"), b))
            .collect();
        answers.push(got);
        drop(proc);
        logs.push(raw::messages(
            &dir.path().join(format!("{name}-error.log")),
            "cycle",
        ));
    }
    answers[0].iter_mut().for_each(raw::as_ours);
    let nginx = &answers[0];
    // The checks can fail: nginx's answers show the rewrites at work.
    for (i, want) in [
        (0, "GET /b/x?q=1 HTTP/1.0\r\n"),
        (2, "GET /b/x%20y%3F%22?z HTTP/1.0\r\n"),
        (4, "GET /b/x?q=1 HTTP/1.0\r\n"),
        (5, "GET /z/x?q=1 HTTP/1.0\r\n"),
        (6, "GET /new?k=v&q=1 HTTP/1.0\r\n"),
        (8, "GET /new HTTP/1.0\r\n"),
        (9, "X-A: 1\r\n"),
        (17, "X-V: m-/m/x\r\nX-U: /mm/x\r\nX-1: x\r\n"),
        (23, "GET /z/x%20y%23 HTTP/1.0\r\n"),
        // `$1` is the rewrite's own (empty) capture; `?` drops the arguments.
        (24, "GET /kk/ HTTP/1.0\r\n"),
    ] {
        assert!(
            nginx[i].1.starts_with(want) || nginx[i].1.contains(want),
            "{i}: {want:?} in {:?}",
            nginx[i]
        );
    }
    assert!(
        nginx[12]
            .0
            .contains("\r\nLocation: http://example.com/x?q=1"),
        "{:?}",
        nginx[12]
    );
    assert!(nginx[15].0.starts_with("HTTP/1.1 500 "), "{:?}", nginx[15]);
    assert_eq!(nginx[26].1, "first");
    let differ = support::differences(nginx, &answers[1], |i| {
        format!("request {i} {:?}", requests[i])
    });
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(logs[0].len(), 1, "{:?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn malformed_rewrite_directives_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for directive in [
        "rewrite ^/a /b foo;",
        "set a 1;",
        "set $host 1;",
        "if ($a == b) { }",
        "if (a) { }",
        "if ($a = b c) { }",
        "if (-q /x) { }",
    ] {
        let conf = format!(
            "events {{}} http {{ {}\nserver {{ listen 127.0.0.1:1;\n{directive}\n}} }}\n",
            temp_paths(dir.path())
        );
        support::refused_alike(dir.path(), &conf);
    }
}
