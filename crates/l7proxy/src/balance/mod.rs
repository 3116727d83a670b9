//! Upstream peer selection, following nginx 1.22's
//! `ngx_http_upstream_round_robin.c`, `_least_conn`, `_ip_hash` and
//! `_hash` modules: the same state per peer, the same order of checks, the
//! same arithmetic, so the same sequence of backends for the same inputs.
//! Pure: the time (whole seconds, like `ngx_time()`) and the client address
//! or hash key come in as arguments.

mod hash;
mod least_conn;
mod random;
mod rr;

use std::net::IpAddr;

pub use hash::ChashPoints;

/// One `server` of an `upstream` block (one address of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The `server` directive's address text (consistent hashing uses it).
    pub server: String,
    pub weight: u32,
    /// 0 disables failure accounting.
    pub max_fails: u32,
    /// Seconds.
    pub fail_timeout: u64,
    /// 0 = unlimited.
    pub max_conns: u32,
    pub down: bool,
}

impl PeerConfig {
    /// nginx's defaults: weight=1 max_fails=1 fail_timeout=10s.
    pub fn new(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            weight: 1,
            max_fails: 1,
            fail_timeout: 10,
            max_conns: 0,
            down: false,
        }
    }
}

/// Run-time state of a peer (nginx's `ngx_http_upstream_rr_peer_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PeerState {
    current_weight: i64,
    effective_weight: i64,
    conns: u32,
    fails: u32,
    accessed: u64,
    checked: u64,
}

/// The primary or the backup peers.
#[derive(Debug, Clone)]
pub struct Group {
    pub peers: Vec<PeerConfig>,
    state: Vec<PeerState>,
    total_weight: u64,
    single: bool,
}

impl Group {
    /// A group; nginx never treats the backup group as "single".
    pub fn new(peers: Vec<PeerConfig>, backup: bool) -> Self {
        let state = peers
            .iter()
            .map(|p| PeerState {
                current_weight: 0,
                effective_weight: i64::from(p.weight),
                conns: 0,
                fails: 0,
                accessed: 0,
                checked: 0,
            })
            .collect();
        let total_weight = peers.iter().map(|p| u64::from(p.weight)).sum();
        let single = !backup && peers.len() == 1;
        Self {
            peers,
            state,
            total_weight,
            single,
        }
    }

    /// Whether peer `i` may be chosen now (nginx's checks, in its order,
    /// after the `tried` bit which the caller checks).
    fn usable(&self, i: usize, now: u64) -> bool {
        let (p, s) = (&self.peers[i], &self.state[i]);
        if p.down {
            return false;
        }
        if p.max_fails != 0
            && s.fails >= p.max_fails
            && now.saturating_sub(s.checked) <= p.fail_timeout
        {
            return false;
        }
        !(p.max_conns != 0 && s.conns >= p.max_conns)
    }

    /// The smooth-WRR step for one candidate: its current weight gains its
    /// effective weight, which recovers by one towards the configured
    /// weight. Returns the amount gained (added to the round's total).
    fn gain(&mut self, i: usize) -> i64 {
        let weight = i64::from(self.peers[i].weight);
        let s = &mut self.state[i];
        let gained = s.effective_weight;
        s.current_weight += gained;
        if s.effective_weight < weight {
            s.effective_weight += 1;
        }
        gained
    }

    /// nginx's bookkeeping for the chosen peer `i`: its failure window
    /// restarts once fail_timeout has passed, and the request has tried it.
    fn choose(&mut self, i: usize, tried: &mut [bool], now: u64) {
        if now.saturating_sub(self.state[i].checked) > self.peers[i].fail_timeout {
            self.state[i].checked = now;
        }
        tried[i] = true;
    }

    /// Whether peer `i`'s current weight beats peer `best`'s (none: yes).
    fn beats(&self, i: usize, best: Option<usize>) -> bool {
        best.is_none_or(|b| self.state[i].current_weight > self.state[b].current_weight)
    }

    /// Active connections of peer `i`.
    pub fn conns(&self, i: usize) -> u32 {
        self.state[i].conns
    }
}

/// The balancing method of an upstream block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    RoundRobin,
    LeastConn,
    IpHash,
    /// `hash KEY`: the key is evaluated per request by the caller.
    Hash,
    /// `hash KEY consistent`.
    HashConsistent,
    /// `random [two]` (with `two`, the less loaded of two draws).
    Random {
        two: bool,
    },
}

/// An upstream: method, primary peers, optional backup peers.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub method: Method,
    pub primary: Group,
    pub backup: Option<Group>,
    points: Option<ChashPoints>,
}

/// Which peer was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub backup: bool,
    pub index: usize,
}

/// What a request brings to balancing.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    None,
    /// The client address, for `ip_hash`.
    Client(IpAddr),
    /// The evaluated key, for `hash`.
    Key(&'a [u8]),
}

/// Per-request balancing state (nginx's `rrp`/`iphp`/`hp` data).
#[derive(Debug, Clone)]
pub struct Attempt {
    in_backup: bool,
    tried: Vec<bool>,
    current: Option<Pick>,
    /// Hash methods: running hash, rehash count and tries; once they give
    /// up (more than 20 tries) the request continues by round robin.
    hash: u64,
    rehash: u64,
    tries: u32,
    fallen_back: bool,
    addr: Vec<u8>,
    key: Vec<u8>,
}

impl Upstream {
    pub fn new(method: Method, primary: Vec<PeerConfig>, backup: Vec<PeerConfig>) -> Self {
        let primary = Group::new(primary, false);
        let points = (method == Method::HashConsistent).then(|| ChashPoints::new(&primary.peers));
        let backup = (!backup.is_empty()).then(|| Group::new(backup, true));
        Self {
            method,
            primary,
            backup,
            points,
        }
    }

    fn group(&self, backup: bool) -> &Group {
        match (&self.backup, backup) {
            (Some(b), true) => b,
            _ => &self.primary,
        }
    }

    fn group_mut(&mut self, backup: bool) -> &mut Group {
        match (&mut self.backup, backup) {
            (Some(b), true) => b,
            _ => &mut self.primary,
        }
    }

    /// Starts balancing one request.
    pub fn start(&self, input: Input<'_>) -> Attempt {
        let addr = match input {
            Input::Client(IpAddr::V4(a)) => a.octets()[..3].to_vec(),
            Input::Client(IpAddr::V6(a)) => a.octets().to_vec(),
            _ => Vec::new(),
        };
        let key = match input {
            Input::Key(k) => k.to_vec(),
            _ => Vec::new(),
        };
        let hash = match self.method {
            Method::IpHash => 89,
            Method::HashConsistent => self.points.as_ref().map_or(0, |p| p.find(&key)),
            _ => 0,
        };
        Attempt {
            in_backup: false,
            tried: vec![false; self.primary.peers.len()],
            current: None,
            hash,
            rehash: 0,
            tries: 0,
            fallen_back: false,
            addr,
            key,
        }
    }

    /// Chooses the next peer for `attempt`, or `None` when no peer is
    /// usable ("no live upstreams": 502). The chosen peer's connection
    /// count is raised until [`Upstream::release`].
    pub fn next(&mut self, attempt: &mut Attempt, now: u64) -> Option<Pick> {
        self.next_with(attempt, now, &mut || 0)
    }

    /// [`Upstream::next`] with the random numbers `random` uses.
    pub fn next_with(
        &mut self,
        attempt: &mut Attempt,
        now: u64,
        random: &mut dyn FnMut() -> u64,
    ) -> Option<Pick> {
        let pick = match self.method {
            Method::RoundRobin => self.round_robin(attempt, now),
            Method::LeastConn => self.least_conn(attempt, now),
            Method::IpHash => self.ip_hash(attempt, now),
            Method::Hash => self.hash(attempt, now),
            Method::HashConsistent => self.chash(attempt, now),
            Method::Random { two } => self.random(attempt, now, two, random),
        }?;
        self.group_mut(pick.backup).state[pick.index].conns += 1;
        attempt.current = Some(pick);
        Some(pick)
    }

    /// Ends the use of the current peer: `failed` as nginx's
    /// `NGX_PEER_FAILED` (error, timeout, or a status listed in
    /// `proxy_next_upstream`).
    /// Whether the attempt's current peer has just reached `max_fails`
    /// (nginx then warns "upstream server temporarily disabled"); never
    /// for a single-peer group, which nginx does not count.
    pub fn disabled(&self, attempt: &Attempt) -> bool {
        let Some(pick) = attempt.current else {
            return false;
        };
        let g = self.group(pick.backup);
        let (p, s) = (&g.peers[pick.index], &g.state[pick.index]);
        !g.single && p.max_fails > 0 && s.fails >= p.max_fails
    }

    pub fn release(&mut self, attempt: &Attempt, failed: bool, now: u64) {
        let Some(pick) = attempt.current else { return };
        let g = self.group_mut(pick.backup);
        let single = g.single;
        let (p, s) = (&g.peers[pick.index], &mut g.state[pick.index]);
        if !single {
            if failed {
                s.fails += 1;
                s.accessed = now;
                s.checked = now;
                if let Some(share) = p.weight.checked_div(p.max_fails) {
                    s.effective_weight -= i64::from(share);
                }
                s.effective_weight = s.effective_weight.max(0);
            } else if s.accessed < s.checked {
                s.fails = 0;
            }
        }
        s.conns = s.conns.saturating_sub(1);
    }
}

/// Test peers `127.0.0.1:8000`, `127.0.0.1:8001`, ... with these weights.
#[cfg(test)]
fn weighted_peers(weights: &[u32]) -> Vec<PeerConfig> {
    weights
        .iter()
        .zip(8000..)
        .map(|(&weight, port)| PeerConfig {
            weight,
            ..PeerConfig::new(&format!("127.0.0.1:{port}"))
        })
        .collect()
}
