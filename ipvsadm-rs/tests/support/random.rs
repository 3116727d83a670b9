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
