//! `vrrp_sync_group`: members move together. A member becoming MASTER pulls the
//! others up (`GroupMaster`); a master going back to BACKUP takes them down
//! (`GroupBackup`); a member's own fault puts the others in FAULT until it clears.

use std::collections::BTreeMap;
use std::time::Instant;

use tracing::info;
use vrrp::{Input, State};

use crate::notify::{self, Event};
use crate::run::Daemon;
use crate::spec::{argv, Scripts};

/// One `vrrp_sync_group`.
#[derive(Debug)]
pub struct Group {
    pub members: Vec<String>,
    pub scripts: Scripts,
    /// The state all members last shared (group notifies fire on its changes).
    pub state: Option<State>,
}

/// Takes the groups of a (re)loaded file, keeping the state of known ones.
pub fn apply(d: &mut Daemon, config: &keepalived_conf::Config) {
    let mut groups = BTreeMap::new();
    for g in &config.vrrp_sync_groups {
        let script = |t: &Option<String>| t.as_deref().and_then(argv);
        let state = d.groups.get(&g.name).and_then(|old| old.state);
        groups.insert(
            g.name.clone(),
            Group {
                members: g.group.clone(),
                scripts: Scripts {
                    master: script(&g.notify_master),
                    backup: script(&g.notify_backup),
                    fault: script(&g.notify_fault),
                    stop: script(&g.notify_stop),
                    generic: script(&g.notify),
                    master_rx_lower_pri: None,
                    notify_deleted: false,
                    deleted: None,
                },
                state,
            },
        );
    }
    d.groups = groups;
}

/// Group notifies (`GROUP NAME STATE 0`) when every member shares a new state.
fn notify_group(d: &mut Daemon, group: &str) {
    let Some(g) = d.groups.get(group) else {
        return;
    };
    let states: Vec<State> = g
        .members
        .iter()
        // A member not running (not started yet, or stopped) counts as stopped.
        .map(|m| {
            d.instances
                .get(m)
                .map_or(State::Initialize, |i| i.machine.state())
        })
        .collect();
    let Some(&first) = states.first() else {
        return;
    };
    if states.iter().any(|s| *s != first) || g.state == Some(first) {
        return;
    }
    let event = match first {
        State::Master => Event::Master,
        State::Backup => Event::Backup,
        State::Fault => Event::Fault,
        State::Initialize => Event::Stop,
    };
    if d.deleting.is_some() {
        return; // a reload removing a member is not the group stopping
    }
    info!(
        "VRRP_Group({group}) Syncing instances to {} state",
        event.word()
    );
    let children = notify::group(&g.scripts, group, event, d.run_as);
    if event == Event::Stop {
        d.stop_children.extend(children);
    }
    if let Some(f) = d.fifo.as_mut() {
        f.write("GROUP", group, event, 0);
    }
    if let Some(g) = d.groups.get_mut(group) {
        g.state = Some(first);
    }
}

pub fn follow(d: &mut Daemon, name: &str, before: State, after: State, now: Instant) {
    let Some(inst) = d.instances.get(name) else {
        return;
    };
    let Some(group) = inst.spec.sync_group.clone() else {
        return;
    };
    let own_fault = inst.faults.iter().any(|f| !f.starts_with("group:"));
    let members: Vec<String> = d
        .groups
        .get(&group)
        .map(|g| g.members.iter().filter(|m| *m != name).cloned().collect())
        .unwrap_or_default();
    let key = format!("group:{name}");
    for m in &members {
        match after {
            State::Master => d.feed(m, Input::GroupMaster, now),
            State::Backup if before == State::Master => d.feed(m, Input::GroupBackup, now),
            State::Fault if own_fault => crate::track::set_fault(d, m, key.clone(), true, now),
            _ => {}
        }
        if before == State::Fault && after != State::Fault {
            crate::track::set_fault(d, m, key.clone(), false, now);
        }
    }
    notify_group(d, &group);
}
