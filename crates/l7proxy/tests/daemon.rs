//! `daemon on` (nginx's default) and the `pid` file: started without
//! `daemon off`, nginx 1.22 and l7proxy both return at once with status 0,
//! leaving a master in a session of its own whose pid the `pid` file holds;
//! `-s reload` (through that file) switches to a changed file and `-s quit`
//! stops the master, which removes its pid file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use netlab::Topology;

mod support;
use support::{free_port, require_nginx, temp_paths, NGINX, OURS};

fn conf(dir: &Path, name: &str, port: u16, body: &str) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1; pid {d}/{name}.pid; error_log {d}/{name}.err;\n\
         events {{ worker_connections 64; }}\n\
         http {{ {temp} access_log off;\n\
           server {{ listen 127.0.0.1:{port}; location / {{ return 200 {body}; }} }} }}\n",
        temp = temp_paths(dir)
    )
}

fn get(port: u16) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.rsplit("\r\n\r\n").next().unwrap_or("").to_owned()
}

/// Kills the daemon if the test ends early.
struct Daemon(Option<String>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = &self.0 {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
}

/// `/proc/PID/stat`'s session id, if the process lives (and is no zombie).
fn session(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    (fields.first() != Some(&"Z")).then(|| fields.get(3).map(|s| (*s).to_owned()))?
}

fn run(program: &str, dir: &Path, name: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let port = free_port();
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf(dir, name, port, "v1")).unwrap();
    let mut cmd = Command::new(program);
    if program == NGINX {
        cmd.arg("-p").arg(dir);
    }
    let mut child = cmd
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let returned = Topology::wait_until(Duration::from_secs(5), || {
        child.try_wait().ok().flatten().is_some()
    });
    let _ = child.kill();
    let status = child.wait().unwrap();
    if !returned || !status.success() {
        wrong.push(format!("{name}: did not return at once with 0: {status:?}"));
    }
    let pid_file = dir.join(format!("{name}.pid"));
    let up = Topology::wait_until(Duration::from_secs(5), || {
        pid_file.exists() && get(port) == "v1"
    });
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let _guard = Daemon((!pid.is_empty()).then(|| pid.clone()));
    if !up || pid.is_empty() {
        wrong.push(format!("{name}: no pid file or no answer"));
        return wrong;
    }
    if pid == child.id().to_string() {
        wrong.push(format!(
            "{name}: the pid file names the process that returned"
        ));
    }
    if session(&pid).as_deref() != Some(pid.as_str()) {
        wrong.push(format!(
            "{name}: the master {pid} leads no session of its own"
        ));
    }
    std::fs::write(&path, conf(dir, name, port, "v2")).unwrap();
    let signal = |sig: &str| {
        Command::new(program)
            .arg("-c")
            .arg(&path)
            .args(["-s", sig])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !signal("reload") || !Topology::wait_until(Duration::from_secs(5), || get(port) == "v2") {
        wrong.push(format!("{name}: -s reload did not switch to v2"));
    }
    let quit = signal("quit")
        && Topology::wait_until(Duration::from_secs(10), || {
            session(&pid).is_none() && !pid_file.exists()
        });
    if !quit {
        wrong.push(format!("{name}: -s quit left the master or its pid file"));
    }
    wrong
}

#[test]
fn daemon_and_pid_file_as_nginx() {
    require_nginx();
    let dir = tempfile::tempdir().unwrap();
    let theirs = run(NGINX, dir.path(), "nginx");
    assert!(
        theirs.is_empty(),
        "the oracle disagrees with the test: {theirs:?}"
    );
    let ours = run(OURS, dir.path(), "ours");
    assert!(ours.is_empty(), "{ours:?}");
}
