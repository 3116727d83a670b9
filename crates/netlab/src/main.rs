//! `netlab`: the kernel lab's command line.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use netlab::{Lab, RunSpec};

mod demo;

#[derive(Parser)]
#[command(
    name = "netlab",
    about = "Kernel lab (qemu VM with IPVS) and namespace topologies"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Download and unpack the kernel and build the initramfs (idempotent).
    Prepare,
    /// Run a command as root in a fresh VM; prints its output, exits with its code.
    Run {
        /// Kill the VM after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<String>,
    },
    /// Boot the VM RUNS times running `true`; print each boot-to-exit time and the median.
    BenchBoot {
        #[arg(long, default_value_t = 10)]
        runs: u32,
    },
    /// Serve HTTP on ADDR, answering with NAME (test backend).
    ServeHttp { addr: String, name: String },
    /// The demo, run inside the VM: LVS-NAT in namespaces, traffic through the VIP.
    DemoGuest,
    /// The demo from the host: boots the lab and runs `demo-guest` in it.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lab = Lab::from_env();
    let result = match cli.command {
        Cmd::Prepare => lab.prepare().map(|k| {
            println!(
                "lab ready: kernel {} in {}",
                k.release,
                lab.cache().display()
            );
            0
        }),
        Cmd::Run { timeout, argv } => run(&lab, argv, timeout),
        Cmd::BenchBoot { runs } => bench_boot(&lab, runs),
        Cmd::ServeHttp { addr, name } => std::net::TcpListener::bind(&addr)
            .and_then(|l| netlab::http::serve(&l, &name))
            .map(|()| 0)
            .map_err(netlab::Error::from),
        Cmd::DemoGuest => demo::guest().map(|()| 0),
        Cmd::Demo => demo::host(&lab),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("netlab: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(lab: &Lab, argv: Vec<String>, timeout: u64) -> netlab::Result<i32> {
    let out = lab.run(&RunSpec::new(argv).timeout(Duration::from_secs(timeout)))?;
    std::io::stdout().write_all(&out.stdout)?;
    std::io::stderr().write_all(&out.stderr)?;
    Ok(out.code)
}

fn bench_boot(lab: &Lab, runs: u32) -> netlab::Result<i32> {
    let mut times = Vec::new();
    for i in 0..runs {
        let out = lab.run(&RunSpec::new(["true"]).timeout(Duration::from_secs(60)))?;
        if out.code != 0 {
            return Err(netlab::Error::Lab(format!("`true` exited {}", out.code)));
        }
        let s = out.elapsed.as_secs_f64();
        println!("run {:2}: {s:.3} s", i + 1);
        times.push(s);
    }
    times.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (times.first(), times.last()) {
        let n = times.len();
        let median = if n % 2 == 0 {
            f64::midpoint(times[n / 2 - 1], times[n / 2])
        } else {
            times[n / 2]
        };
        println!(
            "boot-to-exit over {runs} runs: median {median:.3} s, min {min:.3} s, max {max:.3} s"
        );
    }
    Ok(0)
}
