//! HTTP/2 with hyper: over TLS (ALPN `h2`) and on a plain `http2` port
//! (h2c, after the client's preface), with nginx's settings.

use std::net::SocketAddr;
use std::rc::Rc;

use hyper_util::rt::TokioIo;

use super::local_addr;
use super::service::{service, ConnInfo, Tracked};
use crate::accesslog::ConnFacts;
use crate::worker::Worker;

/// Runs futures of HTTP/2 streams on the worker's thread (our services
/// hold the worker's `Rc` state, so they are not `Send`).
#[derive(Clone, Copy, Debug)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

pub(super) async fn serve_h2<I>(
    io: I,
    max_streams: u32,
    svc: impl hyper::service::HttpService<hyper::body::Incoming, ResBody = Tracked> + 'static,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    reuse: &crate::limit::Shared,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let conn = h2_builder(max_streams).serve_connection(io, svc);
    tokio::pin!(conn);
    // Without streams, the connection is reusable (nginx's
    // ngx_http_v2_handle_connection).
    reuse.idle();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.wait_for(|s| *s) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        () = reuse.reclaimed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// nginx's HTTP/2 settings (`ngx_http_v2_send_settings`):
/// `http2_max_concurrent_streams` (128), a stream window of
/// `http2_body_preread_size` (64k), frames up to 16 MB, and the connection
/// window opened to 2^31-1.
fn h2_builder(max_streams: u32) -> hyper::server::conn::http2::Builder<LocalExec> {
    let mut b = hyper::server::conn::http2::Builder::new(LocalExec);
    b.max_concurrent_streams(max_streams)
        .initial_stream_window_size(65_536)
        .initial_connection_window_size(0x7fff_ffff)
        .max_frame_size(0x00ff_ffff);
    b
}

/// `http2_max_concurrent_streams` of a listener: its default server's
/// (nginx's default 128).
pub(super) fn h2_max_streams(w: &Worker, index: usize) -> u32 {
    let l = &w.site.listeners[index];
    w.site.http.servers[l.default]
        .settings
        .http2_max_concurrent_streams
        .unwrap_or(128)
}

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What nginx 1.22 writes on an h2c port to a client whose first bytes
/// are not the preface (an HTTP/1 request, say): its SETTINGS
/// (MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE 65536, MAX_FRAME_SIZE
/// 16777215), a connection WINDOW_UPDATE of 2147418112, and a GOAWAY with
/// PROTOCOL_ERROR for stream 0; then it closes.
fn not_a_preface(max_streams: u32) -> [u8; 57] {
    let mut b = NOT_A_PREFACE;
    b[11..15].copy_from_slice(&max_streams.to_be_bytes());
    b
}

/// [`not_a_preface`] with 128 streams.
const NOT_A_PREFACE: [u8; 57] = [
    0, 0, 18, 4, 0, 0, 0, 0, 0, //
    0, 3, 0, 0, 0, 128, //
    0, 4, 0, 1, 0, 0, //
    0, 5, 0, 255, 255, 255, //
    0, 0, 4, 8, 0, 0, 0, 0, 0, //
    127, 255, 0, 0, //
    0, 0, 8, 7, 0, 0, 0, 0, 0, //
    0, 0, 0, 0, 0, 0, 0, 1,
];

/// Whether `got` can still be the preface, judged as nginx does
/// (`ngx_http_v2_state_preface`): on its first 16 bytes, then on all 24;
/// `None` while too few bytes have come to judge.
fn preface_verdict(got: &[u8]) -> Option<bool> {
    match got.len() {
        0..16 => None,
        16..24 => (got[..16] != PREFACE[..16]).then_some(false),
        _ => Some(got[..24] == PREFACE[..]),
    }
}

/// A `listen … http2` port without `ssl` (h2c): HTTP/2 with prior
/// knowledge only, as in nginx 1.22 (no HTTP/1, no `Upgrade: h2c`).
pub(super) async fn serve_h2c(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    w: Rc<Worker>,
    index: usize,
    shutdown: tokio::sync::watch::Receiver<bool>,
    slot: crate::limit::Slot,
    conn: ConnFacts,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let local = local_addr(&w, index, || stream.local_addr());
    let mut got = [0u8; 24];
    let mut n = 0;
    // nginx's post-accept timer: client_header_timeout.
    let wait = w.site.server_client[w.site.listeners[index].default].header_timeout;
    let verdict = loop {
        // Never read past the preface: the frames after it are hyper's.
        let read = tokio::time::timeout(wait, stream.read(&mut got[n..])).await;
        match read {
            Ok(Ok(k)) if k > 0 => n += k,
            _ => return,
        }
        if let Some(v) = preface_verdict(&got[..n]) {
            break v;
        }
    };
    if !verdict {
        // The connection's log is its default server's (nginx's c->log).
        let l = &w.site.listeners[index];
        let server = l.addr;
        w.site.request_errors(l.default, None).log(
            crate::errorlog::Level::Info,
            Some(crate::errorlog::connection_number()),
            &format!(
                "invalid connection preface while processing HTTP/2 connection, client: {}, server: {server}",
                peer.ip()
            ),
        );
        let _ = stream
            .write_all(&not_a_preface(h2_max_streams(&w, index)))
            .await;
        let _ = stream.shutdown().await;
        return;
    }
    let io = crate::fast::Rewind::new(got.to_vec(), stream);
    let max = h2_max_streams(&w, index);
    let reuse = crate::limit::Shared::new(slot);
    let info = ConnInfo {
        peer,
        local,
        rec: None,
        facts: Rc::new(conn.into()),
    };
    let svc = service(w, index, true, &reuse, 0, None, info);
    serve_h2(TokioIo::new(io), max, svc, shutdown, &reuse).await;
}
