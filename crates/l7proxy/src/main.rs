//! `l7proxy`: an nginx-compatible reverse proxy, driven by nginx.conf.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use l7proxy::server::{Generation, Sockets};
use l7proxy::site::Site;

/// Command line as nginx's (the subset implemented so far).
#[derive(Parser)]
#[command(
    name = "l7proxy",
    disable_version_flag = true,
    disable_help_flag = true
)]
struct Cli {
    /// Configuration file.
    #[arg(short = 'c', default_value = "/etc/nginx/nginx.conf")]
    conf: String,
    /// Prefix path (relative paths in the configuration).
    #[arg(short = 'p')]
    prefix: Option<String>,
    /// Test the configuration and exit.
    #[arg(short = 't')]
    test: bool,
    /// Suppress non-error messages while testing.
    #[arg(short = 'q')]
    quiet: bool,
    /// Show the version and exit.
    #[arg(short = 'v')]
    version: bool,
    /// Send a signal to the running master: stop, quit, reopen, reload.
    #[arg(short = 's')]
    signal: Option<String>,
    #[arg(short = 'h', short_alias = '?', action = clap::ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        eprintln!("l7proxy version: l7proxy/{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if let Some(p) = &cli.prefix {
        if let Err(e) = std::env::set_current_dir(p) {
            eprintln!("l7proxy: [emerg] chdir(\"{p}\") failed ({e})");
            return ExitCode::from(1);
        }
    }
    let config = match nginx_conf::model::load(&cli.conf) {
        Ok(c) => c,
        Err(e) => {
            let at = e
                .location
                .map(|(f, l)| format!(" in {f}:{l}"))
                .unwrap_or_default();
            eprintln!("l7proxy: [emerg] {}{at}", e.message);
            if cli.test {
                eprintln!("l7proxy: configuration file {} test failed", cli.conf);
            }
            return ExitCode::from(1);
        }
    };
    let site = match l7proxy::site::Site::new(config) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("l7proxy: [emerg] {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(sig) = &cli.signal {
        return send_signal(site.pid.as_deref(), sig);
    }
    if cli.test {
        if !cli.quiet {
            eprintln!("l7proxy: the configuration file {} syntax is ok", cli.conf);
            eprintln!(
                "l7proxy: configuration file {} test is successful",
                cli.conf
            );
        }
        return ExitCode::SUCCESS;
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(1);
    };
    let mut sockets = Sockets::default();
    let bound = {
        let _in_runtime = rt.enter();
        sockets.update(&site)
    };
    if let Err(e) = bound {
        eprintln!("l7proxy: [emerg] {e}");
        return ExitCode::from(1);
    }
    if let Some(pid) = &site.pid {
        if let Err(e) = std::fs::write(pid, format!("{}\n", std::process::id())) {
            eprintln!("l7proxy: [emerg] open() \"{pid}\" failed ({e})");
            return ExitCode::from(1);
        }
    }
    let code = match Generation::start(&site, &sockets) {
        Ok(first) => master(&rt, first, sockets, &cli.conf),
        Err(e) => {
            eprintln!("l7proxy: [emerg] {e}");
            ExitCode::from(1)
        }
    };
    if let Some(pid) = &site.pid {
        let _ = std::fs::remove_file(pid);
    }
    code
}

/// Loads and compiles the configuration as `-t` does.
fn load(conf: &str) -> Result<Arc<Site>, String> {
    let config = nginx_conf::model::load(conf).map_err(|e| {
        let at = e
            .location
            .map(|(f, l)| format!(" in {f}:{l}"))
            .unwrap_or_default();
        format!("{}{at}", e.message)
    })?;
    Site::new(config).map(Arc::new)
}

/// The master: waits for signals. SIGHUP reloads (a configuration that
/// fails keeps the running one), SIGQUIT stops gracefully, SIGTERM and
/// SIGINT stop at once.
fn master(
    rt: &tokio::runtime::Runtime,
    mut current: Generation,
    mut sockets: Sockets,
    conf: &str,
) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    rt.block_on(async move {
        let (Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            return ExitCode::from(1);
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    eprintln!("l7proxy: [notice] signal 1 (SIGHUP) received, reconfiguring");
                    let next = load(conf).and_then(|site| {
                        sockets.update(&site)?;
                        Generation::start(&site, &sockets)
                    });
                    match next {
                        Ok(next) => {
                            let old = std::mem::replace(&mut current, next);
                            // The old workers finish their requests meanwhile.
                            std::thread::spawn(move || old.stop());
                        }
                        Err(e) => eprintln!("l7proxy: [emerg] {e}; keeping the running configuration"),
                    }
                }
                _ = quit.recv() => {
                    eprintln!("l7proxy: [notice] signal 3 (SIGQUIT) received, shutting down gracefully");
                    return match current.stop() {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(_) => ExitCode::from(1),
                    };
                }
                _ = term.recv() => return ExitCode::SUCCESS,
                _ = int.recv() => return ExitCode::SUCCESS,
            }
        }
    })
}

fn send_signal(pid_file: Option<&str>, sig: &str) -> ExitCode {
    let name = match sig {
        "stop" => "TERM",
        "quit" => "QUIT",
        "reopen" => "USR1",
        "reload" => "HUP",
        _ => {
            eprintln!("l7proxy: invalid option: \"-s {sig}\"");
            return ExitCode::from(1);
        }
    };
    let file = pid_file.unwrap_or("/run/nginx.pid");
    let pid = match std::fs::read_to_string(file) {
        Ok(p) => p.trim().to_owned(),
        Err(e) => {
            eprintln!("l7proxy: [error] open() \"{file}\" failed ({e})");
            return ExitCode::from(1);
        }
    };
    match std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(&pid)
        .status()
    {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        _ => {
            eprintln!("l7proxy: [error] kill({pid}, SIG{name}) failed");
            ExitCode::from(1)
        }
    }
}
