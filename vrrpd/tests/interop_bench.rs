//! Benchmarks (not run by CI: every test is `#[ignore]`); run them with
//! `vrrpd/bench/failover.sh` (see docs/benchmarks.md, vrrp section).
//!
//! * `failover`: time from the signal to the VIP appearing on the backup,
//!   for SIGTERM and SIGKILL + link down, VRRPv2 advert 1 s and VRRPv3 advert
//!   0.1 s; master priority 200, backup priority 100 of the same
//!   implementation. The VIP's arrival is the kernel's RTM_NEWADDR as seen
//!   by `ip -ts monitor address` in the backup's namespace.
//! * `idle_cpu_rss`: 100 instances on one interface (VRRPv2, advert 1 s),
//!   a master and a backup node; CPU (utime + stime from /proc/PID/stat)
//!   over 30 s once settled, and RSS (VmRSS), summed over each daemon's
//!   processes.
//!
//! Environment: `VRRP_BENCH_RUNS` (default 20), `VRRP_BENCH_IMPLS`
//! (default `keepalived,vrrpd`), `VRRP_BENCH_IDLE_SECS` (default 30).

mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::scenarios::VIP1;
use support::{secs, within, Conf, Impl, Instance, Lab};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn impls() -> Vec<Impl> {
    env_or("VRRP_BENCH_IMPLS", "keepalived,vrrpd")
        .split(',')
        .filter_map(|s| match s.trim() {
            "keepalived" => Some(Impl::Keepalived),
            "vrrpd" => Some(Impl::Vrrpd),
            _ => None,
        })
        .collect()
}

fn runs() -> usize {
    env_or("VRRP_BENCH_RUNS", "20").parse().unwrap_or(20)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `[2026-11-24T10:06:22.436255]` (UTC) to microseconds since the epoch.
fn parse_ts(line: &str) -> Option<i64> {
    let stamp = line.strip_prefix('[')?.split(']').next()?;
    let (date, clock) = stamp.split_once('T')?;
    let mut ymd = date.split('-').map(|x| x.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let mut hms = clock.split(':');
    let hour = hms.next()?.parse::<i64>().ok()?;
    let minute = hms.next()?.parse::<i64>().ok()?;
    let (whole, frac) = hms.next()?.split_once('.')?;
    let digits = u32::try_from(frac.len()).ok()?;
    let micros = frac.parse::<i64>().ok()? * 10_i64.pow(6u32.saturating_sub(digits));
    let days = days_from_civil(year, month, day);
    Some(
        ((days * 24 + hour) * 60 + minute) * 60_000_000
            + whole.parse::<i64>().ok()? * 1_000_000
            + micros,
    )
}

fn now_micros() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// First RTM_NEWADDR of `vip` at or after `since` in an `ip -ts monitor` file.
fn vip_added_at(path: &Path, vip: &str, since: i64) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    let needle = format!(" {vip}/");
    text.lines()
        .filter(|l| l.contains(&needle) && !l.contains("Deleted"))
        .filter_map(parse_ts)
        .find(|&t| t >= since)
}

#[derive(Debug, Clone, Copy)]
struct Case {
    version: u8,
    crash: bool,
}

impl Case {
    fn name(self) -> String {
        format!(
            "v{} advert {} {}",
            self.version,
            if self.version == 2 { "1 s" } else { "0.1 s" },
            if self.crash {
                "SIGKILL + link down"
            } else {
                "SIGTERM"
            }
        )
    }
    /// RFC bound with backup priority 100: Skew_Time, or
    /// 3 × Advert_Interval + Skew_Time from the last advert.
    fn bound_ms(self) -> f64 {
        let interval = if self.version == 2 { 1000.0 } else { 100.0 };
        let skew = (256.0 - 100.0) / 256.0 * interval;
        if self.crash {
            3.0 * interval + skew
        } else {
            skew
        }
    }
}

/// One failover; milliseconds from just before `kill` to the VIP on n2.
fn one_failover(imp: Impl, case: Case) -> Result<f64, String> {
    let mut lab = Lab::new(2);
    let (advert, base): (f64, fn(u8) -> Instance) = if case.version == 2 {
        (1.0, Instance::v2)
    } else {
        (0.1, Instance::v3)
    };
    let master = Instance {
        master: true,
        ..base(200)
    };
    let mon = lab.monitor(2, "mon-n2");
    lab.start(1, imp, &Conf::one(master));
    lab.start(2, imp, &Conf::one(base(100)));
    if !within(secs(3.0 * advert + 2.0), || lab.has(1, VIP1)) {
        return Err(format!("n1 never became master\n{}", lab.logs()));
    }
    // The backup must be running and have heard the master for a while.
    std::thread::sleep(secs(3.0 * advert + 0.2));
    if lab.has(2, VIP1) {
        return Err(format!(
            "n2 holds the VIP next to the master\n{}",
            lab.logs()
        ));
    }
    // Fail at a random phase of the advert cycle.
    let phase = u64::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_micros(),
    );
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "advert ≤ 1 s"
    )]
    std::thread::sleep(Duration::from_micros(phase % (advert * 1e6) as u64));
    let t0 = now_micros();
    if case.crash {
        lab.crash(1);
    } else {
        lab.signal(1, "TERM");
    }
    if !within(secs(3.0 * advert + 3.0), || lab.has(2, VIP1)) {
        return Err(format!("n2 did not take over\n{}", lab.logs()));
    }
    let at = within(secs(1.0), || vip_added_at(&mon, VIP1, t0).is_some());
    let added = vip_added_at(&mon, VIP1, t0)
        .ok_or_else(|| format!("no RTM_NEWADDR for the VIP on n2 (monitor ok: {at})"))?;
    #[allow(clippy::cast_precision_loss, reason = "milliseconds fit f64")]
    Ok((added - t0) as f64 / 1000.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[test]
#[ignore = "benchmark: vrrpd/bench/failover.sh"]
fn failover() {
    let runs = runs();
    let cases = [
        Case {
            version: 2,
            crash: false,
        },
        Case {
            version: 2,
            crash: true,
        },
        Case {
            version: 3,
            crash: false,
        },
        Case {
            version: 3,
            crash: true,
        },
    ];
    let mut table = String::from(
        "| implementation | scenario | runs | p50 (ms) | p95 (ms) | max (ms) | min (ms) | RFC bound (ms) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for imp in impls() {
        // The four cases at once, each in its own labs; runs in sequence.
        let handles: Vec<_> = cases
            .iter()
            .map(|&case| {
                std::thread::spawn(move || {
                    let mut times = Vec::new();
                    for run in 0..runs {
                        match one_failover(imp, case) {
                            Ok(ms) => times.push(ms),
                            Err(e) => {
                                eprintln!("{} {} run {run}: {e}", imp.name(), case.name());
                                break;
                            }
                        }
                    }
                    (case, times)
                })
            })
            .collect();
        for h in handles {
            let (case, mut times) = h.join().unwrap();
            times.sort_by(f64::total_cmp);
            eprintln!("{} {}: {times:.1?}", imp.name(), case.name());
            if times.is_empty() {
                let _ = writeln!(
                    table,
                    "| {} | {} | 0 of {runs} | failed | | | | {:.1} |",
                    imp.name(),
                    case.name(),
                    case.bound_ms()
                );
                continue;
            }
            let _ = writeln!(
                table,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                imp.name(),
                case.name(),
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                times[times.len() - 1],
                times[0],
                case.bound_ms()
            );
        }
    }
    println!("{table}");
}

/// (utime + stime ticks, VmRSS kB) summed over `pids`.
fn usage(pids: &[u32]) -> (u64, u64) {
    let (mut ticks, mut rss) = (0, 0);
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some((_, rest)) = stat.rsplit_once(") ") {
                let f: Vec<&str> = rest.split_whitespace().collect();
                let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
                ticks += n(11) + n(12);
            }
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            rss += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (ticks, rss)
}

fn hundred(priority: u8, master: bool) -> Conf {
    let vips: Vec<&'static str> = (1..=100)
        .map(|i| &*Box::leak(format!("198.51.100.{i}/32").into_boxed_str()))
        .collect();
    let names: Vec<&'static str> = (1..=100)
        .map(|i| &*Box::leak(format!("VI_{i}").into_boxed_str()))
        .collect();
    Conf {
        instances: (0..100)
            .map(|i| Instance {
                name: names[i],
                vrid: u8::try_from(i + 1).unwrap(),
                master,
                notify: false,
                vips: vec![vips[i]],
                ..Instance::v2(priority)
            })
            .collect(),
        ..Conf::default()
    }
}

fn idle(imp: Impl, span: Duration) -> String {
    let mut lab = Lab::new(2);
    lab.start(1, imp, &hundred(150, true));
    lab.start(2, imp, &hundred(100, false));
    let all = |lab: &Lab| {
        let a = lab.addresses(1);
        (1..=100).all(|i| a.contains(&format!("198.51.100.{i}")))
    };
    if !within(secs(15.0), || all(&lab)) {
        return format!(
            "| {} | failed: n1 did not take 100 VIPs | | | | |\n",
            imp.name()
        );
    }
    std::thread::sleep(secs(3.0));
    let cap = lab.capture("sw", "br0", "idle.pcap");
    let (p1, p2) = (lab.pids(1), lab.pids(2));
    let (c1, _) = usage(&p1);
    let (c2, _) = usage(&p2);
    std::thread::sleep(span);
    let (c1b, r1) = usage(&p1);
    let (c2b, r2) = usage(&p2);
    let wire: Vec<_> = support::pcap::read(&cap)
        .into_iter()
        .filter(|p| p.priority() == 150)
        .collect();
    let senders = (1..=100u8)
        .filter(|&v| wire.iter().filter(|p| p.vrid() == v).count() > 1)
        .count();
    // Mean advert interval per VRID; the slowest instance.
    let worst_ms = (1..=100u8)
        .filter_map(|vrid| {
            let t: Vec<u64> = wire
                .iter()
                .filter(|p| p.vrid() == vrid)
                .map(|p| p.micros)
                .collect();
            #[allow(clippy::cast_precision_loss, reason = "microseconds")]
            (t.len() > 1).then(|| (t[t.len() - 1] - t[0]) as f64 / (t.len() - 1) as f64 / 1000.0)
        })
        .fold(0.0_f64, f64::max);
    let stolen = (1..=100)
        .filter(|i| lab.has(2, &format!("198.51.100.{i}")))
        .count();
    if stolen > 0 || !all(&lab) {
        return format!(
            "| {} | failed: the backup took {stolen} VIPs, the master holds all: {} | | | | |\n",
            imp.name(),
            all(&lab)
        );
    }
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    #[allow(clippy::cast_precision_loss, reason = "tick counts are small")]
    let pct = |a: u64, b: u64| (b - a) as f64 / hz / span.as_secs_f64() * 100.0;
    format!(
        "| {} | {senders} of 100, slowest every {worst_ms:.1} ms | {:.2} % ({} proc) | {} kB | {:.2} % ({} proc) | {} kB |\n",
        imp.name(),
        pct(c1, c1b),
        p1.len(),
        r1,
        pct(c2, c2b),
        p2.len(),
        r2
    )
}

#[test]
#[ignore = "benchmark: vrrpd/bench/failover.sh"]
fn idle_cpu_rss() {
    let span = Duration::from_secs(env_or("VRRP_BENCH_IDLE_SECS", "30").parse().unwrap_or(30));
    let handles: Vec<_> = impls()
        .into_iter()
        .map(|imp| std::thread::spawn(move || idle(imp, span)))
        .collect();
    let mut table = format!(
        "| implementation | instances advertising | master CPU over {} s | master RSS | backup CPU | backup RSS |\n\
         | --- | --- | --- | --- | --- | --- |\n",
        span.as_secs()
    );
    for h in handles {
        table.push_str(&h.join().unwrap());
    }
    println!("{table}");
}
