//! Log lines to syslog (`/dev/log`, facility daemon), as keepalived logs, tagged
//! `Keepalived_vrrp[PID]`. One datagram per event; a missing syslog drops the line.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

const FACILITY_DAEMON: u8 = 3;

#[derive(Debug, Clone)]
pub struct Syslog {
    socket: Arc<UnixDatagram>,
    tag: String,
}

impl Syslog {
    /// Connects to `/dev/log`; `None` when there is no syslog.
    pub fn connect() -> Option<Self> {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect("/dev/log").ok()?;
        Some(Syslog {
            socket: Arc::new(socket),
            tag: format!("Keepalived_vrrp[{}]", std::process::id()),
        })
    }
}

fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// One event's text, sent when dropped.
#[derive(Debug)]
pub struct Line {
    syslog: Syslog,
    priority: u8,
    buf: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let msg = format!(
            "<{}>{}: {}",
            self.priority,
            self.syslog.tag,
            text.trim_end()
        );
        let _ = self.syslog.socket.send(msg.as_bytes());
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        self.line(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        self.line(*meta.level())
    }
}

impl Syslog {
    fn line(&self, level: Level) -> Line {
        Line {
            syslog: self.clone(),
            priority: FACILITY_DAEMON * 8 + severity(level),
            buf: Vec::new(),
        }
    }
}
