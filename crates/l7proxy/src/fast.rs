//! The plain HTTP/1 path: the common request (`GET`/`HEAD`, HTTP/1.1, no
//! body, no upgrade, a `Host`, an origin-form target, a location that
//! proxies) is parsed with `httparse`, sent upstream as bytes on a pooled
//! connection of our own, and its response head rewritten into one buffer
//! written with the first part of the body, the rest streamed with
//! backpressure (one upstream read, then one client write). Anything else
//! hands the connection, with the bytes read so far, to hyper for the rest
//! of its life, before a byte of answer is written: the answers of the two
//! paths are the same (the differential tests run through both).
//!
//! An idle keep-alive connection holds no buffer: the task waits for
//! readability with only its socket; buffers come from the worker's spare
//! list while a request is in progress.
//!
//! This file holds the connection loop and the buffer helpers; `head`
//! reads a request head, `answer` answers it (routing, tries), `upstream`
//! exchanges with a peer and relays the response (`chunks` re-chunks a
//! chunked body), `page` writes our own pages and status lines,
//! [`Rewind`] hands a connection to hyper.

use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::accesslog::ConnFacts;
use crate::worker::Worker;

mod answer;
mod chunks;
mod head;
mod page;
mod rewind;
#[cfg(test)]
mod tests;
mod upstream;

use head::{one, Head};
pub use rewind::Rewind;

/// Size of a head buffer (a request, a response head and the first body
/// bytes read with it).
const BUF: usize = 2 * 1024;
/// Size of the upstream read buffer once a body needs more reads.
const BODY_BUF: usize = 32 * 1024;
/// Spare buffers kept per worker.
const SPARE: usize = 32;
/// Request heads longer than this go to hyper (which applies nginx's
/// limits and answers 400/414 as nginx does).
const MAX_HEAD: usize = 16 * 1024;
/// nginx's `large_client_header_buffers` line size.
const LINE: usize = 8192;
/// Client header lines the fast path parses (more: hyper).
const HEADERS: usize = 64;
/// Upstream response header lines and head size accepted.
const UP_HEADERS: usize = 100;
const UP_HEAD_MAX: usize = 64 * 1024;

fn take_buf(w: &Worker) -> Vec<u8> {
    w.bufs
        .borrow_mut()
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(BUF))
}

/// One read into `buf`'s spare room, without waiting: `None` when the
/// socket has nothing now (the task's waker is then registered).
///
/// Unlike `try_read_buf`, this goes through `AsyncRead::poll_read`, which
/// marks the socket not ready after a short read (the kernel buffer was
/// drained), so the next wait sleeps on epoll instead of paying a `recv`
/// that fails with `EAGAIN` — one syscall less per keep-alive request.
async fn read_now<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Option<std::io::Result<usize>> {
    std::future::poll_fn(|cx| {
        let read = stream.read_buf(buf);
        let mut read = std::pin::pin!(read);
        match std::future::Future::poll(read.as_mut(), cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => Poll::Ready(None),
        }
    })
    .await
}

/// Writes all of `bytes` to the client; an error when it failed (`true`:
/// it made no progress for `timeout`, nginx's `send_timeout`, after which
/// nginx closes). The timer is only set when the socket would block.
async fn send(stream: &mut TcpStream, bytes: &[u8], timeout: Duration) -> Result<(), bool> {
    let mut done = 0;
    while done < bytes.len() {
        match stream.try_write(&bytes[done..]) {
            Ok(0) => return Err(false),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                match tokio::time::timeout(timeout, stream.writable()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(false),
                    Err(_) => return Err(true),
                }
            }
            Err(_) => return Err(false),
        }
    }
    Ok(())
}

fn put_buf(w: &Worker, mut b: Vec<u8>) {
    if (BUF..=2 * BODY_BUF).contains(&b.capacity()) {
        let mut bufs = w.bufs.borrow_mut();
        if bufs.len() < SPARE {
            b.clear();
            bufs.push(b);
        }
    }
}

/// How long a stopping worker keeps an idle keep-alive connection open
/// for a request already on its way (a reload under load: a client that
/// just got an answer sends its next request at once).
const STOP_GRACE: Duration = Duration::from_millis(250);

/// Why an idle connection's wait ended.
enum Wake {
    /// Bytes (or the end) have come.
    Ready,
    /// The worker is stopping.
    Stop,
    /// `client_header_timeout` / `keepalive_timeout` passed.
    Expired,
    /// A socket error, or its place was taken (`worker_connections`).
    Failed,
}

/// What became of the connection after one request.
enum Step {
    /// Keep it (for up to its location's `keepalive_timeout` if idle);
    /// these bytes (maybe none) were read past the request.
    Again(Vec<u8>, Duration),
    Close,
    /// Give it to hyper with these bytes.
    Hyper(Vec<u8>),
}

/// Serves a plain connection until it closes (`None`) or needs hyper.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    w: Rc<Worker>,
    index: usize,
    slot: &crate::limit::Slot,
    conn: &std::cell::Cell<ConnFacts>,
) -> Option<Rewind> {
    let mut pending = Vec::new();
    // The first bytes, then the whole first head, must come within
    // `client_header_timeout` of the accept (nginx's timer is set once);
    // later the idle wait is the `keepalive_timeout` of the last request's
    // location. Nothing is sent on either timeout.
    let mut timer = crate::idle::Timer::new(w.wheel.after(header_timeout(&w, index)));
    let mut served = 0u32;
    // Stopping: the idle keep-alive connection waits `STOP_GRACE` more
    // for a request its client may be sending already.
    let mut draining = false;
    loop {
        while pending.is_empty() {
            // Idle: only the socket is held; a buffer is taken when bytes
            // have come (readiness can be stale: then it goes back). No
            // readiness future kept in the task: the waker goes into the
            // socket's own slot, and into the worker's wheel for the
            // deadline. The connection is reusable meanwhile (closed if
            // worker_connections run out, as nginx does).
            let reusable = slot.idle();
            let ready = std::future::poll_fn(|cx| {
                // A stopping worker wakes every idle connection (they are
                // all in its wheel). A new connection still gets its first
                // request answered, as nginx does (only keep-alive
                // connections are idle to its ngx_close_idle_connections).
                if w.stopping.get() && served > 0 && !draining {
                    return Poll::Ready(Wake::Stop);
                }
                let reclaimed = std::pin::pin!(reusable.reclaimed());
                if std::future::Future::poll(reclaimed, cx).is_ready() {
                    return Poll::Ready(Wake::Failed);
                }
                match stream.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(Wake::Ready),
                    Poll::Ready(Err(_)) => Poll::Ready(Wake::Failed),
                    Poll::Pending => timer.poll_expired(&w.wheel, cx).map(|()| Wake::Expired),
                }
            })
            .await;
            match ready {
                Wake::Ready => {}
                Wake::Stop => {
                    draining = true;
                    let grace = w.wheel.after(STOP_GRACE);
                    if grace < timer.deadline() {
                        timer.set(grace);
                    }
                }
                Wake::Failed => return None,
                Wake::Expired => {
                    if served == 0 {
                        crate::errorlog::client_timed_out(&w.site, index, peer.ip(), b"");
                    }
                    return None;
                }
            }
            // On a stop, a request that has come, or comes within the
            // grace, is answered (with `Connection: close`) rather than
            // dropped with the connection: its client would see a
            // failure (nginx closes at once).
            let mut buf = take_buf(&w);
            match read_now(&mut stream, &mut buf).await {
                Some(Ok(0) | Err(_)) => {
                    put_buf(&w, buf);
                    return None;
                }
                Some(Ok(_)) => pending = buf,
                None => put_buf(&w, buf),
            }
        }
        let buf = std::mem::take(&mut pending);
        let head_by = (served == 0).then(|| w.wheel.instant(timer.deadline()));
        let head = Head {
            served: served + 1,
            by: head_by,
            timeout: header_timeout(&w, index),
        };
        match Box::pin(one(&mut stream, buf, peer, &w, index, head, conn)).await {
            // Stopping: nothing more after this request.
            Step::Again(..) if w.stopping.get() => return None,
            Step::Again(rest, keepalive) => {
                pending = rest;
                served += 1;
                timer.set(w.wheel.after(keepalive));
            }
            Step::Close => return None,
            Step::Hyper(pre) => {
                return Some(Rewind {
                    pre,
                    pos: 0,
                    stream,
                    served,
                })
            }
        }
    }
}

/// `client_header_timeout` of the listener's default server (nginx reads
/// heads with the default server's settings).
fn header_timeout(w: &Worker, index: usize) -> Duration {
    w.site.server_client[w.site.listeners[index].default].header_timeout
}
