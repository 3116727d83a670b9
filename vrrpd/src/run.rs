//! The event loop: one thread, one task per socket feeding a channel, one sorted
//! set of deadlines. Every event becomes `Machine::handle` inputs; the actions are
//! carried out by `actions.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::{
    channel, unbounded_channel, Receiver, Sender, UnboundedReceiver, UnboundedSender,
};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};
use vrrp::Input;

use crate::cli::Args;
use crate::instance::Instance;
use crate::notify::{Fifo, RunAs};

use crate::rtnl::{Addr, Link, Rtnl};
use crate::socket::{Packet, RecvError, VrrpSocket};
use crate::spec::{Family, InstanceSpec};
use crate::timers::Timers;
use crate::track::ScriptState;

/// How late a protocol timer may fire and still count from its deadline.
const MAX_TIMER_LAG: Duration = Duration::from_millis(100);

/// A socket is shared by every instance on one interface and family.
pub type SocketKey = (u32, Family);

/// Received packets travel on their own bounded channel: when the loop falls
/// behind, readers wait and the kernel drops, instead of memory growing.
const PACKET_QUEUE: usize = 1024;

#[derive(Debug)]
pub enum Event {
    BadPacket,
    Terminate,
    Reload,
    /// SIGUSR1: write keepalived.data.
    DumpData,
    /// SIGUSR2: write keepalived.stats.
    DumpStats,
    Link(Link),
    AddressesChanged,
    /// Monitor messages were lost: read links and addresses again.
    Resync,
    ScriptResult(String, bool),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKey {
    Advert(String),
    MasterDown(String),
    /// garp_master_delay's second burst.
    Garp(String),
    /// garp_master_refresh.
    GarpRefresh(String),
    /// garp_lower_prio_delay's burst.
    GarpLowerPrio(String),
    /// The next paced gratuitous ARP (false) / NA (true) on an interface
    /// (index, name, source MAC).
    GarpQueue(u32, bool, String, [u8; 6]),
    /// Next run of a vrrp_script.
    Script(String),
    /// Next look at a track_file.
    Files,
}

#[derive(Debug)]
pub struct SocketEntry {
    pub socket: Arc<AsyncFd<VrrpSocket>>,
    pub task: JoinHandle<()>,
}

#[derive(Debug)]
pub struct Daemon {
    pub start: Instant,
    pub instances: BTreeMap<String, Instance>,
    pub sockets: HashMap<SocketKey, SocketEntry>,
    pub timers: Timers<TimerKey>,
    pub rtnl: Rtnl,
    pub links: HashMap<String, Link>,
    pub addrs: Vec<Addr>,
    pub tx: UnboundedSender<Event>,
    pub packet_tx: Sender<(SocketKey, Packet)>,
    pub run_as: RunAs,
    pub fifo: Option<Fifo>,
    /// The `vrrp_notify_fifo_script` reading the FIFO.
    pub fifo_reader: Option<tokio::process::Child>,
    pub scripts: BTreeMap<String, ScriptState>,
    pub track_files: BTreeMap<String, crate::track::FileState>,
    /// Sync groups by name.
    pub groups: BTreeMap<String, crate::sync::Group>,
    /// Stop scripts to wait for before exiting.
    pub stop_children: Vec<tokio::process::Child>,
    /// Packets for no instance, by reason.
    pub unclaimed: u64,
    /// The instance a reload is removing, and its state before (its stop is
    /// reported as DELETED or FAULT, as keepalived's `clear_diff_vrrp`).
    pub deleting: Option<(String, vrrp::State)>,
    /// Instances waiting for an address on their interface.
    pub waiting: BTreeMap<String, InstanceSpec>,
    /// Gratuitous ARP / NA senders.
    pub announcer: crate::garp::Announcer,
    /// The `no_accept` drop rules (nftables).
    pub filter: crate::filter::Filter,
    /// static_ipaddress / static_routes in place.
    pub statics: crate::statics::Statics,
}

fn load(args: &Args) -> keepalived_conf::Outcome {
    let outcome = keepalived_conf::check_file(
        &args.use_file,
        &crate::cli::read_options(args),
        &keepalived_conf::SystemHost,
    );
    for d in &outcome.diagnostics.items {
        warn!("{d}");
    }
    outcome
}

/// Registers a socket the `AsyncFd` owns (and so keeps open) with the reactor.
#[allow(
    deprecated,
    reason = "AsyncFd::register is unsafe (denied here); the fd is owned by the AsyncFd"
)]
pub(crate) fn register<T: std::os::fd::AsRawFd>(socket: T) -> std::io::Result<AsyncFd<T>> {
    AsyncFd::new(socket)
}

/// keepalived's VRRP process gives up on these (its parent then exits with the code):
/// a keyword without its value or a failed checked include (`stopped`); an
/// interface that does not exist, or an instance without a valid VRID or interface
/// (`vrrp_complete_init`'s minimum configuration): "permanent error CONFIG", exit 2.
fn fatal(outcome: &keepalived_conf::Outcome) -> Option<i32> {
    if let Some(code) = outcome.diagnostics.stopped {
        return Some(code);
    }
    outcome
        .diagnostics
        .items
        .iter()
        .any(|d| {
            d.message == "Non-existent interface specified in configuration"
                || d.message.ends_with(") the virtual router id must be set")
                || d.message.ends_with(") Unknown interface!")
        })
        .then_some(2)
}

fn spawn_signals(tx: UnboundedSender<Event>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                _ = term.recv() => Event::Terminate,
                _ = int.recv() => Event::Terminate,
                _ = hup.recv() => Event::Reload,
                _ = usr1.recv() => Event::DumpData,
                _ = usr2.recv() => Event::DumpStats,
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    Ok(())
}

fn spawn_monitor(tx: UnboundedSender<Event>) -> std::io::Result<()> {
    let socket = register(Rtnl::monitor()?)?;
    tokio::spawn(async move {
        loop {
            let Ok(mut guard) = socket.readable().await else {
                break;
            };
            match guard.try_io(|s| s.get_ref().recv_from_full()) {
                Ok(Ok((data, _))) => {
                    for m in crate::rtnl::parse(&data) {
                        use netlink_packet_core::NetlinkPayload;
                        use netlink_packet_route::RouteNetlinkMessage as R;
                        let ev = match m.payload {
                            NetlinkPayload::InnerMessage(R::NewLink(l)) => {
                                Event::Link(crate::rtnl::link_of(&l))
                            }
                            NetlinkPayload::InnerMessage(R::DelLink(l)) => {
                                let mut link = crate::rtnl::link_of(&l);
                                link.up = false;
                                Event::Link(link)
                            }
                            NetlinkPayload::InnerMessage(R::NewAddress(_) | R::DelAddress(_)) => {
                                Event::AddressesChanged
                            }
                            _ => continue,
                        };
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                }
                Ok(Err(e)) => {
                    debug!("netlink monitor: {e}");
                    // ENOBUFS: events were lost; take a fresh look.
                    let _ = tx.send(Event::Resync);
                }
                Err(_would_block) => {}
            }
        }
    });
    Ok(())
}

pub(crate) fn spawn_reader(
    key: SocketKey,
    socket: Arc<AsyncFd<VrrpSocket>>,
    packets: Sender<(SocketKey, Packet)>,
    tx: UnboundedSender<Event>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok(mut guard) = socket.readable().await else {
                break;
            };
            // Drain what is queued, then wait again.
            for _ in 0..64 {
                match guard.get_inner().recv() {
                    Ok(p) => {
                        if packets.send((key, p)).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::BadIpHeader) => {
                        let _ = tx.send(Event::BadPacket);
                    }
                    Err(RecvError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        break;
                    }
                    Err(RecvError::Io(e)) => {
                        debug!("recv: {e}");
                        guard.clear_ready();
                        break;
                    }
                }
            }
        }
    })
}

/// Runs until SIGTERM/SIGINT; returns the exit code.
pub async fn run(args: &Args) -> i32 {
    let (tx, mut rx) = unbounded_channel();
    let (packet_tx, packet_rx) = channel(PACKET_QUEUE);
    let outcome = load(args);
    if let Some(code) = fatal(&outcome) {
        error!("exited with permanent error CONFIG. Terminating");
        return code;
    }
    let mut daemon = match Daemon::new(tx.clone(), packet_tx, &outcome.config) {
        Ok(d) => d,
        Err(e) => {
            warn!("cannot start: {e}");
            return 1;
        }
    };
    if let Err(e) = spawn_signals(tx.clone()).and_then(|()| spawn_monitor(tx.clone())) {
        warn!("cannot start: {e}");
        return 1;
    }
    let delay = Duration::from_micros(outcome.config.global_defs.vrrp_startup_delay);
    if !delay.is_zero() {
        info!("Delaying startup for {} seconds", delay.as_secs_f64());
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                ev = rx.recv() => {
                    if matches!(ev, None | Some(Event::Terminate)) {
                        info!("Stopping");
                        return 0;
                    }
                }
            }
        }
    }
    crate::statics::apply(&mut daemon, &outcome.config, true);
    daemon.apply(&outcome.config);
    info!("Startup complete");
    crate::daemon::sd_notify("READY=1");
    daemon.event_loop(rx, packet_rx, args).await;
    daemon.shutdown().await;
    0
}

impl Daemon {
    fn new(
        tx: UnboundedSender<Event>,
        packet_tx: Sender<(SocketKey, Packet)>,
        config: &keepalived_conf::Config,
    ) -> std::io::Result<Self> {
        let mut rtnl = Rtnl::new()?;
        let links = rtnl
            .links()?
            .into_iter()
            .map(|l| (l.name.clone(), l))
            .collect();
        let addrs = rtnl.addresses()?;
        Ok(Daemon {
            start: Instant::now(),
            instances: BTreeMap::new(),
            sockets: HashMap::new(),
            timers: Timers::default(),
            rtnl,
            links,
            addrs,
            tx,
            packet_tx,
            run_as: RunAs::from_config(config.global_defs.script_user.as_ref()),
            fifo: None,
            fifo_reader: None,
            scripts: BTreeMap::new(),
            track_files: BTreeMap::new(),
            groups: BTreeMap::new(),
            stop_children: Vec::new(),
            unclaimed: 0,
            statics: crate::statics::Statics::default(),
            deleting: None,
            announcer: crate::garp::Announcer::default(),
            filter: crate::filter::Filter::default(),
            waiting: BTreeMap::new(),
        })
    }

    /// The core's clock for `now`.
    pub fn vnow(&self, now: Instant) -> vrrp::Instant {
        vrrp::Instant::from_elapsed(now.saturating_duration_since(self.start))
    }

    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.links.get(name).map(|l| l.index)
    }

    /// Feeds one input to one instance and carries out the actions;
    /// sync-group members follow its state changes.
    pub fn feed(&mut self, name: &str, input: Input, now: Instant) {
        let vnow = self.vnow(now);
        let Some(inst) = self.instances.get_mut(name) else {
            return;
        };
        let before = inst.machine.state();
        let actions = inst.machine.handle(vnow, input);
        let after = inst.machine.state();
        if before != after && after == vrrp::State::Master {
            inst.stats.become_master += 1;
        }
        if before == vrrp::State::Master && after != vrrp::State::Master {
            inst.stats.release_master += 1;
        }
        self.execute(name, &actions, now);
        if before != after {
            crate::sync::follow(self, name, before, after, now);
        }
    }

    async fn event_loop(
        &mut self,
        mut rx: UnboundedReceiver<Event>,
        mut packets: Receiver<(SocketKey, Packet)>,
        args: &Args,
    ) {
        loop {
            let next = self.timers.next();
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                ev = rx.recv() => {
                    let Some(ev) = ev else { return };
                    match ev {
                        Event::Terminate => {
                            info!("Stopping");
                            return;
                        }
                        Event::Reload => self.reload(args),
                        other => self.handle_event(other, Instant::now()),
                    }
                }
                Some((key, packet)) = packets.recv() => {
                    crate::receive::packet(self, key, &packet, Instant::now());
                }
                () = sleep => self.fire_timers(Instant::now()),
            }
        }
    }

    fn reload(&mut self, args: &Args) {
        info!("Reloading");
        crate::daemon::sd_notify("RELOADING=1");
        let outcome = load(args);
        if fatal(&outcome).is_some() {
            warn!("configuration not reloaded: the file has fatal errors");
        } else {
            self.refresh_links();
            crate::statics::apply(self, &outcome.config, false);
            self.apply(&outcome.config);
        }
        crate::daemon::sd_notify("READY=1");
    }

    fn refresh_links(&mut self) {
        if let Ok(links) = self.rtnl.links() {
            self.links = links.into_iter().map(|l| (l.name.clone(), l)).collect();
        }
        if let Ok(addrs) = self.rtnl.addresses() {
            self.addrs = addrs;
        }
    }

    fn handle_event(&mut self, ev: Event, now: Instant) {
        match ev {
            Event::BadPacket => {
                self.unclaimed += 1;
                debug!("dropped a packet with a bad IP header");
            }
            Event::Link(link) => {
                debug!("link {} (index {}) up={}", link.name, link.index, link.up);
                crate::track::link_changed(self, link, now);
            }
            Event::AddressesChanged => {
                // Our own VIPs make these too: only look when someone waits (a
                // reload reads the addresses afresh anyway).
                if !self.waiting.is_empty() {
                    if let Ok(addrs) = self.rtnl.addresses() {
                        self.addrs = addrs;
                    }
                    self.start_waiting(now);
                }
            }
            Event::Resync => {
                self.refresh_links();
                self.start_waiting(now);
                let names: Vec<String> = self.instances.keys().cloned().collect();
                for n in names {
                    crate::track::recompute(self, &n, now);
                }
            }
            Event::ScriptResult(name, ok) => crate::track::script_result(self, &name, ok, now),
            Event::DumpData => crate::stats::write_data(self),
            Event::DumpStats => crate::stats::write_stats(self),
            Event::Terminate | Event::Reload => {}
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        // Bounded: each key fires at most once per pass.
        for _ in 0..10_000 {
            let Some((key, at)) = self.timers.pop_due(now) else {
                break;
            };
            // A protocol timer counts from its deadline, so the time spent waking up
            // and serving other instances first does not stretch every interval
            // (with 100 masters that added tens of ms per advert); after a long
            // stall (suspend) it counts from now, so there is no burst to catch up.
            let when = if now.saturating_duration_since(at) < MAX_TIMER_LAG {
                at
            } else {
                now
            };
            match key {
                TimerKey::Advert(n) => {
                    self.feed(&n, Input::TimerFired(vrrp::Timer::Advert), when);
                }
                TimerKey::MasterDown(n) => {
                    if self
                        .instances
                        .get(&n)
                        .is_some_and(|i| i.machine.state() == vrrp::State::Backup)
                    {
                        info!("({n}) Receive advertisement timeout");
                    }
                    self.feed(&n, Input::TimerFired(vrrp::Timer::MasterDown), when);
                }
                TimerKey::Garp(n) => crate::actions::garp_burst(self, &n, now),
                TimerKey::GarpQueue(index, ipv6, ifname, mac) => {
                    crate::actions::garp_queue(self, (index, ipv6), ifname, mac, now);
                }
                TimerKey::GarpRefresh(n) => crate::actions::garp_refresh(self, &n, now),
                TimerKey::GarpLowerPrio(n) => crate::actions::garp_lower_prio(self, &n, false, now),
                TimerKey::Script(s) => crate::track::run_script(self, &s, now),
                TimerKey::Files => crate::track::check_files(self, now),
            }
        }
    }

    /// Re-reads the effective priority and tells the machine when it moved.
    pub fn update_priority(&mut self, name: &str, now: Instant) {
        let Some(inst) = self.instances.get(name) else {
            return;
        };
        let p = inst.effective_priority();
        if p != inst.machine.priority() {
            info!(
                "({name}) Changing effective priority from {} to {p}",
                inst.machine.priority()
            );
            self.feed(name, Input::PriorityChanged(p), now);
        }
    }

    /// SIGTERM: priority 0, VIPs removed, stop scripts (waited for up to 1 s).
    async fn shutdown(&mut self) {
        let now = Instant::now();
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in &names {
            self.stop_instance(name, now);
        }
        for s in self.sockets.values() {
            s.task.abort();
        }
        crate::statics::clear(self);
        self.filter.clear();
        let children = std::mem::take(&mut self.stop_children);
        crate::notify::wait_all(children, Duration::from_secs(1)).await;
        if let Some(mut r) = self.fifo_reader.take() {
            // Let it read the STOP lines first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = r.start_kill();
        }
    }
}
