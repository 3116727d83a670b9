//! Differential: the TLS certificate chosen by the client's SNI name.
//! nginx 1.22 and l7proxy run the same file with several servers on one
//! `listen … ssl` port, each with its own self-signed certificate (one
//! without any); `openssl s_client` with each name, an unknown name and no
//! name must be served the same certificate subject by both.

use std::path::Path;
use std::process::{Command, Stdio};

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn certificate(dir: &Path, name: &str) {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.pem")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
}

fn conf(dir: &Path, name: &str, port: u16) -> String {
    let d = dir.display();
    let cert = |c: &str| format!("ssl_certificate {d}/{c}.pem; ssl_certificate_key {d}/{c}.key;");
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.err;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; {temp}\n\
           server {{ listen 127.0.0.1:{port} ssl; server_name a.test; {a}\n\
             return 200 a; }}\n\
           server {{ listen 127.0.0.1:{port} ssl default_server; server_name *.b.test; {b}\n\
             return 200 b; }}\n\
           server {{ listen 127.0.0.1:{port} ssl; server_name ~^re[0-9]+\\.test$ c.test.*; {c}\n\
             return 200 c; }}\n\
           server {{ listen 127.0.0.1:{port} ssl; server_name d.test; return 200 d; }} }}\n",
        temp = temp_paths(dir),
        a = cert("a"),
        b = cert("b"),
        c = cert("c"),
    )
}

/// The subject of the certificate served for `sni` (none: no SNI).
fn subject(port: u16, sni: Option<&str>) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"));
    match sni {
        Some(n) => cmd.args(["-servername", n]),
        None => cmd.arg("-noservername"),
    };
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("openssl s_client");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("subject="))
        .map_or_else(|| "no certificate".to_owned(), |s| s.trim().to_owned())
}

#[test]
fn sni_chooses_the_certificate_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for c in ["a", "b", "c"] {
        certificate(dir.path(), c);
    }
    let (np, lp) = (free_port(), free_port());
    let d = dir.path();
    let _n = support::start(d, "nginx", &conf(d, "nginx", np), np, NGINX);
    let _o = support::start(d, "ours", &conf(d, "ours", lp), lp, OURS);
    let names = [
        Some("a.test"),
        Some("A.Test"),
        Some("x.b.test"),
        Some("re42.test"),
        Some("c.test.example"),
        Some("d.test"),
        Some("unknown.test"),
        None,
    ];
    let mut diffs = Vec::new();
    let mut seen = Vec::new();
    for sni in names {
        let (theirs, ours) = (subject(np, sni), subject(lp, sni));
        if theirs != ours {
            diffs.push(format!("{sni:?}: nginx {theirs:?}, ours {ours:?}"));
        }
        seen.push(theirs);
    }
    // The case must tell the certificates apart at all.
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "nginx served {seen:?}");
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
