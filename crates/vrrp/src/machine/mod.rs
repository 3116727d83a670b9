//! The VRRP state machine (RFC 3768 §6.4, RFC 5798 §6.4) with keepalived's Fault state and
//! its choices where the RFCs leave room, as a deterministic function
//! `(state, now, input) → (state', actions)`.
//!
//! [`Machine::handle`] never performs I/O and never reads a clock: the daemon passes the
//! current [`Instant`] with each [`Input`] and carries out the returned [`Action`]s in order.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::Duration;

use crate::packet::{AdvertInterval, Version};
use crate::timing::{master_down_interval, skew_time, Instant};

mod config;
mod events;

pub use config::{effective_priority, Config, InitialState, PRIORITY_OWNER, PRIORITY_STOP};
pub use events::{Action, Input, Notify, Received, State, Timer};

/// One VRRP instance's protocol state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    config: Config,
    state: State,
    priority: u8,
    master_adver_interval: AdvertInterval,
    fault: bool,
    advert_deadline: Option<Instant>,
    down_deadline: Option<Instant>,
    preempt_after: Option<Instant>,
    master: Option<Received>,
}

impl Machine {
    /// A machine in Initialize for `config`.
    pub fn new(config: Config) -> Self {
        let priority = config.priority.max(1);
        let master_adver_interval = config.advert_interval;
        Machine {
            config,
            state: State::Initialize,
            priority,
            master_adver_interval,
            fault: false,
            advert_deadline: None,
            down_deadline: None,
            preempt_after: None,
            master: None,
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Current effective priority.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Master_Adver_Interval (learned from the master in VRRPv3).
    pub fn master_adver_interval(&self) -> AdvertInterval {
        self.master_adver_interval
    }

    /// The instance's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The last advert accepted from the master while in Backup, if any.
    pub fn master(&self) -> Option<Received> {
        self.master
    }

    /// When `timer` is due, if armed.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::Advert => self.advert_deadline,
            Timer::MasterDown => self.down_deadline,
        }
    }

    /// Skew_Time for the current priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        skew_time(
            self.config.version,
            self.priority,
            self.master_adver_interval,
        )
    }

    /// Master_Down_Interval for the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.config.version,
            self.priority,
            self.master_adver_interval,
            self.config.down_timer_adverts,
        )
    }

    /// Applies a reloaded configuration (SIGHUP) without leaving the current state, so an
    /// unchanged instance keeps its role and its addresses: an identical configuration
    /// returns no actions. A new advert interval re-arms the running timer with it (a v3
    /// backup keeps the interval it learned from the master). The effective priority is not
    /// touched: feed [`Input::PriorityChanged`] with the recomputed value.
    pub fn reconfigure(&mut self, now: Instant, config: Config) -> Vec<Action> {
        let mut out = Vec::new();
        let old = std::mem::replace(&mut self.config, config);
        if self.config.advert_interval == old.advert_interval {
            return out;
        }
        let interval = self.config.advert_interval;
        match self.state {
            State::Master => {
                self.master_adver_interval = interval;
                out.push(self.arm(now, Timer::Advert, interval.as_duration()));
            }
            State::Backup => {
                if self.config.version == Version::V2 || self.master.is_none() {
                    self.master_adver_interval = interval;
                    let down = self.master_down_interval();
                    out.push(self.arm(now, Timer::MasterDown, down));
                }
            }
            State::Initialize | State::Fault => self.master_adver_interval = interval,
        }
        out
    }

    /// Processes one input at time `now` and returns what to do.
    ///
    /// A [`Input::TimerFired`] for a timer that is not armed, or that fires before its
    /// deadline (a stale firing after a re-arm), is ignored.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Startup => self.on_startup(now, &mut out),
            Input::Shutdown => self.on_shutdown(&mut out),
            Input::Advert(advert) => match self.state {
                State::Backup => self.backup_rx(now, advert, &mut out),
                State::Master => self.master_rx(now, advert, &mut out),
                State::Initialize | State::Fault => {}
            },
            Input::TimerFired(timer) => self.on_timer(now, timer, &mut out),
            Input::FaultDetected => self.on_fault(&mut out),
            Input::FaultCleared => {
                self.fault = false;
                if self.state == State::Fault {
                    self.enter_from_init(now, &mut out);
                }
            }
            Input::PriorityChanged(priority) => self.on_priority(now, priority, &mut out),
            Input::GroupMaster => {
                if self.state == State::Backup {
                    self.become_master(now, &mut out);
                }
            }
            Input::GroupBackup => {
                if self.state == State::Master {
                    self.master_adver_interval = self.config.advert_interval;
                    self.step_down(now, None, &mut out);
                }
            }
        }
        out
    }

    /// RFC 5798 §6.4.1 Startup, with keepalived's initial `state`.
    fn on_startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if self.fault {
            self.state = State::Fault;
            out.push(Action::Notify(Notify::Fault));
            return;
        }
        if self.config.initial_state == InitialState::Master && self.priority == PRIORITY_OWNER {
            self.become_master(now, out);
        } else {
            self.become_backup(now, out);
        }
    }

    /// Recovery from Fault: the owner is Master at once, others Backup.
    fn enter_from_init(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.priority == PRIORITY_OWNER {
            self.become_master(now, out);
        } else {
            self.become_backup(now, out);
        }
    }

    /// RFC 5798 §6.4.2 / §6.4.3 Shutdown events.
    fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Initialize {
            return;
        }
        self.stand_down(State::Initialize, Notify::Stop, out);
    }

    /// Leaves Backup (its Master_Down_Timer stops) or Master (its Adver_Timer stops, it
    /// advertises priority 0 and releases the addresses) for `to`, with `notify`.
    fn stand_down(&mut self, to: State, notify: Notify, out: &mut Vec<Action>) {
        match self.state {
            State::Backup => out.push(self.cancel(Timer::MasterDown)),
            State::Master => {
                out.push(self.cancel(Timer::Advert));
                out.push(Action::SendAdvert {
                    priority: PRIORITY_STOP,
                });
                out.push(Action::RemoveAddresses);
            }
            State::Initialize | State::Fault => {}
        }
        self.state = to;
        self.master = None;
        self.preempt_after = None;
        out.push(Action::Notify(notify));
    }

    fn on_timer(&mut self, now: Instant, timer: Timer, out: &mut Vec<Action>) {
        match self.deadline(timer) {
            Some(due) if now >= due => {}
            _ => return,
        }
        match (timer, self.state) {
            // RFC 5798 §6.4.3: Adver_Timer fires → send an advert, re-arm.
            (Timer::Advert, State::Master) => {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                let interval = self.config.advert_interval.as_duration();
                out.push(self.arm(now, Timer::Advert, interval));
            }
            // RFC 5798 §6.4.2: Master_Down_Timer fires → become Master.
            (Timer::MasterDown, State::Backup) => {
                self.down_deadline = None;
                self.become_master(now, out);
            }
            _ => {}
        }
    }

    /// keepalived's FAULT: a master says priority 0 and releases the addresses.
    fn on_fault(&mut self, out: &mut Vec<Action>) {
        self.fault = true;
        if matches!(self.state, State::Initialize | State::Fault) {
            return;
        }
        self.stand_down(State::Fault, Notify::Fault, out);
    }

    /// A new effective priority. In Backup the running Master_Down_Timer moves by the change
    /// in Skew_Time, as keepalived does; a master advertises it with its next advert.
    fn on_priority(&mut self, now: Instant, priority: u8, out: &mut Vec<Action>) {
        let priority = priority.max(1);
        if priority == self.priority {
            return;
        }
        let old_down = self.master_down_interval();
        self.priority = priority;
        if let (State::Backup, Some(due)) = (self.state, self.down_deadline) {
            let new_down = self.master_down_interval();
            let at = Instant::from_elapsed(
                due.elapsed()
                    .saturating_add(new_down)
                    .saturating_sub(old_down),
            );
            out.push(self.arm_at(now, Timer::MasterDown, at));
        }
    }

    /// RFC 3768 §6.4.2 / RFC 5798 §6.4.2: an advert heard in Backup.
    fn backup_rx(&mut self, now: Instant, advert: Received, out: &mut Vec<Action>) {
        if advert.priority == PRIORITY_STOP {
            // The master is leaving: take over after Skew_Time only.
            let skew = self.skew_time();
            out.push(self.arm(now, Timer::MasterDown, skew));
            return;
        }
        let delay_holds = !self.config.preempt_delay.is_zero()
            && self.preempt_after.is_none_or(|after| now < after);
        if !self.config.preempt || advert.priority >= self.priority || delay_holds {
            if self.config.version == Version::V3 {
                // RFC 5798 §6.4.2: learn the master's interval.
                self.master_adver_interval = advert.interval;
            }
            let down = self.master_down_interval();
            out.push(self.arm(now, Timer::MasterDown, down));
            self.master = Some(advert);
            if !self.config.preempt_delay.is_zero() {
                if advert.priority >= self.priority {
                    self.preempt_after = None;
                } else if self.preempt_after.is_none() {
                    self.preempt_after = Some(now + self.config.preempt_delay);
                }
            }
        }
        // Else: preempting a lower-priority master; discard and let the timer run out.
    }

    /// RFC 3768 §6.4.3 / RFC 5798 §6.4.3: an advert heard in Master.
    fn master_rx(&mut self, now: Instant, advert: Received, out: &mut Vec<Action>) {
        if advert.priority == PRIORITY_STOP {
            // Another master is stopping: assert ourselves at once.
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            let interval = self.config.advert_interval.as_duration();
            out.push(self.arm(now, Timer::Advert, interval));
            return;
        }
        let by_address = compare_addresses(advert.source, self.config.primary_address);
        if advert.priority == self.priority
            && self.priority == PRIORITY_OWNER
            && by_address != Ordering::Equal
        {
            // Two owners: keepalived reports a configuration error and steps down to 254.
            self.priority = PRIORITY_OWNER - 1;
        }
        match advert.priority.cmp(&self.priority).then(by_address) {
            Ordering::Greater => {
                if self.config.higher_prio_send_advert {
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                }
                if self.config.version == Version::V3 {
                    self.master_adver_interval = advert.interval;
                }
                self.step_down(now, Some(advert), out);
            }
            Ordering::Less => {
                if !self.config.lower_prio_no_advert {
                    // keepalived answers at once and restarts its advert timer
                    // (vrrp_dispatcher_read → vrrp_init_instance_sands).
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    let interval = self.config.advert_interval.as_duration();
                    out.push(self.arm(now, Timer::Advert, interval));
                }
                out.push(Action::Notify(Notify::MasterRxLowerPriority));
            }
            // Our own advert looped back (same priority, same address): nothing to do.
            Ordering::Equal => {}
        }
    }

    /// Master → Backup (RFC 5798 §6.4.3): stop advertising, watch the new master with
    /// Master_Down_Interval, release the addresses.
    fn step_down(&mut self, now: Instant, master: Option<Received>, out: &mut Vec<Action>) {
        out.push(self.cancel(Timer::Advert));
        let down = self.master_down_interval();
        out.push(self.arm(now, Timer::MasterDown, down));
        out.push(Action::RemoveAddresses);
        self.state = State::Backup;
        self.master = master;
        self.preempt_after = None;
        out.push(Action::Notify(Notify::Backup));
    }

    /// Backup with Master_Down_Timer = Master_Down_Interval (RFC 5798 §6.4.1).
    fn become_backup(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.master_adver_interval = self.config.advert_interval;
        self.state = State::Backup;
        self.preempt_after = None;
        self.master = None;
        let down = self.master_down_interval();
        out.push(self.arm(now, Timer::MasterDown, down));
        out.push(Action::Notify(Notify::Backup));
    }

    /// Send an advert first (so the old master lets go before our gratuitous ARPs, as
    /// keepalived does), take the addresses, announce them, notify, start Adver_Timer.
    fn become_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.down_deadline.is_some() {
            out.push(self.cancel(Timer::MasterDown));
        }
        self.master_adver_interval = self.config.advert_interval;
        self.state = State::Master;
        self.preempt_after = None;
        self.master = None;
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        out.push(Action::AddAddresses);
        out.push(Action::SendGratuitous);
        out.push(Action::Notify(Notify::Master));
        let interval = self.config.advert_interval.as_duration();
        out.push(self.arm(now, Timer::Advert, interval));
    }

    fn arm(&mut self, now: Instant, timer: Timer, after: Duration) -> Action {
        self.arm_at(now, timer, now + after)
    }

    /// Arms `timer` for `at`, or for `now` if `at` has already passed (a priority change can
    /// pull a Master_Down_Timer deadline into the past).
    fn arm_at(&mut self, now: Instant, timer: Timer, at: Instant) -> Action {
        let at = at.max(now);
        match timer {
            Timer::Advert => self.advert_deadline = Some(at),
            Timer::MasterDown => self.down_deadline = Some(at),
        }
        Action::ArmTimer {
            timer,
            at,
            after: at.saturating_duration_since(now),
        }
    }

    fn cancel(&mut self, timer: Timer) -> Action {
        match timer {
            Timer::Advert => self.advert_deadline = None,
            Timer::MasterDown => self.down_deadline = None,
        }
        Action::CancelTimer(timer)
    }
}

/// Orders primary addresses for the tie-break (RFC 5798 §6.4.3: "the primary IP address of
/// the sender is greater than the local primary IP address"), as unsigned integers in
/// network byte order. Addresses of different families do not compare.
fn compare_addresses(theirs: IpAddr, ours: IpAddr) -> Ordering {
    match (theirs, ours) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.cmp(&b),
        (IpAddr::V6(a), IpAddr::V6(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    }
}
