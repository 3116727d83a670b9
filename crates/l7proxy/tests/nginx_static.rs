//! Differential: static files (`root`, `alias`, `index`, `types`,
//! `default_type`, Debian's `mime.types`): 200 heads with ETag and
//! Last-Modified, HEAD, 304 on `If-Modified-Since` / `If-None-Match`, 301
//! to a directory's slash form, 403 for a directory without index, 404 and
//! 405, with nginx's error lines; `Range` (one range, several as
//! multipart, 416, `If-Range`); the same answers from nginx 1.22 and
//! from l7proxy. `try_files` (location and server), `internal`.

use std::path::Path;
use std::time::{Duration, SystemTime};

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

/// The document tree, with a fixed time on `a.txt`.
fn tree(www: &Path) {
    for d in ["dir", "noidx", "sub", "t", "two", "v.test"] {
        std::fs::create_dir_all(www.join(d)).unwrap();
    }
    for (f, text) in [
        ("a.txt", "hello\n"),
        ("s.css", "css\n"),
        ("noext", "data\n"),
        ("UP.HTML", "<b>up</b>\n"),
        ("empty.txt", ""),
        ("dir/index.html", "<p>i</p>\n"),
        ("sub/f.html", "alias\n"),
        ("t/a.txt", "typed\n"),
        ("v.test/a.txt", "v\n"),
        ("t/raw", "raw\n"),
        ("two/second.html", "second\n"),
    ] {
        std::fs::write(www.join(f), text).unwrap();
    }
    // Opened without blocking, refused as not a regular file.
    nix::unistd::mkfifo(&www.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Several of our 64 KiB pieces.
    let big: String = (0..300_000u32)
        .map(|i| char::from(b'a' + u8::try_from(i % 26).unwrap()))
        .collect();
    std::fs::write(www.join("big.txt"), big).unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045); // Fri, 02 Jan 2026 03:04:05 GMT
    std::fs::File::options()
        .write(true)
        .open(www.join("a.txt"))
        .unwrap()
        .set_modified(at)
        .unwrap();
}

fn conf(dir: &Path, name: &str, port: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log error;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} include /etc/nginx/mime.types;\n\
           log_format t '$status \"$uri\" \"$request\"'; access_log {d}/{name}-access.log t;\n\
           default_type application/octet-stream;\n\
           server {{ listen 127.0.0.1:{port}; server_name s.test; root {d}/www;\n\
             location /al/ {{ alias {d}/www/sub/; }}\n\
             location /t/ {{ types {{ text/x-t txt; }} default_type text/y; }}\n\
             location /two/ {{ index a.html second.html; }}\n\
             location /ah/ {{ alias {d}/www/; add_header X-A b; }} }}\n\
           server {{ listen 127.0.0.1:{port}; server_name v.test w.test; root {d}/www/$host; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name r.test;\n\
             location / {{ root {d}/www/sub; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn get(method: &str, host: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

/// `GET /a.txt` with `Range: RANGE` and `extra` headers.
fn range(range: &str, extra: &str) -> Vec<u8> {
    get(
        "GET",
        "s.test",
        "/a.txt",
        &format!("Range: {range}\r\n{extra}"),
    )
}

#[test]
fn static_files_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    tree(&dir.path().join("www"));
    let s = |path: &str| get("GET", "s.test", path, "");
    let requests: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a file", s("/a.txt"), "200"),
        ("HEAD", get("HEAD", "s.test", "/a.txt", ""), "200"),
        (
            "If-Modified-Since, exact",
            get(
                "GET",
                "s.test",
                "/a.txt",
                "If-Modified-Since: Fri, 02 Jan 2026 03:04:05 GMT\r\n",
            ),
            "304",
        ),
        (
            "If-Modified-Since, other",
            get(
                "GET",
                "s.test",
                "/a.txt",
                "If-Modified-Since: Fri, 02 Jan 2026 03:04:06 GMT\r\n",
            ),
            "200",
        ),
        (
            "If-None-Match",
            get(
                "GET",
                "s.test",
                "/a.txt",
                "If-None-Match: \"695735a5-6\"\r\n",
            ),
            "304",
        ),
        ("arguments", s("/a.txt?x=1"), "200"),
        ("css by mime.types", s("/s.css"), "200"),
        ("default_type", s("/noext"), "200"),
        ("upper-case extension", s("/UP.HTML"), "200"),
        ("empty file", s("/empty.txt"), "200"),
        ("missing", s("/missing"), "404"),
        ("a FIFO", s("/fifo"), "404"),
        ("upper-case name", s("/A.TXT"), "404"),
        ("a file as a directory", s("/a.txt/x"), "404"),
        ("directory", s("/dir"), "301"),
        ("directory with arguments", s("/dir?a=b"), "301"),
        ("index", s("/dir/"), "200"),
        ("no index", s("/noidx/"), "403"),
        ("index of a missing directory", s("/nodir/"), "404"),
        ("index under a file", s("/a.txt/"), "404"),
        ("second index", s("/two/"), "200"),
        ("alias", s("/al/f.html"), "200"),
        ("alias directory", s("/al/"), "403"),
        ("location types", s("/t/a.txt"), "200"),
        ("location default_type", s("/t/raw"), "200"),
        ("location without index", s("/t/"), "403"),
        ("dot segments", s("/dir/../a.txt"), "200"),
        ("encoded", s("/%61.txt"), "200"),
        ("above the root", s("/../a.txt"), "400"),
        (
            "POST a file",
            get("POST", "s.test", "/a.txt", "Content-Length: 3\r\n"),
            "405",
        ),
        (
            "POST missing",
            get("POST", "s.test", "/missing", "Content-Length: 0\r\n"),
            "404",
        ),
        (
            "DELETE missing",
            get("DELETE", "s.test", "/missing", ""),
            "405",
        ),
        ("DELETE index", get("DELETE", "s.test", "/dir/", ""), "405"),
        ("location root", get("GET", "r.test", "/f.html", ""), "200"),
        ("root with $host", get("GET", "v.test", "/a.txt", ""), "200"),
        (
            "root with $host, missing",
            get("GET", "w.test", "/a.txt", ""),
            "404",
        ),
        ("add_header", s("/ah/a.txt"), "200"),
        (
            "add_header, a range",
            get("GET", "s.test", "/ah/a.txt", "Range: bytes=1-2\r\n"),
            "206",
        ),
        ("range", range("bytes=1-3", ""), "206"),
        ("range from", range("bytes=2-", ""), "206"),
        ("range suffix", range("bytes=-2", ""), "206"),
        ("range past the end", range("bytes=0-100", ""), "206"),
        ("range with spaces", range("bytes= 1-2", ""), "206"),
        ("two ranges", range("bytes=0-1,3-4", ""), "206"),
        ("ranges over the size", range("bytes=0-5,0-5", ""), "200"),
        ("unsatisfiable range", range("bytes=10-20", ""), "416"),
        ("bad range", range("bytes=x", ""), "416"),
        ("reversed range", range("bytes=3-1", ""), "416"),
        ("other unit", range("items=1-2", ""), "200"),
        (
            "If-Range, same ETag",
            range("bytes=1-2", "If-Range: \"695735a5-6\"\r\n"),
            "206",
        ),
        (
            "If-Range, other ETag",
            range("bytes=1-2", "If-Range: \"x\"\r\n"),
            "200",
        ),
        (
            "If-Range, same date",
            range("bytes=1-2", "If-Range: Fri, 02 Jan 2026 03:04:05 GMT\r\n"),
            "206",
        ),
        (
            "HEAD with a range",
            get("HEAD", "s.test", "/a.txt", "Range: bytes=1-2\r\n"),
            "206",
        ),
        ("a large file", s("/big.txt"), "200"),
        (
            "two ranges of a large file",
            get(
                "GET",
                "s.test",
                "/big.txt",
                "Range: bytes=0-70000,200000-\r\n",
            ),
            "206",
        ),
        (
            "a range across pieces",
            get("GET", "s.test", "/big.txt", "Range: bytes=65000-140000\r\n"),
            "206",
        ),
        (
            "range of an empty file",
            get("GET", "s.test", "/empty.txt", "Range: bytes=0-2\r\n"),
            "200",
        ),
    ];
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    let mut access = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port),
            port,
            program,
        );
        let got: Vec<_> = requests
            .iter()
            .map(|(_, r, _)| {
                let mut r = r.clone();
                if r.ends_with(b"Content-Length: 3\r\nConnection: close\r\n\r\n") {
                    r.extend_from_slice(b"abc");
                }
                let mut a = raw::split(&raw::exchange(port, &r));
                // Each runs on its own port.
                a.0 = a.0.replace(&format!(":{port}/"), ":PORT/");
                a
            })
            .collect();
        answers.push(got);
        drop(proc);
        logs.push(raw::messages(
            &dir.path().join(format!("{name}-error.log")),
            "request:",
        ));
        let path = dir.path().join(format!("{name}-access.log"));
        access.push(std::fs::read_to_string(path).unwrap());
    }
    let (nginx, ours) = answers.split_at_mut(1);
    raw::assert_answers(
        requests.iter().map(|(case, _, status)| (*case, *status)),
        &mut nginx[0],
        &ours[0],
    );
    assert!(logs[0].len() >= 8, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
    // `$uri` after an index redirect is the index file's.
    let index = "200 \"/dir/index.html\" \"GET /dir/ HTTP/1.1\"";
    assert!(access[0].contains(index), "{}", access[0]);
    assert_eq!(access[0], access[1]);
}

fn try_conf(dir: &Path, name: &str, port: u16, backend: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log error;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off; include /etc/nginx/mime.types;\n\
           server {{ listen 127.0.0.1:{port}; server_name t.test; root {d}/www;\n\
             location /tf/ {{ try_files $uri $uri/ =404; }}\n\
             location /app/ {{ try_files $uri @app; }}\n\
             location @app {{ proxy_pass http://127.0.0.1:{backend}; }}\n\
             location /up/ {{ try_files $uri /api$uri; }}\n\
             location /api/ {{ proxy_pass http://127.0.0.1:{backend}; }}\n\
             location /st/ {{ try_files $uri /tf/a.txt; }}\n\
             location /pi/ {{ index x.php; }}\n\
             location /int/ {{ internal; proxy_pass http://127.0.0.1:{backend}; }}\n\
             location ~ \\.php$ {{ proxy_pass http://127.0.0.1:{backend}; }} }}\n\
           server {{ listen 127.0.0.1:{port}; server_name i.test; root {d}/www;\n\
             try_files $uri /tf/a.txt; error_page 404 /err.html;\n\
             location = /tf/a.txt {{ internal; }}\n\
             location = /err.html {{ internal; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

#[test]
fn try_files_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    for d in ["tf/dir", "app", "pi"] {
        std::fs::create_dir_all(www.join(d)).unwrap();
    }
    for (f, text) in [
        ("tf/a.txt", "tf\n"),
        ("err.html", "<p>e</p>\n"),
        ("tf/dir/index.html", "<p>tf</p>\n"),
        ("app/a.txt", "app\n"),
        ("pi/x.php", "<?php\n"),
    ] {
        std::fs::write(www.join(f), text).unwrap();
    }
    let backend = raw::tcp_backend();
    let t = |path: &str| get("GET", "t.test", path, "");
    let mut post = get("POST", "t.test", "/app/p", "Content-Length: 4\r\n");
    post.extend_from_slice(b"body");
    let requests: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a file", t("/tf/a.txt"), "200"),
        ("a directory matches $uri", t("/tf/dir"), "301"),
        ("a directory's index", t("/tf/dir/"), "200"),
        ("=404", t("/tf/none"), "404"),
        ("file before @named", t("/app/a.txt"), "200"),
        ("@named proxied", t("/app/x?q=1"), "200"),
        ("POST to @named", post, "200"),
        ("URI fallback proxied", t("/up/x%20y?q=1"), "200"),
        ("URI fallback, a file", t("/st/x"), "200"),
        ("index to a proxied location", t("/pi/"), "200"),
        ("internal", get("GET", "i.test", "/tf/a.txt", ""), "404"),
        (
            "internal error page",
            get("GET", "i.test", "/err.html", ""),
            "404",
        ),
        (
            "server try_files",
            get("GET", "i.test", "/missing", ""),
            "200",
        ),
        ("internal proxied", t("/int/x"), "404"),
        (
            "server try_files, a file",
            get("GET", "i.test", "/app/a.txt", ""),
            "200",
        ),
    ];
    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let conf = try_conf(dir.path(), name, port, backend);
        let proc = support::start(dir.path(), name, &conf, port, program);
        let got: Vec<_> = requests
            .iter()
            .map(|(_, r, _)| {
                let mut a = raw::split(&raw::exchange(port, r));
                a.0 = a.0.replace(&format!(":{port}/"), ":PORT/");
                a.1 = a.1.replace(&format!(":{port}\r\n"), ":PORT\r\n");
                a
            })
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
    assert_eq!(logs[0], logs[1]);
}

/// nginx's "off-by-slash" alias (`location /sub { alias …/sub/; }`):
/// `/sub../a.txt` names `…/sub/../a.txt`, which nginx serves from
/// outside the alias; l7proxy refuses it with 404 (a documented
/// difference).
#[test]
fn an_alias_does_not_lead_outside() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("a.txt"), "outside\n").unwrap();
    std::fs::write(www.join("sub/f.html"), "inside\n").unwrap();
    let d = dir.path().display();
    let mut got = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let conf = format!(
            "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log error;\n\
             events {{ worker_connections 64; }}\n\
             http {{ {temp} access_log off;\n\
               server {{ listen 127.0.0.1:{port}; location /sub {{ alias {d}/www/sub/; }} }} }}\n",
            temp = temp_paths(dir.path()),
        );
        let proc = support::start(dir.path(), name, &conf, port, program);
        let ask = |path: &str| raw::split(&raw::exchange(port, &get("GET", "a.test", path, ""))).0;
        got.push((ask("/sub/f.html"), ask("/sub../a.txt")));
        drop(proc);
    }
    assert!(got[0].0.starts_with("HTTP/1.1 200 ") && got[1].0.starts_with("HTTP/1.1 200 "));
    assert!(got[0].1.starts_with("HTTP/1.1 200 "), "nginx: {}", got[0].1);
    assert!(got[1].1.starts_with("HTTP/1.1 404 "), "ours: {}", got[1].1);
    let log = std::fs::read_to_string(dir.path().join("ours-error.log")).unwrap();
    assert!(
        log.contains("leads outside the root or alias, refused"),
        "{log}"
    );
}
