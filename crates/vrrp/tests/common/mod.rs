//! Test support for the keepalived differential tests: two network namespaces joined by a
//! veth pair (`k0` 192.0.2.1 in `a`, `k1` 192.0.2.2 in `b`), keepalived processes in them,
//! and tcpdump captures read back from classic pcap files.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod failover;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of a required tool; panics with a clear message if it is missing.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default() + ":/usr/sbin:/sbin:/usr/bin:/bin";
    path.split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is required for the keepalived differential tests but is not installed"
            )
        })
}

fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `signal` to a process this test started (directly or as keepalived's child).
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status();
}

/// Sends `signal` to several processes this test started, in one `kill` call.
pub fn signal_all(pids: &[u32], signal: &str) {
    let mut cmd = Command::new("kill");
    cmd.arg(format!("-{signal}"));
    cmd.args(pids.iter().map(ToString::to_string));
    let _ = cmd.status();
}

/// Which namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `a`, interface `k0`, 192.0.2.1.
    A,
    /// `b`, interface `k1`, 192.0.2.2.
    B,
}

/// The namespace pair and everything started in it; `Drop` cleans up.
pub struct Lab {
    ip: PathBuf,
    a: String,
    b: String,
    pub dir: PathBuf,
    keepalived: Vec<(String, Child)>,
}

impl Lab {
    pub fn new(case: &str) -> Lab {
        let ip = tool("ip");
        sweep_stale(&ip);
        let tag = format!("vrrpdiff-{}-{case}", std::process::id());
        let dir = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            ip,
            a: format!("{tag}-a"),
            b: format!("{tag}-b"),
            dir,
            keepalived: vec![],
        };
        for ns in [&lab.a, &lab.b] {
            run(&lab.ip, &["netns", "add", ns]);
            for key in ["all", "default"] {
                let setting = format!("net.ipv6.conf.{key}.accept_dad=0");
                run(&lab.ip, &["netns", "exec", ns, "sysctl", "-qw", &setting]);
            }
        }
        let (a, b) = (lab.a.as_str(), lab.b.as_str());
        run(
            &lab.ip,
            &[
                "-n", a, "link", "add", "k0", "type", "veth", "peer", "name", "k1", "netns", b,
            ],
        );
        run(
            &lab.ip,
            &["-n", a, "addr", "add", "192.0.2.1/24", "dev", "k0"],
        );
        run(
            &lab.ip,
            &["-n", b, "addr", "add", "192.0.2.2/24", "dev", "k1"],
        );
        run(&lab.ip, &["-n", a, "link", "set", "k0", "up"]);
        run(&lab.ip, &["-n", b, "link", "set", "k1", "up"]);
        lab
    }

    fn ns(&self, side: Side) -> &str {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Starts tcpdump on `side`'s interface for `seconds`, writing every packet matching
    /// `filter`; returns once it listens.
    pub fn capture(&self, side: Side, filter: &str, count: Option<u32>, seconds: u32) -> Capture {
        let name = format!("capture-{side:?}");
        let pcap = self.dir.join(format!("{name}.pcap"));
        let err = self.dir.join(format!("{name}.err"));
        let iface = if side == Side::A { "k0" } else { "k1" };
        let mut cmd = Command::new(&self.ip);
        cmd.args([
            "netns",
            "exec",
            self.ns(side),
            "timeout",
            &seconds.to_string(),
        ])
        .arg(tool("tcpdump"))
        // --immediate-mode: hand each packet over at once (not in 1 s blocks), so tests
        // can watch the capture while it runs.
        .args(["-i", iface, "--immediate-mode", "-U", "-w"])
        .arg(&pcap);
        if let Some(count) = count {
            cmd.args(["-c", &count.to_string()]);
        }
        let child = cmd
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn tcpdump");
        let start = Instant::now();
        while !std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("listening on")
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tcpdump did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Capture { child, pcap }
    }

    /// Starts `keepalived -n -l -D --vrrp` in `side` with `instances` as configuration.
    pub fn keepalived(&mut self, side: Side, name: &str, instances: &str) {
        let conf = self.dir.join(format!("{name}.conf"));
        let body = format!("global_defs {{\n  router_id {name}\n}}\n{instances}");
        std::fs::write(&conf, body).unwrap();
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(&self.ip)
            .args(["netns", "exec", self.ns(side)])
            .arg(tool("keepalived"))
            .args(["-n", "-l", "-D", "--vrrp", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(self.dir.join(format!("{name}.pid")))
            .arg("-r")
            .arg(self.dir.join(format!("{name}.vrrp.pid")))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn keepalived");
        self.keepalived.push((name.to_owned(), child));
    }

    /// Pid of keepalived `name`'s parent process.
    pub fn keepalived_pid(&self, name: &str) -> u32 {
        self.keepalived
            .iter()
            .find(|(n, _)| n == name)
            .expect("started")
            .1
            .id()
    }

    /// Pid of keepalived `name`'s VRRP child, from its pid file.
    pub fn vrrp_child_pid(&self, name: &str) -> u32 {
        let file = self.dir.join(format!("{name}.vrrp.pid"));
        let start = Instant::now();
        loop {
            if let Ok(pid) = std::fs::read_to_string(&file)
                .unwrap_or_default()
                .trim()
                .parse()
            {
                return pid;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no VRRP pid file for {name}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a packet injector on `side` (python3 with a raw IP socket, as the tests have
    /// no raw-socket crate), ready before it is needed so that sending is immediate.
    pub fn injector(&self, side: Side) -> Injector {
        let source = if side == Side::A {
            "192.0.2.1"
        } else {
            "192.0.2.2"
        };
        let script = "import socket, sys\n\
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)\n\
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))\n\
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)\n\
            s.bind((sys.argv[1], 0))\n\
            print('ready', flush=True)\n\
            for line in sys.stdin:\n\
            \x20   message, ttl = line.split()\n\
            \x20   s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(ttl))\n\
            \x20   s.sendto(bytes.fromhex(message), ('224.0.0.18', 0))\n\
            \x20   print('sent', flush=True)\n";
        self.spawn_injector(side, script, &[source])
    }

    fn spawn_injector(&self, side: Side, script: &str, args: &[&str]) -> Injector {
        let mut child = Command::new(&self.ip)
            .args(["netns", "exec", self.ns(side)])
            .arg(tool("python3"))
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("injector output");
        assert_eq!(line.trim(), "ready", "the python3 injector did not start");
        Injector {
            child,
            stdin,
            stdout,
        }
    }

    /// Runs `ip ARGS` inside `side`'s namespace.
    pub fn run_in(&self, side: Side, args: &[&str]) {
        let mut all = vec!["-n", self.ns(side)];
        all.extend_from_slice(args);
        run(&self.ip, &all);
    }

    /// The link-local address of `side`'s interface.
    pub fn link_local(&self, side: Side) -> Ipv6Addr {
        let iface = if side == Side::A { "k0" } else { "k1" };
        let out = Command::new(&self.ip)
            .args([
                "-n",
                self.ns(side),
                "-6",
                "-o",
                "addr",
                "show",
                "dev",
                iface,
                "scope",
                "link",
            ])
            .output()
            .expect("ip addr");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let word = text.split_whitespace().skip_while(|w| *w != "inet6").nth(1);
        let addr = word
            .and_then(|w| w.split('/').next())
            .and_then(|a| a.parse().ok());
        addr.unwrap_or_else(|| panic!("no link-local address on {iface}: {text}"))
    }

    /// Like [`Lab::injector`] for IPv6: sends from `side`'s link-local address to ff02::12
    /// with the given hop limit; the checksum is left as given (no `IPV6_CHECKSUM`).
    pub fn injector6(&self, side: Side) -> Injector {
        let iface = if side == Side::A { "k0" } else { "k1" };
        let source = self.link_local(side).to_string();
        let script = "import socket, sys\n\
            ifindex = socket.if_nametoindex(sys.argv[2])\n\
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)\n\
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)\n\
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)\n\
            s.bind((sys.argv[1], 0, 0, ifindex))\n\
            print('ready', flush=True)\n\
            for line in sys.stdin:\n\
            \x20   message, hops = line.split()\n\
            \x20   s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, int(hops))\n\
            \x20   s.sendto(bytes.fromhex(message), ('ff02::12', 0, 0, ifindex))\n\
            \x20   print('sent', flush=True)\n";
        self.spawn_injector(side, script, &[&source, iface])
    }

    /// keepalived `name`'s log so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in &mut self.keepalived {
            // SIGTERM lets keepalived stop its VRRP child too.
            signal(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.a, &self.b] {
            // Anything still inside was started by this test (e.g. an orphaned VRRP child).
            if let Ok(out) = Command::new(&self.ip).args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new(&self.ip).args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deletes namespaces left by earlier runs of these tests that were killed before their
/// `Drop` ran (`vrrpdiff-PID-…` whose PID is gone), with whatever those runs started inside.
fn sweep_stale(ip: &Path) {
    let Ok(out) = Command::new(ip).args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("vrrpdiff-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_err() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Ok(pids) = Command::new(ip).args(["netns", "pids", name]).output() {
            for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new(ip).args(["netns", "del", name]).status();
    }
}

/// A python3 process sending VRRP messages from a raw socket.
pub struct Injector {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Injector {
    /// Sends `message` to 224.0.0.18 with `ttl`; returns once it is sent.
    pub fn send(&mut self, message: &[u8], ttl: u8) {
        let hex = message.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        writeln!(self.stdin, "{hex} {ttl}").expect("write to the injector");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("injector output");
        assert_eq!(line.trim(), "sent", "the injector failed");
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `capture` until `done` holds for the records so far; panics after `limit`.
pub fn wait_for(capture: &Capture, limit: Duration, what: &str, done: impl Fn(&[Record]) -> bool) {
    let start = Instant::now();
    while !done(&capture.so_far()) {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wall-clock time, comparable with capture timestamps.
pub fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A running tcpdump.
pub struct Capture {
    child: Child,
    pcap: PathBuf,
}

/// One captured IP packet.
#[derive(Debug, Clone)]
pub struct Record {
    /// Capture timestamp.
    pub at: Duration,
    /// IP source.
    pub source: IpAddr,
    /// IP destination.
    pub destination: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub message: Vec<u8>,
    /// The IP header as captured.
    pub header: Vec<u8>,
}

impl Capture {
    /// The records written so far (tcpdump writes each packet at once with `-U`).
    pub fn so_far(&self) -> Vec<Record> {
        parse_pcap(&std::fs::read(&self.pcap).unwrap_or_default())
    }

    /// Stops tcpdump early (through `timeout`, which passes the signal on) and returns the
    /// records.
    pub fn stop(mut self) -> Vec<Record> {
        signal(self.child.id(), "TERM");
        let _ = self.child.wait();
        self.so_far()
    }

    /// Waits for tcpdump to finish (count reached or time out) and returns the records.
    pub fn finish(self, context: &str) -> Vec<Record> {
        let status = self.child.wait_with_output().expect("tcpdump").status;
        // `timeout` exits 124 when it stopped tcpdump: that is the normal end of a timed capture.
        assert!(
            status.success() || status.code() == Some(124),
            "tcpdump failed ({status}); {context}"
        );
        parse_pcap(&std::fs::read(&self.pcap).unwrap_or_default())
    }
}

/// Records of a classic pcap file with Ethernet framing.
pub fn parse_pcap(pcap: &[u8]) -> Vec<Record> {
    if pcap.len() < 24 {
        return vec![];
    }
    let (le, nanos) = match pcap[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("not a pcap file"),
    };
    let word = |at: usize| {
        let b = [pcap[at], pcap[at + 1], pcap[at + 2], pcap[at + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(word(20), 1, "expected Ethernet link type");
    let mut records = vec![];
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let secs = u64::from(word(at));
        let frac = u64::from(word(at + 4));
        let len = usize::try_from(word(at + 8)).unwrap();
        let Some(frame) = pcap.get(at + 16..at + 16 + len) else {
            break;
        };
        at += 16 + len;
        let time = Duration::from_secs(secs)
            + if nanos {
                Duration::from_nanos(frac)
            } else {
                Duration::from_micros(frac)
            };
        records.push(split_ip(time, &frame[14..]));
    }
    records
}

fn split_ip(at: Duration, packet: &[u8]) -> Record {
    match packet[0] >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            assert_eq!(packet[9], 112, "IP protocol must be VRRP");
            let source = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]).into();
            let destination = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]).into();
            let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            Record {
                at,
                source,
                destination,
                ttl: packet[8],
                message: packet[ihl..total].to_vec(),
                header: packet[..ihl].to_vec(),
            }
        }
        6 => {
            assert_eq!(packet[6], 112, "next header must be VRRP");
            let source = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap()).into();
            let destination = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).unwrap()).into();
            let len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            Record {
                at,
                source,
                destination,
                ttl: packet[7],
                message: packet[40..40 + len].to_vec(),
                header: packet[..40].to_vec(),
            }
        }
        v => panic!("IP version {v}"),
    }
}
