//! Tracking (keepalived's `vrrp_track.c`): interfaces, vrrp_scripts and track
//! files. Each instance's faults and weights are recomputed from the current
//! states of what it tracks; the machine sees only the edges
//! (`FaultDetected`/`FaultCleared`) and `PriorityChanged`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use keepalived_conf::model::TrackRef;
use keepalived_conf::Config;
use tracing::{info, warn};
use vrrp::Input;

use crate::notify::RunAs;
use crate::rtnl::Link;
use crate::run::{Daemon, Event, TimerKey};

/// How often track files are read (keepalived uses inotify; a once-a-second
/// read of a few files costs nothing measurable).
const FILE_POLL: Duration = Duration::from_secs(1);

/// One vrrp_script and its rise/fall state (keepalived's `result` counter:
/// good when ≥ rise; a good script sits at rise + fall − 1).
#[derive(Debug)]
pub struct ScriptState {
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub weight: i32,
    pub reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub run_as: RunAs,
    pub result: u32,
    /// No result yet (keepalived's SCRIPT_INIT_STATE_INIT).
    pub init: bool,
    pub running: bool,
    /// The configuration it was built from (a reload keeps equal ones).
    pub source: keepalived_conf::model::VrrpScript,
}

impl ScriptState {
    pub fn good(&self) -> bool {
        self.result >= self.rise
    }

    /// One result; returns whether good/bad flipped.
    pub fn record(&mut self, ok: bool) -> bool {
        let was = self.good() && !self.init;
        let top = self.rise + self.fall - 1;
        if ok {
            if self.result + 1 < self.rise {
                self.result += 1;
            } else {
                self.result = top;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else if self.result == self.rise || self.init {
            self.result = 0;
        }
        let first = self.init;
        self.init = false;
        first || was != self.good()
    }
}

/// track_file state: the number the file holds.
#[derive(Debug, Default)]
pub struct FileState {
    pub path: String,
    pub weight: i64,
    pub reverse: bool,
    pub value: i64,
}

fn read_number(path: &str) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(0)
}

fn secs_u32(micros: u64) -> Duration {
    Duration::from_micros(micros.max(1))
}

/// Builds the script and file states a configuration uses, keeping the state of
/// scripts whose definition did not change.
pub fn apply_scripts(d: &mut Daemon, config: &Config, now: Instant) {
    let used: BTreeSet<&str> = config
        .vrrp_instances
        .iter()
        .flat_map(|v| v.track_script.iter().map(|t| t.name.as_str()))
        .collect();
    let mut scripts = BTreeMap::new();
    for s in &config.vrrp_scripts {
        if !used.contains(s.name.as_str()) {
            continue;
        }
        if let Some(old) = d.scripts.remove(&s.name) {
            if old.source == *s {
                scripts.insert(s.name.clone(), old);
                continue;
            }
        }
        let Some(argv) = s.script.as_deref().and_then(crate::spec::argv) else {
            continue;
        };
        let rise = u32::try_from(s.rise.max(1)).unwrap_or(1);
        let fall = u32::try_from(s.fall.max(1)).unwrap_or(1);
        let interval = secs_u32(s.interval);
        scripts.insert(
            s.name.clone(),
            ScriptState {
                argv,
                interval,
                timeout: s.timeout.map_or(interval, secs_u32),
                weight: i32::try_from(s.weight).unwrap_or(0),
                reverse: s.weight_reverse,
                rise,
                fall,
                run_as: s
                    .user
                    .as_ref()
                    .map_or(d.run_as, |u| RunAs::from_config(Some(u))),
                result: if s.init_fail { 0 } else { rise - 1 },
                init: !s.init_fail,
                running: false,
                source: s.clone(),
            },
        );
        d.timers.arm(TimerKey::Script(s.name.clone()), now);
    }
    d.scripts = scripts;
    d.timers.retain(|k| match k {
        TimerKey::Script(n) => d_has(n, &config.vrrp_scripts),
        _ => true,
    });
    d.track_files = config
        .track_files
        .iter()
        .filter_map(|f| {
            let path = f.file.clone()?;
            Some((
                f.name.clone(),
                FileState {
                    value: read_number(&path),
                    path,
                    weight: f.weight,
                    reverse: f.weight_reverse,
                },
            ))
        })
        .collect();
    if d.track_files.is_empty() {
        d.timers.cancel(&TimerKey::Files);
    } else {
        d.timers.arm(TimerKey::Files, now + FILE_POLL);
    }
}

fn d_has(name: &str, scripts: &[keepalived_conf::model::VrrpScript]) -> bool {
    scripts.iter().any(|s| s.name == name)
}

/// keepalived's contribution of one tracked object: `Err(())` is a fault.
fn contribution(weight: i64, reverse: bool, up: bool) -> Result<i32, ()> {
    let m = if reverse { -1 } else { 1 };
    if weight == 0 {
        return if up == reverse { Err(()) } else { Ok(0) };
    }
    let w = i32::try_from(weight).unwrap_or(0);
    Ok(match (up, w > 0) {
        (true, true) | (false, false) => w * m,
        _ => 0,
    })
}

fn weight_of(r: &TrackRef, default: i64, default_reverse: bool) -> (i64, bool) {
    match r.weight {
        Some(w) => (w, r.reverse),
        None => (default, default_reverse),
    }
}

/// Recomputes an instance's own faults and weights and feeds the edges.
pub fn recompute(d: &mut Daemon, name: &str, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let spec = &inst.spec;
    let mut faults = BTreeSet::new();
    let mut weights = BTreeMap::new();
    let link_up = |n: &str| d.links.get(n).is_some_and(|l| l.up);
    if !spec.dont_track_primary && !link_up(&spec.interface) {
        faults.insert(format!("if:{}", spec.interface));
    }
    for r in &spec.track_interfaces {
        let (w, rev) = weight_of(r, 0, false);
        match contribution(w, rev, link_up(&r.name)) {
            Ok(c) => {
                weights.insert(format!("if:{}", r.name), c);
            }
            Err(()) => {
                faults.insert(format!("if:{}", r.name));
            }
        }
    }
    for r in &spec.track_scripts {
        let Some(s) = d.scripts.get(&r.name) else {
            continue;
        };
        if s.init {
            continue;
        }
        let (w, rev) = weight_of(r, i64::from(s.weight), s.reverse);
        match contribution(w, rev, s.good()) {
            Ok(c) => {
                weights.insert(format!("script:{}", r.name), c);
            }
            Err(()) => {
                faults.insert(format!("script:{}", r.name));
            }
        }
    }
    for r in &spec.track_files {
        let Some(f) = d.track_files.get(&r.name) else {
            continue;
        };
        let (w, rev) = weight_of(r, f.weight, f.reverse);
        let m = if rev { -1 } else { 1 };
        let status = if w == 0 {
            if (f.value != 0) == (m == 1) {
                -254
            } else {
                0
            }
        } else {
            f.value.saturating_mul(w).saturating_mul(m)
        };
        if status <= -254 {
            faults.insert(format!("file:{}", r.name));
        } else {
            weights.insert(
                format!("file:{}", r.name),
                i32::try_from(status.min(253)).unwrap_or(0),
            );
        }
    }
    set_own(d, name, faults, weights, now);
}

fn set_own(
    d: &mut Daemon,
    name: &str,
    own: BTreeSet<String>,
    weights: BTreeMap<String, i32>,
    now: Instant,
) {
    let Some(inst) = d.instances.get_mut(name) else {
        return;
    };
    let was_faulty = !inst.faults.is_empty();
    for f in own.difference(&inst.faults) {
        info!("({name}) tracked {f} is down");
    }
    inst.faults.retain(|f| f.starts_with("group:"));
    inst.faults.extend(own);
    inst.weights = weights;
    let is_faulty = !inst.faults.is_empty();
    match (was_faulty, is_faulty) {
        (false, true) => d.feed(name, Input::FaultDetected, now),
        (true, false) => d.feed(name, Input::FaultCleared, now),
        _ => {}
    }
    d.update_priority(name, now);
}

/// Adds or removes one fault key (sync groups) and feeds the edge.
pub fn set_fault(d: &mut Daemon, name: &str, key: String, on: bool, now: Instant) {
    let Some(inst) = d.instances.get_mut(name) else {
        return;
    };
    let was = !inst.faults.is_empty();
    if on {
        inst.faults.insert(key);
    } else {
        inst.faults.remove(&key);
    }
    let is = !inst.faults.is_empty();
    match (was, is) {
        (false, true) => d.feed(name, Input::FaultDetected, now),
        (true, false) => d.feed(name, Input::FaultCleared, now),
        _ => {}
    }
}

pub fn link_changed(d: &mut Daemon, link: Link, now: Instant) {
    let changed = d.links.get(&link.name).is_none_or(|l| l.up != link.up);
    let name = link.name.clone();
    if link.index == 0 && link.name.is_empty() {
        return;
    }
    d.links.insert(link.name.clone(), link);
    if !changed {
        return;
    }
    let affected: Vec<String> = d
        .instances
        .values()
        .filter(|i| {
            i.spec.interface == name || i.spec.track_interfaces.iter().any(|t| t.name == name)
        })
        .map(|i| i.spec.name.clone())
        .collect();
    for n in affected {
        recompute(d, &n, now);
    }
}

pub fn run_script(d: &mut Daemon, name: &str, now: Instant) {
    let Some(s) = d.scripts.get_mut(name) else {
        return;
    };
    d.timers
        .arm(TimerKey::Script(name.to_string()), now + s.interval);
    if s.running {
        return;
    }
    let Some(mut child) = crate::notify::spawn(&s.argv, s.run_as) else {
        s.running = false;
        let _ = d.tx.send(Event::ScriptResult(name.to_string(), false));
        return;
    };
    s.running = true;
    let timeout = s.timeout;
    let tx = d.tx.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        let ok = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => status.success(),
            Ok(Err(_)) => false,
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                false
            }
        };
        let _ = tx.send(Event::ScriptResult(name, ok));
    });
}

pub fn script_result(d: &mut Daemon, name: &str, ok: bool, now: Instant) {
    let Some(s) = d.scripts.get_mut(name) else {
        return;
    };
    s.running = false;
    if !s.record(ok) {
        return;
    }
    if s.good() {
        info!("VRRP_Script({name}) succeeded");
    } else {
        warn!("VRRP_Script({name}) failed");
    }
    let affected: Vec<String> = d
        .instances
        .values()
        .filter(|i| i.spec.track_scripts.iter().any(|t| t.name == name))
        .map(|i| i.spec.name.clone())
        .collect();
    for n in affected {
        recompute(d, &n, now);
    }
}

pub fn check_files(d: &mut Daemon, now: Instant) {
    let mut changed = Vec::new();
    for (name, f) in &mut d.track_files {
        let v = read_number(&f.path);
        if v != f.value {
            f.value = v;
            changed.push(name.clone());
        }
    }
    d.timers.arm(TimerKey::Files, now + FILE_POLL);
    if changed.is_empty() {
        return;
    }
    let affected: Vec<String> = d
        .instances
        .values()
        .filter(|i| i.spec.track_files.iter().any(|t| changed.contains(&t.name)))
        .map(|i| i.spec.name.clone())
        .collect();
    for n in affected {
        recompute(d, &n, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_as_keepalived() {
        assert_eq!(contribution(10, false, true), Ok(10));
        assert_eq!(contribution(10, false, false), Ok(0));
        assert_eq!(contribution(-10, false, false), Ok(-10));
        assert_eq!(contribution(-10, false, true), Ok(0));
        assert_eq!(contribution(10, true, true), Ok(-10));
        assert_eq!(contribution(0, false, false), Err(()));
        assert_eq!(contribution(0, true, true), Err(()));
        assert_eq!(contribution(0, false, true), Ok(0));
    }
}
