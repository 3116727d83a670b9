//! nginx's "between two successive operations" timeouts for the byte
//! streams hyper drives (client connections after the plain path handed
//! them over, TLS connections, upstream connections of hyper's client):
//! a read or write that stays pending for its limit fails with
//! `TimedOut`, which fails hyper's connection (nothing more is sent; the
//! socket is closed). The limits are shared with the code that knows the
//! request's location and can change per request; 0 turns one off (an
//! idle pooled upstream connection is read without a limit). The timer is
//! allocated the first time an operation has to wait, then reused.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The limits of one stream, in milliseconds (0: none).
#[derive(Debug, Default)]
pub struct Limits {
    pub read: AtomicU64,
    pub write: AtomicU64,
    /// A write has failed on its limit.
    write_expired: std::sync::atomic::AtomicBool,
    /// A read has failed on its limit.
    read_expired: std::sync::atomic::AtomicBool,
}

impl Limits {
    pub fn new(read: Duration, write: Duration) -> Arc<Self> {
        let l = Arc::new(Self::default());
        l.set_read(read);
        l.set_write(write);
        l
    }

    pub fn set_read(&self, d: Duration) {
        self.read.store(ms(d), Ordering::Relaxed);
    }

    pub fn set_write(&self, d: Duration) {
        self.write.store(ms(d), Ordering::Relaxed);
    }

    /// Whether a write has failed on its limit.
    pub fn write_timed_out(&self) -> bool {
        self.write_expired.load(Ordering::Relaxed)
    }

    /// Whether a read has failed on its limit.
    pub fn read_timed_out(&self) -> bool {
        self.read_expired.load(Ordering::Relaxed)
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .max(u64::from(!d.is_zero()))
}

/// One direction's timer: armed while an operation waits.
#[derive(Debug, Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Timer {
    /// After the operation returned `Pending`: `true` when the limit has
    /// passed since it first had to wait.
    fn expired(&mut self, limit_ms: u64, cx: &mut Context<'_>) -> bool {
        if limit_ms == 0 {
            self.armed = false;
            return false;
        }
        if !self.armed {
            let at = Instant::now() + Duration::from_millis(limit_ms);
            match &mut self.sleep {
                Some(s) => s.as_mut().reset(at),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.armed = true;
        }
        self.sleep
            .as_mut()
            .is_some_and(|s| s.as_mut().poll(cx).is_ready())
    }
}

/// A stream with read and write timeouts.
#[derive(Debug)]
pub struct Timed<T> {
    inner: T,
    limits: Arc<Limits>,
    read: Timer,
    write: Timer,
}

impl<T> Timed<T> {
    pub fn new(inner: T, limits: Arc<Limits>) -> Self {
        Self {
            inner,
            limits,
            read: Timer::default(),
            write: Timer::default(),
        }
    }
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")
}

/// Whether `e` (a hyper error, say) was caused by a [`Timed`] limit.
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

impl<T: AsyncRead + Unpin> AsyncRead for Timed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                me.read.armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if me.read.expired(me.limits.read.load(Ordering::Relaxed), cx) {
                    me.read.armed = false;
                    me.limits.read_expired.store(true, Ordering::Relaxed);
                    return Poll::Ready(Err(timed_out()));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Timed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                me.write.armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if me
                    .write
                    .expired(me.limits.write.load(Ordering::Relaxed), cx)
                {
                    me.write.armed = false;
                    me.limits.write_expired.store(true, Ordering::Relaxed);
                    return Poll::Ready(Err(timed_out()));
                }
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_read_that_waits_past_its_limit_fails_and_a_zero_limit_waits() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let limits = Limits::new(Duration::from_millis(100), Duration::ZERO);
        let mut timed = Timed::new(ours, Arc::clone(&limits));
        peer.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(timed.read(&mut buf).await.unwrap(), 1);
        let start = std::time::Instant::now();
        let err = timed.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(is_timeout(&err));
        assert!(limits.read_timed_out() && !limits.write_timed_out());
        // No limit: still waiting after 200 ms.
        limits.set_read(Duration::ZERO);
        let waited = tokio::time::timeout(Duration::from_millis(200), timed.read(&mut buf)).await;
        assert!(waited.is_err());
    }

    #[tokio::test]
    async fn a_write_that_cannot_progress_fails_after_its_limit() {
        let (ours, _peer) = tokio::io::duplex(16);
        let limits = Limits::new(Duration::ZERO, Duration::from_millis(100));
        let mut timed = Timed::new(ours, Arc::clone(&limits));
        let err = timed.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(limits.write_timed_out());
    }
}
