//! Differential: `limit_rate` and `limit_rate_after` (server and location
//! levels, `0` for none) on static files and proxied bodies: the same
//! bytes, taking the same time as with nginx 1.22 (within 0.6 s; nginx
//! paces by whole seconds since the request began, then pauses n/rate
//! after each write of n bytes). Bad sizes are refused as nginx does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, origin: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www; limit_rate 16k;\n\
             location /after/ {{ limit_rate_after 32k; alias {d}/www/; }}\n\
             location /p/ {{ proxy_pass http://127.0.0.1:{origin}/; }}\n\
             location /none/ {{ limit_rate 0; alias {d}/www/; }}\n\
             location /fast/ {{ limit_rate 64k; alias {d}/www/; }} }}\n\
           server {{ listen 127.0.0.1:{origin}; root {d}/www; limit_rate 0; }} }}\n",
        temp = temp_paths(dir),
    )
}

/// GET `path`: the body's length and the seconds until the end.
fn timed_get(port: u16, path: &str) -> (usize, f64) {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let head = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |p| p + 4);
    (out.len() - head, start.elapsed().as_secs_f64())
}

#[test]
fn limit_rate_paces_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/64k"), vec![b'x'; 65536]).unwrap();
    std::fs::write(dir.path().join("www/20k"), vec![b'y'; 20000]).unwrap();
    let paths = [
        "/64k",
        "/20k",
        "/after/64k",
        "/p/64k",
        "/none/64k",
        "/fast/64k",
    ];
    let mut servers = Vec::new();
    let mut procs = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let (port, origin) = (free_port(), free_port());
        let text = conf(dir.path(), name, port, origin);
        procs.push(support::start(dir.path(), name, &text, port, program));
        servers.push(port);
    }
    // Every request at once: each is paced on its own.
    let results: Vec<Vec<(usize, f64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = servers
            .iter()
            .map(|&port| {
                paths
                    .iter()
                    .map(|p| s.spawn(move || timed_get(port, p)))
                    .collect::<Vec<_>>()
            })
            .collect();
        handles
            .into_iter()
            .map(|hs| hs.into_iter().map(|h| h.join().unwrap()).collect())
            .collect()
    });
    drop(procs);
    let (nginx, ours) = (&results[0], &results[1]);
    // nginx's own figures: 64 KB at 16 KB/s take about 4 s, 32 KB of them
    // free take about 2 s, no limit takes none.
    let expect = [
        (65536, 3.5, 4.6),
        (20000, 0.7, 1.6),
        (65536, 1.5, 2.6),
        (65536, 3.5, 4.6),
    ];
    for (i, (len, lo, hi)) in expect.iter().enumerate() {
        let (n, t) = nginx[i];
        assert!(
            n == *len && (*lo..*hi).contains(&t),
            "nginx {}: {n} bytes in {t:.2} s",
            paths[i]
        );
    }
    assert!(nginx[4].1 < 0.5, "nginx /none/: {:.2} s", nginx[4].1);
    let mut differ = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let ((nl, nt), (ol, ot)) = (nginx[i], ours[i]);
        if nl != ol || (nt - ot).abs() > 0.6 {
            differ.push(format!(
                "{path}: nginx {nl} bytes in {nt:.2} s, ours {ol} in {ot:.2} s"
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn bad_sizes_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "limit_rate 1x;",
        "limit_rate -1;",
        "limit_rate_after 1g;",
        "limit_rate;",
    ] {
        support::refused_in_http(dir.path(), bad);
    }
    let ok = support::checked_in_http(dir.path(), "limit_rate 10K; limit_rate_after 1M;");
    assert_eq!(ok, (Some(0), None));
}
