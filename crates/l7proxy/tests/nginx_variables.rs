//! Differential: the variables a file reads, checked by `-t` as nginx 1.22
//! checks them. An unknown name, in any directive that takes variables,
//! fails with nginx's `unknown "NAME" variable` and exit code 1; names
//! made by `set`, `map`, `geo`, `split_clients` or a regex's named capture
//! are known everywhere, wherever they are made; a bad `$` fails where it
//! is written. Also: our list of built-in names agrees with nginx's both
//! ways.

use std::path::Path;

mod support;
use support::{check, checked_alike, refused_alike, require_nginx, NGINX, OURS};

use nginx_conf::model::variables::{BUILT_IN, PREFIXES};

/// A whole file around an `http` body; `LOGDIR` is the test's directory.
fn conf(dir: &Path, http: &str) -> String {
    let d = dir.display().to_string();
    let http = support::fill(http, &[("LOGDIR", &d)]);
    format!("pid {d}/n.pid; events {{}}\nhttp {{ access_log off; {http}\n}}\n")
}

/// An `http` body around one location's directives.
fn loc(directives: &str) -> String {
    format!("server {{ listen 127.0.0.1:1; location / {{ {directives} }} }}")
}

#[test]
fn unknown_names_are_refused_alike() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let refused = [
        loc("return 200 $nope;"),
        loc("return 302 http://$host/$nope;"),
        loc("add_header X-A \"a $nope\";"),
        loc("add_header X-A $nope always; return 204;"),
        loc("proxy_set_header X-A $nope; proxy_pass http://127.0.0.1:1;"),
        loc("proxy_pass http://$nope;"),
        loc("proxy_pass http://127.0.0.1:1; proxy_redirect http://a/ http://$nope/;"),
        loc("set $a $nope;"),
        loc("rewrite ^/(.*)$ /$nope/$1;"),
        loc("if ($nope) { return 204; }"),
        loc("if ($uri = $nope) { return 204; }"),
        loc("if (!-f $nope) { return 204; }"),
        loc("if ($nope ~ ^a$) { return 204; }"),
        loc("try_files $nope /index.html;"),
        loc("root /srv/$nope;"),
        loc("error_page 404 /$nope;"),
        "server { listen 127.0.0.1:1; access_log LOGDIR/$nope.log; }".into(),
        "server { listen 127.0.0.1:1; access_log LOGDIR/a.log combined if=$nope; }".into(),
        "log_format f '$remote_addr $nope'; server { listen 127.0.0.1:1; }".into(),
        "log_format f '$1'; server { listen 127.0.0.1:1; }".into(),
        "map $nope $m { default 1; } server { listen 127.0.0.1:1; }".into(),
        "map $uri $m { default $nope; } server { listen 127.0.0.1:1; }".into(),
        "map $uri $m { /a $nope; } server { listen 127.0.0.1:1; }".into(),
        "split_clients $nope $s { 50% a; * b; } server { listen 127.0.0.1:1; }".into(),
        "geo $nope $g { default 1; } server { listen 127.0.0.1:1; }".into(),
        "upstream u { hash $nope; server 127.0.0.1:1; } server { listen 127.0.0.1:1; }".into(),
        "limit_req_zone $nope zone=z:1m rate=1r/s; server { listen 127.0.0.1:1; }".into(),
        "limit_conn_zone $nope zone=z:1m; server { listen 127.0.0.1:1; }".into(),
        loc("auth_basic \"zone $nope\"; auth_basic_user_file /etc/passwd;"),
        loc("auth_basic x; auth_basic_user_file /etc/$nope;"),
        // Not a capture: `$0` starts a name.
        loc("return 200 $0a;"),
        // A name made by `set` is not a prefix of another.
        loc("set $ab 1; return 200 $abc;"),
        // nginx registers `proxy_set_header`'s names after the whole file:
        // the `return` of a later location is reported first.
        "server { listen 127.0.0.1:1; location / { proxy_set_header A $first; \
         proxy_pass http://127.0.0.1:1; } location /b { return 200 $second; } }"
            .into(),
        // A bad `$`, where it is written.
        loc("return 200 \"a$\";"),
        loc("add_header X \"$-\"; return 204;"),
        loc("return 200 \"${uri\";"),
        loc("return 200 \"${u-ri}\";"),
        "log_format f '$remote_addr $'; server { listen 127.0.0.1:1; }".into(),
        "log_format f '${remote_addr'; server { listen 127.0.0.1:1; }".into(),
        // A bad `$` is found before an unknown name written earlier.
        "log_format f '$nope' '$-x'; server { listen 127.0.0.1:1; }".into(),
    ];
    let mut lines = Vec::new();
    for http in &refused {
        lines.push(refused_alike(dir.path(), &conf(dir.path(), http)));
    }
    // The cases are what they claim: most name `nope`.
    assert!(
        lines
            .iter()
            .filter(|l| *l == "unknown \"nope\" variable")
            .count()
            >= 25,
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"unknown \"second\" variable".to_owned()),
        "{lines:#?}"
    );
}

#[test]
fn made_names_are_known_alike() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let accepted = [
        // Made later in the file, in another location.
        "server { listen 127.0.0.1:1; location / { return 200 $later; } \
         location /b { set $later 1; } }"
            .to_owned(),
        // Names and prefixes in any case.
        loc("set $Mixed 1; return 200 $mixed$HOST$Http_X_Y$ARG_a$cookie_c$sent_http_x;"),
        loc("return 200 $upstream_http_x$upstream_cookie_y$upstream_trailer_z$arg_;"),
        loc("return 200 ${uri}x$1$9;"),
        "map $uri $m { default 1; } geo $g { default 1; } geo $remote_addr $g2 { default 1; } \
         split_clients $uri $s { 50% a; * b; } \
         server { listen 127.0.0.1:1; location / { return 200 $m$g$g2$s; } }"
            .to_owned(),
        "map $uri $m { ~^/(?<mapped>.*)$ 1; } server { listen 127.0.0.1:1; \
         location / { return 200 $mapped; } }"
            .to_owned(),
        "server { listen 127.0.0.1:1; server_name ~^(?<sub>.+)\\.test$; \
         location / { return 200 $sub; } }"
            .to_owned(),
        "server { listen 127.0.0.1:1; location ~ ^/(?P<py>.*)$ { return 200 $py; } \
         location / { return 200 $py; } }"
            .to_owned(),
        loc("if ($uri ~* (?<cond>.*)) { return 200 $cond; } rewrite (?<rw>.*) /x; return 200 $rw;"),
        // A regex's `$` anchors are no variables.
        loc("if ($uri ~ ^/a$) { return 204; } rewrite ^/b$ /c; return 200;"),
        "server { listen 127.0.0.1:1; location ~ \\.php$ { return 204; } }".to_owned(),
        "log_format f '$remote_addr ${status}x $http_user_agent'; \
         server { listen 127.0.0.1:1; access_log LOGDIR/a.log f if=$status; }"
            .to_owned(),
        // Names nginx has and l7proxy does not log (written as `-`, with a
        // warning of ours).
        "log_format f '$request_id $ssl_cipher $tcpinfo_rtt'; server { listen 127.0.0.1:1; }"
            .to_owned(),
        // No `$` at all is no script.
        loc("add_header X-Price \"5 EUR\"; return 200 \"5 EUR\";"),
    ];
    for http in &accepted {
        let (code, line) = checked_alike(dir.path(), &conf(dir.path(), http));
        assert_eq!((code, line), (Some(0), None), "{http}");
    }
}

/// Every name and prefix we take as built in is known to nginx.
#[test]
fn built_in_names_are_nginx_names() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let names = BUILT_IN.iter().map(|n| format!("${{{n}}}"));
    let prefixed = PREFIXES.iter().map(|p| format!("${p}x"));
    let text = names.chain(prefixed).collect::<Vec<_>>().join(" ");
    let http = loc(&format!("return 200 \"{text}\";"));
    assert_eq!(
        check(dir.path(), NGINX, &conf(dir.path(), &http)),
        (Some(0), None)
    );
    assert_eq!(
        check(dir.path(), OURS, &conf(dir.path(), &http)),
        (Some(0), None)
    );
}

/// The other way: each identifier in the nginx binary's strings (and its
/// suffixes after a `_`) that we take as unknown is unknown to nginx too.
/// About 4,000 `nginx -t` runs, 4 at a time.
#[test]
fn nginx_names_are_built_in() {
    require_nginx();
    let bytes = std::fs::read(NGINX).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for word in bytes.split(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')) {
        let Ok(word) = std::str::from_utf8(word) else {
            continue;
        };
        for (i, _) in word.match_indices('_').chain([(0, "")]) {
            let name = if i == 0 { word } else { &word[i + 1..] };
            if (2..=40).contains(&name.len()) && name.as_bytes()[0].is_ascii_lowercase() {
                names.insert(name.to_owned());
            }
        }
    }
    let ours: Vec<String> = names
        .into_iter()
        .filter(|n| !nginx_conf::model::variables::known(n))
        .collect();
    assert!(ours.len() > 1000, "{} names from the binary", ours.len());
    let dir = tempfile::tempdir().unwrap();
    let missed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (t, part) in ours.chunks(ours.len().div_ceil(4)).enumerate() {
            let (dir, missed) = (dir.path().join(t.to_string()), &missed);
            s.spawn(move || {
                std::fs::create_dir(&dir).unwrap();
                for name in part {
                    let http = loc(&format!("return 200 ${name};"));
                    let (code, _) = check(&dir, NGINX, &conf(&dir, &http));
                    if code != Some(1) {
                        missed.lock().unwrap().push(name.clone());
                    }
                }
            });
        }
    });
    let missed = missed.into_inner().unwrap();
    assert!(missed.is_empty(), "nginx knows these, we don't: {missed:?}");
}

/// `set`, `map`, `geo` and `split_clients` may make a built-in name again
/// only where nginx lets them (`the duplicate "NAME" variable` otherwise):
/// every built-in name through `set`, some through the others.
#[test]
fn built_in_names_are_made_again_alike() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let mut refused = 0;
    for name in BUILT_IN {
        let (code, _) = checked_alike(
            dir.path(),
            &conf(dir.path(), &loc(&format!("set ${name} 1;"))),
        );
        refused += usize::from(code == Some(1));
    }
    assert!(
        refused > 60 && refused < BUILT_IN.len(),
        "{refused} refused"
    );
    for http in [
        "map $uri $args { default 1; }",
        "map $uri $Date_Local { default 1; }",
        "geo $uri { default 1; }",
        "geo $proxy_host { default 1; }",
        "split_clients $host $uri { 50% a; * b; }",
        "split_clients $host $limit_rate { 50% 1; * 2; }",
    ] {
        checked_alike(
            dir.path(),
            &conf(
                dir.path(),
                &format!("{http} server {{ listen 127.0.0.1:1; }}"),
            ),
        );
    }
}
