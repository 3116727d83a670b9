//! The response body: bytes we made, or an upstream body streamed through
//! that, when it ends, returns its connection to the pool and releases the
//! peer; when dropped early, only releases the peer.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};

/// Called once when an upstream body ends (`true`) or is dropped (`false`).
pub type OnEnd = Box<dyn FnOnce(bool)>;

pub enum Body {
    Full(Option<Bytes>),
    Upstream(Incoming, Option<OnEnd>),
    /// Part of a static file, read as it is sent (`files.rs`).
    File(Box<FilePart>),
}

/// A file's bytes `[offset, offset + remaining)`, read in pieces of at
/// most [`FilePart::PIECE`] as hyper asks for them (a plain blocking read
/// on the worker thread, as nginx's without `aio`). A file cut short
/// meanwhile ends the body early, so hyper closes the connection.
#[derive(Debug)]
pub struct FilePart {
    pub file: std::fs::File,
    pub offset: u64,
    pub remaining: u64,
}

impl FilePart {
    pub const PIECE: u64 = 64 * 1024;

    fn next(&mut self) -> Option<Bytes> {
        use std::os::unix::fs::FileExt;
        if self.remaining == 0 {
            return None;
        }
        let want = usize::try_from(self.remaining.min(Self::PIECE)).unwrap_or(0);
        let mut buf = vec![0; want];
        match self.file.read_at(&mut buf, self.offset) {
            Ok(n) if n > 0 => {
                buf.truncate(n);
                self.offset += n as u64;
                self.remaining -= n as u64;
                Some(Bytes::from(buf))
            }
            _ => {
                self.remaining = 0;
                None
            }
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(b) => f
                .debug_tuple("Full")
                .field(&b.as_ref().map(Bytes::len))
                .finish(),
            Body::Upstream(..) => f.write_str("Upstream"),
            Body::File(p) => f.debug_tuple("File").field(&p.remaining).finish(),
        }
    }
}

impl Body {
    pub fn text(s: impl Into<Bytes>) -> Self {
        Self::Full(Some(s.into()))
    }
    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::File(p) => Poll::Ready(p.next().map(|b| Ok(Frame::data(b)))),
            Body::Upstream(inner, on_end) => {
                let r = Pin::new(&mut *inner).poll_frame(cx);
                // hyper stops polling once is_end_stream() is true, so the
                // end is noticed after the last frame, not only at None.
                if matches!(r, Poll::Ready(None))
                    || (matches!(r, Poll::Ready(Some(Ok(_)))) && inner.is_end_stream())
                {
                    if let Some(f) = on_end.take() {
                        f(true);
                    }
                }
                r
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Upstream(inner, _) => inner.is_end_stream(),
            Body::File(p) => p.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Upstream(inner, _) => inner.size_hint(),
            Body::File(p) => SizeHint::with_exact(p.remaining),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Body::Upstream(_, on_end) = self {
            if let Some(f) = on_end.take() {
                f(false);
            }
        }
    }
}
