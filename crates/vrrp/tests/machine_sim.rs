//! Several machines on a simulated segment (instant multicast, a discrete event queue):
//! elections, failover within the RFC bounds, preemption, nopreempt and tie-breaks
//! (RFC 3768 §6, RFC 5798 §6). Pure: no sockets, no sleeping.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp::{
    Action, AdvertInterval, Config, Input, Instant, Machine, Received, State, Timer, Version,
};

/// One-way delivery delay on the segment.
const LATENCY: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Fire(usize, TimerKey),
    Deliver {
        to: usize,
        from: usize,
        priority: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Advert,
    MasterDown,
}

struct Node {
    machine: Machine,
    alive: bool,
    holds_addresses: bool,
}

struct Segment {
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Instant, u64, Event)>>,
    seq: u64,
    now: Instant,
    /// (time, node, holds) every time a node adds or removes the addresses.
    address_log: Vec<(Instant, usize, bool)>,
}

fn ip(node: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, u8::try_from(node + 1).unwrap()))
}

fn config(version: Version, priority: u8, centis: u16, node: usize) -> Config {
    Config::new(
        version,
        priority,
        AdvertInterval::from_centis(centis).unwrap(),
        ip(node),
    )
}

fn secs(s: f64) -> Instant {
    Instant::from_elapsed(Duration::from_secs_f64(s))
}

impl Segment {
    fn new(configs: Vec<Config>) -> Self {
        let nodes = configs
            .into_iter()
            .map(|c| Node {
                machine: Machine::new(c),
                alive: true,
                holds_addresses: false,
            })
            .collect();
        Segment {
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            now: Instant::default(),
            address_log: vec![],
        }
    }

    fn push(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, event)));
    }

    fn input(&mut self, node: usize, input: Input) {
        if !self.nodes[node].alive {
            return;
        }
        let actions = self.nodes[node].machine.handle(self.now, input);
        for action in actions {
            match action {
                Action::SendAdvert { priority } => {
                    for to in 0..self.nodes.len() {
                        if to != node {
                            self.push(
                                self.now + LATENCY,
                                Event::Deliver {
                                    to,
                                    from: node,
                                    priority,
                                },
                            );
                        }
                    }
                }
                Action::AddAddresses | Action::RemoveAddresses => {
                    let holds = action == Action::AddAddresses;
                    self.nodes[node].holds_addresses = holds;
                    self.address_log.push((self.now, node, holds));
                }
                Action::ArmTimer { timer, at, .. } => {
                    let key = match timer {
                        Timer::Advert => TimerKey::Advert,
                        Timer::MasterDown => TimerKey::MasterDown,
                    };
                    self.push(at, Event::Fire(node, key));
                }
                // Cancelled timers are left in the queue: the machine ignores stale firings.
                Action::CancelTimer(_) | Action::SendGratuitous | Action::Notify(_) => {}
            }
        }
    }

    fn run_until(&mut self, end: Instant) {
        while let Some(Reverse((at, _, event))) = self.queue.peek().copied() {
            if at > end {
                break;
            }
            self.queue.pop();
            self.now = at;
            match event {
                Event::Fire(node, key) => {
                    let timer = match key {
                        TimerKey::Advert => Timer::Advert,
                        TimerKey::MasterDown => Timer::MasterDown,
                    };
                    self.input(node, Input::TimerFired(timer));
                }
                Event::Deliver { to, from, priority } => {
                    let interval = self.nodes[from].machine.config().advert_interval;
                    let advert = Received {
                        source: ip(from),
                        priority,
                        interval,
                    };
                    self.input(to, Input::Advert(advert));
                }
            }
        }
        self.now = end;
    }

    fn start(&mut self, node: usize) {
        self.nodes[node].alive = true;
        self.input(node, Input::Startup);
    }

    fn stop(&mut self, node: usize) {
        self.input(node, Input::Shutdown);
    }

    /// SIGKILL: the node vanishes without a word (its addresses vanish with it).
    fn crash(&mut self, node: usize) {
        self.nodes[node].alive = false;
        self.nodes[node].holds_addresses = false;
        let fresh = Machine::new(self.nodes[node].machine.config().clone());
        self.nodes[node].machine = fresh;
    }

    fn holders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].holds_addresses)
            .collect()
    }

    fn state(&self, node: usize) -> State {
        self.nodes[node].machine.state()
    }

    /// When `node` last took the addresses.
    fn took_over_at(&self, node: usize) -> Instant {
        self.address_log
            .iter()
            .rev()
            .find(|(_, n, holds)| *n == node && *holds)
            .unwrap()
            .0
    }
}

#[test]
fn rfc3768_6_4_election_higher_priority_wins_and_holds_alone() {
    let mut seg = Segment::new(vec![
        config(Version::V2, 200, 100, 0),
        config(Version::V2, 100, 100, 1),
    ]);
    seg.start(0);
    seg.start(1);
    seg.run_until(secs(30.0));
    assert_eq!(seg.state(0), State::Master);
    assert_eq!(seg.state(1), State::Backup);
    assert_eq!(seg.holders(), [0]);
    assert!(
        seg.address_log.iter().all(|(_, n, _)| *n == 0),
        "backup never took the VIPs"
    );
    // The first master appears after its own Master_Down_Interval: 3 s + 56/256 s.
    assert_eq!(seg.took_over_at(0), secs(3.21875));
}

fn failover(version: Version, centis: u16, graceful: bool) -> (Duration, Duration) {
    let mut seg = Segment::new(vec![
        config(version, 200, centis, 0),
        config(version, 100, centis, 1),
    ]);
    seg.start(0);
    seg.start(1);
    seg.run_until(secs(20.0));
    assert_eq!(seg.holders(), [0]);
    let t0 = seg.now;
    if graceful {
        seg.stop(0);
    } else {
        seg.crash(0);
    }
    seg.run_until(secs(40.0));
    assert_eq!(seg.holders(), [1]);
    let backup = &seg.nodes[1].machine;
    let bound = if graceful {
        backup.skew_time()
    } else {
        backup.master_down_interval()
    };
    (seg.took_over_at(1).saturating_duration_since(t0), bound)
}

#[test]
fn rfc3768_6_4_2_v2_graceful_failover_within_skew_time() {
    let (took, skew) = failover(Version::V2, 100, true);
    // Priority 0 → the backup waits Skew_Time (156/256 s) after hearing it.
    assert_eq!(skew, Duration::from_micros(609_375));
    assert_eq!(took, skew + LATENCY);
}

#[test]
fn rfc3768_6_4_2_v2_crash_failover_within_master_down_interval() {
    let (took, down) = failover(Version::V2, 100, false);
    assert_eq!(down, Duration::from_micros(3_609_375));
    assert!(took <= down, "took {took:?}, bound {down:?}");
    assert!(
        took + Duration::from_secs(1) > down,
        "not before the last advert's interval"
    );
}

#[test]
fn rfc5798_6_4_2_v3_fast_graceful_and_crash_failover() {
    let (took, skew) = failover(Version::V3, 10, true);
    assert_eq!(skew, Duration::from_micros(60_937));
    assert_eq!(took, skew + LATENCY);
    let (took, down) = failover(Version::V3, 10, false);
    assert_eq!(down, Duration::from_micros(360_937));
    assert!(
        took <= down && took + Duration::from_millis(100) > down,
        "took {took:?}"
    );
}

#[test]
fn rfc3768_6_4_2_preemption_gives_the_vips_back_to_the_higher_priority() {
    let mut seg = Segment::new(vec![
        config(Version::V2, 200, 100, 0),
        config(Version::V2, 100, 100, 1),
    ]);
    seg.start(0);
    seg.start(1);
    seg.run_until(secs(10.0));
    seg.stop(0);
    seg.run_until(secs(20.0));
    assert_eq!(seg.holders(), [1]);
    seg.start(0);
    seg.run_until(secs(40.0));
    assert_eq!(seg.holders(), [0]);
    assert_eq!(seg.state(1), State::Backup);
    // Node 0 discards the lower master's adverts and takes over after its own
    // Master_Down_Interval; node 1 releases on hearing it, one latency later.
    assert_eq!(
        seg.took_over_at(0),
        secs(20.0) + Duration::from_micros(3_218_750)
    );
    let released = seg
        .address_log
        .iter()
        .rev()
        .find(|(_, n, h)| *n == 1 && !*h)
        .unwrap()
        .0;
    assert_eq!(released, seg.took_over_at(0) + LATENCY);
}

#[test]
fn rfc3768_6_4_2_nopreempt_leaves_the_lower_master_in_place() {
    let mut high = config(Version::V2, 200, 100, 0);
    high.preempt = false;
    let mut seg = Segment::new(vec![high, config(Version::V2, 100, 100, 1)]);
    seg.start(1);
    seg.run_until(secs(10.0));
    assert_eq!(seg.holders(), [1]);
    seg.start(0);
    seg.run_until(secs(60.0));
    assert_eq!(seg.holders(), [1]);
    assert_eq!(seg.state(0), State::Backup);
}

#[test]
fn rfc5798_6_4_3_equal_priorities_elect_the_higher_primary_address() {
    // Same priority and interval: both down timers expire together, both become master,
    // and the lower address yields on hearing the higher one.
    let mut seg = Segment::new(vec![
        config(Version::V3, 100, 100, 0),
        config(Version::V3, 100, 100, 1),
    ]);
    seg.start(0);
    seg.start(1);
    seg.run_until(secs(30.0));
    assert_eq!(seg.holders(), [1]);
    assert_eq!(seg.state(0), State::Backup);
}

#[test]
fn rfc3768_6_4_3_owner_takes_over_at_once_from_a_running_master() {
    let mut seg = Segment::new(vec![
        config(Version::V2, 255, 100, 0),
        config(Version::V2, 100, 100, 1),
    ]);
    seg.start(1);
    seg.run_until(secs(10.0));
    assert_eq!(seg.holders(), [1]);
    seg.start(0);
    seg.run_until(secs(10.0) + LATENCY * 2);
    assert_eq!(seg.holders(), [0]);
    assert_eq!(seg.took_over_at(0), secs(10.0));
}
