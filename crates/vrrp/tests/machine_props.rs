//! Property tests of the state machine over arbitrary input sequences: it never panics,
//! timers always match the state (RFC 5798 §6.4: Adver_Timer only in Master,
//! Master_Down_Timer only in Backup), the addresses are held exactly while Master, every
//! state change is notified once, and priority 0 is only sent when leaving Master.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use proptest::prelude::*;
use vrrp::{
    Action, AdvertInterval, Config, Input, Instant, Machine, Notify, Received, State, Timer,
    Version,
};

const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

#[derive(Debug, Clone)]
enum Step {
    Input(Input),
    /// Fire this timer at its deadline if armed (else at `now`).
    FireDue(Timer),
}

fn input() -> impl Strategy<Value = Step> {
    let source = prop_oneof![
        Just(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        Just(OURS),
        Just(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3))),
    ];
    let advert = (source, any::<u8>(), 1u16..=4095).prop_map(|(source, priority, centis)| {
        Step::Input(Input::Advert(Received {
            source,
            priority,
            interval: AdvertInterval::from_centis(centis).unwrap(),
        }))
    });
    prop_oneof![
        Just(Step::Input(Input::Startup)),
        Just(Step::Input(Input::Shutdown)),
        advert.clone(),
        advert,
        Just(Step::FireDue(Timer::Advert)),
        Just(Step::FireDue(Timer::MasterDown)),
        Just(Step::Input(Input::TimerFired(Timer::MasterDown))),
        Just(Step::Input(Input::FaultDetected)),
        Just(Step::Input(Input::FaultCleared)),
        any::<u8>().prop_map(|p| Step::Input(Input::PriorityChanged(p))),
        Just(Step::Input(Input::GroupMaster)),
        Just(Step::Input(Input::GroupBackup)),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        1u8..=255,
        1u16..=400,
        any::<bool>(),
        0u64..3_000,
        any::<bool>(),
    )
        .prop_map(|(v3, priority, centis, preempt, delay_ms, quiet)| {
            let version = if v3 { Version::V3 } else { Version::V2 };
            let centis = if v3 {
                centis
            } else {
                centis.div_ceil(100) * 100
            };
            let mut c = Config::new(
                version,
                priority,
                AdvertInterval::from_centis(centis).unwrap(),
                OURS,
            );
            c.preempt = preempt;
            c.preempt_delay = Duration::from_millis(delay_ms);
            c.lower_prio_no_advert = quiet;
            c.higher_prio_send_advert = !quiet;
            c
        })
}

fn notified_state(actions: &[Action]) -> Vec<State> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify(Notify::Master) => Some(State::Master),
            Action::Notify(Notify::Backup) => Some(State::Backup),
            Action::Notify(Notify::Fault) => Some(State::Fault),
            Action::Notify(Notify::Stop) => Some(State::Initialize),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn machine_invariants_hold_for_any_input_sequence(
        config in config(),
        steps in proptest::collection::vec((0u64..2_000, input()), 0..60),
    ) {
        let mut m = Machine::new(config);
        let mut now = Instant::default();
        let mut holds = false;
        for (delta_ms, step) in steps {
            now = now + Duration::from_millis(delta_ms);
            let input = match step {
                Step::Input(input) => input,
                Step::FireDue(timer) => {
                    if let Some(due) = m.deadline(timer) {
                        now = now.max(due);
                    }
                    Input::TimerFired(timer)
                }
            };
            let before = m.state();
            let actions = m.handle(now, input);
            let after = m.state();

            for action in &actions {
                match action {
                    Action::AddAddresses => {
                        prop_assert!(!holds, "addresses added twice");
                        holds = true;
                    }
                    Action::RemoveAddresses => {
                        prop_assert!(holds, "addresses removed while not held");
                        holds = false;
                    }
                    Action::SendAdvert { priority: 0 } => {
                        prop_assert_eq!(before, State::Master);
                        prop_assert_ne!(after, State::Master);
                    }
                    // Sent as Master, or as the last word of a Master stepping down
                    // (higher_prio_send_advert).
                    Action::SendAdvert { .. } => {
                        prop_assert!(after == State::Master || before == State::Master);
                    }
                    Action::ArmTimer { at, after: delay, .. } => {
                        prop_assert!(*at >= now);
                        prop_assert_eq!(at.saturating_duration_since(now), *delay);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(holds, after == State::Master, "addresses held iff Master");
            let notified = notified_state(&actions);
            if before == after {
                prop_assert!(notified.is_empty(), "no state change, no notify: {:?}", actions);
            } else {
                prop_assert_eq!(notified, vec![after], "one notify for {:?} -> {:?}", before, after);
            }
            let advert_armed = m.deadline(Timer::Advert).is_some();
            let down_armed = m.deadline(Timer::MasterDown).is_some();
            prop_assert_eq!(advert_armed, after == State::Master);
            prop_assert_eq!(down_armed, after == State::Backup);
            prop_assert!((1..=255).contains(&m.priority()));
        }
    }
}
