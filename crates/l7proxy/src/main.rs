//! `l7proxy`: an nginx-compatible reverse proxy, driven by nginx.conf.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use l7proxy::errorlog::{log, Level};
use l7proxy::server::{Generation, Sockets};
use l7proxy::site::Site;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Main-context directives added to the file's (`daemon off;`).
    #[arg(short = 'g')]
    directives: Option<String>,
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
        l7proxy::files::set_prefix(p);
        if let Err(e) = std::env::set_current_dir(p) {
            eprintln!("l7proxy: [emerg] chdir(\"{p}\") failed ({e})");
            return ExitCode::from(1);
        }
    }
    l7proxy::auth::set_conf_dir(&cli.conf);
    let loaded = nginx_conf::model::load(&cli.conf).and_then(|mut c| {
        if let Some(g) = &cli.directives {
            global_directives(&mut c, g).map_err(|message| nginx_conf::CheckError {
                message,
                location: None,
            })?;
        }
        Ok(c)
    });
    let config = match loaded {
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
    // A signal only needs the pid file: the logs are not opened (which
    // would create them while the master has yet to reopen them).
    if let Some(sig) = &cli.signal {
        return send_signal(config.pid.as_deref(), sig);
    }
    let site = match l7proxy::site::Site::new(config) {
        Ok(mut s) => {
            s.notes.extend(l7proxy::ignored::notes(&cli.conf));
            Arc::new(s)
        }
        Err(e) => {
            eprintln!("l7proxy: [emerg] {e}");
            if cli.test {
                eprintln!("l7proxy: configuration file {} test failed", cli.conf);
            }
            return ExitCode::from(1);
        }
    };
    if cli.test {
        for note in &site.notes {
            eprintln!("l7proxy: [warn] {note}");
        }
        if !cli.quiet {
            eprintln!("l7proxy: the configuration file {} syntax is ok", cli.conf);
            eprintln!(
                "l7proxy: configuration file {} test is successful",
                cli.conf
            );
        }
        return ExitCode::SUCCESS;
    }
    let mut sockets = Sockets::default();
    // The sockets are bound (in a runtime of their own, dropped before a
    // fork) while errors still reach the terminal, as nginx does.
    let bound = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            let _in_runtime = rt.enter();
            sockets.update(&site)
        });
    if let Err(e) = bound {
        eprintln!("l7proxy: [emerg] {e}");
        return ExitCode::from(1);
    }
    if site.daemon {
        if let Err(e) = daemonize() {
            eprintln!("l7proxy: [emerg] daemon() failed ({e})");
            return ExitCode::from(1);
        }
    }
    l7proxy::errorlog::set_main(Arc::clone(&site.error_log));
    redirect_stderr(&site);
    for note in &site.notes {
        log(Level::Warn, note);
    }
    if let Some(pid) = &site.pid {
        if let Err(e) = std::fs::write(pid, format!("{}\n", std::process::id())) {
            log(Level::Emerg, &format!("open() \"{pid}\" failed ({e})"));
            return ExitCode::from(1);
        }
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(1);
    };
    let code = match Generation::start(&site, &sockets) {
        Ok(first) => master(&rt, first, Arc::clone(&site), sockets, &cli.conf),
        Err(e) => {
            log(Level::Emerg, &e);
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
    Site::new(config).map(|mut s| {
        s.notes.extend(l7proxy::ignored::notes(conf));
        Arc::new(s)
    })
}

/// The master: waits for signals. SIGHUP reloads (a configuration that
/// fails keeps the running one), SIGQUIT stops gracefully, SIGTERM and
/// SIGINT stop at once.
fn master(
    rt: &tokio::runtime::Runtime,
    mut current: Generation,
    mut site: Arc<Site>,
    mut sockets: Sockets,
    conf: &str,
) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    rt.block_on(async move {
        let (Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut quit), Ok(mut usr1)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
            signal(SignalKind::user_defined1()),
        ) else {
            return ExitCode::from(1);
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    log(Level::Notice, "signal 1 (SIGHUP) received, reconfiguring");
                    let next = load(conf).and_then(|next_site| {
                        sockets.update(&next_site)?;
                        Generation::start(&next_site, &sockets).map(|g| (g, next_site))
                    });
                    match next {
                        Ok((next, next_site)) => {
                            let old = std::mem::replace(&mut current, next);
                            site = next_site;
                            l7proxy::errorlog::set_main(Arc::clone(&site.error_log));
                            redirect_stderr(&site);
                            for note in &site.notes {
                                log(Level::Warn, note);
                            }
                            // The old workers finish their requests meanwhile.
                            std::thread::spawn(move || old.stop());
                        }
                        Err(e) => log(Level::Emerg, &format!("{e}; keeping the running configuration")),
                    }
                }
                _ = usr1.recv() => {
                    log(Level::Notice, "signal 10 (SIGUSR1) received, reopening logs");
                    for file in site.log_files.values() {
                        if let Err(e) = file.reopen() {
                            log(Level::Alert, &e);
                        }
                    }
                    redirect_stderr(&site);
                }
                _ = quit.recv() => {
                    log(Level::Notice, "signal 3 (SIGQUIT) received, shutting down gracefully");
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

/// Applies `-g` directives: `daemon`, `master_process` (accepted, there
/// is one process), `pid`, `error_log`, `worker_processes`; one that the
/// file also has is a duplicate, as in nginx.
fn global_directives(config: &mut nginx_conf::model::Config, text: &str) -> Result<(), String> {
    for stmt in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = stmt.split_whitespace();
        let name = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let one = || match args.as_slice() {
            [a] => Ok(*a),
            _ => Err(format!(
                "invalid number of arguments in \"{name}\" directive"
            )),
        };
        let flag = || match one()? {
            "on" => Ok(true),
            "off" => Ok(false),
            v => Err(format!(
                "invalid value \"{v}\" in \"{name}\" directive, it must be \"on\" or \"off\""
            )),
        };
        let duplicate = || format!("\"{name}\" directive is duplicate");
        match name {
            "daemon" => {
                if config.daemon.is_some() {
                    return Err(duplicate());
                }
                config.daemon = Some(flag()?);
            }
            "master_process" => {
                flag()?;
            }
            "pid" => {
                if config.pid.is_some() {
                    return Err(duplicate());
                }
                config.pid = Some(one()?.to_owned());
            }
            "error_log" => match args.as_slice() {
                [path] | [path, _] => config.error_log.push(nginx_conf::model::ErrorLog {
                    path: (*path).to_owned(),
                    level: args.get(1).map(|l| (*l).to_owned()),
                }),
                _ => {
                    return Err(format!(
                        "invalid number of arguments in \"{name}\" directive"
                    ))
                }
            },
            "worker_processes" => {
                if config.worker_processes.is_some() {
                    return Err(duplicate());
                }
                let v = one()?;
                config.worker_processes = Some(if v == "auto" {
                    nginx_conf::model::WorkerProcesses::Auto
                } else {
                    nginx_conf::model::WorkerProcesses::Count(v.parse().map_err(|_| {
                        format!("invalid value \"{v}\" in \"worker_processes\" directive")
                    })?)
                });
            }
            _ => return Err(format!("unknown directive \"{name}\" in command line")),
        }
    }
    Ok(())
}

/// `daemon on`: nginx's `ngx_daemon`. `nix::unistd::daemon` (libc's
/// `daemon(3)`: fork, the parent exits 0, the child calls `setsid`) runs
/// here before any thread or runtime exists (the sockets are bound and
/// the logs open, so errors have been reported to the terminal); the child
/// keeps the working directory and standard error (as nginx does; a file
/// error log takes it over next), standard input and output go to
/// `/dev/null`.
fn daemonize() -> Result<(), String> {
    nix::unistd::daemon(true, true).map_err(|e| e.to_string())?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("open(\"/dev/null\") failed ({e})"))?;
    nix::unistd::dup2_stdin(&null).map_err(|e| e.to_string())?;
    nix::unistd::dup2_stdout(&null).map_err(|e| e.to_string())?;
    Ok(())
}

/// nginx's `ngx_log_redirect_stderr`: when the main error log is a file,
/// standard error is that file too (stray messages land in the log).
fn redirect_stderr(site: &Site) {
    if let Some((file, _)) = site.error_log.0.first() {
        file.redirect_stderr();
    }
}

fn send_signal(pid_file: Option<&str>, sig: &str) -> ExitCode {
    use nix::sys::signal::Signal;
    let signal = match sig {
        "stop" => Signal::SIGTERM,
        "quit" => Signal::SIGQUIT,
        "reopen" => Signal::SIGUSR1,
        "reload" => Signal::SIGHUP,
        _ => {
            eprintln!("l7proxy: invalid option: \"-s {sig}\"");
            return ExitCode::from(1);
        }
    };
    let file = pid_file.unwrap_or("/run/nginx.pid");
    let text = match std::fs::read_to_string(file) {
        Ok(p) => p.trim().to_owned(),
        Err(e) => {
            eprintln!(
                "l7proxy: [error] open() \"{file}\" failed ({})",
                l7proxy::errorlog::os_error(&e)
            );
            return ExitCode::from(1);
        }
    };
    let Some(pid) = text.parse::<i32>().ok().filter(|p| *p > 0) else {
        eprintln!("l7proxy: [error] invalid PID number \"{text}\" in \"{file}\"");
        return ExitCode::from(1);
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "l7proxy: [alert] kill({pid}, {}) failed ({}: {})",
                signal as i32,
                e as i32,
                e.desc()
            );
            ExitCode::from(1)
        }
    }
}
