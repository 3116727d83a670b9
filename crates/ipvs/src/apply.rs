//! Desired state: given the wanted services and destinations, compute and
//! apply the minimal list of operations against the live table.
//!
//! [`plan`] is pure: `(known, desired) → ops`; [`plan_services`] does the
//! same for a partial desired state (only the services named are looked
//! at). [`Reconciler`] keeps the table it last read or wrote, so each
//! [`Reconciler::apply`] sends only what differs: no dump per apply, kernel
//! work proportional to the change (the in-memory diff of a whole desired
//! table is linear in the table; [`Reconciler::apply_services`] avoids
//! even that). [`Reconciler::refresh`] re-reads the live table when
//! something else may have changed it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::client::{Client, Op};
use crate::types::{Destination, Service, ServiceKey};
use crate::Error;

/// A destination's identity within its service.
pub type DestKey = (IpAddr, u16);

/// One service and its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Destination>,
}

/// A whole IPVS table (services by key, destinations by address and port).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, Entry>,
}

impl Table {
    /// Adds (or replaces) a service with its destinations.
    pub fn insert(&mut self, service: Service, dests: impl IntoIterator<Item = Destination>) {
        let dests = dests.into_iter().map(|d| ((d.addr, d.port), d)).collect();
        self.services.insert(service.key, Entry { service, dests });
    }

    /// Number of destinations over all services.
    pub fn dest_count(&self) -> usize {
        self.services.values().map(|e| e.dests.len()).sum()
    }

    /// Reads the live table: one service dump, one destination dump each.
    pub fn read(client: &mut Client) -> Result<Self, Error> {
        let mut t = Self::default();
        for s in client.services()? {
            let dests = client.destinations(&s.key)?;
            t.insert(s, dests);
        }
        Ok(t)
    }

    /// Whether the configurable parts of both tables are equal (counters,
    /// stats and the kernel's `HASHED` flag are not compared).
    pub fn same_config(&self, other: &Self) -> bool {
        self.services.len() == other.services.len()
            && self
                .services
                .iter()
                .zip(&other.services)
                .all(|((ka, a), (kb, b))| {
                    ka == kb
                        && a.service.same_config(&b.service)
                        && a.dests.len() == b.dests.len()
                        && a.dests
                            .iter()
                            .zip(&b.dests)
                            .all(|((x, da), (y, db))| x == y && da.same_config(db))
                })
    }

    /// Applies one op that the kernel accepted.
    fn record(&mut self, op: &Op) {
        match op {
            Op::AddService(s) | Op::EditService(s) => {
                let e = self.services.entry(s.key).or_insert_with(|| Entry {
                    service: s.clone(),
                    dests: BTreeMap::new(),
                });
                e.service = s.clone();
            }
            Op::DelService(k) => {
                self.services.remove(k);
            }
            Op::AddDest(k, d) | Op::EditDest(k, d) => {
                if let Some(e) = self.services.get_mut(k) {
                    e.dests.insert((d.addr, d.port), d.clone());
                }
            }
            Op::DelDest(k, a, p) => {
                if let Some(e) = self.services.get_mut(k) {
                    e.dests.remove(&(*a, *p));
                }
            }
        }
    }
}

/// The operations that turn `known` into `desired`: services that go are
/// deleted (their destinations with them); new services are added; changed
/// ones edited; then per service the destinations that go are deleted,
/// changed ones edited and new ones added. Nothing equal is touched.
/// Compares every service of both tables (see [`plan_services`] for a
/// plan that only looks at what changed).
pub fn plan(known: &Table, desired: &Table) -> Vec<Op> {
    let mut ops = Vec::new();
    for key in known.services.keys() {
        if !desired.services.contains_key(key) {
            ops.push(Op::DelService(*key));
        }
    }
    for (key, want) in &desired.services {
        plan_entry(*key, known.services.get(key), want, &mut ops);
    }
    ops
}

/// The operations for a partial desired state: each service of `changed`
/// becomes exactly as given there (its destinations not listed are
/// deleted), each of `removed` that is known and not in `changed` is
/// deleted, and no other service is looked at, so the work follows the
/// services named, not the table.
pub fn plan_services(known: &Table, changed: &Table, removed: &[ServiceKey]) -> Vec<Op> {
    let mut ops = Vec::new();
    for key in removed {
        if known.services.contains_key(key) && !changed.services.contains_key(key) {
            ops.push(Op::DelService(*key));
        }
    }
    for (key, want) in &changed.services {
        plan_entry(*key, known.services.get(key), want, &mut ops);
    }
    ops
}

/// One service of a plan: add or edit it, then its destinations.
fn plan_entry(key: ServiceKey, have: Option<&Entry>, want: &Entry, ops: &mut Vec<Op>) {
    match have {
        None => ops.push(Op::AddService(want.service.clone())),
        Some(h) if !h.service.same_config(&want.service) => {
            ops.push(Op::EditService(want.service.clone()));
        }
        Some(_) => {}
    }
    let empty = BTreeMap::new();
    let have_dests = have.map_or(&empty, |h| &h.dests);
    for (dk, _) in have_dests
        .iter()
        .filter(|(dk, _)| !want.dests.contains_key(dk))
    {
        ops.push(Op::DelDest(key, dk.0, dk.1));
    }
    for (dk, d) in &want.dests {
        match have_dests.get(dk) {
            Some(h) if h.same_config(d) => {}
            Some(_) => ops.push(Op::EditDest(key, d.clone())),
            None => ops.push(Op::AddDest(key, d.clone())),
        }
    }
}

/// What one [`Reconciler::apply`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Every operation sent, in order.
    pub ops: Vec<Op>,
    /// The ones the kernel refused: index into `ops`, and why.
    pub failed: Vec<(usize, Error)>,
}

/// Keeps a client and the table it last read or wrote.
#[derive(Debug)]
pub struct Reconciler {
    client: Client,
    known: Table,
}

impl Reconciler {
    /// Reads the live table once.
    pub fn new(mut client: Client) -> Result<Self, Error> {
        let known = Table::read(&mut client)?;
        Ok(Self { client, known })
    }

    /// The table as last read or written.
    pub fn known(&self) -> &Table {
        &self.known
    }

    /// Re-reads the live table.
    pub fn refresh(&mut self) -> Result<(), Error> {
        self.known = Table::read(&mut self.client)?;
        Ok(())
    }

    /// Sends the operations that turn the known table into `desired`
    /// (pipelined), and records those the kernel accepted.
    pub fn apply(&mut self, desired: &Table) -> Applied {
        let ops = plan(&self.known, desired);
        self.send(ops)
    }

    /// [`Self::apply`] for a partial desired state ([`plan_services`]):
    /// the services in `changed` become as given, those in `removed` go,
    /// the rest of the table is not looked at. Planning and kernel work
    /// follow the size of the change, not of the table.
    pub fn apply_services(&mut self, changed: &Table, removed: &[ServiceKey]) -> Applied {
        let ops = plan_services(&self.known, changed, removed);
        self.send(ops)
    }

    fn send(&mut self, ops: Vec<Op>) -> Applied {
        let results = self.client.apply_ops(&ops);
        let mut failed = Vec::new();
        for (i, (op, r)) in ops.iter().zip(results).enumerate() {
            match r {
                Ok(()) => self.known.record(op),
                Err(e) => failed.push((i, e)),
            }
        }
        Applied { ops, failed }
    }

    /// The client, for reads or single commands.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ForwardMethod, Name, Protocol};

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port,
        }
    }

    fn dest(last: u8, weight: u32) -> Destination {
        let mut d = Destination::new(IpAddr::from([198, 51, 100, last]), 80);
        d.weight = weight;
        d
    }

    fn table(spec: &[(u16, &[(u8, u32)])]) -> Table {
        let mut t = Table::default();
        for (port, dests) in spec {
            t.insert(
                Service::new(key(*port)),
                dests.iter().map(|&(l, w)| dest(l, w)),
            );
        }
        t
    }

    #[test]
    fn equal_tables_need_nothing() {
        let t = table(&[(80, &[(1, 1), (2, 1)]), (443, &[(3, 5)])]);
        assert!(plan(&t, &t.clone()).is_empty());
    }

    #[test]
    fn only_the_differences_are_sent() {
        let known = table(&[(80, &[(1, 1), (2, 1)]), (443, &[(3, 5)]), (8080, &[(9, 1)])]);
        let mut desired = table(&[(80, &[(1, 2), (4, 1)]), (443, &[(3, 5)]), (9000, &[(7, 1)])]);
        desired
            .services
            .get_mut(&key(443))
            .unwrap()
            .service
            .scheduler = Name::new("rr").unwrap();
        let ops = plan(&known, &desired);
        assert_eq!(
            ops,
            vec![
                Op::DelService(key(8080)),
                Op::DelDest(key(80), dest(2, 1).addr, 80),
                Op::EditDest(key(80), dest(1, 2)),
                Op::AddDest(key(80), dest(4, 1)),
                Op::EditService(desired.services[&key(443)].service.clone()),
                Op::AddService(Service::new(key(9000))),
                Op::AddDest(key(9000), dest(7, 1)),
            ]
        );
    }

    #[test]
    fn a_partial_plan_touches_only_the_services_named() {
        let known = table(&[(80, &[(1, 1), (2, 1)]), (443, &[(3, 5)]), (8080, &[(9, 1)])]);
        let changed = table(&[(80, &[(1, 2)]), (9000, &[(7, 1)])]);
        let ops = plan_services(&known, &changed, &[key(8080), key(1), key(9000)]);
        assert_eq!(
            ops,
            vec![
                Op::DelService(key(8080)),
                Op::DelDest(key(80), dest(2, 1).addr, 80),
                Op::EditDest(key(80), dest(1, 2)),
                Op::AddService(Service::new(key(9000))),
                Op::AddDest(key(9000), dest(7, 1)),
            ]
        );
        // The same change as a full desired table.
        let mut full = changed.clone();
        full.services
            .insert(key(443), known.services[&key(443)].clone());
        let mut a = known.clone();
        let mut b = known.clone();
        for op in &ops {
            a.record(op);
        }
        for op in plan(&known, &full) {
            b.record(&op);
        }
        assert!(a.same_config(&b));
    }

    #[test]
    fn counters_and_hashed_flag_are_not_differences() {
        let known = {
            let mut t = table(&[(80, &[(1, 1)])]);
            let e = t.services.get_mut(&key(80)).unwrap();
            e.service.flags = crate::types::ServiceFlags::HASHED;
            e.service.stats.conns = 7;
            let d = e.dests.values_mut().next().unwrap();
            d.active_conns = 3;
            d.stats.inbytes = 100;
            t
        };
        assert!(plan(&known, &table(&[(80, &[(1, 1)])])).is_empty());
    }

    #[test]
    fn recording_accepted_ops_reaches_the_desired_table() {
        let known = table(&[(80, &[(1, 1), (2, 1)]), (8080, &[(9, 1)])]);
        let mut desired = table(&[(80, &[(1, 3)]), (9000, &[(7, 1), (8, 1)])]);
        desired
            .services
            .get_mut(&key(80))
            .unwrap()
            .dests
            .get_mut(&(dest(1, 3).addr, 80))
            .unwrap()
            .forward = ForwardMethod::Route;
        let mut t = known.clone();
        for op in plan(&known, &desired) {
            t.record(&op);
        }
        assert!(t.same_config(&desired));
        assert!(plan(&t, &desired).is_empty());
    }
}
