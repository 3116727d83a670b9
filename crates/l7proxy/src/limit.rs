//! `worker_connections`: the connections one worker may hold, client and
//! upstream alike, as nginx counts them. A worker's table also holds its
//! listening sockets and its channel to the master, so `N` leaves
//! `N - listeners - 1` for connections.
//!
//! Each new connection, once at most `N / 16` places are free, first
//! closes idle ones (`ngx_drain_connections`): client connections waiting
//! for a request, fresh or kept alive (plain, or after the TLS handshake),
//! and HTTP/2 connections without a stream are "reusable"; the oldest
//! `max(min(32, reusable / 8), 1)` of them are closed, with the warning
//! `N worker_connections are not enough, reusing connections` (at most
//! once a second). With no place left, an accepted client connection is
//! closed at once (`[alert] N worker_connections are not enough`), and an
//! upstream connection is not made (the request gets 500).
//!
//! One table per worker thread (each worker has its own runtime on its
//! own thread, as each nginx worker is a process).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::errorlog::Level;

/// nginx's default `worker_connections`.
pub const DEFAULT: usize = 512;

struct Table {
    /// `worker_connections` as configured (for the messages).
    configured: usize,
    capacity: usize,
    used: Cell<usize>,
    /// Reusable connections by the order they became so (oldest first),
    /// with the waker of the task waiting on each.
    idle: RefCell<BTreeMap<u64, Option<Waker>>>,
    next: Cell<u64>,
    /// When "reusing connections" was last said (seconds).
    warned: Cell<u64>,
}

std::thread_local! {
    static TABLE: RefCell<Option<Rc<Table>>> = const { RefCell::new(None) };
}

/// Sets up this worker thread's table: `configured` connections, of which
/// `reserved` are the worker's own sockets.
pub fn install(configured: usize, reserved: usize) {
    let table = Table {
        configured,
        capacity: configured.saturating_sub(reserved),
        used: Cell::new(0),
        idle: RefCell::new(BTreeMap::new()),
        next: Cell::new(0),
        warned: Cell::new(u64::MAX),
    };
    TABLE.with(|t| *t.borrow_mut() = Some(Rc::new(table)));
}

fn table() -> Option<Rc<Table>> {
    TABLE.with(|t| t.borrow().clone())
}

/// `worker_connections` of this worker (for messages).
pub fn configured() -> usize {
    table().map_or(DEFAULT, |t| t.configured)
}

/// A connection's place in the table (of its thread's worker), given back
/// when dropped. One byte: an idle connection holds one.
#[derive(Debug, Default)]
pub struct Slot {
    /// Its place was given up by a drain (not counted any more).
    freed: Cell<bool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.freed.get() {
            return;
        }
        if let Some(t) = table() {
            t.used.set(t.used.get().saturating_sub(1));
        }
    }
}

/// A place for a new connection, closing idle ones to make room if the
/// table is (nearly) full; `None` when there is no room (the caller says
/// so). Without a table (outside a worker) there is no limit.
pub fn acquire() -> Option<Slot> {
    let Some(t) = table() else {
        return Some(Slot::default());
    };
    // nginx drains on every new connection once at most 1/16 of the
    // table is free.
    if t.capacity.saturating_sub(t.used.get()) <= t.configured / 16 {
        drain(&t);
    }
    if t.used.get() >= t.capacity {
        return None;
    }
    t.used.set(t.used.get() + 1);
    Some(Slot::default())
}

/// Closes the oldest reusable connections: their places are free at once,
/// their tasks are woken to close them.
fn drain(t: &Table) {
    let mut idle = t.idle.borrow_mut();
    if idle.is_empty() {
        return;
    }
    let now = crate::worker::now_secs();
    if t.warned.get() != now {
        t.warned.set(now);
        crate::errorlog::log(
            Level::Warn,
            &format!(
                "{} worker_connections are not enough, reusing connections",
                t.configured
            ),
        );
    }
    let n = (idle.len() / 8).clamp(1, 32);
    for _ in 0..n {
        let Some((_, waker)) = idle.pop_first() else {
            break;
        };
        t.used.set(t.used.get().saturating_sub(1));
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Says that an accepted connection was closed for want of room.
pub fn refused() {
    crate::errorlog::log(
        Level::Alert,
        &format!("{} worker_connections are not enough", configured()),
    );
}

impl Slot {
    /// Marks the connection reusable while the guard lives (it waits for
    /// a request); [`Idle::reclaimed`] then completes if a drain closes it.
    pub fn idle(&self) -> Idle<'_> {
        let key = table().map_or(NOT_IDLE, |t| {
            let key = t.next.get();
            t.next.set(key + 1);
            t.idle.borrow_mut().insert(key, None);
            key
        });
        Idle { key, slot: self }
    }
}

/// A connection's time as reusable (see [`Slot::idle`]): its key in the
/// table's reusable list.
#[derive(Debug)]
pub struct Idle<'a> {
    key: u64,
    slot: &'a Slot,
}

/// The key of no entry.
const NOT_IDLE: u64 = u64::MAX;

impl Idle<'_> {
    /// Completes when a drain took this connection's place: it must close.
    pub fn reclaimed(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            let Some(t) = table().filter(|_| self.key != NOT_IDLE) else {
                return Poll::Pending;
            };
            let mut idle = t.idle.borrow_mut();
            match idle.get_mut(&self.key) {
                None => Poll::Ready(()),
                Some(w) => {
                    if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *w = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        })
    }
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        if self.key == NOT_IDLE {
            return;
        }
        if let Some(t) = table() {
            // Gone from the list: a drain took its place.
            if t.idle.borrow_mut().remove(&self.key).is_none() {
                self.slot.freed.set(true);
            }
        }
    }
}

/// A connection served by hyper (TLS, HTTP/2, or handed over by the plain
/// path): reusable while no request is in progress (nginx: an HTTP/1
/// connection between requests, an HTTP/2 one without streams). Shared by
/// the connection's task and its requests.
#[derive(Debug)]
pub struct Shared {
    slot: Slot,
    /// Its key in the reusable list while idle, else `NOT_IDLE`.
    key: Cell<u64>,
    active: Cell<usize>,
    /// The connection task's waker, for a drain to wake it.
    waker: RefCell<Option<Waker>>,
}

impl Shared {
    /// Busy (not reusable) until [`Shared::idle`].
    pub fn new(slot: Slot) -> Rc<Self> {
        Rc::new(Self {
            slot,
            key: Cell::new(NOT_IDLE),
            active: Cell::new(0),
            waker: RefCell::new(None),
        })
    }

    /// Marks the connection reusable.
    pub fn idle(&self) {
        if self.key.get() != NOT_IDLE || self.slot.freed.get() {
            return;
        }
        if let Some(t) = table() {
            let key = t.next.get();
            t.next.set(key + 1);
            t.idle.borrow_mut().insert(key, self.waker.borrow().clone());
            self.key.set(key);
        }
    }

    fn busy(&self) {
        let key = self.key.replace(NOT_IDLE);
        if key == NOT_IDLE {
            return;
        }
        if let Some(t) = table() {
            if t.idle.borrow_mut().remove(&key).is_none() {
                self.slot.freed.set(true);
            }
        }
    }

    /// A request starts: not reusable until the last one in progress has
    /// sent its response (the guard's drop).
    pub fn begin(self: &Rc<Self>) -> Busy {
        self.active.set(self.active.get() + 1);
        self.busy();
        Busy(Rc::clone(self))
    }

    /// Completes when a drain took this connection's place: it must close.
    pub fn reclaimed(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            if self.slot.freed.get() {
                return Poll::Ready(());
            }
            let key = self.key.get();
            if key != NOT_IDLE {
                if let Some(t) = table() {
                    match t.idle.borrow_mut().get_mut(&key) {
                        None => return Poll::Ready(()),
                        Some(w) => *w = Some(cx.waker().clone()),
                    }
                }
            }
            let mut mine = self.waker.borrow_mut();
            if !mine.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *mine = Some(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.busy();
    }
}

/// A request in progress on a [`Shared`] connection.
#[derive(Debug)]
pub struct Busy(Rc<Shared>);

impl Drop for Busy {
    fn drop(&mut self) {
        let s = &self.0;
        s.active.set(s.active.get().saturating_sub(1));
        if s.active.get() == 0 {
            s.idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_reuses_the_oldest_idle_then_refuses() {
        install(6, 2);
        let first = acquire().unwrap();
        let second = acquire().unwrap();
        let busy = [acquire().unwrap(), acquire().unwrap()];
        let first_idle = first.idle();
        let second_idle = second.idle();
        // Full: the oldest idle one gives its place.
        let third = acquire().unwrap();
        drop(first_idle);
        assert!(first.freed.get() && !second.freed.get());
        drop(first); // its place is not given back twice
        let fourth = acquire().unwrap();
        drop(second_idle);
        assert!(second.freed.get());
        // Nothing idle any more: refused.
        assert!(acquire().is_none());
        drop((busy, third, fourth));
        assert!(acquire().is_some());
        TABLE.with(|t| *t.borrow_mut() = None);
    }

    #[test]
    fn hyper_connections_are_reusable_between_requests_only() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        install(5, 1);
        let serving = Shared::new(acquire().unwrap());
        serving.idle();
        let request = serving.begin(); // busy again
        let waiting = Shared::new(acquire().unwrap());
        waiting.idle();
        let others = [acquire().unwrap(), acquire().unwrap()];
        // Full: the idle one goes, not the one with a request.
        let next = acquire().unwrap();
        rt.block_on(waiting.reclaimed());
        assert_eq!(serving.key.get(), NOT_IDLE, "busy: not in the list");
        // Its request answered, the other becomes reusable and goes next.
        drop(request);
        let last = acquire();
        assert!(last.is_some());
        rt.block_on(serving.reclaimed());
        drop((others, next, last, serving, waiting));
        let used = table().map(|t| t.used.get());
        assert_eq!(used, Some(0), "every place given back once");
        TABLE.with(|t| *t.borrow_mut() = None);
    }
}
