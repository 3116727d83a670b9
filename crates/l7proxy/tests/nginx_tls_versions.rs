//! Differential: `ssl_protocols` and the TLS versions clients get. rustls
//! has no TLSv1 or TLSv1.1; nginx 1.22 on OpenSSL 3 names them but cannot
//! complete them at OpenSSL's default security level. For each of five
//! ports (TLSv1.2 only; `TLSv1 TLSv1.1 TLSv1.2`; `TLSv1 TLSv1.1` alone;
//! no `ssl_protocols`, which is `TLSv1 TLSv1.1 TLSv1.2` in 1.22; Debian
//! 12's `TLSv1 TLSv1.1 TLSv1.2 TLSv1.3`), `openssl s_client` limited to
//! one version or to a range (`-min_protocol`) must get the same outcome
//! from both: the protocol negotiated, or the alert that refuses it (70
//! protocol_version, 80 internal_error).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

mod support;
use support::{free_port, require_nginx, Proc, NGINX, OURS};

const PROTOCOLS: [&str; 5] = [
    "ssl_protocols TLSv1.2;",
    "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;",
    "ssl_protocols TLSv1 TLSv1.1;",
    "",
    // Debian 12's /etc/nginx/nginx.conf.
    "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;",
];

fn start(dir: &Path, name: &str, ports: &[u16], program: &str) -> Proc {
    let d = dir.display();
    let mut servers = String::new();
    for (p, protocols) in ports.iter().zip(PROTOCOLS) {
        let _ = writeln!(
            servers,
            "server {{ listen 127.0.0.1:{p} ssl; {protocols} location / {{ return 200 \"{p}\"; }} }}"
        );
    }
    let conf = format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; {temp}\n\
           ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
           {servers} }}\n",
        temp = support::temp_paths(dir),
    );
    support::start(dir, name, &conf, ports[0], program)
}

/// The negotiated protocol or the alert, as `openssl s_client -VERSION`
/// sees it.
fn outcome(port: u16, version: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(version)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if let Some(at) = text.find("alert number ") {
        return text[at..]
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
    }
    // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"
    text.lines()
        .find_map(|l| l.strip_prefix("New, ")?.split_once(", Cipher is "))
        .filter(|(_, cipher)| *cipher != "(NONE)")
        .map_or_else(
            || "no handshake".to_owned(),
            |(p, _)| format!("negotiated {p}"),
        )
}

#[test]
fn tls_versions_are_refused_and_negotiated_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
    let theirs: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let ours: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let _n = start(dir.path(), "nginx", &theirs, NGINX);
    let _o = start(dir.path(), "ours", &ours, OURS);
    let mut diffs = Vec::new();
    let mut seen = Vec::new();
    for (i, protocols) in PROTOCOLS.iter().enumerate() {
        // One version each, then ranges (supported_versions lists them).
        let clients: [&[&str]; 6] = [
            &["-tls1"],
            &["-tls1_1"],
            &["-tls1_2"],
            &["-tls1_3"],
            &["-min_protocol", "TLSv1.2"],
            &["-min_protocol", "TLSv1"],
        ];
        for version in clients {
            let (t, o) = (outcome(theirs[i], version), outcome(ours[i], version));
            if t != o {
                diffs.push(format!("{protocols:?} {version:?}: nginx {t}, ours {o}"));
            }
            seen.push(o);
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // The cases tell the outcomes apart.
    for expected in [
        "negotiated TLSv1.2",
        "negotiated TLSv1.3",
        "alert number 70",
        "alert number 80",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} never seen: {seen:?}"
        );
    }
    // Debian's line serves requests (over TLSv1.2, as above).
    let out = Command::new("curl")
        .args(["-sSk", "-w", "|%{http_code}"])
        .arg(format!("https://127.0.0.1:{}/", ours[1]))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}|200", ours[1])
    );
    // The note at startup, for the files that name TLSv1 or TLSv1.1.
    let log = std::fs::read_to_string(dir.path().join("ours.log")).unwrap();
    let notes: Vec<&str> = log.lines().filter(|l| l.contains("[warn]")).collect();
    assert_eq!(notes.len(), 3, "{log}");
    assert!(
        notes[0].contains(&format!(
            "TLSv1 and TLSv1.1 in \"ssl_protocols\" are not offered on 127.0.0.1:{} (this build implements TLSv1.2 and TLSv1.3 only)",
            ours[1]
        )),
        "{log}"
    );
    assert!(notes[1].contains("no TLS handshake can succeed"), "{log}");
    assert!(
        notes[2].contains(&format!("are not offered on 127.0.0.1:{} ", ours[4])),
        "{log}"
    );
}
