//! Differential: `gzip on` against nginx 1.22 on the same file: which
//! responses are compressed (types, `gzip_min_length`, status, an
//! upstream's own encoding, our own error pages; a HEAD's head) for which requests
//! (`Accept-Encoding` with and without `q=0`, HTTP/1.0, `Via` and
//! `gzip_proxied`), and the heads (`Content-Encoding` last, no length,
//! chunked, weak `ETag`, no `Accept-Ranges`, `Vary`). The compressed
//! bytes differ (zlib against miniz): bodies are compared decompressed.

use std::io::{Read, Write};
use std::path::Path;

mod support;
use support::{free_port, require_nginx, spawn_backend, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, be: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off; gzip on;\n\
           server {{ listen 127.0.0.1:{port};\n\
             location / {{ proxy_pass http://127.0.0.1:{be}; }}\n\
             location /t/ {{ gzip_types application/json; gzip_min_length 100;\n\
               proxy_pass http://127.0.0.1:{be}/; }}\n\
             location /off/ {{ gzip off; proxy_pass http://127.0.0.1:{be}/; }}\n\
             location /v/ {{ gzip_vary on; gzip_proxied any; proxy_pass http://127.0.0.1:{be}/; }}\n\
             location /nf/ {{ return 404; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

/// Answers by path: the status, type, extra headers and body length.
fn backend() -> u16 {
    spawn_backend(500, |mut s| {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        let req = String::from_utf8_lossy(&buf[..n]);
        let path = req.split(' ').nth(1).unwrap_or("/").to_owned();
        let (status, ctype, extra, len) = match path.as_str() {
            "/small" => ("200 OK", "text/html", "", 10),
            "/json" => ("200 OK", "application/json", "", 1000),
            "/json-short" => ("200 OK", "application/json", "", 50),
            "/enc" => ("200 OK", "text/html", "Content-Encoding: br\r\n", 1000),
            "/404" => ("404 Not Found", "text/html; charset=utf-8", "", 500),
            "/500" => ("500 Internal Server Error", "text/html", "", 500),
            _ => (
                "200 OK",
                "text/html",
                "ETag: \"e1\"\r\nAccept-Ranges: bytes\r\nX-After: 1\r\n",
                1000,
            ),
        };
        let body: String = "abcdefg".chars().cycle().take(len).collect();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{extra}Content-Length: {len}\r\n\
             Connection: close\r\n\r\n"
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
    })
}

/// The head (Server and Date masked) and the body, de-chunked and
/// decompressed as its head says.
fn decode(raw: &[u8]) -> (String, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let head: String = String::from_utf8_lossy(&raw[..end])
        .lines()
        .map(|l| {
            let low = l.to_ascii_lowercase();
            if low.starts_with("server:") {
                "Server: S".to_owned()
            } else if low.starts_with("date:") {
                "Date: D".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let low = head.to_ascii_lowercase();
    let mut body = raw[end.min(raw.len())..].to_vec();
    if low.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..p]).unwrap_or("0").trim(), 16)
                    .unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[p + 2..p + 2 + size]);
            rest = &rest[p + 2 + size + 2..];
        }
        body = out;
    }
    if low.contains("content-encoding: gzip") && !body.is_empty() {
        let mut out = Vec::new();
        if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out) {
            panic!("{e}: {head}\n{body:?}");
        }
        body = out;
    }
    (head, body)
}

fn request(method: &str, path: &str, version: &str, headers: &str) -> String {
    format!("{method} {path} {version}\r\nHost: g\r\n{headers}Connection: close\r\n\r\n")
}

#[test]
fn gzip_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let be = backend();
    let gz = "Accept-Encoding: gzip, deflate\r\n";
    let cases: Vec<(&str, &str, &str, String)> = vec![
        ("GET", "/page", "HTTP/1.1", gz.to_owned()),
        ("GET", "/page", "HTTP/1.1", String::new()),
        (
            "GET",
            "/page",
            "HTTP/1.1",
            "Accept-Encoding: gzip;q=0\r\n".to_owned(),
        ),
        ("GET", "/page", "HTTP/1.0", gz.to_owned()),
        (
            "GET",
            "/page",
            "HTTP/1.1",
            format!("{gz}Via: 1.1 cache\r\n"),
        ),
        ("HEAD", "/page", "HTTP/1.1", gz.to_owned()),
        ("GET", "/small", "HTTP/1.1", gz.to_owned()),
        ("GET", "/json", "HTTP/1.1", gz.to_owned()),
        ("GET", "/enc", "HTTP/1.1", gz.to_owned()),
        ("GET", "/404", "HTTP/1.1", gz.to_owned()),
        ("GET", "/500", "HTTP/1.1", gz.to_owned()),
        ("GET", "/t/json", "HTTP/1.1", gz.to_owned()),
        ("GET", "/t/json-short", "HTTP/1.1", gz.to_owned()),
        ("GET", "/off/page", "HTTP/1.1", gz.to_owned()),
        (
            "GET",
            "/v/page",
            "HTTP/1.1",
            format!("{gz}Via: 1.1 cache\r\n"),
        ),
        ("GET", "/v/page", "HTTP/1.1", String::new()),
        ("GET", "/v/small", "HTTP/1.1", gz.to_owned()),
        ("GET", "/nf/x", "HTTP/1.1", gz.to_owned()),
    ];
    let mut answers = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, be),
            port,
            program,
        );
        let got: Vec<_> = cases
            .iter()
            .map(|(m, p, v, h)| {
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                s.write_all(request(m, p, v, h).as_bytes()).unwrap();
                let mut raw = Vec::new();
                let _ = s.read_to_end(&mut raw);
                let (mut head, body) = decode(&raw);
                // hyper answers an HTTP/1.0 request with HTTP/1.0 (a
                // documented difference).
                if *v == "HTTP/1.0" {
                    head = head.replacen("HTTP/1.0 ", "HTTP/1.1 ", 1);
                }
                // Our error pages name us (a documented difference).
                let body = String::from_utf8_lossy(&body).replace("nginx/1.22.1", "l7proxy");
                (head, body)
            })
            .collect();
        answers.push(got);
        drop(proc);
    }
    let nginx = &answers[0];
    let compressed = |i: usize| nginx[i].0.contains("Content-Encoding: gzip");
    // The checks can fail: nginx's own choices.
    assert!(
        compressed(0) && !compressed(1) && !compressed(2) && !compressed(3),
        "{nginx:#?}"
    );
    // HEAD: nginx's head says gzip (its gzip filter runs first).
    assert!(
        !compressed(4) && compressed(5) && !compressed(6) && !compressed(7),
        "{nginx:#?}"
    );
    assert!(
        compressed(9) && !compressed(10) && compressed(11) && !compressed(12),
        "{nginx:#?}"
    );
    assert!(compressed(14) && compressed(17), "{nginx:#?}");
    assert!(nginx[0].0.contains("ETag: W/\"e1\""), "{:?}", nginx[0]);
    assert!(
        nginx[15].0.contains("Vary: Accept-Encoding"),
        "{:?}",
        nginx[15]
    );
    let differ = support::differences(nginx, &answers[1], |i| format!("case {i} {:?}", cases[i]));
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
