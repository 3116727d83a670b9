//! A coarse per-worker timer for waits that every connection has and
//! that rarely expire: an idle keep-alive connection waiting for its next
//! request (`keepalive_timeout`), a new one waiting for its first bytes
//! (`client_header_timeout`).
//!
//! tokio's `Sleep` would add its timer entry (over 100 bytes) to every
//! idle connection's task and a timer-wheel insertion and removal to every
//! request. Here a connection keeps two numbers (its deadline and the tick
//! it is registered for, in ticks of [`TICK`]) and registers its waker in
//! the worker's wheel only when it has no registration due before its
//! deadline: a busy keep-alive connection registers once per timeout
//! period, not once per request. The worker's sweep (sleeping until the
//! earliest registered tick) wakes the connections of each tick that has
//! passed; a woken connection compares its own
//! deadline with the clock (a wake for an older deadline is harmless) and
//! registers again if it is still early.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The wheel's resolution.
pub const TICK: Duration = Duration::from_millis(50);

/// Wakers by the tick they wait for.
#[derive(Debug)]
pub struct Wheel {
    start: Instant,
    slots: RefCell<BTreeMap<u64, Vec<Waker>>>,
    /// Wakes the sweep when a registration comes before the one it
    /// sleeps for (the sweep sleeps until the earliest tick, so an idle
    /// worker is not woken 20 times a second).
    earlier: tokio::sync::Notify,
}

impl Default for Wheel {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            slots: RefCell::new(BTreeMap::new()),
            earlier: tokio::sync::Notify::new(),
        }
    }
}

fn ticks(d: Duration) -> u64 {
    let t = TICK.as_millis();
    u64::try_from(d.as_millis().div_ceil(t)).unwrap_or(u64::MAX)
}

impl Wheel {
    /// Ticks since the wheel started (rounded down).
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis() / TICK.as_millis()).unwrap_or(u64::MAX)
    }

    /// The tick `after` from now (rounded up, so never early).
    pub fn after(&self, after: Duration) -> u64 {
        ticks(self.start.elapsed() + after)
    }

    /// The instant of `tick`.
    pub fn instant(&self, tick: u64) -> Instant {
        let ms = tick.saturating_mul(u64::try_from(TICK.as_millis()).unwrap_or(50));
        self.start + Duration::from_millis(ms)
    }

    /// Wakes every waker whose tick has come; returns how many.
    pub fn expire(&self) -> usize {
        let now = self.now();
        let due = {
            let mut slots = self.slots.borrow_mut();
            let later = slots.split_off(&(now + 1));
            std::mem::replace(&mut *slots, later)
        };
        let mut n = 0;
        for w in due.into_values().flatten() {
            w.wake();
            n += 1;
        }
        n
    }

    /// Wakes every registered waker (the worker is stopping).
    pub fn wake_all(&self) {
        let all = std::mem::take(&mut *self.slots.borrow_mut());
        for w in all.into_values().flatten() {
            w.wake();
        }
    }

    /// Connections registered (for tests).
    pub fn registered(&self) -> usize {
        self.slots.borrow().values().map(Vec::len).sum()
    }

    fn register(&self, tick: u64, waker: &Waker) {
        let mut slots = self.slots.borrow_mut();
        if slots
            .first_key_value()
            .is_none_or(|(&first, _)| tick < first)
        {
            self.earlier.notify_one();
        }
        slots.entry(tick).or_default().push(waker.clone());
    }

    /// The sweep: wakes the connections of each tick as it comes, sleeping
    /// until the earliest registered one (or a new earlier one).
    pub async fn sweep(&self) {
        loop {
            let first = self.slots.borrow().first_key_value().map(|(&t, _)| t);
            match first {
                None => self.earlier.notified().await,
                Some(t) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.instant(t).into()) => {}
                        () = self.earlier.notified() => {}
                    }
                }
            }
            self.expire();
        }
    }
}

/// One connection's place in the wheel: its deadline and the tick it is
/// registered for (0: none), as `u32` ticks (6.8 years of a worker's
/// life) to keep the idle task small.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timer {
    deadline: u32,
    armed: u32,
}

impl Timer {
    pub fn new(deadline: u64) -> Self {
        Self {
            deadline: u32::try_from(deadline).unwrap_or(u32::MAX),
            armed: 0,
        }
    }

    pub fn deadline(&self) -> u64 {
        u64::from(self.deadline)
    }

    pub fn set(&mut self, deadline: u64) {
        self.deadline = u32::try_from(deadline).unwrap_or(u32::MAX);
    }

    /// `Ready` once the deadline has passed; else makes sure the task is
    /// woken by then.
    pub fn poll_expired(&mut self, wheel: &Wheel, cx: &Context<'_>) -> Poll<()> {
        let now = wheel.now();
        let (deadline, armed) = (u64::from(self.deadline), u64::from(self.armed));
        if now >= deadline {
            return Poll::Ready(());
        }
        if armed <= now || armed > deadline {
            wheel.register(deadline, cx.waker());
            self.armed = self.deadline;
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_busy_connection_registers_once_per_period_and_expires_on_time() {
        let wheel = Wheel::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let cx = Context::from_waker(&waker);
        let mut t = Timer::new(wheel.after(Duration::from_millis(120)));
        assert!(t.poll_expired(&wheel, &cx).is_pending());
        // A later deadline (another request came) needs no new entry.
        for _ in 0..100 {
            t.set(wheel.after(Duration::from_millis(300)));
            assert!(t.poll_expired(&wheel, &cx).is_pending());
        }
        assert_eq!(wheel.registered(), 1);
        assert_eq!(wheel.expire(), 0, "nothing is due yet");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(wheel.expire(), 1);
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        // Woken for the older deadline: still early, so registered again.
        assert!(t.poll_expired(&wheel, &cx).is_pending());
        assert_eq!(wheel.registered(), 1);
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.poll_expired(&wheel, &cx).is_ready());
        assert_eq!(wheel.expire(), 1);
    }

    #[test]
    fn a_stop_wakes_every_registered_connection_at_once() {
        let wheel = Wheel::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let cx = Context::from_waker(&waker);
        for ms in [100, 5_000, 60_000] {
            let mut t = Timer::new(wheel.after(Duration::from_millis(ms)));
            assert!(t.poll_expired(&wheel, &cx).is_pending());
        }
        assert_eq!(wheel.registered(), 3);
        wheel.wake_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        assert_eq!(wheel.registered(), 0);
    }

    #[tokio::test]
    async fn the_sweep_sleeps_until_the_earliest_deadline_and_wakes_it() {
        let wheel = Wheel::default();
        let start = std::time::Instant::now();
        let mut late = Timer::new(wheel.after(Duration::from_secs(30)));
        let mut soon = Timer::new(wheel.after(Duration::from_millis(200)));
        let waits = async {
            // The later deadline registers first: the sweep must still
            // wake the earlier one on time.
            let first = std::future::poll_fn(|cx| {
                assert!(late.poll_expired(&wheel, cx).is_pending());
                Poll::Ready(())
            });
            first.await;
            std::future::poll_fn(|cx| soon.poll_expired(&wheel, cx)).await;
        };
        // The sweep first, as it runs in a task of its own.
        tokio::select! {
            biased;
            () = wheel.sweep() => unreachable!("the sweep never ends"),
            () = waits => {}
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(wheel.registered(), 1, "the 30 s one is still there");
    }

    #[test]
    fn deadlines_round_up_to_whole_ticks() {
        let wheel = Wheel::default();
        let d = wheel.after(Duration::from_millis(1));
        assert!(wheel.instant(d) >= wheel.start + Duration::from_millis(1));
        assert_eq!(ticks(Duration::from_millis(100)), 2);
        assert_eq!(ticks(Duration::from_millis(101)), 3);
    }
}
