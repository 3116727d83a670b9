//! `limit_conn` (`ngx_http_limit_conn_module`): requests in progress per
//! key, counted from the preaccess phase to the end of the response. A
//! zone is shared by every worker and kept across a reload when its name,
//! key and size stay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use nginx_conf::model::limit::{LimitConn, LimitConnZone};

use crate::errorlog::Level;

/// One `limit_conn_zone`.
#[derive(Debug)]
pub struct Zone {
    name: String,
    key: String,
    size: u64,
    counts: Mutex<HashMap<Vec<u8>, u64>>,
}

static ZONES: Mutex<Vec<Weak<Zone>>> = Mutex::new(Vec::new());

impl Zone {
    /// The running zone of that name, key and size, or a new one.
    pub fn get(z: &LimitConnZone) -> Arc<Zone> {
        let mut all = ZONES.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|w| w.strong_count() > 0);
        if let Some(old) = all
            .iter()
            .filter_map(Weak::upgrade)
            .find(|o| o.name == z.name && o.key == z.key && o.size == z.size)
        {
            return old;
        }
        let zone = Arc::new(Zone {
            name: z.name.clone(),
            key: z.key.clone(),
            size: z.size,
            counts: Mutex::new(HashMap::new()),
        });
        all.push(Arc::downgrade(&zone));
        zone
    }
}

/// The places a request holds; given back when dropped.
#[derive(Debug, Default)]
pub struct Held(Vec<(Arc<Zone>, Vec<u8>)>);

impl Drop for Held {
    fn drop(&mut self) {
        for (zone, key) in self.0.drain(..) {
            let mut counts = zone.counts.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = counts.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&key);
                }
            }
        }
    }
}

/// A location's `limit_conn`s.
#[derive(Debug, Default)]
pub struct Plan {
    limits: Vec<(Arc<Zone>, u64)>,
    pub policy: crate::limitreq::Policy,
}

impl Plan {
    pub fn new(
        limits: Option<&Vec<LimitConn>>,
        status: Option<u16>,
        level: Option<&str>,
        dry_run: Option<bool>,
        zones: &[Arc<Zone>],
    ) -> Result<Self, String> {
        let limits = limits
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|l| {
                let zone = crate::limitreq::zone_named(zones, &l.zone, |z| &z.name)?;
                Ok((Arc::clone(zone), l.max))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            limits,
            policy: crate::limitreq::Policy::new(status, level, dry_run),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Takes a place in each zone for the request (`key` evaluates a
    /// zone's key); with the level and line to log when one is full (the
    /// places taken so far given back). A dry run counts as well, and only
    /// logs where it would refuse.
    pub fn enter(&self, key: &mut dyn FnMut(&str) -> Vec<u8>) -> (Held, Option<(Level, String)>) {
        let mut held = Held::default();
        for (zone, max) in &self.limits {
            let k = key(&zone.key);
            if k.is_empty() || k.len() > 255 {
                continue;
            }
            let mut counts = zone.counts.lock().unwrap_or_else(PoisonError::into_inner);
            let n = counts.get(&k).copied().unwrap_or(0);
            if n >= *max {
                let dry = if self.policy.dry_run {
                    ", dry run,"
                } else {
                    ""
                };
                let line = format!("limiting connections{dry} by zone \"{}\"", zone.name);
                drop(counts);
                if self.policy.dry_run {
                    return (held, Some((self.policy.level, line)));
                }
                return (Held::default(), Some((self.policy.level, line)));
            }
            counts.insert(k.clone(), n + 1);
            held.0.push((Arc::clone(zone), k));
        }
        (held, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_held_until_dropped() {
        let zone = Zone::get(&LimitConnZone {
            key: "$k".into(),
            name: "unit".into(),
            size: 1 << 20,
        });
        let l = LimitConn {
            zone: "unit".into(),
            max: 1,
        };
        let p = Plan::new(Some(&vec![l]), None, None, None, &[zone]).unwrap();
        let mut key = |_: &str| b"a".to_vec();
        let (first, refused) = p.enter(&mut key);
        assert!(refused.is_none());
        let (_, refused) = p.enter(&mut key);
        assert_eq!(
            refused,
            Some((Level::Error, "limiting connections by zone \"unit\"".into()))
        );
        assert!(p.enter(&mut |_| b"b".to_vec()).1.is_none());
        assert!(p.enter(&mut |_| Vec::new()).1.is_none());
        drop(first);
        assert!(p.enter(&mut key).1.is_none());
    }
}
