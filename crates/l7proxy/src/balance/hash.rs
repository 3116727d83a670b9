//! `ip_hash`, `hash KEY` and `hash KEY consistent`
//! (`ngx_http_upstream_ip_hash_module.c`, `ngx_http_upstream_hash_module.c`).

use super::{Attempt, PeerConfig, Pick, Upstream};

/// Tries before a hash method gives up and continues by round robin.
const MAX_TRIES: u32 = 20;

/// The peer that owns weight slot `w` (walking weights in order).
fn by_weight(peers: &[PeerConfig], mut w: u64) -> usize {
    let mut p = 0;
    while p + 1 < peers.len() && w >= u64::from(peers[p].weight) {
        w -= u64::from(peers[p].weight);
        p += 1;
    }
    p
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

impl Upstream {
    fn fall_back(&mut self, a: &mut Attempt, now: u64) -> Option<Pick> {
        a.fallen_back = true;
        self.round_robin(a, now)
    }

    /// `ip_hash`: `hash = (hash * 113 + byte) % 6271` over the first three
    /// octets of an IPv4 client (all sixteen of IPv6), starting from 89 and
    /// continuing from the last value on every retry.
    pub(super) fn ip_hash(&mut self, a: &mut Attempt, now: u64) -> Option<Pick> {
        if a.fallen_back || a.tries > MAX_TRIES || self.primary.single || a.addr.is_empty() {
            return self.fall_back(a, now);
        }
        let g = &mut self.primary;
        let mut hash = a.hash;
        loop {
            for &b in &a.addr {
                hash = (hash * 113 + u64::from(b)) % 6271;
            }
            let p = by_weight(&g.peers, hash % g.total_weight.max(1));
            if !a.tried[p] && g.usable(p, now) {
                a.hash = hash;
                return Some(self.hashed(a, p, now));
            }
            a.tries += 1;
            if a.tries > MAX_TRIES {
                a.hash = hash;
                return self.fall_back(a, now);
            }
        }
    }

    /// `hash KEY`: `((crc32([REHASH] KEY) >> 16) & 0x7fff) + PREV`, the
    /// rehash count as decimal text from the second round on (compatible
    /// with Cache::Memcached).
    pub(super) fn hash(&mut self, a: &mut Attempt, now: u64) -> Option<Pick> {
        if a.fallen_back || a.tries > MAX_TRIES || self.primary.single || a.key.is_empty() {
            return self.fall_back(a, now);
        }
        loop {
            let rehash = a.rehash.to_string();
            let prefix: &[u8] = if a.rehash > 0 { rehash.as_bytes() } else { b"" };
            let h = u64::from((crc32(&[prefix, &a.key]) >> 16) & 0x7fff);
            a.hash += h;
            a.rehash += 1;
            let g = &self.primary;
            let p = by_weight(&g.peers, a.hash % g.total_weight.max(1));
            if !a.tried[p] && g.usable(p, now) {
                return Some(self.hashed(a, p, now));
            }
            a.tries += 1;
            if a.tries > MAX_TRIES {
                return self.fall_back(a, now);
            }
        }
    }

    /// The bookkeeping nginx does for a peer chosen by hash.
    pub(super) fn hashed(&mut self, a: &mut Attempt, p: usize, now: u64) -> Pick {
        self.primary.choose(p, &mut a.tried, now);
        Pick {
            backup: false,
            index: p,
        }
    }

    /// `hash KEY consistent`: the first point at or after crc32(KEY) on the
    /// ketama ring names a server; among the peers with that server text,
    /// smooth weighted round robin; else the next point, up to 20 times.
    pub(super) fn chash(&mut self, a: &mut Attempt, now: u64) -> Option<Pick> {
        if a.fallen_back || a.tries > MAX_TRIES || self.primary.single || a.key.is_empty() {
            return self.fall_back(a, now);
        }
        let Some(points) = self.points.as_ref() else {
            return self.fall_back(a, now);
        };
        let n = points.points.len().max(1) as u64;
        loop {
            let owner = points.points[usize::try_from(a.hash % n).unwrap_or(0)].1;
            let g = &mut self.primary;
            let server = g.peers[owner].server.clone();
            let mut best: Option<usize> = None;
            let mut total = 0i64;
            for i in 0..g.peers.len() {
                if a.tried[i] || !g.usable(i, now) || g.peers[i].server != server {
                    continue;
                }
                total += g.gain(i);
                if g.beats(i, best) {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                g.state[b].current_weight -= total;
                return Some(self.hashed(a, b, now));
            }
            a.hash += 1;
            a.tries += 1;
            if a.tries > MAX_TRIES {
                return self.fall_back(a, now);
            }
        }
    }
}

/// The ketama ring of `hash … consistent`: 160 points per unit of weight
/// for each primary peer, point i = crc32(base ‖ previous point, LE) with
/// base = crc32 of `HOST "\0" PORT`; sorted, equal hashes collapsed.
#[derive(Debug, Clone)]
pub struct ChashPoints {
    /// (hash, index of a peer whose server text owns the point).
    points: Vec<(u32, usize)>,
}

impl ChashPoints {
    pub fn new(peers: &[PeerConfig]) -> Self {
        let mut points = Vec::new();
        for (i, p) in peers.iter().enumerate() {
            let (host, port) = split_server(&p.server);
            let mut base = crc32fast::Hasher::new();
            base.update(host);
            base.update(b"\0");
            base.update(port);
            let mut prev = [0u8; 4];
            for _ in 0..p.weight * 160 {
                let mut h = base.clone();
                h.update(&prev);
                let hash = h.finalize();
                points.push((hash, i));
                prev = hash.to_le_bytes();
            }
        }
        points.sort_by_key(|&(h, _)| h);
        points.dedup_by_key(|&mut (h, _)| h);
        Self { points }
    }

    /// Index of the first point whose hash is ≥ crc32(key) (wrapping).
    pub fn find(&self, key: &[u8]) -> u64 {
        let h = crc32(&[key]);
        self.points.partition_point(|&(p, _)| p < h) as u64
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// `HOST:PORT` → (host, port) as nginx splits it for the ring: a trailing
/// run of digits after the last ':' is the port; `unix:` paths have none.
fn split_server(server: &str) -> (&[u8], &[u8]) {
    let b = server.as_bytes();
    if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"unix:") {
        return (&b[5..], b"");
    }
    for j in 0..b.len() {
        let c = b[b.len() - j - 1];
        if c == b':' {
            return (&b[..b.len() - j - 1], &b[b.len() - j..]);
        }
        if !c.is_ascii_digit() {
            break;
        }
    }
    (b, b"")
}

#[cfg(test)]
mod tests {
    use super::split_server;

    #[test]
    fn servers_split_like_nginx() {
        assert_eq!(
            split_server("127.0.0.1:8080"),
            (&b"127.0.0.1"[..], &b"8080"[..])
        );
        assert_eq!(split_server("[::1]:80"), (&b"[::1]"[..], &b"80"[..]));
        assert_eq!(
            split_server("backend.example"),
            (&b"backend.example"[..], &b""[..])
        );
        assert_eq!(split_server("unix:/tmp/s"), (&b"/tmp/s"[..], &b""[..]));
    }
}
