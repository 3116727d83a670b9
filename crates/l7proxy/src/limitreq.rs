//! `limit_req`: nginx's leaky bucket per key (`ngx_http_limit_req_module`).
//! A zone's state is shared by every worker (threads here, shared memory
//! in nginx) and kept across a reload when the zone keeps its name, key
//! and size. Each key holds its excess (in thousandths of a request) and
//! the time of its last accounted request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use nginx_conf::model::limit::{LimitReq, LimitReqZone};

use crate::errorlog::Level;

/// Bytes of zone per key, as nginx's docs count them ("one megabyte zone
/// can keep about 16 thousand 64-byte states").
const NODE_BYTES: u64 = 64;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Thousandths of a request above the rate.
    excess: u64,
    /// Milliseconds (any fixed origin).
    last: u64,
}

/// One `limit_req_zone`.
#[derive(Debug)]
pub struct Zone {
    name: String,
    key: String,
    size: u64,
    /// Requests per 1000 s.
    rate: u64,
    nodes: Mutex<HashMap<Vec<u8>, Node>>,
}

/// The zones alive in this process, so that a reload keeps their state.
static ZONES: Mutex<Vec<Weak<Zone>>> = Mutex::new(Vec::new());

impl Zone {
    /// The zone for `z`: the running one if a zone of that name, key and
    /// size exists (its rate is the new one's), else a new one.
    pub fn get(z: &LimitReqZone) -> Arc<Zone> {
        let mut all = ZONES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.retain(|w| w.strong_count() > 0);
        let fresh = Zone {
            name: z.name.clone(),
            key: z.key.clone(),
            size: z.size,
            rate: z.rate,
            nodes: Mutex::new(HashMap::new()),
        };
        if let Some(old) = all
            .iter()
            .filter_map(Weak::upgrade)
            .find(|o| o.name == z.name && o.key == z.key && o.size == z.size && o.rate == z.rate)
        {
            return old;
        }
        let zone = Arc::new(fresh);
        all.push(Arc::downgrade(&zone));
        zone
    }

    /// The key's excess after a request at `now`, from its node (a new key
    /// has none): nginx's `ngx_http_limit_req_lookup`.
    fn excess(&self, node: Option<&Node>, now: u64) -> u64 {
        let Some(n) = node else { return 0 };
        let ms = now.saturating_sub(n.last);
        (n.excess + 1000).saturating_sub(self.rate * ms / 1000)
    }

    fn store(&self, nodes: &mut HashMap<Vec<u8>, Node>, key: Vec<u8>, excess: u64, now: u64) {
        let capacity = usize::try_from(self.size / NODE_BYTES).unwrap_or(usize::MAX);
        if !nodes.contains_key(&key) && nodes.len() >= capacity {
            // Keys whose excess has leaked away go first, then the oldest.
            nodes.retain(|_, n| self.excess(Some(n), now) > 1000);
            if nodes.len() >= capacity {
                if let Some(k) = nodes
                    .iter()
                    .min_by_key(|(_, n)| n.last)
                    .map(|(k, _)| k.clone())
                {
                    nodes.remove(&k);
                }
            }
        }
        let node = nodes.entry(key).or_insert(Node {
            excess: 0,
            last: now,
        });
        let moved = now != node.last;
        node.excess = excess;
        if moved {
            node.last = now;
        }
    }
}

/// Milliseconds on a clock that only goes forward (the process's start
/// as origin).
pub fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What a level's limits do with a request over them (`limit_req` and
/// `limit_conn` alike): `*_status` (503), `*_log_level` (error),
/// `*_dry_run` (off).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub status: u16,
    pub level: Level,
    pub dry_run: bool,
}

impl Policy {
    pub fn new(status: Option<u16>, level: Option<&str>, dry_run: Option<bool>) -> Self {
        Self {
            status: status.unwrap_or(503),
            // nginx-conf allows info, notice, warn and error only.
            level: level
                .and_then(|l| Level::parse(l).ok())
                .unwrap_or(Level::Error),
            dry_run: dry_run.unwrap_or(false),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::new(None, None, None)
    }
}

/// The zone of `zones` whose name (`name_of`) is `name`; none is nginx's
/// zero-size zone.
pub(crate) fn zone_named<'a, Z>(
    zones: &'a [Arc<Z>],
    name: &str,
    name_of: impl Fn(&Z) -> &str,
) -> Result<&'a Arc<Z>, String> {
    zones
        .iter()
        .find(|z| name_of(z) == name)
        .ok_or_else(|| format!("zero size shared memory zone \"{name}\""))
}

/// A location's `limit_req`s.
#[derive(Debug, Default)]
pub struct Plan {
    limits: Vec<(Arc<Zone>, LimitReq)>,
    pub policy: Policy,
}

/// What the limits decided for a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Go on after this many milliseconds; the line to log and its level.
    Delay(u64, Level, String),
    /// Answer with the plan's status; the line to log and its level.
    Reject(Level, String),
}

impl Plan {
    /// The plan of a level's settings; `zones` are the http block's.
    pub fn new(
        limits: Option<&Vec<LimitReq>>,
        status: Option<u16>,
        level: Option<&str>,
        dry_run: Option<bool>,
        zones: &[Arc<Zone>],
    ) -> Result<Self, String> {
        let limits = limits
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|l| {
                Ok((
                    Arc::clone(zone_named(zones, &l.zone, |z| &z.name)?),
                    l.clone(),
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            limits,
            policy: Policy::new(status, level, dry_run),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Checks and accounts a request at `now` (ms); `key` evaluates a
    /// zone's key for it.
    pub fn check(&self, now: u64, key: &mut dyn FnMut(&str) -> Vec<u8>) -> Verdict {
        let dry = if self.policy.dry_run { ", dry run" } else { "" };
        let keys: Vec<Vec<u8>> = self.limits.iter().map(|(z, _)| key(&z.key)).collect();
        // Every limit first, as nginx's lookups: one over its burst refuses
        // the request and nothing is accounted.
        for ((zone, limit), k) in self.limits.iter().zip(&keys) {
            if k.is_empty() || k.len() > 65535 {
                continue;
            }
            let nodes = zone
                .nodes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let excess = zone.excess(nodes.get(k), now);
            if excess > limit.burst.saturating_mul(1000) {
                let line = format!(
                    "limiting requests{dry}, excess: {}.{:03} by zone \"{}\"",
                    excess / 1000,
                    excess % 1000,
                    zone.name
                );
                if self.policy.dry_run {
                    return Verdict::Delay(0, self.policy.level, line);
                }
                return Verdict::Reject(self.policy.level, line);
            }
        }
        // Then each is accounted; the longest delay wins.
        let mut longest: Option<(u64, u64, &str)> = None;
        for ((zone, limit), k) in self.limits.iter().zip(keys) {
            if k.is_empty() || k.len() > 65535 {
                continue;
            }
            let mut nodes = zone
                .nodes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let excess = zone.excess(nodes.get(&k), now);
            zone.store(&mut nodes, k, excess, now);
            let free = limit.delay.saturating_mul(1000);
            if excess > free && zone.rate > 0 {
                let ms = (excess - free) * 1000 / zone.rate;
                if longest.is_none_or(|(d, _, _)| ms > d) {
                    longest = Some((ms, excess, &zone.name));
                }
            }
        }
        match longest {
            Some((ms, excess, name)) if ms > 0 => Verdict::Delay(
                if self.policy.dry_run { 0 } else { ms },
                self.policy.level.quieter(),
                format!(
                    "delaying request{dry}, excess: {}.{:03}, by zone \"{name}\"",
                    excess / 1000,
                    excess % 1000
                ),
            ),
            _ => Verdict::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rate: u64, burst: u64, delay: u64) -> Plan {
        let zone = Arc::new(Zone {
            name: "one".into(),
            key: "$k".into(),
            size: 1 << 20,
            rate,
            nodes: Mutex::new(HashMap::new()),
        });
        let limit = LimitReq {
            zone: "one".into(),
            burst,
            delay,
        };
        Plan::new(Some(&vec![limit]), None, None, None, &[zone]).unwrap()
    }

    #[test]
    fn the_leaky_bucket_as_nginx() {
        // 1 r/s, no burst: one request per second per key.
        let p = plan(1000, 0, 0);
        let mut key = |_: &str| b"a".to_vec();
        assert_eq!(p.check(0, &mut key), Verdict::Pass);
        assert!(matches!(
            p.check(100, &mut key),
            Verdict::Reject(Level::Error, ref l) if l == "limiting requests, excess: 0.900 by zone \"one\""
        ));
        assert_eq!(p.check(1000, &mut key), Verdict::Pass);
        assert_eq!(p.check(1000, &mut |_| b"b".to_vec()), Verdict::Pass);
        assert_eq!(p.check(1000, &mut |_| Vec::new()), Verdict::Pass);
        // 10 r/s, burst 2, delayed: the second waits 100 ms.
        let p = plan(10_000, 2, 0);
        assert_eq!(p.check(0, &mut key), Verdict::Pass);
        assert!(matches!(
            p.check(0, &mut key),
            Verdict::Delay(100, Level::Warn, _)
        ));
        assert!(matches!(p.check(0, &mut key), Verdict::Delay(200, _, _)));
        assert!(matches!(p.check(0, &mut key), Verdict::Reject(..)));
        // nodelay: the burst goes at once.
        let p = plan(10_000, 2, u64::MAX);
        for _ in 0..3 {
            assert_eq!(p.check(0, &mut key), Verdict::Pass);
        }
        assert!(matches!(p.check(0, &mut key), Verdict::Reject(..)));
    }
}
