//! Differential: `auth_basic` and `auth_basic_user_file` (at the server
//! and location levels, `off`, a realm with variables, a file relative to
//! the configuration's directory, a missing file) and `satisfy all|any`
//! with `allow`/`deny`, for clients on three loopback addresses and every
//! kind of password hash nginx checks on Debian (its own `{PLAIN}`,
//! `{SHA}`, `{SSHA}`, `$apr1$`, and crypt(3)'s `$1$`, `$5$`, `$6$`,
//! `$2b$`, `$2y$`): the same answers (401 with `WWW-Authenticate`, 403,
//! 200 from the backend) and the same error lines as nginx 1.22's.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

/// Users and their hashes, all of the password "secret" (made with
/// `openssl passwd -apr1/-1/-5/-6`, Python's hashlib and the bcrypt crate).
const USERS: &str = "\
# comment:{PLAIN}secret\n\
alice:{PLAIN}secret\n\
bob:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/:Bob's comment\n\
carl:$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1\r\n\
dan:$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.\n\
eve:$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.\n\
fay:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n\
gus:{SSHA}rOH4Ni2bfZFrBH+QQDIDHa2ELcdzYWx0eSE=\n\
hal:$2b$04$KBCwKxOzLha2MUDgW0PjXe/hE/UCO9qF89dOydoHjSwxcHev5LRn.\n\
ivy:$2y$04$KBCwKxOzLha2MUDgW0PjXe/hE/UCO9qF89dOydoHjSwxcHev5LRn.\n\
alice:{PLAIN}second-line-not-read\n";

fn conf(dir: &Path, name: &str, port: u16, be: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           server {{ listen 127.0.0.1:{port};\n\
             auth_basic \"Zone \\\"one\\\"\"; auth_basic_user_file {d}/users;\n\
             location / {{ proxy_pass http://127.0.0.1:{be}; }}\n\
             location /off/ {{ auth_basic off; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /rel/ {{ auth_basic_user_file users; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /missing/ {{ auth_basic_user_file {d}/none; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /var/ {{ auth_basic \"realm $arg_r\"; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /d/ {{ deny 127.0.0.3; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /any/ {{ satisfy any; allow 127.0.0.2; deny all;\n\
               proxy_pass http://127.0.0.1:{be}; }}\n\
             location /anyd/ {{ satisfy any; deny 127.0.0.3; proxy_pass http://127.0.0.1:{be}; }}\n\
             location /anyoff/ {{ satisfy any; auth_basic off; deny 127.0.0.3;\n\
               proxy_pass http://127.0.0.1:{be}; }}\n\
             location /ret/ {{ return 200 \"rewrite phase first\"; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

/// A GET of `path` from `source` with `authorization` (if any), answered
/// and closed.
fn fetch(port: u16, source: &str, path: &str, authorization: Option<&str>) -> (String, String) {
    let mut s = support::connect_from(source, port);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    raw::split(&out)
}

fn basic(user_password: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("Basic {}", b64.encode(user_password))
}

#[test]
fn auth_basic_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users"), USERS).unwrap();
    let be = raw::tcp_backend();
    let mut credentials: Vec<Option<String>> = vec![None];
    for user in [
        "alice", "bob", "carl", "dan", "eve", "fay", "gus", "hal", "ivy",
    ] {
        credentials.push(Some(basic(&format!("{user}:secret"))));
    }
    for other in [
        "alice:Secret",
        "bob:secreT",
        "hal:secrets",
        "zoe:secret",
        "comment:secret",
        "# comment:secret",
        "alice:second-line-not-read",
        "alice",
    ] {
        credentials.push(Some(basic(other)));
    }
    for raw_value in [
        "Basic !!!",
        "Bearer YWxpY2U6c2VjcmV0",
        "basic   YWxpY2U6c2VjcmV0",
        "Basic ",
    ] {
        credentials.push(Some(raw_value.to_owned()));
    }
    let mut cases = Vec::new();
    for path in [
        "/x",
        "/off/",
        "/rel/",
        "/missing/",
        "/var/?r=a%22b",
        "/ret/",
    ] {
        for c in &credentials {
            cases.push(("127.0.0.1", path, c.clone()));
        }
    }
    let alice = Some(basic("alice:secret"));
    let wrong = Some(basic("alice:wrong"));
    for path in ["/d/", "/any/", "/anyd/", "/anyoff/"] {
        for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
            for c in [None, alice.clone(), wrong.clone()] {
                cases.push((source, path, c));
            }
        }
    }
    let mut answers = Vec::new();
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
        for (source, path, c) in &cases {
            let (head, body) = fetch(port, source, path, c.as_deref());
            got.push((head, body.replace(&port.to_string(), "PORT")));
        }
        answers.push(got);
        drop(proc);
        let lines: Vec<String> = raw::messages(&dir.path().join(format!("{name}-error.log")), "")
            .into_iter()
            .filter(|l| {
                [
                    "authentication",
                    "password",
                    "was not found",
                    "open()",
                    "forbidden",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
            .map(|l| l.replace(&port.to_string(), "PORT"))
            .collect();
        logs.push(lines);
    }
    answers[0].iter_mut().for_each(raw::as_ours);
    // nginx's own answers show the module at work.
    let status = |i: usize| answers[0][i].0.lines().next().unwrap_or("").to_owned();
    let n = credentials.len();
    assert!(status(0).contains(" 401 "), "{}", status(0));
    for (i, _) in credentials.iter().enumerate().take(10).skip(1) {
        assert!(status(i).contains(" 200 "), "hash {i}: {}", status(i));
    }
    assert!(status(10).contains(" 401 "), "{}", status(10));
    assert!(status(n).contains(" 200 "), "off: {}", status(n));
    assert!(
        status(3 * n + 1).contains(" 403 "),
        "missing file: {}",
        status(3 * n + 1)
    );
    assert!(answers[0][0]
        .0
        .contains("WWW-Authenticate: Basic realm=\"Zone \"one\"\""));
    let differ = support::differences(&answers[0], &answers[1], |i| {
        format!("request {i} {:?}", cases[i])
    });
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(logs[0].len() >= 60, "{:#?}", logs[0]);
    assert_eq!(logs[0], logs[1]);
}

#[test]
fn bad_satisfy_is_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "satisfy some;",
        "satisfy;",
        "auth_basic;",
        "auth_basic_user_file a b;",
    ] {
        support::refused_in_http(dir.path(), bad);
    }
    let ok = support::checked_in_http(dir.path(), "satisfy ANY;");
    assert_eq!(ok, (Some(0), None));
}
