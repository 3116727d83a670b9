//! `vrrp_sync_group`: members move together. A member becoming MASTER pulls the
//! others up (`GroupMaster`); a master going back to BACKUP takes them down
//! (`GroupBackup`); a member's own fault puts the others in FAULT until it clears.

use std::time::Instant;

use vrrp::{Input, State};

use crate::run::Daemon;

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
        .map(|m| m.iter().filter(|m| *m != name).cloned().collect())
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
}
