//! Header-name spelling on hyper's path, as nginx has it: upstream names
//! reach the client as the upstream spelled them, client names reach the
//! upstream as the client spelled them, configured names as configured,
//! and the names nginx writes itself in its own case.
//!
//! hyper keeps a name's spelling only through its private case map (a
//! request or response extension, filled by its parser when
//! `preserve_header_case` is on and used by its writer, with Title-Case
//! for names it does not list). That map can be neither read nor edited,
//! so:
//! * the spellings are read from the bytes themselves: [`Recording`]
//!   wraps a connection and keeps what hyper reads, and
//!   [`Recorder::request_head`] / [`Recorder::response_head`] find the
//!   head of the message hyper just parsed in it (checked against hyper's
//!   header names; on any doubt, none is returned and Title-Case stays);
//! * the map a message is written with is made by hyper's own parser from
//!   a small head with the wanted spellings ([`case_map`], over an
//!   in-memory pipe), and cached per worker thread by that head.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Bytes kept by a recorder (older ones are dropped; a head that no
/// longer fits is simply not found).
const KEEP: usize = 64 * 1024;
/// Case maps cached per worker thread.
const CACHE: usize = 512;

/// What a [`Recording`] connection has read, shared with its user; an
/// upstream connection's records only from [`start`](Self::start) to
/// [`stop`](Self::stop) (the response head, not the bodies).
#[derive(Debug, Clone)]
pub struct Recorder(Arc<Mutex<Vec<u8>>>, Arc<AtomicBool>);

impl Default for Recorder {
    fn default() -> Self {
        Self(Arc::default(), Arc::new(AtomicBool::new(true)))
    }
}

impl Recorder {
    /// Forgets what was read and records from now on.
    pub fn start(&self) {
        self.bytes().clear();
        self.1.store(true, Ordering::Relaxed);
    }

    /// Forgets what was read and stops recording.
    pub fn stop(&self) {
        self.1.store(false, Ordering::Relaxed);
        self.bytes().clear();
    }

    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, bytes: &[u8]) {
        if !self.1.load(Ordering::Relaxed) {
            return;
        }
        let mut b = self.bytes();
        b.extend_from_slice(bytes);
        if b.len() > KEEP {
            let cut = b.len() - KEEP;
            b.drain(..cut);
        }
    }

    /// The spellings of the request whose request line is `line` (the
    /// first such head in the bytes read, wherever it starts: a request
    /// follows the previous body directly), if its names are those of
    /// `headers`; the bytes up to its end are forgotten. When none is
    /// found, everything read is forgotten (so that a request we cannot
    /// find costs one scan of what came since the last one, not of 64 KB
    /// each time).
    pub fn request_head(&self, line: &[u8], headers: &HeaderMap) -> Option<Vec<Bytes>> {
        let mut b = self.bytes();
        let mut from = 0;
        // The first head that parses and names the same headers (a body
        // may hold look-alikes).
        while let Some(at) = find(&b[from..], line) {
            let start = from + at;
            from = start + 1;
            // Uninitialised: an initialised array is a 4 KB copy per parse.
            let mut parsed = [const { MaybeUninit::uninit() }; 128];
            let mut req = httparse::Request::new(&mut []);
            let Ok(httparse::Status::Complete(n)) = httparse::ParserConfig::default()
                .parse_request_with_uninit_headers(&mut req, &b[start..], &mut parsed)
            else {
                continue;
            };
            if matching(req.headers, headers) {
                let spelled = names(&b[start..start + n], req.headers);
                b.drain(..start + n);
                return Some(spelled);
            }
        }
        b.clear();
        None
    }

    /// The spellings of the response head the bytes read since the last
    /// [`start`](Self::start) end with (interim 1xx heads skipped), if its
    /// names are those of `headers`.
    pub fn response_head(&self, headers: &HeaderMap) -> Option<Vec<Bytes>> {
        let b = self.bytes();
        let mut at = 0;
        loop {
            let mut parsed = [const { MaybeUninit::uninit() }; 128];
            let mut resp = httparse::Response::new(&mut []);
            let httparse::Status::Complete(n) = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut resp, &b[at..], &mut parsed)
                .ok()?
            else {
                return None;
            };
            let code = resp.code?;
            if (100..200).contains(&code) && code != 101 {
                at += n;
                continue;
            }
            return matching(resp.headers, headers).then(|| names(&b[at..at + n], resp.headers));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `parsed` names the headers of `headers`: as many, each known
/// to it (names are only spelling: a rare miscount costs nothing more).
fn matching(parsed: &[httparse::Header<'_>], headers: &HeaderMap) -> bool {
    parsed.len() == headers.len() && parsed.iter().all(|h| headers.contains_key(h.name))
}

/// The names of `parsed` (parsed from `bytes`), as slices of one copy of
/// `bytes`.
fn names(bytes: &[u8], parsed: &[httparse::Header<'_>]) -> Vec<Bytes> {
    let head = Bytes::copy_from_slice(bytes);
    let base = bytes.as_ptr() as usize;
    parsed
        .iter()
        .map(|h| {
            let at = (h.name.as_ptr() as usize).saturating_sub(base);
            head.slice(at.min(head.len())..(at + h.name.len()).min(head.len()))
        })
        .collect()
}

/// A connection whose reads are kept by a [`Recorder`].
#[derive(Debug)]
pub struct Recording<T> {
    inner: T,
    rec: Recorder,
}

impl<T> Recording<T> {
    pub fn new(inner: T, rec: Recorder) -> Self {
        Self { inner, rec }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Recording<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            me.rec.push(&buf.filled()[before..]);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Recording<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Spellings of a head's names, each taken once, in order.
#[derive(Debug)]
pub struct Spellings<'a> {
    list: &'a [Bytes],
    used: u128,
}

impl<'a> Spellings<'a> {
    pub fn new(list: &'a [Bytes]) -> Self {
        Self { list, used: 0 }
    }

    /// The next spelling of `name` (lower case), if any is left.
    pub fn next(&mut self, name: &str) -> Option<&'a [u8]> {
        for (i, s) in self.list.iter().enumerate().take(128) {
            let bit = 1u128 << i;
            if self.used & bit == 0 && s.eq_ignore_ascii_case(name.as_bytes()) {
                self.used |= bit;
                return Some(s);
            }
        }
        None
    }
}

/// A message head being spelled: one line per header value, grouped by
/// name in the order hyper writes them (`HeaderMap::keys`).
#[derive(Debug, Default)]
pub struct Spelled(Vec<u8>);

impl Spelled {
    /// Spells the values of `headers`, by name, with `spell` (`None`:
    /// hyper's Title-Case).
    pub fn of<'h, S: AsRef<[u8]>>(
        headers: &'h HeaderMap,
        mut spell: impl FnMut(&'h str) -> Option<S>,
    ) -> Self {
        let mut head = Vec::with_capacity(headers.len() * 24);
        for name in headers.keys() {
            for _ in headers.get_all(name) {
                match spell(name.as_str()) {
                    Some(s) => head.extend_from_slice(s.as_ref()),
                    None => title_case(&mut head, name.as_str().as_bytes()),
                }
                head.extend_from_slice(b": x\r\n");
            }
        }
        Self(head)
    }

    /// Whether every name is spelled as hyper's Title-Case would write it
    /// (then no map is needed).
    fn is_title_case(&self) -> bool {
        self.0.split(|&b| b == b'\n').all(|line| {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let mut upper = true;
            name.iter().all(|&b| {
                let ok = if upper {
                    !b.is_ascii_lowercase()
                } else {
                    !b.is_ascii_uppercase()
                };
                upper = b == b'-';
                ok
            })
        })
    }
}

fn title_case(out: &mut Vec<u8>, name: &[u8]) {
    let mut upper = true;
    for &b in name {
        out.push(if upper { b.to_ascii_uppercase() } else { b });
        upper = b == b'-';
    }
}

thread_local! {
    static MAPS: RefCell<crate::site::FnvMap<Vec<u8>, http::Extensions>> =
        RefCell::new(crate::site::FnvMap::default());
}

/// Extensions holding hyper's case map for `spelled` (`None` when
/// Title-Case writes it already, or hyper would not make one).
pub async fn case_map(spelled: &Spelled) -> Option<http::Extensions> {
    if spelled.is_title_case() {
        return None;
    }
    if let Some(e) = MAPS.with(|m| m.borrow().get(&spelled.0).cloned()) {
        return Some(e);
    }
    let e = make(&spelled.0).await?;
    MAPS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= CACHE {
            m.clear();
        }
        m.insert(spelled.0.clone(), e.clone());
    });
    Some(e)
}

/// Has hyper's client parse `HTTP/1.1 204 No Content` and the `lines`
/// from an in-memory pipe, and returns the response's extensions.
async fn make(lines: &[u8]) -> Option<http::Extensions> {
    let mut head = Vec::with_capacity(lines.len() + 40);
    // 204: no body, whatever the framing headers say.
    head.extend_from_slice(b"HTTP/1.1 204 No Content\r\n");
    head.extend_from_slice(lines);
    head.extend_from_slice(b"\r\n");
    let (ours, mut peer) = tokio::io::duplex(head.len() + 1024);
    let (mut send, conn) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .max_headers(lines.len() / 4 + 8)
        .handshake::<_, http_body_util::Empty<Bytes>>(hyper_util::rt::TokioIo::new(ours))
        .await
        .ok()?;
    let answer = async move {
        let mut got = Vec::new();
        let mut chunk = [0u8; 256];
        while !got.ends_with(b"\r\n\r\n") {
            match peer.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
        peer.write_all(&head).await.ok()?;
        Some(peer)
    };
    let ask = send.send_request(http::Request::new(http_body_util::Empty::new()));
    let both = async { tokio::join!(ask, answer) };
    tokio::select! {
        (resp, _peer) = both => Some(resp.ok()?.into_parts().0.extensions),
        _ = conn => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for n in pairs {
            m.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_static("v"),
            );
        }
        m
    }

    #[test]
    fn request_heads_are_found_after_bodies_and_checked() {
        let r = Recorder::default();
        r.push(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 30\r\n\r\n");
        r.push(b"GET /x HTTP/1.1\r\n....... body\r\nGET /x HTTP/1.1\r\nHOST: a\r\nx-A: 1\r\nX-a: 2\r\n\r\n");
        let want = map(&["host", "x-a", "x-a"]);
        let got = r.request_head(b"GET /x HTTP/1.1\r\n", &want).unwrap();
        assert_eq!(got, vec!["HOST", "x-A", "X-a"]);
        assert!(r.bytes().is_empty());
        // Right after a body without a line end, as keep-alive POSTs come.
        r.push(b"hiPOST / HTTP/1.1\r\nhost: a\r\n\r\nhi");
        let got = r.request_head(b"POST / HTTP/1.1\r\n", &map(&["host"]));
        assert_eq!(got.unwrap(), vec!["host"]);
        assert_eq!(&r.bytes()[..], b"hi");
        r.push(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(r.request_head(b"GET / HTTP/1.1\r\n", &map(&["x"])), None);
        assert!(r.bytes().is_empty());
    }

    #[test]
    fn response_heads_skip_interim_ones() {
        let r = Recorder::default();
        r.push(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-TYPE: a\r\n\r\nbody");
        let got = r.response_head(&map(&["content-type"])).unwrap();
        assert_eq!(got, vec!["content-TYPE"]);
    }

    #[test]
    fn hyper_makes_case_maps_that_it_writes_with() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let m = map(&["x-a", "content-type"]);
        let s = Spelled::of(&m, |n| (n == "x-a").then(|| Bytes::from_static(b"x-A")));
        assert!(rt.block_on(case_map(&s)).is_some());
        let s = Spelled(
            b"X-Real-IP: x\r\nHost: x\r\nConnection: x\r\nContent-Length: x\r\nUser-Agent: x\r\n"
                .to_vec(),
        );
        assert!(rt.block_on(case_map(&s)).is_some());
    }

    #[test]
    fn title_case_heads_need_no_map() {
        let m = map(&["content-type", "x-a"]);
        assert!(Spelled::of(&m, |_| None::<&[u8]>).is_title_case());
        let s = Spelled::of(&m, |n| (n == "x-a").then(|| Bytes::from_static(b"x-A")));
        assert!(!s.is_title_case());
    }
}
