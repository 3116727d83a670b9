//! `floor.rs`'s byte relay on io_uring instead of epoll: every `recv` and
//! `send` is queued in one ring and a whole batch goes to the kernel in one
//! `io_uring_enter`, so the per-request system calls, `epoll_wait` and the
//! readiness bookkeeping are gone. It answers "would io_uring lift the
//! floor?" in `bench/vs_nginx.sh`'s set-up (FLOOR=1).
//!
//! Usage: `floor_uring LISTEN UPSTREAM`. Each connection has one buffer;
//! a `recv` into it is followed by a `send` of it to the peer, then the
//! next `recv`: at most one operation per connection in flight.
// The ring reads and writes our buffers behind the compiler's back, so
// queueing an entry is `unsafe`, as is adopting the fd accept(2) returns.
#![allow(unsafe_code)]
// File descriptors are never negative and a buffer is 64 KiB: the casts fit.
#![allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap
)]
use io_uring::{opcode, squeue, types, IoUring};
use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

const ACCEPT: u64 = 1 << 32;
const RECV: u64 = 2 << 32;
const SEND: u64 = 3 << 32;
const BUF: usize = 65536;

struct Conn {
    stream: TcpStream,
    peer: RawFd,
    buf: Box<[u8]>,
    /// Bytes of `buf` received, and sent on so far.
    len: usize,
    sent: usize,
}

fn push(ring: &mut IoUring, entry: &squeue::Entry) {
    // SAFETY: every buffer an entry points at is a `Conn`'s boxed array,
    // dropped only after its socket is closed, which ends its operations.
    while unsafe { ring.submission().push(entry) }.is_err() {
        ring.submit().expect("io_uring_enter");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: floor_uring LISTEN UPSTREAM");
        std::process::exit(2);
    }
    let listener = TcpListener::bind(&args[1]).expect("bind");
    let lfd = listener.as_raw_fd();
    let mut ring = IoUring::new(4096).expect("io_uring_setup");
    let accept =
        |fd| opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut());
    push(&mut ring, &accept(lfd).build().user_data(ACCEPT));
    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut done = Vec::new();
    loop {
        ring.submit_and_wait(1).expect("io_uring_enter");
        done.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        for (data, res) in done.drain(..) {
            let fd = (data & 0xffff_ffff) as RawFd;
            match data & !0xffff_ffff {
                ACCEPT => {
                    push(&mut ring, &accept(lfd).build().user_data(ACCEPT));
                    if res < 0 {
                        continue;
                    }
                    // SAFETY: `res` is the new socket accept(2) gave us; nothing else owns it.
                    let client: TcpStream = unsafe { std::os::fd::FromRawFd::from_raw_fd(res) };
                    let Ok(upstream) = TcpStream::connect(&args[2]) else {
                        continue;
                    };
                    let (c, u) = (client.as_raw_fd(), upstream.as_raw_fd());
                    for (stream, fd, peer) in [(client, c, u), (upstream, u, c)] {
                        stream.set_nodelay(true).expect("nodelay");
                        let mut buf = vec![0; BUF].into_boxed_slice();
                        let entry = opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), BUF as u32);
                        let conn = Conn {
                            stream,
                            peer,
                            buf,
                            len: 0,
                            sent: 0,
                        };
                        conns.insert(fd, conn);
                        push(&mut ring, &entry.build().user_data(RECV | fd as u64));
                    }
                }
                RECV | SEND => {
                    let Some(conn) = conns.get_mut(&fd) else {
                        continue;
                    };
                    let (recv, got) = (data & !0xffff_ffff == RECV, res as usize);
                    if res > 0 {
                        (conn.len, conn.sent) = if recv {
                            (got, 0)
                        } else {
                            (conn.len, conn.sent + got)
                        };
                    }
                    let entry = if res > 0 && conn.sent < conn.len {
                        let rest = &conn.buf[conn.sent..conn.len];
                        opcode::Send::new(types::Fd(conn.peer), rest.as_ptr(), rest.len() as u32)
                            .build()
                            .user_data(SEND | fd as u64)
                    } else if res > 0 {
                        opcode::Recv::new(types::Fd(fd), conn.buf.as_mut_ptr(), BUF as u32)
                            .build()
                            .user_data(RECV | fd as u64)
                    } else {
                        // End or error: shut both sides; the peer's pending
                        // recv then ends with 0 and drops the peer in turn.
                        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
                        let peer = conn.peer;
                        if let Some(p) = conns.get(&peer) {
                            let _ = p.stream.shutdown(std::net::Shutdown::Both);
                        }
                        conns.remove(&fd);
                        continue;
                    };
                    push(&mut ring, &entry);
                }
                _ => {}
            }
        }
    }
}
