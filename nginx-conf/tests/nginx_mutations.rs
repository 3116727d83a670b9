//! `check` against `nginx -t` on mutated configs: a valid base config with one
//! to three tricky tokens inserted at pseudo-random places (fixed seed, so the
//! cases are the same on every run). Every answer must be nginx's.
//!
//! Left out of the token set, because `check` does not model them: variable
//! names (nginx rejects unknown `$x`).

use std::process::Command;

const BASE: &str = "events {}
http {
    default_type text/plain;
    gzip on;
    upstream u { server 192.0.2.9; }
    server {
        listen 127.0.0.1:8080;
        server_name a.example;
        add_header X-A \"v\";
        location /x {
            root /srv;
            index i.html;
        }
    }
}
";

const TOKENS: &[&str] = &[
    "\"",
    "'",
    "\\",
    "#",
    "{",
    "}",
    ";",
    "a\"b\"",
    "\"a\"b",
    "\n",
    " ",
    "\"q q\"",
    "'s;s'",
    "\\\"",
    "x}",
    ")",
    "(",
    "\\\n",
    "on",
    "off",
    "maybe",
    "\t",
    "\r\n",
    "server {}",
    "listen 8081;",
    "return 200;",
    "proxy_pass http://u;",
    "include /dev/null;",
    "location /z {}",
    "=",
    "~",
    "@n",
    "backup",
    "weight=0",
    "ip_hash;",
    "keepalive 2;",
    "root /a;",
    "location = /x {}",
    "location /x {}",
    "location ~ /r { location /n {} }",
    "upstream v {}",
    "hash $remote_addr;",
    "default_server",
    ".1",
    ":80",
    "unix:",
    "[::1]",
    "location @n {}",
];

/// A small linear congruential generator: deterministic, no dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).unwrap_or(0)
    }
}

fn nginx(path: &str, prefix: &str) -> Option<String> {
    let out = Command::new("nginx")
        .args(["-t", "-q", "-p", prefix, "-c", path])
        .output()
        .expect("cannot run nginx; the test set-up installs nginx-light");
    if out.status.success() {
        return None;
    }
    Some(emerg_message(&String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn mutated_configs_agree_with_nginx() {
    let dir = std::env::temp_dir().join(format!("nginx-conf-mutations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("{}/", dir.display());
    let mut rng = Lcg(0x006e_6769_6e78);
    let mut mismatches = Vec::new();
    let cases = 400;
    for n in 0..cases {
        let mut text = BASE.to_owned();
        for _ in 0..=rng.below(3) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, TOKENS[rng.below(TOKENS.len())]);
        }
        let path = dir.join(format!("m{n}.conf")).display().to_string();
        std::fs::write(&path, &text).unwrap();
        let theirs = nginx(&path, &prefix);
        let ours = nginx_conf::check(&path).err().map(|e| e.to_string());
        if theirs != ours {
            mismatches.push(format!(
                "{path}\n  nginx -t: {theirs:?}\n  check:    {ours:?}\n{text}"
            ));
        }
    }
    if mismatches.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The text of nginx's first `[emerg]` message (which may span lines, when a
/// directive name contains a newline), without the time stamp and process id.
fn emerg_message(stderr: &str) -> String {
    let start = stderr.find("[emerg]").unwrap_or(0);
    let rest = &stderr[start..];
    let rest = rest.split_once(": ").map_or(rest, |(_, m)| m);
    let end = rest
        .find("\nnginx: configuration file")
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('\n').to_owned()
}
