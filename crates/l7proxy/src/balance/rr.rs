//! Smooth weighted round robin (`ngx_http_upstream_get_round_robin_peer`).

use super::{Attempt, Group, Pick, Upstream};

impl Group {
    /// `ngx_http_upstream_get_peer`: every usable, untried peer gains its
    /// effective weight; the highest current weight wins and pays the total.
    pub(super) fn smooth_wrr(&mut self, tried: &mut [bool], now: u64) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut total = 0i64;
        for (i, &was_tried) in tried.iter().enumerate() {
            if was_tried || !self.usable(i, now) {
                continue;
            }
            total += self.gain(i);
            if self.beats(i, best) {
                best = Some(i);
            }
        }
        let b = best?;
        self.state[b].current_weight -= total;
        self.choose(b, tried, now);
        Some(b)
    }

    /// The single-peer shortcut: max_fails and fail_timeout do not apply.
    pub(super) fn single_peer(&self) -> Option<usize> {
        let (p, s) = (&self.peers[0], &self.state[0]);
        (!(p.down || p.max_conns != 0 && s.conns >= p.max_conns)).then_some(0)
    }
}

impl Upstream {
    /// `ngx_http_upstream_get_round_robin_peer`, falling to the backup
    /// group (with a fresh `tried` set) when no primary peer is usable.
    pub(super) fn round_robin(&mut self, a: &mut Attempt, now: u64) -> Option<Pick> {
        loop {
            let backup = a.in_backup;
            let g = self.group_mut(backup);
            let chosen = if g.single {
                g.single_peer()
            } else {
                g.smooth_wrr(&mut a.tried, now)
            };
            if let Some(index) = chosen {
                return Some(Pick { backup, index });
            }
            if backup || self.backup.is_none() {
                return None;
            }
            a.in_backup = true;
            a.tried = vec![false; self.group(true).peers.len()];
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::balance::{weighted_peers, Input, Method, Upstream};

    fn sequence(u: &mut Upstream, n: usize) -> String {
        (0..n)
            .map(|_| {
                let mut a = u.start(Input::None);
                let p = u.next(&mut a, 0).expect("a peer");
                u.release(&a, false, 0);
                char::from(b'a' + u8::try_from(p.index).unwrap())
            })
            .collect()
    }

    #[test]
    fn weights_5_1_1_give_nginx_s_documented_smooth_sequence() {
        let mut u = Upstream::new(Method::RoundRobin, weighted_peers(&[5, 1, 1]), vec![]);
        assert_eq!(sequence(&mut u, 14), "aabacaaaabacaa");
    }

    #[test]
    fn a_failed_peer_is_skipped_until_fail_timeout_then_probed() {
        let mut u = Upstream::new(Method::RoundRobin, weighted_peers(&[1, 1]), vec![]);
        let mut a = u.start(Input::None);
        let first = u.next(&mut a, 100).unwrap();
        u.release(&a, true, 100);
        // The same request retries on the other peer.
        let second = u.next(&mut a, 100).unwrap();
        assert_ne!(first.index, second.index);
        u.release(&a, false, 100);
        // Within fail_timeout (10 s) every request avoids the failed peer.
        for t in 101..=110 {
            let mut a = u.start(Input::None);
            assert_eq!(u.next(&mut a, t).unwrap().index, second.index, "at {t}");
            u.release(&a, false, t);
        }
        // After it the peer is eligible again; its effective weight fell to
        // 0 on the failure and recovers by one per round, so it wins again
        // within a few requests.
        let seen: Vec<usize> = (0..4)
            .map(|_| {
                let mut a = u.start(Input::None);
                let p = u.next(&mut a, 111).unwrap();
                u.release(&a, false, 111);
                p.index
            })
            .collect();
        assert!(seen.contains(&first.index), "{seen:?}");
    }

    #[test]
    fn backups_serve_only_when_no_primary_is_usable_and_then_502() {
        let mut primary = weighted_peers(&[1]);
        primary[0].down = true;
        let mut u = Upstream::new(Method::RoundRobin, primary, weighted_peers(&[2, 1]));
        let mut a = u.start(Input::None);
        let p = u.next(&mut a, 0).unwrap();
        assert!(p.backup);
        u.release(&a, true, 0);
        let p2 = u.next(&mut a, 0).unwrap();
        assert!(p2.backup && p2.index != p.index);
        u.release(&a, true, 0);
        assert_eq!(
            u.next(&mut a, 0),
            None,
            "every peer tried: no live upstreams"
        );
    }
}
