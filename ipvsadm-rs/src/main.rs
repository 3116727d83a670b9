//! `ipvsadm`: a drop-in for Debian's ipvsadm 1.31 (see docs/ipvsadm.md).
//!
//! * [`popt`], [`cvt`], [`names`]: the C library behaviour ipvsadm's
//!   parsing depends on;
//! * [`args`]: the command line → what to do, with ipvsadm's checks;
//! * [`list`], [`conn`], [`json`]: listings; [`restore`]: `-R`;
//! * [`run`]: the commands against the kernel; [`text`]: fixed texts.

mod args;
mod conn;
mod cvt;
mod json;
mod list;
mod names;
mod popt;
mod restore;
mod run;
mod text;

use std::io::{BufWriter, Read, Write};

use run::{Ctx, Flow, Io};

/// Opens the IPVS client as `ipvs_init` does, loading the module once.
fn init() -> Result<ipvs::Client, String> {
    let first = ipvs::Client::new();
    let second = match first {
        Err(ipvs::Error::FamilyNotFound) => {
            let loaded = std::process::Command::new("/sbin/modprobe")
                .args(["--", "ip_vs"])
                .status()
                .is_ok_and(|s| s.success());
            if loaded {
                ipvs::Client::new()
            } else {
                Err(ipvs::Error::FamilyNotFound)
            }
        }
        other => other,
    };
    second.map_err(|e| {
        let why = match e {
            ipvs::Error::Io(io) => io
                .raw_os_error()
                .map_or_else(|| io.to_string(), text::strerror),
            _ => "Protocol not available".to_owned(),
        };
        format!(
            "Can't initialize ipvs: {why}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n"
        )
    })
}

fn real_main(argv: &[String], io: &mut Io) -> Flow {
    let client = match init() {
        Ok(c) => c,
        Err(msg) => {
            io.err(&msg);
            return Flow::Exit(2);
        }
    };
    let mut ctx = Ctx {
        client,
        info: ipvs::Info {
            version: 0,
            conn_tab_size: 0,
        },
        names: names::Names::default(),
        program: argv.first().cloned().unwrap_or_else(|| "ipvsadm".into()),
    };
    match ctx.client.info() {
        Ok(i) => ctx.info = i,
        Err(e) => {
            io.err(&format!(
                "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n",
                e.errno().map_or_else(|| e.to_string(), text::strerror)
            ));
            return Flow::Exit(2);
        }
    }
    if argv.len() == 1 {
        return match run::list_all(0, &mut ctx, io) {
            Flow::Status(_) => Flow::Status(0),
            exit @ Flow::Exit(_) => exit,
        };
    }
    match args::parse(argv, &mut ctx.names) {
        Err(stop) => run::report_stop(stop, io),
        Ok(e) if e.cmd == args::Cmd::Restore => {
            let mut input = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut input);
            restore::run(&input, &mut ctx, io)
        }
        Ok(e) => run::execute(&e, &mut ctx, io),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let flow = real_main(
        &argv,
        &mut Io {
            out: &mut out,
            err: &mut err,
        },
    );
    let _ = out.flush();
    drop(out);
    let code = match flow {
        Flow::Status(s) | Flow::Exit(s) => s & 0xff,
    };
    std::process::exit(code);
}
