//! The floor under any TCP reverse proxy on this machine: a byte relay
//! that pairs each client connection with one upstream connection for its
//! whole life and copies whatever arrives, with no HTTP at all. It does
//! the least an epoll proxy can do per request (one `epoll_wait` for a
//! batch, one `recv` and one `send` each way), so its rate in
//! `bench/vs_nginx.sh`'s set-up bounds what a real proxy could reach.
//!
//! Usage: `floor LISTEN UPSTREAM`, e.g. `floor 127.0.0.1:19004 127.0.0.1:19001`.
//! Level-triggered, one thread, small messages only: a send that would
//! block is retried until done (the benchmark's bodies are far below a
//! socket buffer), which a real proxy could not afford.
// File descriptors are never negative: the casts to and from epoll's u64 fit.
#![allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap
)]
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{recv, send, MsgFlags};
use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: floor LISTEN UPSTREAM");
        std::process::exit(2);
    }
    let listener = TcpListener::bind(&args[1]).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let epoll = Epoll::new(EpollCreateFlags::empty()).expect("epoll");
    let lfd = listener.as_raw_fd();
    epoll
        .add(
            listener.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, lfd as u64),
        )
        .expect("epoll add");
    // fd -> (its stream, the peer's fd)
    let mut pairs: HashMap<RawFd, (TcpStream, RawFd)> = HashMap::new();
    let mut events = vec![EpollEvent::empty(); 256];
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => panic!("epoll_wait: {e}"),
        };
        for ev in &events[..n] {
            let fd = ev.data() as RawFd;
            if fd == lfd {
                while let Ok((client, _)) = listener.accept() {
                    let Ok(upstream) = TcpStream::connect(&args[2]) else {
                        continue;
                    };
                    for s in [&client, &upstream] {
                        s.set_nonblocking(true).expect("nonblocking");
                        s.set_nodelay(true).expect("nodelay");
                    }
                    let (c, u) = (client.as_raw_fd(), upstream.as_raw_fd());
                    for (s, fd) in [(&client, c), (&upstream, u)] {
                        let ev = EpollEvent::new(EpollFlags::EPOLLIN, fd as u64);
                        epoll.add(s.as_fd(), ev).expect("epoll add");
                    }
                    pairs.insert(c, (client, u));
                    pairs.insert(u, (upstream, c));
                }
                continue;
            }
            let Some(&(_, peer)) = pairs.get(&fd) else {
                continue;
            };
            let got = match recv(fd, &mut buf, MsgFlags::empty()) {
                Ok(0) | Err(_) => 0,
                Ok(got) => got,
            };
            let mut sent = 0;
            while got > 0 && sent < got {
                match send(peer, &buf[sent..got], MsgFlags::MSG_NOSIGNAL) {
                    Ok(k) => sent += k,
                    Err(Errno::EAGAIN) => {}
                    Err(_) => break,
                }
            }
            if got == 0 || sent < got {
                // Dropping both streams closes them (and leaves the epoll set).
                pairs.remove(&fd);
                pairs.remove(&peer);
            }
        }
    }
}
