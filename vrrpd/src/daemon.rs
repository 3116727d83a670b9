//! The process around the event loop: daemonizing (unless `-n`), pid files,
//! logging, systemd readiness, the single-threaded runtime.

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::{error, info};

use crate::cli::Args;

/// Pid files, removed on drop (keepalived removes them when it stops).
#[derive(Debug)]
pub struct PidFiles(Vec<PathBuf>);

impl PidFiles {
    pub fn write(paths: &[&Path]) -> std::io::Result<Self> {
        let pid = std::process::id();
        let mut written = Vec::new();
        for p in paths {
            let mut f = std::fs::File::create(p)?;
            writeln!(f, "{pid}")?;
            written.push(p.to_path_buf());
        }
        Ok(PidFiles(written))
    }
}

impl Drop for PidFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `sd_notify(3)`: one datagram to `$NOTIFY_SOCKET` when it is set.
pub fn sd_notify(state: &str) {
    use std::os::unix::net::UnixDatagram;
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), Path::new(&path))
    };
    if let Err(e) = sent {
        tracing::debug!("sd_notify: {e}");
    }
}

/// Console (stderr) with `-l` or in the foreground, syslog when `/dev/log` exists
/// (keepalived logs to syslog, and to the console too with `-l`).
fn init_logging(args: &Args) {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let level = if args.log_detail {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let console = (args.log_console || args.dont_fork).then_some(std::io::stderr);
    let syslog = crate::syslog::Syslog::connect();
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false);
    let _ = match (console, syslog) {
        (Some(c), Some(s)) => builder
            .with_writer(c.and(s.with_max_level(level)))
            .try_init(),
        (Some(c), None) => builder.with_writer(c).try_init(),
        (None, Some(s)) => builder.without_time().with_writer(s).try_init(),
        (None, None) => builder.with_writer(std::io::sink).try_init(),
    };
}

/// `vrrpd` without `-t`/`--dump-config`: runs until SIGTERM/SIGINT.
pub fn main(args: &Args) -> i32 {
    if !args.use_file.exists() {
        // keepalived 2.2.7 logs this and exits 6 (KEEPALIVED_EXIT_NO_CONFIG).
        eprintln!("Config files missing '{}'.", args.use_file.display());
        return 6;
    }
    if !args.dont_fork {
        if let Err(e) = nix::unistd::daemon(false, args.log_console) {
            eprintln!("vrrpd: cannot daemonize: {e}");
            return 1;
        }
    }
    init_logging(args);
    info!(
        "Starting vrrpd {} (keepalived 2.2.7 compatible)",
        env!("CARGO_PKG_VERSION")
    );
    let pid_files = match PidFiles::write(&[&args.pid_file, &args.vrrp_pid_file]) {
        Ok(p) => p,
        Err(e) => {
            error!("cannot write pid files: {e}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(crate::run::run(args));
    sd_notify("STOPPING=1");
    drop(pid_files);
    info!("Stopped");
    code
}
