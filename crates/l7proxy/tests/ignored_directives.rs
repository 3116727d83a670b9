//! Directives nginx acts on and l7proxy does not are named in warnings
//! (`-t` here; the same notes are logged at start and on a reload), with
//! their file and line; `ssi off` and the directives l7proxy implements
//! are not.

use std::process::Command;

const OURS: &str = env!("CARGO_BIN_EXE_l7proxy");

fn test_output(conf: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let out = Command::new(OURS)
        .arg("-t")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "F");
    (out.status.success(), text)
}

#[test]
fn ignored_directives_are_named_with_their_place() {
    let (ok, text) = test_output(
        "events {}\n\
         http {\n\
             ssi off;\n\
             server { listen 127.0.0.1:18999;\n\
                 autoindex on;\n\
                 location / { if ($http_x = a) { return 403; } rewrite ^/old /new;\n\
                     if ($http_y) { add_header X-Y y; set $a 1; }\n\
                     proxy_pass http://127.0.0.1:1; }\n\
                 location /b { gzip on; ssi on; expires 1h; client_max_body_size 10m; proxy_pass http://127.0.0.1:1; }\n\
             }\n\
         }\n",
    );
    assert!(ok, "the file is valid for nginx -t too: {text}");
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("[warn]")).collect();
    let expected = [
        "\"autoindex\" directive is not supported by l7proxy and is ignored in F:5",
        "\"add_header\" directive inside \"if\" is not supported by l7proxy and is ignored in F:7",
        "\"ssi\" directive is not supported by l7proxy and is ignored in F:9",
        "\"expires\" directive is not supported by l7proxy and is ignored in F:9",
    ];
    assert_eq!(warnings.len(), expected.len(), "{text}");
    for (got, want) in warnings.iter().zip(expected) {
        assert!(got.ends_with(want), "got {got:?}, want …{want}");
    }
}

#[test]
fn a_file_with_only_supported_directives_has_no_warning() {
    let (ok, text) = test_output(
        "events {}\n\
         http { gzip off; upstream u { server 127.0.0.1:1; keepalive 8; }\n\
             server { listen 127.0.0.1:18999;\n\
                 location / { proxy_pass http://u; proxy_set_header Host $host;\n\
                     add_header X-A b; return 200; }
                 root /srv; index a.html; error_page 404 /404.html; try_files $uri =404;
                 etag on; recursive_error_pages off;
                 location /s/ { alias /srv/s/; types { text/x a; } default_type text/y; internal; } } }\n",
    );
    assert!(ok, "{text}");
    assert!(!text.contains("[warn]"), "{text}");
}
