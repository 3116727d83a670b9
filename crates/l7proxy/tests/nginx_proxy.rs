//! Differential: nginx 1.22 and l7proxy run the same configuration file
//! (only the listening port differs) in front of the same echo backends;
//! for a corpus of requests the backend must see the same request line and
//! headers (names compared case-insensitively: hyper writes Title-Case) and
//! the client the same status and body.

use std::path::Path;
use std::process::Command;

mod support;
use support::{backend, free_port, require_nginx, Proc, NGINX, OURS};

const CONF: &str = r#"
worker_processes 1;
pid DIR/NAME.pid;
error_log DIR/NAME-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path DIR/cb; proxy_temp_path DIR/pt; fastcgi_temp_path DIR/ft; uwsgi_temp_path DIR/ut; scgi_temp_path DIR/st;
  upstream app { server 127.0.0.1:B1; server 127.0.0.1:B2; }
  upstream solo { server 127.0.0.1:B1; }
  upstream dead { server 127.0.0.1:DEAD; }
  upstream half { server 127.0.0.1:DEAD; server 127.0.0.1:B2; }
  server {
    listen 127.0.0.1:PORT;
    location / { proxy_pass http://solo; }
    location /echo/ { proxy_pass http://solo; }
    location /rewrite/ { proxy_pass http://solo/echo/new/; }
    location = /exact { proxy_pass http://solo/echo/exact-target; }
    location /headers/ {
      proxy_pass http://solo/echo/;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Arg $arg_a;
      proxy_set_header Accept "";
    }
    location /v11/ { proxy_pass http://solo/echo/; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /url/ { proxy_pass http://127.0.0.1:B2/echo/; }
    location /dead/ { proxy_pass http://dead; }
    location /half/ { proxy_pass http://half/echo/; }
    location /ret { return 200 "returned"; }
    location /gone { return 410; }
  }
}
"#;

/// The ports of one front and of the shared backends.
struct Ports {
    front: u16,
    b1: u16,
    b2: u16,
    dead: u16,
}

fn start(dir: &Path, name: &str, ports: &Ports, program: &str) -> Proc {
    let conf = support::fill(
        CONF,
        &[
            ("DIR", &dir.display().to_string()),
            ("NAME", name),
            ("PORT", &ports.front.to_string()),
            ("B1", &ports.b1.to_string()),
            ("B2", &ports.b2.to_string()),
            ("DEAD", &ports.dead.to_string()),
        ],
    );
    support::start(dir, name, &conf, ports.front, program)
}

/// (status, body) of a curl request with extra arguments.
fn fetch(port: u16, target: &str, extra: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-o", "-", "-w", "\n|%{http_code}"])
        .args(extra)
        .arg(format!("http://127.0.0.1:{port}{target}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once("\n|").unwrap_or((&text, "?"));
    (code.to_owned(), body.to_owned())
}

/// The echo body with header names lower-cased (values untouched), and the
/// ports of the two fronts replaced by PORT.
fn canonical(body: &str, ports: [u16; 2]) -> String {
    let mut out = String::new();
    for line in body.split("\r\n") {
        let line = match line.split_once(": ") {
            Some((n, v)) if !line.starts_with("GET ") && !line.starts_with("POST ") => {
                format!("{}: {v}", n.to_ascii_lowercase())
            }
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push_str("\r\n");
    }
    for p in ports {
        out = out.replace(&p.to_string(), "PORT");
    }
    out
}

#[test]
fn backends_see_the_same_requests_and_clients_the_same_answers() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let (b1, b2, dead) = (backend("b1"), backend("b2"), free_port());
    let (np, lp) = (free_port(), free_port());
    let nginx_ports = Ports {
        front: np,
        b1,
        b2,
        dead,
    };
    let our_ports = Ports {
        front: lp,
        b1,
        b2,
        dead,
    };
    let _nginx = start(dir.path(), "nginx", &nginx_ports, NGINX);
    let _ours = start(dir.path(), "ours", &our_ports, OURS);
    let cases: &[(&str, &[&str])] = &[
        ("/echo/a?b=1&c=2", &[]),
        (
            "/echo/x",
            &[
                "-H",
                "X-Custom: v1",
                "-H",
                "Keep-Alive: 300",
                "-H",
                "TE: trailers",
                "-H",
                "Upgrade: h2c",
            ],
        ),
        ("/echo/%7Euser/a%20b", &[]),
        ("/echo/a//b/../c", &["--path-as-is"]),
        ("/rewrite/tail/x?q=1", &[]),
        ("/exact?z=9", &[]),
        (
            "/headers/p?a=42",
            &[
                "-H",
                "X-Forwarded-For: 203.0.113.5",
                "-H",
                "Host: front.example",
            ],
        ),
        ("/v11/keep", &[]),
        ("/url/u", &[]),
        (
            "/echo/post",
            &["-X", "POST", "--data-binary", "hello=world"],
        ),
        ("/echo/put", &["-X", "PUT", "--data-binary", ""]),
        ("/echo/head", &["-I"]),
        ("/dead/x", &[]),
        ("/half/h", &[]),
        ("/ret", &[]),
        ("/gone", &[]),
        ("/echo/../../etc", &["--path-as-is"]),
    ];
    let mut diffs = Vec::new();
    for (target, extra) in cases {
        let (ns, nb) = fetch(np, target, extra);
        let (ls, lb) = fetch(lp, target, extra);
        let (nb, lb) = if nb.starts_with("HTTP/1.1") {
            // A head: our name and the instant may differ, nothing else.
            let norm = |h: &str| {
                h.lines()
                    .map(|l| {
                        if l.starts_with("Server: ") {
                            "Server: X"
                        } else if l.starts_with("Date: ") {
                            "Date: X"
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (norm(&nb), norm(&lb))
        } else if ns == "200" && nb.starts_with('b') {
            (canonical(&nb, [np, lp]), canonical(&lb, [np, lp]))
        } else if ns == "200" || ls == "200" {
            (nb, lb)
        } else {
            (String::new(), String::new()) // error pages differ in their signature line
        };
        if ns != ls || nb != lb {
            diffs.push(format!(
                "{target} {extra:?}:\n  nginx {ns}: {nb:?}\n  ours  {ls}: {lb:?}"
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} differ:\n{}",
        diffs.len(),
        cases.len(),
        diffs.join("\n")
    );
}

/// A value holding another placeholder stays as it is (a temporary
/// directory named `.tmpLuBEpA` broke the start of nginx in CI).
#[test]
fn placeholders_are_filled_in_one_pass() {
    let filled = support::fill(
        "pid DIR/NAME.pid; listen BE; TEMPX",
        &[
            ("DIR", "/tmp/.tmpLuBEpA"),
            ("NAME", "nginx"),
            ("BE", "40101"),
            ("TEMP", "t"),
            ("TEMPX", "longest"),
        ],
    );
    assert_eq!(
        filled,
        "pid /tmp/.tmpLuBEpA/nginx.pid; listen 40101; longest"
    );
}
