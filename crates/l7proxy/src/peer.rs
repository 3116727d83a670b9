//! Upstream peer addresses (TCP or unix-domain sockets) and the upstream
//! connections of either kind.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// Where a peer listens: `127.0.0.1:8080` or `unix:/path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    Inet(std::net::SocketAddr),
    /// The socket's path (without `unix:`).
    Unix(Arc<str>),
}

impl Peer {
    /// nginx's separator between the peer and the URI in `upstream:
    /// "http://PEER…"` (`unix:/path:/uri`).
    pub fn uri_separator(&self) -> &'static str {
        match self {
            Peer::Inet(_) => "",
            Peer::Unix(_) => ":",
        }
    }

    /// Connects within `timeout`; failures are noted for the error log
    /// (as nginx words them) and returned as `Err(true)` for a timeout.
    pub async fn connect(&self, timeout: Duration) -> Result<Stream, bool> {
        // nginx numbers upstream connections with the client ones.
        crate::errorlog::next_connection();
        let r = match self {
            Peer::Inet(a) => tokio::time::timeout(timeout, TcpStream::connect(*a))
                .await
                .map(|r| r.map(Stream::Tcp)),
            Peer::Unix(p) => tokio::time::timeout(timeout, UnixStream::connect(&**p))
                .await
                .map(|r| r.map(Stream::Unix)),
        };
        match r {
            Ok(Ok(s)) => {
                if let Stream::Tcp(t) = &s {
                    let _ = t.set_nodelay(true);
                }
                Ok(s)
            }
            Ok(Err(e)) => {
                match self {
                    Peer::Inet(_) => crate::errorlog::note_connect_error(&e),
                    Peer::Unix(_) => crate::errorlog::note_connect_error_to(self, &e),
                }
                Err(false)
            }
            Err(_) => {
                crate::errorlog::note_connect_timeout();
                Err(true)
            }
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Inet(a) => write!(f, "{a}"),
            Peer::Unix(p) => write!(f, "unix:{p}"),
        }
    }
}

/// An upstream connection.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// A non-blocking read (as `TcpStream::try_read`).
    pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read(buf),
            Stream::Unix(s) => s.try_read(buf),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
