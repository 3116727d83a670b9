//! `random [two [least_conn]]` (`ngx_http_upstream_random_module.c`): a
//! peer drawn with probability proportional to its weight; with `two`, two
//! distinct draws and the one with fewer connections per weight wins. Up to
//! 20 draws may be rejected (tried, down, failed, at max_conns) before the
//! request continues by round robin. The random numbers are an input.

use super::{Attempt, Group, Pick, Upstream};

/// Draws before giving up on random choice.
const MAX_TRIES: u32 = 20;

impl Group {
    /// The peer owning `x` in `[0, total_weight)`, by cumulative weight.
    fn by_draw(&self, x: u64) -> usize {
        let mut acc = 0u64;
        for (i, p) in self.peers.iter().enumerate() {
            acc += u64::from(p.weight);
            if x < acc {
                return i;
            }
        }
        self.peers.len().saturating_sub(1)
    }
}

impl Upstream {
    /// One usable peer by weighted draw, or `None` after 20 rejections.
    fn draw(
        &mut self,
        a: &mut Attempt,
        now: u64,
        random: &mut dyn FnMut() -> u64,
    ) -> Option<usize> {
        let g = &self.primary;
        loop {
            let p = g.by_draw(random() % g.total_weight.max(1));
            if !a.tried[p] && g.usable(p, now) {
                return Some(p);
            }
            a.tries += 1;
            if a.tries > MAX_TRIES {
                return None;
            }
        }
    }

    pub(super) fn random(
        &mut self,
        a: &mut Attempt,
        now: u64,
        two: bool,
        random: &mut dyn FnMut() -> u64,
    ) -> Option<Pick> {
        if a.fallen_back || self.primary.single {
            return self.round_robin(a, now);
        }
        let Some(first) = self.draw(a, now, random) else {
            a.fallen_back = true;
            return self.round_robin(a, now);
        };
        let mut chosen = first;
        if two && self.primary.peers.len() > 1 {
            // A second, different usable peer; the less loaded one wins.
            let mut second = None;
            for _ in 0..MAX_TRIES {
                match self.draw(a, now, random) {
                    Some(p) if p != first => {
                        second = Some(p);
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            if let Some(s) = second {
                let g = &self.primary;
                let lhs = u64::from(g.state[first].conns) * u64::from(g.peers[s].weight);
                let rhs = u64::from(g.state[s].conns) * u64::from(g.peers[first].weight);
                if lhs > rhs {
                    chosen = s;
                }
            }
        }
        Some(self.hashed(a, chosen, now))
    }
}

#[cfg(test)]
mod tests {
    use crate::balance::{weighted_peers, Input, Method, Upstream};

    /// xorshift64*, for repeatable draws.
    fn rng(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn draws_follow_the_weights() {
        let mut u = Upstream::new(
            Method::Random { two: false },
            weighted_peers(&[1, 3]),
            vec![],
        );
        let mut r = rng(7);
        let mut count = [0u32; 2];
        for _ in 0..20_000 {
            let mut a = u.start(Input::None);
            let p = u.next_with(&mut a, 0, &mut r).unwrap();
            u.release(&a, false, 0);
            count[p.index] += 1;
        }
        // Weight 3 of 4: 15,000 expected; well within 5%.
        assert!((14_250..=15_750).contains(&count[1]), "{count:?}");
    }

    #[test]
    fn two_choices_prefer_the_less_loaded_peer() {
        let mut u = Upstream::new(
            Method::Random { two: true },
            weighted_peers(&[1, 1, 1]),
            vec![],
        );
        let mut r = rng(11);
        // Peer 0 is busy with 5 connections.
        u.primary.state[0].conns = 5;
        let mut to_zero = 0;
        for _ in 0..3000 {
            let mut a = u.start(Input::None);
            let p = u.next_with(&mut a, 0, &mut r).unwrap();
            u.release(&a, false, 0);
            to_zero += u32::from(p.index == 0);
        }
        // Peer 0 could only win against itself, which `two` never draws.
        assert_eq!(to_zero, 0);
        // Without `two`, a third of the draws go to it regardless.
        let mut plain = Upstream::new(
            Method::Random { two: false },
            weighted_peers(&[1, 1, 1]),
            vec![],
        );
        plain.primary.state[0].conns = 5;
        let hits = (0..3000)
            .filter(|_| {
                let mut a = plain.start(Input::None);
                let p = plain.next_with(&mut a, 0, &mut r).unwrap();
                plain.release(&a, false, 0);
                p.index == 0
            })
            .count();
        assert!((850..=1150).contains(&hits), "{hits}");
    }

    #[test]
    fn a_down_peer_is_never_drawn() {
        let mut ps = weighted_peers(&[5, 1]);
        ps[0].down = true;
        let mut u = Upstream::new(Method::Random { two: false }, ps, vec![]);
        let mut r = rng(3);
        for _ in 0..500 {
            let mut a = u.start(Input::None);
            assert_eq!(u.next_with(&mut a, 0, &mut r).unwrap().index, 1);
            u.release(&a, false, 0);
        }
    }
}
