//! `limit_rate` and `limit_rate_after`: a response's bytes paced as
//! nginx's write filter paces them. Before a write, the bytes allowed so
//! far are `rate × (whole seconds since the request began + 1) − (sent −
//! after)` (nothing left: wait until there is); after a write of n
//! counted bytes, a pause of n / rate. The head counts as sent, as in
//! nginx's `c->sent`.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use crate::body::Body;

/// A location's `limit_rate` (bytes per second, not 0) and
/// `limit_rate_after`, with the second the request began (nginx's
/// `start_sec`); a response extension until the head is written.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub rate: u64,
    pub after: u64,
    pub start_sec: u64,
}

impl Limit {
    /// The limit of a level's settings, if it has one (0: none).
    pub fn of(s: &nginx_conf::model::http::Common) -> Option<(u64, u64)> {
        let rate = s.limit_rate.filter(|&r| r > 0)?;
        Some((rate, s.limit_rate_after.unwrap_or(0)))
    }
}

/// The wall clock's second (nginx's `ngx_time()`).
#[must_use]
pub fn now_sec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A body sent no faster than its [`Limit`].
pub struct Limited {
    inner: Body,
    limit: Limit,
    /// Bytes sent so far, the head's included.
    sent: u64,
    /// What was read from `inner` and is not sent yet.
    pending: Option<Bytes>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl std::fmt::Debug for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limited")
            .field("inner", &self.inner)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Limited {
    #[must_use]
    pub fn new(inner: Body, limit: Limit, head: u64) -> Self {
        Self {
            inner,
            limit,
            sent: head,
            pending: None,
            pause: None,
        }
    }

    pub fn inner(&self) -> &Body {
        &self.inner
    }

    fn counted(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.limit.after)
    }

    fn pause_for(&mut self, ms: u64) {
        let sleep = tokio::time::sleep(Duration::from_millis(ms));
        self.pause = Some(Box::pin(sleep));
    }

    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        loop {
            if let Some(p) = self.pause.as_mut() {
                ready!(p.as_mut().poll(cx));
                self.pause = None;
            }
            let mut data = match self.pending.take() {
                Some(d) => d,
                None => match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(d) if d.is_empty() => continue,
                        Ok(d) => d,
                        Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                    },
                    other => return Poll::Ready(other),
                },
            };
            let rate = self.limit.rate;
            let seconds = now_sec().saturating_sub(self.limit.start_sec) + 1;
            let allowed = i128::from(rate) * i128::from(seconds)
                - (i128::from(self.sent) - i128::from(self.limit.after));
            if allowed <= 0 {
                let wait = u64::try_from(-allowed * 1000 / i128::from(rate)).unwrap_or(u64::MAX);
                self.pending = Some(data);
                self.pause_for(wait.saturating_add(1));
                continue;
            }
            let n = usize::try_from(allowed)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let chunk = data.split_to(n);
            if !data.is_empty() {
                self.pending = Some(data);
            }
            let before = self.counted(self.sent);
            self.sent += n as u64;
            let delay = (self.counted(self.sent) - before) * 1000 / rate;
            if delay > 0 {
                self.pause_for(delay);
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
    }

    pub fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.inner.is_end_stream()
    }

    pub fn size_hint(&self) -> SizeHint {
        let pending = self.pending.as_ref().map_or(0, |p| p.len() as u64);
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + pending);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint
    }
}
