//! Differential: a request without a Host goes to the server with the
//! empty name (one without `server_name`), not to the default server, as
//! nginx 1.22 does; other unknown names still go to the default.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &std::path::Path, name: &str, port: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.err;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           server {{ listen 127.0.0.1:{port}; server_name a.test; return 200 a; }}\n\
           server {{ listen 127.0.0.1:{port}; return 200 noname; }}\n\
           server {{ listen 127.0.0.1:{port}; server_name b.test; return 200 b; }} }}\n",
        temp = temp_paths(dir)
    )
}

fn body(port: u16, head: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.split(' ').nth(1).unwrap_or("?").to_owned();
    format!("{status} {}", out.rsplit("\r\n\r\n").next().unwrap_or(""))
}

#[test]
fn requests_without_host_choose_the_empty_name() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (np, lp) = (free_port(), free_port());
    let _n = support::start(d, "nginx", &conf(d, "nginx", np), np, NGINX);
    let _o = support::start(d, "ours", &conf(d, "ours", lp), lp, OURS);
    let heads = [
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: b.test\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: zzz.test\r\nConnection: close\r\n\r\n",
    ];
    let theirs: Vec<String> = heads.iter().map(|h| body(np, h)).collect();
    let ours: Vec<String> = heads.iter().map(|h| body(lp, h)).collect();
    assert_eq!(theirs[0], "200 noname", "the oracle: {theirs:?}");
    assert_eq!(theirs, ours);
}
