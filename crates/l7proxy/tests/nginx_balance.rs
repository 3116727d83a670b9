//! Differential: the same upstream block in the real nginx (Debian's
//! nginx-light 1.22) and in our balancer must choose the same backends in
//! the same order, for each method, from chosen client addresses and keys.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::Command;

use l7proxy::balance::{Input, Method, PeerConfig, Upstream};

mod support;
use support::{backend, free_port, require_nginx, temp_paths, Proc, NGINX};

/// nginx serving `upstream u { BODY }` behind `location /`.
struct Nginx {
    port: u16,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

/// Starts nginx with `upstream u { BODY }` behind `location /`.
fn nginx(upstream_body: &str) -> Nginx {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    let conf = format!(
        "worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; {}\n\
           upstream u {{ {upstream_body} }}\n\
           server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://u; }} }}\n\
         }}\n",
        temp_paths(dir.path())
    );
    let proc = support::start(dir.path(), "nginx", &conf, port, NGINX);
    Nginx {
        port,
        _proc: proc,
        _dir: dir,
    }
}

/// One request through nginx from `source` (a loopback address) with
/// `?k=KEY`; returns the backend's name.
fn request(n: &Nginx, source: IpAddr, key: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--interface", &source.to_string()])
        .arg(format!("http://127.0.0.1:{}/?k={key}", n.port))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What a case sends: per request, the client address and the key.
type Requests = Vec<(IpAddr, String)>;

struct Case {
    method_line: &'static str,
    method: Method,
    /// (weight, extra parameters like `down`/`backup`, is_dead)
    servers: Vec<(u32, &'static str, bool)>,
    requests: Requests,
}

fn same_client(n: usize) -> Requests {
    (0..n)
        .map(|i| (IpAddr::from([127, 0, 0, 1]), format!("k{i}")))
        .collect()
}

fn many_clients(n: u8) -> Requests {
    (0..n)
        .map(|i| (IpAddr::from([127, 1 + i / 7, 3 * i, 1]), String::new()))
        .collect()
}

fn run(case: &Case) {
    let mut lines = String::new();
    let mut primary = Vec::new();
    let mut backup = Vec::new();
    let mut names = Vec::new();
    let mut dead = Vec::new();
    for (i, &(weight, extra, is_dead)) in case.servers.iter().enumerate() {
        let name = format!("b{i}");
        let port = if is_dead { free_port() } else { backend(&name) };
        let server = format!("127.0.0.1:{port}");
        let _ = write!(lines, "server {server} weight={weight} {extra}; ");
        let peer = PeerConfig {
            weight,
            down: extra.contains("down"),
            ..PeerConfig::new(&server)
        };
        if extra.contains("backup") {
            backup.push(peer);
        } else {
            primary.push(peer);
        }
        names.push((extra.contains("backup"), name));
        dead.push(is_dead);
    }
    let n = nginx(&format!("{} {lines}", case.method_line));
    let theirs: Vec<String> = case
        .requests
        .iter()
        .map(|(src, key)| request(&n, *src, key))
        .collect();

    let mut upstream = Upstream::new(case.method.clone(), primary, backup);
    let name_of = |backup: bool, index: usize| {
        names
            .iter()
            .enumerate()
            .filter(|(_, (b, _))| *b == backup)
            .nth(index)
            .map(|(i, (_, n))| (i, n.clone()))
    };
    let ours: Vec<String> = case
        .requests
        .iter()
        .map(|(src, key)| {
            let input = match case.method {
                Method::IpHash => Input::Client(*src),
                Method::Hash | Method::HashConsistent => Input::Key(key.as_bytes()),
                _ => Input::None,
            };
            let mut attempt = upstream.start(input);
            // proxy_next_upstream error: a refused connection moves on.
            loop {
                let Some(pick) = upstream.next(&mut attempt, 0) else {
                    return "502".into();
                };
                let (i, name) = name_of(pick.backup, pick.index).unwrap();
                upstream.release(&attempt, dead[i], 0);
                if !dead[i] {
                    return name;
                }
            }
        })
        .collect();
    assert_eq!(
        ours, theirs,
        "{}: backends chosen (ours vs nginx) differ",
        case.method_line
    );
}

#[test]
fn round_robin_weighted_sequences_match_nginx() {
    run(&Case {
        method_line: "",
        method: Method::RoundRobin,
        servers: vec![(5, "", false), (1, "", false), (1, "", false)],
        requests: same_client(21),
    });
    run(&Case {
        method_line: "",
        method: Method::RoundRobin,
        servers: vec![
            (4, "", false),
            (3, "", false),
            (2, "", false),
            (1, "", false),
        ],
        requests: same_client(30),
    });
}

#[test]
fn least_conn_matches_nginx() {
    run(&Case {
        method_line: "least_conn;",
        method: Method::LeastConn,
        servers: vec![(2, "", false), (1, "", false), (3, "", false)],
        requests: same_client(24),
    });
}

#[test]
fn ip_hash_matches_nginx_for_many_clients() {
    run(&Case {
        method_line: "ip_hash;",
        method: Method::IpHash,
        servers: vec![
            (1, "", false),
            (2, "", false),
            (1, "", false),
            (1, "", false),
        ],
        requests: many_clients(40),
    });
}

#[test]
fn ip_hash_rehashes_past_a_down_server_like_nginx() {
    run(&Case {
        method_line: "ip_hash;",
        method: Method::IpHash,
        servers: vec![(1, "", false), (1, "down", false), (2, "", false)],
        requests: many_clients(40),
    });
}

#[test]
fn hash_key_matches_nginx() {
    run(&Case {
        method_line: "hash $arg_k;",
        method: Method::Hash,
        servers: vec![
            (1, "", false),
            (1, "", false),
            (2, "", false),
            (1, "", false),
        ],
        requests: same_client(40),
    });
}

#[test]
fn consistent_hash_matches_nginx() {
    run(&Case {
        method_line: "hash $arg_k consistent;",
        method: Method::HashConsistent,
        servers: vec![
            (1, "", false),
            (1, "", false),
            (1, "", false),
            (2, "", false),
        ],
        requests: same_client(40),
    });
}

#[test]
fn backup_servers_take_over_when_primaries_are_down() {
    run(&Case {
        method_line: "",
        method: Method::RoundRobin,
        servers: vec![
            (1, "down", false),
            (2, "backup", false),
            (1, "backup", false),
        ],
        requests: same_client(9),
    });
}

#[test]
fn a_refusing_server_is_retried_elsewhere_then_avoided_like_nginx() {
    run(&Case {
        method_line: "",
        method: Method::RoundRobin,
        servers: vec![(1, "", false), (2, "", true), (1, "", false)],
        requests: same_client(12),
    });
}

#[test]
fn hash_falls_over_a_refusing_server_like_nginx() {
    run(&Case {
        method_line: "hash $arg_k;",
        method: Method::Hash,
        servers: vec![(1, "", false), (1, "", true), (1, "", false)],
        requests: same_client(30),
    });
}
