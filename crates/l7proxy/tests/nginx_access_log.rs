//! Differential: `access_log FILE` (combined) lines of nginx 1.22 and of
//! l7proxy for the same requests, the time field aside; `access_log off`
//! in a location writes nothing for it.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netlab::Topology;

mod support;
use support::{free_port, require_nginx, Proc, NGINX, OURS};

fn start(dir: &Path, name: &str, front: u16, backend: u16, program: &str) -> Proc {
    let d = dir.display();
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{ client_body_temp_path {d}/cb; proxy_temp_path {d}/pt;\n\
           fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
           access_log {d}/{name}-access.log combined;\n\
           upstream be {{ server 127.0.0.1:{backend}; }}\n\
           server {{ listen 127.0.0.1:{front};\n\
             location / {{ proxy_pass http://be; }}\n\
             location /quiet {{ access_log off; return 204; }}\n\
             location /ret {{ return 200 \"hello\"; }} }} }}\n"
    );
    support::start(dir, name, &conf, front, program)
}

/// Log lines with `[time]` replaced.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| match (l.find('['), l.find(']')) {
            (Some(a), Some(b)) if a < b => format!("{}[TIME]{}", &l[..a], &l[b + 1..]),
            _ => l.to_owned(),
        })
        .collect()
}

#[test]
fn combined_log_lines_match_nginx() {
    require_nginx();
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let bport = backend.local_addr().unwrap().port();
    std::thread::spawn(move || netlab::http::serve(&backend, "b1"));
    let dir = tempfile::tempdir().unwrap();
    let (np, lp) = (free_port(), free_port());
    let _n = start(dir.path(), "nginx", np, bport, NGINX);
    let _o = start(dir.path(), "ours", lp, bport, OURS);
    let requests: &[&[&str]] = &[
        &["/echo/a?b=1"],
        &[
            "/ret",
            "-A",
            "agent \"quoted\"",
            "-e",
            "http://ref.example/",
        ],
        &["/quiet"],
        &["/nope/x", "-X", "POST", "--data-binary", "12345"],
        &["/ret", "-I"],
        &["/ret", "--http1.0", "-A", ""],
    ];
    for port in [np, lp] {
        for r in requests {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "--max-time", "5"])
                .args(&r[1..])
                .arg(format!("http://127.0.0.1:{port}{}", r[0]))
                .status()
                .unwrap();
            assert!(out.success());
        }
    }
    let want = requests.len() - 1; // /quiet is not logged
    let logs = Topology::wait_until(Duration::from_secs(3), || {
        lines(&dir.path().join("nginx-access.log")).len() == want
            && lines(&dir.path().join("ours-access.log")).len() == want
    });
    let (theirs, ours) = (
        lines(&dir.path().join("nginx-access.log")),
        lines(&dir.path().join("ours-access.log")),
    );
    assert!(
        logs,
        "line counts: nginx {}, ours {} (want {want})\n{theirs:#?}\n{ours:#?}",
        theirs.len(),
        ours.len()
    );
    // The echo body (and so its length) names the front's port: same length for both.
    assert_eq!(theirs, ours);
}
