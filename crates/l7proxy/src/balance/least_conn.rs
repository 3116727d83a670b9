//! `least_conn` (`ngx_http_upstream_get_least_conn_peer`).

use super::{Attempt, Pick, Upstream};

impl Upstream {
    pub(super) fn least_conn(&mut self, a: &mut Attempt, now: u64) -> Option<Pick> {
        let backup = a.in_backup;
        if self.group(backup).single {
            return self.round_robin(a, now);
        }
        let g = self.group_mut(backup);
        let n = g.peers.len();
        // The fewest connections per unit of weight (cross-multiplied).
        let mut best: Option<usize> = None;
        let mut many = false;
        for i in 0..n {
            if a.tried[i] || !g.usable(i, now) {
                continue;
            }
            match best {
                None => best = Some(i),
                Some(b) => {
                    let lhs = u64::from(g.state[i].conns) * u64::from(g.peers[b].weight);
                    let rhs = u64::from(g.state[b].conns) * u64::from(g.peers[i].weight);
                    if lhs < rhs {
                        best = Some(i);
                        many = false;
                    } else if lhs == rhs {
                        many = true;
                    }
                }
            }
        }
        let Some(mut b) = best else {
            if backup || self.backup.is_none() {
                return None;
            }
            a.in_backup = true;
            a.tried = vec![false; self.group(true).peers.len()];
            return self.least_conn(a, now);
        };
        // Ties: smooth weighted round robin among the tied peers, starting
        // from the first of them, against the best as it moves.
        let mut total = 0i64;
        if many {
            let first_tied = b;
            for i in first_tied..n {
                if a.tried[i] || !g.usable(i, now) {
                    continue;
                }
                let lhs = u64::from(g.state[i].conns) * u64::from(g.peers[b].weight);
                let rhs = u64::from(g.state[b].conns) * u64::from(g.peers[i].weight);
                if lhs != rhs {
                    continue;
                }
                total += g.gain(i);
                if g.beats(i, Some(b)) {
                    b = i;
                }
            }
        }
        g.state[b].current_weight -= total;
        g.choose(b, &mut a.tried, now);
        Some(Pick { backup, index: b })
    }
}
