//! A seeded random IPVS table as `ipvsadm -R` input.

use std::fmt::Write as _;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[usize::try_from(self.below(v.len() as u64)).unwrap_or(0)]
    }
}

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

/// `services` random services with 0–4 real servers each, in documentation
/// address ranges; a few lines repeat (kernel errors that `-R` reports and
/// skips).
pub fn rules(seed: u64, services: usize) -> String {
    let mut r = Rng(seed | 1);
    let mut out = String::new();
    for i in 0..services {
        let kind = r.below(10);
        let port = 1 + r.below(65000);
        let svc = match kind {
            0..=4 => format!("-t 192.0.2.{}:{port}", r.below(256)),
            5..=6 => format!("-u 203.0.113.{}:{port}", r.below(256)),
            7 => format!("--sctp-service 198.51.100.{}:{port}", r.below(256)),
            8 => format!("-t [2001:db8::{:x}]:{port}", r.below(0xffff)),
            _ => format!("-f {}", 1 + r.below(1_000_000) + i as u64 * 1_000_000),
        };
        let v6 = kind == 8;
        let mut line = format!("-A {svc} -s {}", r.pick(SCHEDULERS));
        if r.below(3) == 0 {
            let _ = write!(line, " -p {}", 1 + r.below(3600));
            if !v6 && kind != 9 && r.below(2) == 0 {
                line.push_str(" -M 255.255.255.0");
            }
        }
        if (5..=6).contains(&kind) && r.below(4) == 0 {
            line.push_str(" -o");
        }
        let _ = writeln!(out, "{line}");
        if r.below(40) == 0 {
            let _ = writeln!(out, "{line}");
        }
        for _ in 0..r.below(5) {
            let dest = if v6 {
                format!("[2001:db8:1::{:x}]", r.below(0xffff))
            } else {
                format!("198.51.100.{}", r.below(256))
            };
            let port = r.below(65536);
            let fwd = r.pick(&["-m", "-g", "-i"]);
            let mut d = format!("-a {svc} -r {dest}:{port} {fwd} -w {}", r.below(100_000));
            if r.below(4) == 0 {
                let _ = write!(d, " -x {} -y {}", r.below(1000), r.below(1000));
            }
            if fwd == "-i" {
                match r.below(3) {
                    0 => d.push_str(" --tun-type ipip"),
                    1 => {
                        let c = r.pick(&["--tun-nocsum", "--tun-csum", "--tun-remcsum"]);
                        let _ = write!(d, " --tun-type gue --tun-port {} {c}", 1 + r.below(65535));
                    }
                    _ => {
                        let c = r.pick(&["--tun-nocsum", "--tun-csum"]);
                        let _ = write!(d, " --tun-type gre {c}");
                    }
                }
            }
            let _ = writeln!(out, "ipvsadm {d}");
        }
    }
    out
}

/// `n` random command lines (seeded) mixing valid and invalid options and
/// values, each one a `sh` step. Sync daemons are left out (starting one
/// spawns kernel threads) and so are fwmarks above 2^31 (the intended
/// difference).
pub fn command_lines(seed: u64, n: usize) -> Vec<String> {
    const COMMANDS: &[&str] = &[
        "-A", "-A", "-A", "-E", "-D", "-a", "-a", "-a", "-e", "-d", "-L", "-l", "-Ln", "-Z", "-C",
        "-S", "-Sn", "--set", "--list", "-R", "-n", "--foo",
    ];
    const SERVICES: &[&str] = &[
        "192.0.2.1:80",
        "192.0.2.2:http",
        "[2001:db8::1]:443",
        "192.0.2.3",
        "80",
        "bad:1",
        "192.0.2.1:99999",
        "2001:db8::5",
        "localhost:domain",
        "192.0.2.1:0",
    ];
    const DESTS: &[&str] = &[
        "198.51.100.1",
        "198.51.100.2:8080",
        "[2001:db8::9]:80",
        "2001:db8::9",
        "bad",
        "198.51.100.3:http",
    ];
    const NUMBERS: &[&str] = &[
        "0",
        "1",
        "7",
        "300",
        "65535",
        "65536",
        "2147483647",
        "-1",
        "x",
        "",
    ];
    let mut r = Rng(seed | 1);
    let mut lines = Vec::with_capacity(n);
    for _ in 0..n {
        let mut words = vec![r.pick(COMMANDS).to_owned()];
        for _ in 0..r.below(6) {
            let (opt, values): (&str, &[&str]) = match r.below(34) {
                0..=3 => ("-t", SERVICES),
                4 => ("-u", SERVICES),
                5 => ("--sctp-service", SERVICES),
                6 => ("-f", &["1", "2", "7", "0", "-1", "x"]),
                7 => ("-s", &["rr", "wlc", "sh", "mh", "nosuch", ""]),
                8 => ("-p", &["", "60", "0", "x"]),
                9 => ("-M", &["255.255.255.0", "64", "300.1.1.1", "0"]),
                10..=12 => ("-r", DESTS),
                13 => ("-m", &[]),
                14 => ("-g", &[]),
                15 => ("-i", &[]),
                16 => ("-w", NUMBERS),
                17 => ("-x", NUMBERS),
                18 => ("-y", NUMBERS),
                19 => ("-n", &[]),
                20 => (r.pick(&["-c", "--timeout", "--daemon"]), &[]),
                21 => (
                    r.pick(&["--stats", "--rate", "--thresholds", "--persistent-conn"]),
                    &[],
                ),
                22 => (
                    r.pick(&["--nosort", "--sort", "--exact", "--tun-info"]),
                    &[],
                ),
                23 => ("-6", &[]),
                24 => ("-o", &[]),
                25 => ("--pe", &["sip", "nosuch"]),
                26 => ("-b", &["flag-1", "sh-port,sh-fallback", "mh-port", "nope"]),
                27 => ("--tun-type", &["ipip", "gue", "gre", "vxlan"]),
                28 => ("--tun-port", NUMBERS),
                29 => (
                    r.pick(&["--tun-nocsum", "--tun-csum", "--tun-remcsum"]),
                    &[],
                ),
                30 => ("--syncid", NUMBERS),
                31 => (r.pick(&["--foo", "-Q", "junk", "--numeric=1"]), &[]),
                32 => ("--mcast-interface", &["lo"]),
                _ => (r.pick(&["1", "2", "3"]), &[]),
            };
            words.push(opt.to_owned());
            if !values.is_empty() {
                let v = r.pick(values);
                if !(opt == "-p" && v.is_empty()) {
                    words.push(format!("'{v}'"));
                }
            }
        }
        lines.push(format!("ipvsadm {} </dev/null", words.join(" ")));
    }
    lines
}

/// A seeded `-R` input: lines from [`command_lines`] (mostly valid table
/// changes, some errors of every kind) laid out with the separators
/// ipvsadm's reader has to cope with: tabs, carriage returns, runs of
/// blanks, blank lines, `ipvsadm` words, and sometimes no final newline.
pub fn restore_input(seed: u64, n: usize) -> String {
    let mut r = Rng(seed | 1);
    let valid = [
        "-A -t 192.0.2.1:80 -s rr",
        "-A -u 192.0.2.2:53",
        "-A -f 7 -p 60",
        "-a -t 192.0.2.1:80 -r 198.51.100.1 -m -w 3",
        "-a -t 192.0.2.1:80 -r 198.51.100.2 -i --tun-type gre --tun-csum",
        "-a -u 192.0.2.2:53 -r 198.51.100.3:5353 -m",
        "-e -t 192.0.2.1:80 -r 198.51.100.1 -m -w 9",
        "-d -t 192.0.2.1:80 -r 198.51.100.2",
        "-D -u 192.0.2.2:53",
        "-E -f 7 -s sh -b sh-port",
        "-Z",
        "--set 100 20 30",
        "-Ln",
        "-A -t [2001:db8::1]:443",
    ];
    let random = command_lines(seed ^ 0x9e37_79b9, n);
    let mut out = String::new();
    for injected in &random {
        let line = if r.below(16) == 0 {
            injected
                .trim_start_matches("ipvsadm ")
                .trim_end_matches(" </dev/null")
                .replace('\'', "")
        } else {
            r.pick(&valid).to_owned()
        };
        let sep = || [" ", "  ", "\t", " \t "];
        let mut text = String::new();
        if r.below(6) == 0 {
            text.push_str("ipvsadm ");
        }
        for (j, w) in line.split(' ').enumerate() {
            if j > 0 {
                text.push_str(r.pick(&sep()));
            }
            text.push_str(w);
        }
        if r.below(8) == 0 {
            text.push('\r');
        }
        out.push_str(&text);
        out.push('\n');
        if r.below(10) == 0 {
            out.push_str(r.pick(&["\n", "   \n", "ipvsadm\n", "\t\r\n"]));
        }
    }
    if r.below(2) == 0 {
        out.pop();
    }
    out
}
