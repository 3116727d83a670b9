//! Differential: `limit_req` (a zone per client address and one per
//! header value, `burst`, `nodelay`, delayed requests, `limit_req_status`,
//! `limit_req_dry_run`, empty keys not limited), requests sent faster
//! than the rates: the same statuses as nginx 1.22's in the same order,
//! the same error lines (the excess figures depend on the milliseconds
//! between requests and are masked), a delayed request as late as
//! nginx's; and nginx's `-t` errors.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, be: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;\n\
           limit_req_zone $http_x_key zone=bykey:1m rate=1r/m;\n\
           limit_req_zone $http_x_key zone=fast:1m rate=5r/s;\n\
           server {{ listen 127.0.0.1:{port};\n\
             location /one/ {{ limit_req zone=one; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /burst/ {{ limit_req zone=bykey burst=2 nodelay; limit_req_status 429;\n\
               proxy_pass http://127.0.0.1:{be}; }}\n\
             location /dry/ {{ limit_req zone=bykey; limit_req_dry_run on;\n\
               limit_req_log_level warn; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /delay/ {{ limit_req zone=fast burst=1; proxy_pass http://127.0.0.1:{be}; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

/// The status of `GET path` from `source` with `key` as `X-Key` (a raw
/// request: no process between two of them).
fn status(port: u16, source: &str, path: &str, key: &str) -> String {
    let mut s = support::connect_from(source, port);
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let r = format!("GET {path} HTTP/1.1\r\nHost: l\r\nX-Key: {key}\r\nConnection: close\r\n\r\n");
    s.write_all(r.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .unwrap_or("")
        .to_owned()
}

#[test]
fn limit_req_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = raw::tcp_backend();
    let requests: [(&str, &str, &str); 15] = [
        ("127.0.0.1", "/one/a", ""),
        ("127.0.0.1", "/one/b", ""),
        ("127.0.0.1", "/one/c", ""),
        ("127.0.0.2", "/one/d", ""),
        ("127.0.0.1", "/burst/", "k1"),
        ("127.0.0.1", "/burst/", "k1"),
        ("127.0.0.1", "/burst/", "k1"),
        ("127.0.0.1", "/burst/", "k1"),
        ("127.0.0.1", "/burst/", "k2"),
        ("127.0.0.1", "/burst/", ""),
        ("127.0.0.1", "/burst/", ""),
        ("127.0.0.1", "/dry/", "d1"),
        ("127.0.0.1", "/dry/", "d1"),
        ("127.0.0.1", "/delay/", "x"),
        ("127.0.0.1", "/delay/", "x"),
    ];
    let mut statuses = Vec::new();
    let mut delays = Vec::new();
    let mut logs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, be),
            port,
            program,
        );
        let mut got = Vec::new();
        let mut took = 0.0;
        for (source, path, key) in requests {
            let t0 = Instant::now();
            got.push(status(port, source, path, key));
            took = t0.elapsed().as_secs_f64();
        }
        statuses.push(got);
        delays.push(took);
        drop(proc);
        let lines = raw::messages(&dir.path().join(format!("{name}-error.log")), "ing request");
        logs.push(
            lines
                .iter()
                .map(|l| {
                    let l = l.replace(&port.to_string(), "PORT");
                    let (head, tail) = l.split_once("excess: ").unwrap_or((&l, ""));
                    let tail = tail.split_once([' ', ',']).map_or("", |(_, t)| t);
                    format!("{head}excess: X {tail}")
                })
                .collect::<Vec<_>>(),
        );
    }
    let want = [
        "200", "503", "503", "200", "200", "200", "200", "429", "200", "200", "200", "200", "200",
        "200", "200",
    ];
    assert_eq!(statuses[0], want, "nginx");
    assert_eq!(statuses[1], statuses[0], "ours against nginx");
    // The second request to /delay/, a millisecond after the first, waits
    // about 200 ms (5 r/s) at both.
    for (who, d) in ["nginx", "ours"].iter().zip(&delays) {
        assert!((0.15..0.6).contains(d), "{who}: {delays:?}");
    }
    // rejections (3), the dry-run line (1) and the delay (1)
    assert_eq!(logs[0].len(), 5, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn bad_limit_req_directives_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for directive in [
        "limit_req_zone $binary_remote_addr zone=one:10m rate=1x;",
        "limit_req_zone $binary_remote_addr zone=one rate=1r/s;",
        "limit_req_zone $binary_remote_addr zone=one:1k rate=1r/s;",
        "limit_req_zone $a zone=one:1m rate=1r/s; limit_req_zone $b zone=one:1m rate=1r/s;",
        "limit_req_zone $a zone=one:1m rate=1r/s; limit_req zone=one burst=x;",
        "limit_req_zone $a zone=one:1m rate=1r/s; limit_req zone=one delay=0;",
        "limit_req_zone $a zone=one:1m rate=1r/s; limit_req zone=one foo;",
        "limit_req_status 200;",
        "limit_req_status x;",
        "limit_req_log_level loud;",
    ] {
        let conf = format!(
            "events {{}} http {{ {}\n{directive}\n}}\n",
            temp_paths(dir.path())
        );
        support::refused_alike(dir.path(), &conf);
    }
}
