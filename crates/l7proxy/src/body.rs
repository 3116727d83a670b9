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
    /// Either of the others, compressed (`gzip on`).
    Gzip(Box<crate::gzip::Compressed>),
    /// Part of a static file, read as it is sent (`files.rs`).
    File(Box<FilePart>),
    /// Any of the others, paced by `limit_rate` (`rate.rs`).
    Limited(Box<crate::rate::Limited>),
}

/// A static file's answer: its pieces in order, bytes we made (a
/// multipart head) or ranges of the file, read in pieces of at most
/// [`FilePart::PIECE`] as hyper asks for them (a plain blocking read on
/// the worker thread, as nginx's without `aio`). A file cut short
/// meanwhile ends the body early, so hyper closes the connection.
#[derive(Debug)]
pub struct FilePart {
    file: std::fs::File,
    pieces: std::collections::VecDeque<Piece>,
    remaining: u64,
}

/// One piece of a [`FilePart`].
#[derive(Debug)]
pub enum Piece {
    Bytes(Bytes),
    /// `len` bytes of the file from `offset`.
    Range {
        offset: u64,
        len: u64,
    },
}

impl FilePart {
    pub const PIECE: u64 = 64 * 1024;

    #[must_use]
    pub fn new(file: std::fs::File, pieces: Vec<Piece>) -> Self {
        let remaining = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len() as u64,
                Piece::Range { len, .. } => *len,
            })
            .sum();
        Self {
            file,
            pieces: pieces.into(),
            remaining,
        }
    }

    /// The body's length.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.remaining
    }

    /// Whether nothing is left to send.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    fn next(&mut self) -> Option<Bytes> {
        use std::os::unix::fs::FileExt;
        let bytes = match self.pieces.pop_front()? {
            Piece::Bytes(b) => b,
            Piece::Range { offset, len } => {
                let want = usize::try_from(len.min(Self::PIECE)).unwrap_or(0);
                let mut buf = vec![0; want];
                match self.file.read_at(&mut buf, offset) {
                    Ok(n) if n > 0 => {
                        buf.truncate(n);
                        if len > n as u64 {
                            self.pieces.push_front(Piece::Range {
                                offset: offset + n as u64,
                                len: len - n as u64,
                            });
                        }
                        Bytes::from(buf)
                    }
                    _ => {
                        self.pieces.clear();
                        self.remaining = 0;
                        return None;
                    }
                }
            }
        };
        self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
        Some(bytes)
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
            Body::Gzip(c) => f.debug_tuple("Gzip").field(c.inner()).finish(),
            Body::File(p) => f.debug_tuple("File").field(&p.remaining).finish(),
            Body::Limited(l) => f.debug_tuple("Limited").field(l).finish(),
        }
    }
}

impl Body {
    /// Whether the body streams from an upstream (compressed or not).
    pub fn is_upstream(&self) -> bool {
        match self {
            Body::Upstream(..) => true,
            Body::Gzip(c) => c.inner().is_upstream(),
            Body::Limited(l) => l.inner().is_upstream(),
            Body::Full(_) | Body::File(_) => false,
        }
    }

    /// Keeps `guard` until an upstream body ends (or is dropped); an own
    /// body is complete already, so the guard goes at once.
    pub fn hold<G: 'static>(&mut self, guard: G) {
        if let Body::Upstream(_, Some(on_end)) = self {
            let f = std::mem::replace(on_end, Box::new(|_| {}));
            *on_end = Box::new(move |ok| {
                f(ok);
                drop(guard);
            });
        }
    }

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
            Body::Gzip(c) => Pin::new(&mut **c).poll_frame(cx),
            Body::File(p) => Poll::Ready(p.next().map(|b| Ok(Frame::data(b)))),
            Body::Limited(l) => l.poll_frame(cx),
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
            Body::Gzip(c) => c.is_end_stream(),
            Body::File(p) => p.remaining == 0,
            Body::Limited(l) => l.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Upstream(inner, _) => inner.size_hint(),
            Body::Gzip(c) => c.size_hint(),
            Body::File(p) => SizeHint::with_exact(p.remaining),
            Body::Limited(l) => l.size_hint(),
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
