//! State machine, one transition at a time, against RFC 3768 §6 / RFC 5798 §6 and
//! keepalived 2.2.7 where the RFCs leave room. Each test names the section it checks.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp::{
    effective_priority, Action, AdvertInterval, Config, InitialState, Input, Instant, Machine,
    Notify, Received, State, Timer, Version,
};

const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const LOWER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const HIGHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));

fn t(ms: u64) -> Instant {
    Instant::from_elapsed(Duration::from_millis(ms))
}

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

fn cs(c: u16) -> AdvertInterval {
    AdvertInterval::from_centis(c).unwrap()
}

fn config(version: Version, priority: u8) -> Config {
    Config::new(version, priority, cs(100), OURS)
}

fn advert(source: IpAddr, priority: u8, centis: u16) -> Input {
    Input::Advert(Received {
        source,
        priority,
        interval: cs(centis),
    })
}

fn armed(timer: Timer, now: Instant, after: Duration) -> Action {
    Action::ArmTimer {
        timer,
        at: now + after,
        after,
    }
}

/// A machine that has started at t=0 and is in Backup.
fn backup(config: Config) -> Machine {
    let mut m = Machine::new(config);
    m.handle(t(0), Input::Startup);
    assert_eq!(m.state(), State::Backup);
    m
}

/// A machine that started at t=0 and won at its Master_Down_Timer.
fn master(config: Config) -> (Machine, Instant) {
    let mut m = backup(config);
    let due = m.deadline(Timer::MasterDown).unwrap();
    m.handle(due, Input::TimerFired(Timer::MasterDown));
    assert_eq!(m.state(), State::Master);
    (m, due)
}

#[test]
fn rfc5798_6_4_1_owner_priority_255_becomes_master_at_startup() {
    let mut m = Machine::new(config(Version::V2, 255));
    let actions = m.handle(t(0), Input::Startup);
    assert_eq!(
        actions,
        [
            Action::SendAdvert { priority: 255 },
            Action::AddAddresses,
            Action::SendGratuitous,
            Action::Notify(Notify::Master),
            armed(Timer::Advert, t(0), Duration::from_secs(1)),
        ]
    );
    assert_eq!(m.state(), State::Master);
}

#[test]
fn rfc3768_6_4_1_non_owner_starts_backup_with_master_down_interval() {
    let mut m = Machine::new(config(Version::V2, 100));
    let actions = m.handle(t(0), Input::Startup);
    // 3 × 1 s + (256 − 100)/256 s.
    assert_eq!(
        actions,
        [
            armed(Timer::MasterDown, t(0), us(3_609_375)),
            Action::Notify(Notify::Backup)
        ]
    );
    assert_eq!(m.state(), State::Backup);
    assert!(
        m.handle(t(1), Input::Startup).is_empty(),
        "a second Startup is a no-op"
    );
}

#[test]
fn rfc3768_6_4_2_master_down_timer_expiry_makes_master() {
    let mut m = backup(config(Version::V2, 100));
    let due = t(0) + us(3_609_375);
    let actions = m.handle(due, Input::TimerFired(Timer::MasterDown));
    assert_eq!(
        actions,
        [
            // The down timer has fired, so there is nothing to cancel.
            Action::SendAdvert { priority: 100 },
            Action::AddAddresses,
            Action::SendGratuitous,
            Action::Notify(Notify::Master),
            armed(Timer::Advert, due, Duration::from_secs(1)),
        ]
    );
}

#[test]
fn rfc3768_6_4_2_unarmed_or_early_timer_firings_are_ignored() {
    let mut m = backup(config(Version::V2, 100));
    assert!(m.handle(t(10), Input::TimerFired(Timer::Advert)).is_empty());
    // A stale firing from before the last re-arm.
    m.handle(t(3_000), advert(HIGHER_IP, 200, 100));
    assert!(m
        .handle(t(3_610), Input::TimerFired(Timer::MasterDown))
        .is_empty());
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn rfc3768_6_4_2_backup_hearing_higher_or_equal_priority_resets_down_timer() {
    let mut m = backup(config(Version::V2, 100));
    let a = m.handle(t(2_000), advert(HIGHER_IP, 200, 100));
    assert_eq!(a, [armed(Timer::MasterDown, t(2_000), us(3_609_375))]);
    let a = m.handle(t(3_000), advert(LOWER_IP, 100, 100));
    assert_eq!(
        a,
        [armed(Timer::MasterDown, t(3_000), us(3_609_375))],
        "equal priority"
    );
    assert_eq!(m.master().unwrap().source, LOWER_IP);
}

#[test]
fn rfc3768_6_4_2_preempt_discards_lower_priority_advert() {
    let mut m = backup(config(Version::V2, 150));
    let first_due = m.deadline(Timer::MasterDown).unwrap();
    assert!(m.handle(t(1_000), advert(HIGHER_IP, 100, 100)).is_empty());
    assert_eq!(
        m.deadline(Timer::MasterDown),
        Some(first_due),
        "timer left running"
    );
    let a = m.handle(first_due, Input::TimerFired(Timer::MasterDown));
    assert!(a.contains(&Action::SendAdvert { priority: 150 }));
    assert_eq!(m.state(), State::Master);
}

#[test]
fn rfc3768_6_4_2_nopreempt_accepts_lower_priority_master() {
    let mut c = config(Version::V2, 150);
    c.preempt = false;
    let mut m = backup(c);
    let a = m.handle(t(1_000), advert(HIGHER_IP, 100, 100));
    assert_eq!(
        a,
        [armed(Timer::MasterDown, t(1_000), m.master_down_interval())]
    );
}

#[test]
fn rfc3768_6_4_2_priority_zero_makes_backup_wait_only_skew_time() {
    let mut m = backup(config(Version::V2, 100));
    let a = m.handle(t(500), advert(HIGHER_IP, 0, 100));
    assert_eq!(a, [armed(Timer::MasterDown, t(500), us(609_375))]);
}

#[test]
fn rfc5798_6_4_2_priority_zero_skew_uses_master_adver_interval() {
    let mut c = config(Version::V3, 100);
    c.advert_interval = cs(10);
    let mut m = backup(c);
    // (256 − 100) × 0.1 s / 256.
    let a = m.handle(t(50), advert(HIGHER_IP, 0, 10));
    assert_eq!(a, [armed(Timer::MasterDown, t(50), us(60_937))]);
}

#[test]
fn rfc5798_6_4_2_backup_learns_master_adver_interval() {
    let mut m = backup(config(Version::V3, 100));
    let a = m.handle(t(100), advert(HIGHER_IP, 200, 50));
    assert_eq!(m.master_adver_interval(), cs(50));
    // 3 × 0.5 s + 156 × 0.5 s / 256.
    assert_eq!(
        a,
        [armed(Timer::MasterDown, t(100), us(1_500_000 + 304_687))]
    );
    // Back to its own interval once it is master itself.
    let due = m.deadline(Timer::MasterDown).unwrap();
    let a = m.handle(due, Input::TimerFired(Timer::MasterDown));
    assert_eq!(
        a.last(),
        Some(&armed(Timer::Advert, due, Duration::from_secs(1)))
    );
    assert_eq!(m.master_adver_interval(), cs(100));
}

#[test]
fn rfc3768_6_1_v2_backup_keeps_its_configured_interval() {
    let mut m = backup(config(Version::V2, 100));
    m.handle(t(100), advert(HIGHER_IP, 200, 300));
    assert_eq!(m.master_adver_interval(), cs(100));
}

#[test]
fn rfc5798_6_4_3_master_hearing_higher_priority_steps_down() {
    let mut c = config(Version::V3, 100);
    c.advert_interval = cs(10);
    let (mut m, won) = master(c);
    let now = won + Duration::from_millis(30);
    let a = m.handle(now, advert(LOWER_IP, 101, 20));
    assert_eq!(
        a,
        [
            Action::CancelTimer(Timer::Advert),
            // Learns 0.2 s: 3 × 0.2 + 156 × 0.2 / 256.
            armed(Timer::MasterDown, now, us(600_000 + 121_875)),
            Action::RemoveAddresses,
            Action::Notify(Notify::Backup),
        ]
    );
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.deadline(Timer::Advert), None);
}

#[test]
fn rfc5798_6_4_3_equal_priority_higher_primary_address_wins() {
    let (mut m, won) = master(config(Version::V2, 100));
    let a = m.handle(won, advert(LOWER_IP, 100, 100));
    assert_eq!(m.state(), State::Master, "lower address loses the tie");
    assert_eq!(a[0], Action::SendAdvert { priority: 100 });
    m.handle(won, advert(HIGHER_IP, 100, 100));
    assert_eq!(m.state(), State::Backup, "higher address wins the tie");
}

#[test]
fn rfc5798_6_4_3_own_looped_advert_is_ignored() {
    let (mut m, won) = master(config(Version::V2, 100));
    assert!(m.handle(won, advert(OURS, 100, 100)).is_empty());
    assert_eq!(m.state(), State::Master);
}

#[test]
fn keepalived_master_hearing_lower_priority_readvertises_at_once() {
    // RFC 5798 §6.4.3 says discard; keepalived (default) answers to force a new election.
    // Like keepalived, the answer restarts Adver_Timer (checked against keepalived in
    // tests/keepalived_rules.rs).
    let (mut m, won) = master(config(Version::V2, 150));
    let now = won + Duration::from_millis(300);
    let a = m.handle(now, advert(HIGHER_IP, 100, 100));
    assert_eq!(
        a,
        [
            Action::SendAdvert { priority: 150 },
            armed(Timer::Advert, now, Duration::from_secs(1)),
            Action::Notify(Notify::MasterRxLowerPriority)
        ]
    );
    let mut c = config(Version::V2, 150);
    c.lower_prio_no_advert = true;
    let (mut quiet, won) = master(c);
    let a = quiet.handle(won, advert(HIGHER_IP, 100, 100));
    assert_eq!(a, [Action::Notify(Notify::MasterRxLowerPriority)]);
    assert_eq!(
        quiet.deadline(Timer::Advert),
        Some(won + Duration::from_secs(1)),
        "timer kept"
    );
}

#[test]
fn rfc5798_6_4_3_master_hearing_priority_zero_sends_advert_and_rearms() {
    let (mut m, won) = master(config(Version::V2, 100));
    let now = won + Duration::from_millis(400);
    let a = m.handle(now, advert(HIGHER_IP, 0, 100));
    assert_eq!(
        a,
        [
            Action::SendAdvert { priority: 100 },
            armed(Timer::Advert, now, Duration::from_secs(1))
        ]
    );
    assert_eq!(m.state(), State::Master);
}

#[test]
fn rfc3768_6_4_3_adver_timer_sends_advert_and_rearms() {
    let (mut m, _) = master(config(Version::V2, 100));
    let due = m.deadline(Timer::Advert).unwrap();
    let a = m.handle(due, Input::TimerFired(Timer::Advert));
    assert_eq!(
        a,
        [
            Action::SendAdvert { priority: 100 },
            armed(Timer::Advert, due, Duration::from_secs(1))
        ]
    );
}

#[test]
fn rfc5798_6_4_3_shutdown_master_sends_priority_zero_and_releases() {
    let (mut m, won) = master(config(Version::V2, 100));
    let a = m.handle(won, Input::Shutdown);
    assert_eq!(
        a,
        [
            Action::CancelTimer(Timer::Advert),
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            Action::Notify(Notify::Stop),
        ]
    );
    assert_eq!(m.state(), State::Initialize);
    let later = won + Duration::from_secs(5);
    assert!(m.handle(later, Input::TimerFired(Timer::Advert)).is_empty());
    assert!(m.handle(later, advert(HIGHER_IP, 200, 100)).is_empty());
}

#[test]
fn rfc5798_6_4_2_shutdown_backup_cancels_master_down_timer() {
    let mut m = backup(config(Version::V2, 100));
    let a = m.handle(t(10), Input::Shutdown);
    assert_eq!(
        a,
        [
            Action::CancelTimer(Timer::MasterDown),
            Action::Notify(Notify::Stop)
        ]
    );
    assert_eq!(m.state(), State::Initialize);
    assert!(m.handle(t(20), Input::Shutdown).is_empty());
}

#[test]
fn keepalived_preempt_delay_holds_off_preemption_of_a_lower_master() {
    let mut c = config(Version::V2, 200);
    c.preempt_delay = Duration::from_secs(5);
    let mut m = backup(c);
    let down = m.master_down_interval();
    // Lower-priority master heard at 1 s: accepted, delay starts (until 6 s).
    assert_eq!(
        m.handle(t(1_000), advert(HIGHER_IP, 100, 100)),
        [armed(Timer::MasterDown, t(1_000), down)]
    );
    assert_eq!(
        m.handle(t(5_999), advert(HIGHER_IP, 100, 100)),
        [armed(Timer::MasterDown, t(5_999), down)]
    );
    // Delay over: lower adverts are discarded, the down timer runs out.
    assert!(m.handle(t(6_000), advert(HIGHER_IP, 100, 100)).is_empty());
    let due = t(5_999) + down;
    m.handle(due, Input::TimerFired(Timer::MasterDown));
    assert_eq!(m.state(), State::Master);
}

#[test]
fn keepalived_preempt_delay_restarts_after_a_higher_master() {
    let mut c = config(Version::V2, 200);
    c.preempt_delay = Duration::from_secs(5);
    let mut m = backup(c);
    m.handle(t(1_000), advert(HIGHER_IP, 100, 100));
    m.handle(t(2_000), advert(HIGHER_IP, 250, 100)); // a higher master clears the delay
    m.handle(t(4_000), advert(HIGHER_IP, 100, 100)); // new delay: until 9 s
    assert!(!m.handle(t(8_000), advert(HIGHER_IP, 100, 100)).is_empty());
    assert!(m.handle(t(9_000), advert(HIGHER_IP, 100, 100)).is_empty());
}

#[test]
fn keepalived_fault_master_sends_priority_zero_and_releases_addresses() {
    let (mut m, won) = master(config(Version::V2, 100));
    let a = m.handle(won, Input::FaultDetected);
    assert_eq!(
        a,
        [
            Action::CancelTimer(Timer::Advert),
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            Action::Notify(Notify::Fault),
        ]
    );
    assert_eq!(m.state(), State::Fault);
    assert!(m.handle(won, Input::FaultDetected).is_empty());
    assert!(
        m.handle(won, advert(HIGHER_IP, 0, 100)).is_empty(),
        "faulty: adverts ignored"
    );
    // Recovery goes through Backup like a fresh start (RFC 5798 §6.4.1).
    let a = m.handle(won, Input::FaultCleared);
    assert_eq!(
        a,
        [
            armed(Timer::MasterDown, won, us(3_609_375)),
            Action::Notify(Notify::Backup)
        ]
    );
}

#[test]
fn keepalived_fault_backup_and_owner_recovery() {
    let mut m = backup(config(Version::V2, 100));
    assert_eq!(
        m.handle(t(1), Input::FaultDetected),
        [
            Action::CancelTimer(Timer::MasterDown),
            Action::Notify(Notify::Fault)
        ]
    );
    let mut owner = Machine::new(config(Version::V2, 255));
    owner.handle(t(0), Input::FaultDetected);
    assert_eq!(
        owner.handle(t(0), Input::Startup),
        [Action::Notify(Notify::Fault)]
    );
    assert_eq!(owner.state(), State::Fault);
    owner.handle(t(5), Input::FaultCleared);
    assert_eq!(
        owner.state(),
        State::Master,
        "owner takes over at once (RFC 5798 §6.4.1)"
    );
}

#[test]
fn keepalived_priority_change_in_backup_moves_the_down_timer_by_the_skew_change() {
    let mut m = backup(config(Version::V2, 100));
    assert_eq!(m.deadline(Timer::MasterDown), Some(t(0) + us(3_609_375)));
    let a = m.handle(t(1_000), Input::PriorityChanged(200));
    // Skew goes from 156/256 s to 56/256 s: the deadline moves 390.625 ms earlier.
    assert_eq!(
        a,
        [Action::ArmTimer {
            timer: Timer::MasterDown,
            at: t(0) + us(3_218_750),
            after: us(2_218_750)
        }]
    );
    assert_eq!(m.priority(), 200);
    assert!(m.handle(t(1_000), Input::PriorityChanged(200)).is_empty());
}

#[test]
fn keepalived_master_advertises_a_changed_priority_with_its_next_advert() {
    let (mut m, _) = master(config(Version::V2, 100));
    assert!(m.handle(t(4_000), Input::PriorityChanged(90)).is_empty());
    let due = m.deadline(Timer::Advert).unwrap();
    let a = m.handle(due, Input::TimerFired(Timer::Advert));
    assert_eq!(a[0], Action::SendAdvert { priority: 90 });
}

#[test]
fn keepalived_effective_priority_is_clamped_and_owner_is_fixed() {
    assert_eq!(effective_priority(100, -20), 80);
    assert_eq!(effective_priority(100, -200), 1);
    assert_eq!(effective_priority(100, 200), 254);
    assert_eq!(effective_priority(255, -50), 255);
    assert_eq!(effective_priority(1, i32::MIN), 1);
}

#[test]
fn keepalived_two_owners_the_local_one_drops_to_254_and_yields() {
    let mut m = Machine::new(config(Version::V2, 255));
    m.handle(t(0), Input::Startup);
    m.handle(t(10), advert(LOWER_IP, 255, 100));
    assert_eq!(m.priority(), 254);
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn rfc5798_6_4_1_owner_configured_state_backup_waits_like_keepalived() {
    // keepalived starts an owner configured with `state BACKUP` in Backup.
    let mut c = config(Version::V2, 255);
    c.initial_state = InitialState::Backup;
    let mut m = Machine::new(c);
    let a = m.handle(t(0), Input::Startup);
    assert_eq!(
        a,
        [
            armed(Timer::MasterDown, t(0), us(3_003_906)),
            Action::Notify(Notify::Backup)
        ]
    );
}

#[test]
fn keepalived_state_master_non_owner_starts_backup_with_full_master_down_interval() {
    // keepalived 2.2.7 vrrp_init_state: only the owner (or a reload) goes straight to
    // Master; a standalone non-owner waits the whole Master_Down_Interval.
    let mut c = config(Version::V3, 150);
    c.advert_interval = cs(10);
    c.initial_state = InitialState::Master;
    let mut m = Machine::new(c);
    let a = m.handle(t(0), Input::Startup);
    // 3 × 0.1 s + 106 × 0.1 s / 256.
    assert_eq!(
        a,
        [
            armed(Timer::MasterDown, t(0), us(341_406)),
            Action::Notify(Notify::Backup)
        ]
    );
}

#[test]
fn keepalived_sync_group_master_pulls_a_backup_member_up_at_once() {
    let mut m = backup(config(Version::V2, 100));
    let a = m.handle(t(500), Input::GroupMaster);
    assert_eq!(
        a,
        [
            Action::CancelTimer(Timer::MasterDown),
            Action::SendAdvert { priority: 100 },
            Action::AddAddresses,
            Action::SendGratuitous,
            Action::Notify(Notify::Master),
            armed(Timer::Advert, t(500), Duration::from_secs(1)),
        ]
    );
    assert!(
        m.handle(t(600), Input::GroupMaster).is_empty(),
        "already master"
    );
    let mut faulty = backup(config(Version::V2, 100));
    faulty.handle(t(1), Input::FaultDetected);
    assert!(
        faulty.handle(t(2), Input::GroupMaster).is_empty(),
        "a faulty member stays put"
    );
}

#[test]
fn keepalived_sync_group_backup_pushes_a_master_member_down_without_priority_zero() {
    let (mut m, won) = master(config(Version::V2, 100));
    let a = m.handle(won, Input::GroupBackup);
    assert_eq!(
        a,
        [
            Action::CancelTimer(Timer::Advert),
            armed(Timer::MasterDown, won, us(3_609_375)),
            Action::RemoveAddresses,
            Action::Notify(Notify::Backup),
        ]
    );
    assert!(m.handle(won, Input::GroupBackup).is_empty());
}

#[test]
fn reload_with_an_unchanged_configuration_changes_nothing() {
    let (mut m, won) = master(config(Version::V2, 100));
    let before = m.clone();
    assert!(m
        .reconfigure(won + Duration::from_millis(300), config(Version::V2, 100))
        .is_empty());
    assert_eq!(m, before, "state, deadlines and priority all kept");
}

#[test]
fn reload_with_a_new_interval_rearms_the_running_timer_in_place() {
    let (mut m, won) = master(config(Version::V2, 100));
    let mut faster = config(Version::V2, 100);
    faster.advert_interval = cs(200);
    let now = won + Duration::from_millis(300);
    assert_eq!(
        m.reconfigure(now, faster),
        [armed(Timer::Advert, now, Duration::from_secs(2))]
    );
    assert_eq!(m.state(), State::Master);

    // A v3 backup keeps the interval it learned from the master.
    let mut b = backup(config(Version::V3, 100));
    b.handle(t(100), advert(HIGHER_IP, 200, 50));
    let mut slower = config(Version::V3, 100);
    slower.advert_interval = cs(300);
    assert!(b.reconfigure(t(200), slower).is_empty());
    assert_eq!(b.master_adver_interval(), cs(50));
}

#[test]
fn reload_to_nopreempt_takes_effect_without_a_transition() {
    let mut m = backup(config(Version::V2, 150));
    let mut nopreempt = config(Version::V2, 150);
    nopreempt.preempt = false;
    assert!(m.reconfigure(t(10), nopreempt).is_empty());
    assert!(
        !m.handle(t(20), advert(HIGHER_IP, 100, 100)).is_empty(),
        "lower master now accepted"
    );
}

#[test]
fn keepalived_higher_prio_send_advert_answers_before_stepping_down() {
    let mut c = config(Version::V2, 100);
    c.higher_prio_send_advert = true;
    let (mut m, won) = master(c);
    let a = m.handle(won, advert(HIGHER_IP, 200, 100));
    assert_eq!(a[0], Action::SendAdvert { priority: 100 });
    assert_eq!(a[1], Action::CancelTimer(Timer::Advert));
    assert_eq!(m.state(), State::Backup);
    // Off by default: no advert.
    let (mut plain, won) = master(config(Version::V2, 100));
    let a = plain.handle(won, advert(HIGHER_IP, 200, 100));
    assert!(!a.iter().any(|x| matches!(x, Action::SendAdvert { .. })));
}
