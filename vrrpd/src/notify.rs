//! Notify scripts and the notify FIFO, as keepalived's `vrrp_notify.c`:
//! `notify_<state>` runs as written; the generic `notify` gets
//! `INSTANCE NAME STATE PRIORITY` appended; the FIFO gets
//! `INSTANCE "NAME" STATE PRIORITY\n`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use tokio::process::{Child, Command};
use tracing::{debug, warn};

use crate::spec::Scripts;

/// The state word keepalived passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
    MasterRxLowerPri,
}

impl Event {
    pub fn word(self) -> &'static str {
        match self {
            Event::Master => "MASTER",
            Event::Backup => "BACKUP",
            Event::Fault => "FAULT",
            Event::Stop => "STOP",
            Event::Deleted => "DELETED",
            Event::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
        }
    }
}

/// Who scripts run as (`script_user`), resolved once.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunAs {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl RunAs {
    /// From `global_defs { script_user USER [GROUP] }`; without it keepalived runs
    /// scripts as `keepalived_script` when that user exists, else as itself.
    pub fn from_config(words: Option<&Vec<String>>) -> Self {
        let default = vec!["keepalived_script".to_string()];
        let words = words.unwrap_or(&default);
        let user = words
            .first()
            .and_then(|u| nix::unistd::User::from_name(u).ok().flatten());
        let group = words
            .get(1)
            .and_then(|g| nix::unistd::Group::from_name(g).ok().flatten())
            .map(|g| g.gid.as_raw());
        RunAs {
            uid: user.as_ref().map(|u| u.uid.as_raw()),
            gid: group.or(user.map(|u| u.gid.as_raw())),
        }
    }
}

/// Starts `argv`; the child is reaped by tokio when it exits.
pub fn spawn(argv: &[String], run_as: RunAs) -> Option<Child> {
    let (prog, args) = argv.split_first()?;
    let mut c = std::process::Command::new(prog);
    c.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(g) = run_as.gid {
        c.gid(g);
    }
    if let Some(u) = run_as.uid {
        c.uid(u);
    }
    match Command::from(c).spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            warn!("Failed to exec script {prog}: {e}");
            None
        }
    }
}

/// The notify FIFO (`vrrp_notify_fifo` / `notify_fifo`).
#[derive(Debug)]
pub struct Fifo {
    file: File,
    pub path: std::path::PathBuf,
}

/// Opens the FIFO a configuration names (`vrrp_notify_fifo`, else `notify_fifo`)
/// and starts its reader script with the FIFO's name as last argument, as
/// keepalived does; a reload changes them only when the path or script changed.
pub fn apply_fifo(d: &mut crate::run::Daemon, g: &keepalived_conf::model::GlobalDefs) {
    let (words, script) = match &g.vrrp_notify_fifo {
        Some(w) => (Some(w), g.vrrp_notify_fifo_script.as_ref()),
        None => (g.notify_fifo.as_ref(), g.notify_fifo_script.as_ref()),
    };
    let path = words.and_then(|w| w.first()).map(std::path::PathBuf::from);
    if d.fifo.as_ref().map(|f| &f.path) == path.as_ref() {
        return;
    }
    if let Some(mut r) = d.fifo_reader.take() {
        let _ = r.start_kill();
    }
    d.fifo = path.and_then(|p| match Fifo::open(&p) {
        Ok(f) => Some(f),
        Err(e) => {
            warn!("cannot open notify fifo {}: {e}", p.display());
            None
        }
    });
    if let (Some(f), Some(argv)) = (&d.fifo, script.and_then(|s| crate::spec::argv(s))) {
        let mut argv = argv;
        argv.push(f.path.to_string_lossy().into_owned());
        d.fifo_reader = spawn(&argv, d.run_as);
    }
}

impl Fifo {
    /// Creates the FIFO if missing and opens it read-write, so opening never blocks
    /// and a missing reader never fails a write (keepalived does the same).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if !path.exists() {
            nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .map_err(std::io::Error::from)?;
        }
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Fifo {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, kind: &str, name: &str, event: Event, priority: u8) {
        let line = format!("{kind} \"{name}\" {} {priority}\n", event.word());
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            debug!("notify fifo write: {e}");
        }
    }
}

/// Runs the instance's scripts for `event`; returns the children (the stop
/// scripts are awaited by the caller, as keepalived waits for them).
pub fn instance(
    scripts: &Scripts,
    name: &str,
    event: Event,
    priority: u8,
    run_as: RunAs,
) -> Vec<Child> {
    let specific = match event {
        Event::Master => scripts.master.as_ref(),
        Event::Backup => scripts.backup.as_ref(),
        Event::Fault => scripts.fault.as_ref(),
        Event::Stop => scripts.stop.as_ref(),
        Event::Deleted => scripts.deleted.as_ref(),
        Event::MasterRxLowerPri => scripts.master_rx_lower_pri.as_ref(),
    };
    let mut children = Vec::new();
    if let Some(argv) = specific {
        children.extend(spawn(argv, run_as));
    }
    if event != Event::MasterRxLowerPri {
        if let Some(argv) = &scripts.generic {
            let mut argv = argv.clone();
            argv.extend([
                "INSTANCE".to_string(),
                name.to_string(),
                event.word().to_string(),
                priority.to_string(),
            ]);
            children.extend(spawn(&argv, run_as));
        }
    }
    children
}

/// Runs a sync group's scripts for `event` (priority 0, as keepalived).
pub fn group(scripts: &Scripts, name: &str, event: Event, run_as: RunAs) -> Vec<Child> {
    let specific = match event {
        Event::Master => scripts.master.as_ref(),
        Event::Backup => scripts.backup.as_ref(),
        Event::Fault => scripts.fault.as_ref(),
        Event::Stop => scripts.stop.as_ref(),
        Event::Deleted | Event::MasterRxLowerPri => None,
    };
    let mut children: Vec<Child> = specific
        .and_then(|a| spawn(a, run_as))
        .into_iter()
        .collect();
    if let Some(argv) = &scripts.generic {
        let mut argv = argv.clone();
        argv.extend([
            "GROUP".to_string(),
            name.to_string(),
            event.word().to_string(),
            "0".to_string(),
        ]);
        children.extend(spawn(&argv, run_as));
    }
    children
}

/// Waits for children up to `limit` in all (keepalived gives stop scripts one
/// second), then kills the ones still running.
pub async fn wait_all(children: Vec<Child>, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    for mut c in children {
        if tokio::time::timeout_at(deadline, c.wait()).await.is_err() {
            let _ = c.start_kill();
        }
    }
}
