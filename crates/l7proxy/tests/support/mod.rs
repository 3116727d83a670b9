//! Shared scaffolding of the differential tests: processes that die with
//! the test, free loopback ports, echo backends, and starting nginx or
//! l7proxy on a configuration text.

#![allow(dead_code)] // each test binary uses a different part

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netlab::Topology;

/// Debian's nginx-light, the oracle.
pub const NGINX: &str = "/usr/sbin/nginx";

/// Our binary.
pub const OURS: &str = env!("CARGO_BIN_EXE_l7proxy");

/// A child process stopped when dropped: SIGTERM first, so that an nginx
/// master takes its workers with it (SIGKILL would leave them running,
/// orphaned, on their ports), then SIGKILL if it is still there after 3 s.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while std::time::Instant::now() < deadline {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails the test when the oracle is missing.
pub fn require_nginx() {
    assert!(
        Path::new(NGINX).exists(),
        "nginx-light is not installed: run the README's test command"
    );
}

/// A loopback port nothing listens on, for a server the test starts.
///
/// Taken below the kernel's ephemeral range (32768 and up here and on
/// Debian), so that no `bind(0)` or outgoing connection of a parallel test
/// can take it between this check and the server's own bind: a port the
/// kernel handed out and took back could be handed out again at once.
/// Each call moves on from a per-process start (the pid spreads test
/// binaries apart) and skips ports something listens on.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7_919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) % SPAN;
        let port = u16::try_from(LOW + n).expect("below 32000");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {LOW} and {}", LOW + SPAN);
}

/// A connection to loopback `port` from `source` (another loopback
/// address: a client of its own for `allow`, limits or `ip_hash`).
pub fn connect_from(source: &str, port: u16) -> TcpStream {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let ip: std::net::Ipv4Addr = source.parse().unwrap();
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(std::net::SocketAddrV4::new(ip, 0)),
    )
    .unwrap();
    connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(std::net::SocketAddrV4::new([127, 0, 0, 1].into(), port)),
    )
    .unwrap();
    TcpStream::from(fd)
}

/// A backend of the test's own on a loopback port: each of its first
/// `max` connections is handed to `serve` on a thread of its own.
pub fn spawn_backend<F>(max: usize, serve: F) -> u16
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().take(max).flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(c));
        }
    });
    port
}

/// A `netlab` echo backend on 127.0.0.1 answering with `name`.
pub fn backend(name: &str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let name = name.to_owned();
    std::thread::spawn(move || netlab::http::serve(&l, &name));
    port
}

/// `template` with each placeholder of `pairs` (upper-case words such as
/// `DIR`, `PORT`) replaced by its value, in one pass: a value is never
/// scanned again. (Replacing one placeholder after another broke when a
/// random temporary directory's name held another placeholder: `.tmpLuBEpA`
/// became `.tmpLu40101pA` once `BE` was replaced by a port.)
pub fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    'scan: while !rest.is_empty() {
        // The longest placeholder that starts here.
        let mut best: Option<(&str, &str)> = None;
        for (key, value) in pairs {
            if rest.starts_with(key) && best.is_none_or(|(k, _)| key.len() > k.len()) {
                best = Some((key, value));
            }
        }
        if let Some((key, value)) = best {
            out.push_str(value);
            rest = &rest[key.len()..];
            continue 'scan;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `-t` of `program` on the configuration text `conf` (written to
/// `dir/check.conf`): the exit code, and the first `[emerg]` message
/// without its time and pid.
pub fn check(dir: &Path, program: &str, conf: &str) -> (Option<i32>, Option<String>) {
    let path = dir.join("check.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(program);
    if program == NGINX {
        cmd.arg("-p").arg(dir).arg("-e").arg("/dev/null");
    }
    let out = cmd.arg("-t").arg("-c").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("[emerg]"))
        .map(|l| l.split_once("[emerg] ").map_or(l, |(_, m)| m).to_owned());
    (out.status.code(), line)
}

/// `-t` on `conf` gives the same exit code and message with nginx and
/// with us; nginx's.
pub fn checked_alike(dir: &Path, conf: &str) -> (Option<i32>, Option<String>) {
    let (nginx, ours) = (check(dir, NGINX, conf), check(dir, OURS, conf));
    assert_eq!(nginx, ours, "{conf}");
    nginx
}

/// `conf` fails `-t` with nginx (exit 1, an `[emerg]` line) and with us
/// alike; nginx's message.
pub fn refused_alike(dir: &Path, conf: &str) -> String {
    let nginx = check(dir, NGINX, conf);
    assert_eq!(nginx.0, Some(1), "{conf}: {nginx:?}");
    let Some(line) = nginx.1.clone() else {
        panic!("{conf}: nginx wrote no [emerg] line");
    };
    assert_eq!(check(dir, OURS, conf), nginx, "{conf}");
    line
}

/// [`refused_alike`] for a file of `directives` in an `http` block (with
/// the test's temporary paths); nginx's message.
pub fn refused_in_http(dir: &Path, directives: &str) -> String {
    let conf = format!("events {{}} http {{ {} {directives} }}\n", temp_paths(dir));
    refused_alike(dir, &conf)
}

/// [`checked_alike`] for a file of `directives` in an `http` block.
pub fn checked_in_http(dir: &Path, directives: &str) -> (Option<i32>, Option<String>) {
    let conf = format!("events {{}} http {{ {} {directives} }}\n", temp_paths(dir));
    checked_alike(dir, &conf)
}

/// Where `ours` differs from `nginx`, each place named by `label`, for
/// one assertion listing them all.
pub fn differences<T: PartialEq + std::fmt::Debug>(
    nginx: &[T],
    ours: &[T],
    label: impl Fn(usize) -> String,
) -> Vec<String> {
    let mut out: Vec<String> = nginx
        .iter()
        .zip(ours)
        .enumerate()
        .filter(|(_, (n, o))| n != o)
        .map(|(i, (n, o))| format!("{}:\nnginx {n:?}\n ours {o:?}", label(i)))
        .collect();
    if nginx.len() != ours.len() {
        out.push(format!(
            "nginx gave {} answers, ours {}",
            nginx.len(),
            ours.len()
        ));
    }
    out
}

/// nginx's temporary-file paths inside `dir` (so it runs unprivileged of
/// the system's directories).
pub fn temp_paths(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft; \
         uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;"
    )
}

/// Whether process `pid` holds a socket listening on `port` (any address;
/// from `/proc/net/tcp{,6}` and the process's file descriptors).
pub fn listens(pid: u32, port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|t| {
            let table = std::fs::read_to_string(t).unwrap_or_default();
            table
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    // local address, state 0A (LISTEN), inode
                    let listening =
                        f.get(1).is_some_and(|a| a.ends_with(&suffix)) && f.get(3) == Some(&"0A");
                    listening.then(|| f.get(9).map(|i| format!("socket:[{i}]")))?
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    })
}

/// Writes `conf` to `DIR/NAME.conf`, starts `program` on it (nginx in the
/// foreground with its prefix in `dir`) and waits until `port` accepts.
pub fn start(dir: &Path, name: &str, conf: &str, port: u16, program: &str) -> Proc {
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(program);
    if program == NGINX {
        cmd.arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("stderr.log"))
            .arg("-g")
            .arg("daemon off; master_process off;");
    } else {
        // In the foreground, so that dropping the `Proc` stops it.
        cmd.arg("-g").arg("daemon off;");
    }
    cmd.arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap());
    let p = Proc(cmd.spawn().unwrap());
    // Generous: CI machines are small and run other tests meanwhile. The
    // listener must be the child's own: another process's test server on
    // the same port (taken between `free_port` and the bind) would answer
    // the connection too.
    let pid = p.0.id();
    let up = Topology::wait_until(Duration::from_secs(15), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok() && listens(pid, port)
    });
    if !up {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        panic!(
            "{name} did not start on port {port}; its stderr: {}{}",
            read(&format!("{name}.stderr")),
            read("stderr.log")
        );
    }
    p
}
