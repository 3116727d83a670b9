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

/// A loopback port nothing listens on (bound, then closed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// nginx's temporary-file paths inside `dir` (so it runs unprivileged of
/// the system's directories).
pub fn temp_paths(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft; \
         uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;"
    )
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
        .stderr(Stdio::null());
    let p = Proc(cmd.spawn().unwrap());
    // Generous: CI machines are small and run other tests meanwhile.
    let up = Topology::wait_until(Duration::from_secs(15), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "{name} did not start on port {port}");
    p
}
