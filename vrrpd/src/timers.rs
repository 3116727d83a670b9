//! One deadline per key, ordered: the event loop sleeps until the earliest.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

#[derive(Debug)]
pub struct Timers<K: Ord + Hash + Clone> {
    by_key: HashMap<K, Instant>,
    order: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Hash + Clone> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_key: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> Timers<K> {
    /// Sets (or moves) the deadline of `key`.
    pub fn arm(&mut self, key: K, at: Instant) {
        self.cancel(&key);
        self.by_key.insert(key.clone(), at);
        self.order.insert((at, key));
    }

    pub fn cancel(&mut self, key: &K) {
        if let Some(at) = self.by_key.remove(key) {
            self.order.remove(&(at, key.clone()));
        }
    }

    /// Removes every key `keep` rejects.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        let gone: Vec<K> = self.by_key.keys().filter(|k| !keep(k)).cloned().collect();
        for k in gone {
            self.cancel(&k);
        }
    }

    pub fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Takes the earliest key due at `now`, with its deadline.
    pub fn pop_due(&mut self, now: Instant) -> Option<(K, Instant)> {
        let (at, _) = self.order.first()?;
        if *at > now {
            return None;
        }
        let (at, key) = self.order.pop_first()?;
        self.by_key.remove(&key);
        Some((key, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearm_moves_and_pop_orders() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.arm("a", t0 + Duration::from_secs(2));
        t.arm("b", t0 + Duration::from_secs(1));
        t.arm("a", t0 + Duration::from_millis(500));
        assert_eq!(t.next(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(3)),
            Some(("a", t0 + Duration::from_millis(500)))
        );
        t.cancel(&"b");
        assert_eq!(t.next(), None);
    }
}
