//! Differential: variables in `return` (text and redirect URL), and `map`
//! variables in `proxy_set_header`, `add_header`, `return` and `proxy_pass` (exact keys case-insensitively, `''`, regexes
//! with numbered and named captures, `\` escapes, `hostnames` wildcards, a
//! map reading a map, `default`), on the plain path (GET) and hyper's
//! (POST): the same answers and the same requests at the backend as
//! nginx 1.22's; and nginx's `-t` errors for malformed maps.

use std::path::Path;

#[path = "support/raw.rs"]
mod raw;
mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, backend: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
           map $http_x_tier $tier {{ default plain; Gold \"g-$http_x_tier\"; ~^si(lver)$ \"s-$1\";\n\
             ~*^(?<m>br)onze \"c-$m\"; \\~x tilde; }}\n\
           map $http_host $site {{ hostnames; default none; .example.com ex;\n\
             *.b.example.com b; www.example.* www; }}\n\
           map $tier $tier2 {{ default \"[$tier]\"; plain \"\"; }}\n\
           map $http_x_pool $pool {{ default be; alt be2; }}\n\
           upstream be {{ server 127.0.0.1:{backend}; }}\n\
           upstream be2 {{ server 127.0.0.1:{backend}; }}\n\
           server {{ listen 127.0.0.1:{port};\n\
             location / {{ proxy_pass http://127.0.0.1:{backend}; proxy_http_version 1.1;\n\
               proxy_set_header Upgrade $http_upgrade;\n\
               proxy_set_header Connection $connection_upgrade;\n\
               proxy_set_header X-Tier $tier; proxy_set_header X-Tier2 $tier2;\n\
               proxy_set_header X-Site $site; add_header X-Site \"<$site>\" always; }}\n\
             location /pool/ {{ proxy_pass http://$pool; }}\n\
             location /ret {{ return 200 \"tier=$tier site=$site\"; }}\n\
             location /go {{ return 301 https://$host$request_uri; }} }} }}\n",
        temp = temp_paths(dir),
    )
}

fn request(method: &str, path: &str, host: &str, headers: &str) -> String {
    let body = if method == "POST" {
        "Content-Length: 2\r\n\r\nhi"
    } else {
        "\r\n"
    };
    format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n{body}")
}

#[test]
fn map_variables_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let backend = raw::tcp_backend();
    let cases: [(&str, &str, &str); 13] = [
        ("/a", "a.test", ""),
        ("/a", "a.test", "Upgrade: websocket\r\n"),
        ("/a", "a.test", "X-Tier: gOLD\r\n"),
        ("/a", "a.test", "X-Tier: silver\r\n"),
        ("/a", "a.test", "X-Tier: SILVER\r\n"),
        ("/a", "a.test", "X-Tier: BRonze\r\n"),
        ("/a", "a.test", "X-Tier: ~x\r\n"),
        ("/a", "Example.COM", ""),
        ("/a", "x.b.example.com", ""),
        ("/a", "www.example.net", "X-Tier: gold\r\n"),
        ("/pool/p", "a.test", "X-Pool: alt\r\n"),
        ("/ret", "y.example.com", "X-Tier: bronze\r\n"),
        ("/go?a=1", "R.example.com", ""),
    ];
    let requests: Vec<String> = cases
        .iter()
        .flat_map(|(p, h, x)| [request("GET", p, h, x), request("POST", p, h, x)])
        .collect();
    let mut answers = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let proc = support::start(
            dir.path(),
            name,
            &conf(dir.path(), name, port, backend),
            port,
            program,
        );
        let got: Vec<_> = requests
            .iter()
            .map(|r| raw::split(&raw::exchange(port, r.as_bytes())))
            .collect();
        answers.push(got);
        drop(proc);
    }
    // Our error pages name us (a documented difference).
    answers[0].iter_mut().for_each(raw::as_ours);
    let nginx = &answers[0];
    // The checks can fail: nginx's own answers show the maps at work.
    for (i, want) in [
        (0, "Connection: close\r\n"),
        (2, "Upgrade: websocket\r\nConnection: upgrade\r\n"),
        (4, "X-Tier: g-gOLD\r\nX-Tier2: [g-gOLD]\r\nX-Site: none"),
        (6, "X-Tier: s-lver"),
        (10, "X-Tier: c-BR"),
        (12, "X-Tier: tilde"),
        (14, "X-Site: ex"),
        (16, "X-Site: b"),
        (18, "X-Site: www"),
    ] {
        assert!(nginx[i].1.contains(want), "{i}: {want:?} in {:?}", nginx[i]);
    }
    // Empty `$tier2`: the header is not sent; `~` is case-sensitive.
    assert!(
        nginx[8].1.contains("X-Tier: plain\r\nX-Site"),
        "{:?}",
        nginx[8]
    );
    assert!(nginx[20].1.contains("Host: be2\r\n"), "{:?}", nginx[20]);
    assert_eq!(nginx[22].1, "tier=c-br site=ex", "{:?}", nginx[22]);
    assert!(
        nginx[24]
            .0
            .contains("\r\nLocation: https://r.example.com/go?a=1"),
        "{:?}",
        nginx[24]
    );
    let differ = support::differences(nginx, &answers[1], |i| format!("request {i}"));
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn malformed_maps_are_refused_as_nginx_does() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    for map in [
        "map $http_x a { }",
        "map $http_x $host { }",
        "map $http_x $a { default 1; default 2; }",
        "map $http_x $a { k v extra; }",
        "map $http_x $a { k; }",
        "map $http_x $a { K v; k w; }",
        "map $http_x $a { '' 1; \"\" 2; }",
        "map $http_x $a { hostnames; *.a.com 1; .a.com 2; }",
        "map $http_x $a { hostnames; a.com 1; .a.com 2; }",
        "map $http_x $a { hostnames; a.*.com 1; }",
        "map $http_x { }",
    ] {
        let conf = format!(
            "events {{}} http {{ {}\n{map}\n}}\n",
            temp_paths(dir.path())
        );
        support::refused_alike(dir.path(), &conf);
    }
}

/// `map` variables in a `log_format` and in `access_log … if=` (nginx's
/// docs' recipe: `map $status $loggable`), on both paths.
#[test]
fn map_variables_in_access_logs_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let backend = raw::tcp_backend();
    let mut lines = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ {temp}\n\
               map $status $loggable {{ ~^[23] 0; default 1; }}\n\
               map $http_x_tier $tier {{ default plain; gold \"g-$cookie_c\"; }}\n\
               log_format m '$status tier=$tier \"$http_x_tier\" $loggable $request';\n\
               server {{ listen 127.0.0.1:{port}; access_log {d}/{name}-map.log m if=$loggable;\n\
                 location /ok {{ return 200 ok; }} location /no {{ return 404; }}\n\
                 location /p {{ proxy_pass http://127.0.0.1:{backend}; }} }} }}\n",
            temp = temp_paths(dir.path()),
        );
        let proc = support::start(dir.path(), name, &conf, port, program);
        for (path, headers) in [
            ("/ok", "X-Tier: gold\r\n"),
            ("/no", "X-Tier: gold\r\nCookie: a=1; c=2\r\n"),
            ("/no", ""),
            ("/p", "X-Tier: gold\r\n"),
            ("/no?x", "X-Tier: GOLD\r\n"),
        ] {
            for method in ["GET", "POST"] {
                raw::exchange(port, request(method, path, "a.test", headers).as_bytes());
            }
        }
        // nginx writes the line of a request it closes lingering once
        // the client has gone, after the client saw the end: wait (3 s at
        // most) until the log stays the same for 200 ms.
        let path = dir.path().join(format!("{name}-map.log"));
        let read = || std::fs::read_to_string(&path).unwrap_or_default();
        let mut last = read();
        for _ in 0..15 {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let now = read();
            if now == last {
                break;
            }
            last = now;
        }
        drop(proc);
        lines.push(last);
    }
    assert_eq!(lines[0].lines().count(), 6, "{}", lines[0]);
    assert!(
        lines[0].contains("404 tier=g-2 \"gold\" 1 GET /no HTTP/1.1\n"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0], lines[1]);
}

/// `split_clients`: 40 keys fall in the same parts as with nginx
/// (MurmurHash2 over the key, nginx's bounds); `-t` errors as nginx's.
#[test]
fn split_clients_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let mut answers = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ {temp} access_log off;\n\
               split_clients \"${{http_x_user}}salt\" $variant {{ 12.5% a; 30% b; 0.5% c; * d; }}\n\
               split_clients $http_x_user $some {{ 50% half; }}\n\
               server {{ listen 127.0.0.1:{port};\n\
                 location / {{ return 200 \"$variant/$some\"; }} }} }}\n",
            temp = temp_paths(dir.path()),
        );
        let proc = support::start(dir.path(), name, &conf, port, program);
        let got: Vec<String> = (0..40)
            .map(|i| {
                let r = request("GET", "/", "a.test", &format!("X-User: user{i}\r\n"));
                raw::split(&raw::exchange(port, r.as_bytes())).1
            })
            .collect();
        answers.push(got);
        drop(proc);
    }
    let kinds: std::collections::HashSet<&str> = answers[0].iter().map(String::as_str).collect();
    assert!(kinds.len() >= 4, "nginx spreads the keys: {:?}", answers[0]);
    assert_eq!(answers[0], answers[1]);
    for bad in [
        "split_clients $a $v { 60% a; 50% b; }",
        "split_clients $a $v { 5 a; }",
        "split_clients $a $v { 0% a; }",
        "split_clients $a $v { 33.333% a; }",
        "split_clients $a v { 1% a; }",
    ] {
        support::refused_in_http(dir.path(), bad);
    }
}

/// `geo`: the client's address (four loopback sources) and an address
/// from a header, longest prefix first, `delete`, IPv6 networks,
/// `default`; `-t` errors as nginx's.
#[test]
fn geo_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let mut answers = Vec::new();
    for (name, program) in [("nginx", NGINX), ("ours", OURS)] {
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}-error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ {temp} access_log off;\n\
               geo $zone {{ default none; 127.0.0.0/8 lo; 127.0.0.2 two; 127.0.0.0/24 low;\n\
                 127.0.0.4/30 four; 2001:db8::/32 doc6; }}\n\
               geo $http_x_addr $from {{ 192.0.2.0/24 doc; 198.51.100.7 seven;\n\
                 198.51.100.0/24 net; delete 198.51.100.0/24; 2001:db8::/48 v6; }}\n\
               server {{ listen 127.0.0.1:{port};\n\
                 location / {{ return 200 \"$zone/$from\"; }} }} }}\n",
            temp = temp_paths(dir.path()),
        );
        let proc = support::start(dir.path(), name, &conf, port, program);
        let mut got = Vec::new();
        for source in ["127.0.0.1", "127.0.0.2", "127.0.0.5", "127.0.1.1"] {
            for addr in [
                "192.0.2.9",
                "198.51.100.7",
                "198.51.100.8",
                "2001:db8::1",
                "::ffff:192.0.2.1",
                "nonsense",
                "",
            ] {
                let mut s = support::connect_from(source, port);
                let r = request("GET", "/", "a.test", &format!("X-Addr: {addr}\r\n"));
                std::io::Write::write_all(&mut s, r.as_bytes()).unwrap();
                let mut out = Vec::new();
                let _ = std::io::Read::read_to_end(&mut s, &mut out);
                got.push(raw::split(&out).1);
            }
        }
        answers.push(got);
        drop(proc);
    }
    assert_eq!(answers[0][0], "low/doc", "{:?}", answers[0]);
    assert_eq!(answers[0][7], "two/doc", "{:?}", answers[0]);
    assert_eq!(answers[0][14], "four/doc", "{:?}", answers[0]);
    assert_eq!(answers[0][21], "lo/doc", "{:?}", answers[0]);
    assert_eq!(answers[0], answers[1]);
    for bad in [
        "geo $g { 10.0.0.300 b; }",
        "geo $g { 10.0.0.0/8 b c; }",
        "geo g { }",
        "geo $g { default; }",
    ] {
        support::refused_in_http(dir.path(), bad);
    }
}
