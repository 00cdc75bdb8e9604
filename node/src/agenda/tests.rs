//! Table tests of the agenda machine: inputs in the orders that bit before (a power cut between
//! a playback's end and its record, a download that stalls, an emergency while an item waits
//! between its parts), and what comes out. No network, no audio, no disk.

use super::fixtures::{item, part, plan_with as plan, t};
use super::*;
use crate::audio::ItemReport;

fn agenda() -> Agenda {
    Agenda::new(Ledger::default(), prepare_lead(Duration::zero()))
}

/// The reports among the actions, as (item, stage).
fn reports(actions: &[Action]) -> Vec<(String, Stage)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Report { item, stage, .. } => Some((item.clone(), *stage)),
            _ => None,
        })
        .collect()
}

fn reason_of(actions: &[Action], want: Stage) -> Option<String> {
    actions.iter().find_map(|a| match a {
        Action::Report { stage, reason, .. } if *stage == want => reason.clone(),
        _ => None,
    })
}

fn played(item: &str) -> Input {
    Input::Player(PlayerEvent::Finished {
        item: item.into(),
        result: Ok(ItemReport {
            frames: 48_000,
            stopped_at: None,
        }),
    })
}

fn stopped(item: &str, at: Position) -> Input {
    Input::Player(PlayerEvent::Finished {
        item: item.into(),
        result: Ok(ItemReport {
            frames: 100,
            stopped_at: Some(at),
        }),
    })
}

fn started(item: &str, err: Option<i64>) -> Input {
    Input::Player(PlayerEvent::Started {
        item: item.into(),
        start_error_ms: err,
    })
}

const CACHED: &dyn Fn(&str) -> bool = &|_| true;
const EMPTY: &dyn Fn(&str) -> bool = &|_| false;

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn one_item_walks_the_whole_lifecycle_once() {
    let p = plan(
        AfterPreempt::Replay,
        vec![item("o1", 'a', 60, 600, Priority::Normal)],
    );
    let mut a = agenda();
    // Not cached yet: received, and fetched once.
    let step = a.handle(Input::PlanApplied, t(0), Some(&p), EMPTY);
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Received)]);
    assert!(matches!(step.actions[1], Action::Fetch { .. }));
    let again = a.handle(Input::Tick, t(1), Some(&p), EMPTY);
    assert!(
        again.actions.is_empty(),
        "no second download: {:?}",
        again.actions
    );
    // Fetched: ready, and nothing plays before its instant less the player's lead, which is
    // the wake-up.
    let sha = "a".repeat(64);
    let step = a.handle(
        Input::Fetched {
            sha256: sha,
            result: Ok(()),
        },
        t(2),
        Some(&p),
        CACHED,
    );
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Ready)]);
    assert_eq!(step.wake, Some(t(60) - prepare_lead(Duration::zero())));
    // At the instant: handed to the player, from the start, not a restart.
    let step = a.handle(Input::Tick, t(60), Some(&p), CACHED);
    assert!(matches!(
        &step.actions[..],
        [Action::Play { item, from, restart: false }] if item.id == "o1" && *from == Position::default()
    ));
    assert_eq!(a.on_air().map(|o| o.item.as_str()), Some("o1"));
    // Started with its start error, then played; the end mark can go.
    let step = a.handle(started("o1", Some(3)), t(60), Some(&p), CACHED);
    assert_eq!(
        step.actions,
        [Action::Report {
            item: s("o1"),
            stage: Stage::Playing,
            reason: None,
            start_error_ms: Some(3),
        }]
    );
    let step = a.handle(played("o1"), t(68), Some(&p), CACHED);
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Played)]);
    assert!(step.actions.contains(&Action::Recorded(s("o1"))));
    assert!(a.on_air().is_none() && a.ledger().is_done("o1"));
    // Never again.
    assert!(a
        .handle(Input::Tick, t(69), Some(&p), CACHED)
        .actions
        .is_empty());
}

#[test]
fn a_power_cut_between_the_end_and_its_record_reports_played_once() {
    let p = plan(
        AfterPreempt::Replay,
        vec![item("o1", 'a', 60, 600, Priority::Normal)],
    );
    // (what the ledger had before the cut, what is reported from the end mark)
    let cases: &[(&[Stage], &[Stage])] = &[
        // The power went before `playing` was written: both steps, in order.
        (
            &[Stage::Received, Stage::Ready],
            &[Stage::Playing, Stage::Played],
        ),
        // `playing` was written: only the end.
        (
            &[Stage::Received, Stage::Ready, Stage::Playing],
            &[Stage::Played],
        ),
        // The ledger had the end already (the cut came after): nothing again.
        (&[Stage::Received, Stage::Playing, Stage::Played], &[]),
    ];
    for (before, want) in cases {
        let mut ledger = Ledger::default();
        for st in *before {
            ledger.record("o1", *st, t(600), None);
        }
        let mut a = Agenda::new(ledger, prepare_lead(Duration::zero()));
        let step = a.handle(Input::Recovered(s("o1")), t(70), Some(&p), CACHED);
        let got: Vec<Stage> = reports(&step.actions)
            .into_iter()
            .map(|(_, st)| st)
            .collect();
        assert_eq!(&got, want, "ledger before the cut: {before:?}");
        assert!(
            step.actions.contains(&Action::Recorded(s("o1"))),
            "the mark goes"
        );
        assert!(a.ledger().is_done("o1"));
        // And the item is not played again.
        assert!(
            !step
                .actions
                .iter()
                .any(|x| matches!(x, Action::Play { .. })),
            "{:?}",
            step.actions
        );
    }
}

#[test]
fn a_stalled_download_is_reported_once_per_reason_retried_and_missed_at_expiry() {
    let p = plan(
        AfterPreempt::Replay,
        vec![item("o1", 'a', 60, 600, Priority::Normal)],
    );
    let sha = "a".repeat(64);
    let mut a = agenda();
    a.handle(Input::Tick, t(0), Some(&p), EMPTY);
    let fail = |why: &str| Input::Fetched {
        sha256: "a".repeat(64),
        result: Err(why.into()),
    };
    let step = a.handle(fail("connection stalled"), t(10), Some(&p), EMPTY);
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Failed)]);
    assert_eq!(
        reason_of(&step.actions, Stage::Failed).as_deref(),
        Some("connection stalled")
    );
    // The retry is the wake-up, and no download starts before it.
    assert_eq!(step.wake, Some(t(10 + RETRY_AFTER_SECS)));
    assert!(a
        .handle(Input::Tick, t(12), Some(&p), EMPTY)
        .actions
        .is_empty());
    let step = a.handle(Input::Tick, t(15), Some(&p), EMPTY);
    assert!(
        matches!(&step.actions[..], [Action::Fetch { sha256, .. }] if *sha256 == sha),
        "{:?}",
        step.actions
    );
    // The same reason again is not reported again; another one is.
    let step = a.handle(fail("connection stalled"), t(20), Some(&p), EMPTY);
    assert!(reports(&step.actions).is_empty(), "{:?}", step.actions);
    let step = a.handle(fail("HTTP 503"), t(30), Some(&p), EMPTY);
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Failed)]);
    // At expiry: missed, naming the last error.
    let step = a.handle(Input::Tick, t(600), Some(&p), EMPTY);
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Missed)]);
    assert!(
        reason_of(&step.actions, Stage::Missed)
            .unwrap()
            .contains("last error: HTTP 503"),
        "{:?}",
        step.actions
    );
}

#[test]
fn an_emergency_while_an_item_waits_between_parts_stops_it_then_it_replays_or_resumes() {
    for (policy, resumes) in [(AfterPreempt::Replay, false), (AfterPreempt::Resume, true)] {
        let mut normal = item("o1", 'a', 0, 600, Priority::Normal);
        normal.parts.push(part('b'));
        let p = plan(policy, vec![normal]);
        let mut a = agenda();
        a.handle(Input::Tick, t(0), Some(&p), CACHED);
        a.handle(started("o1", Some(2)), t(0), Some(&p), CACHED);
        let step = a.handle(
            Input::Player(PlayerEvent::PartDone {
                item: s("o1"),
                part: 0,
                label: s("vi"),
            }),
            t(8),
            Some(&p),
            CACHED,
        );
        assert_eq!(
            step.actions,
            [Action::PartPlayed {
                item: s("o1"),
                part: 0,
                label: s("vi"),
            }]
        );
        // In the pause between the parts an emergency arrives: a stop, and no report yet.
        let mut with_emergency = p.clone();
        with_emergency
            .items
            .push(item("o2", 'e', 9, 300, Priority::Emergency));
        let step = a.handle(Input::PlanApplied, t(9), Some(&with_emergency), CACHED);
        assert!(
            step.actions.contains(&Action::Stop {
                item: s("o1"),
                why: StopWhy::Emergency(s("o2")),
            }),
            "{:?}",
            step.actions
        );
        assert!(!reports(&step.actions).contains(&(s("o1"), Stage::Preempted)));
        assert!(!step
            .actions
            .iter()
            .any(|x| matches!(x, Action::Play { .. })));
        // A second tick does not stop it twice.
        let step = a.handle(Input::Tick, t(9), Some(&with_emergency), CACHED);
        assert!(!step
            .actions
            .iter()
            .any(|x| matches!(x, Action::Stop { .. })));
        // Stopped in the pause: preempted, and the emergency goes on air.
        let cut = Position { part: 1, ms: 0 };
        let step = a.handle(stopped("o1", cut), t(9), Some(&with_emergency), CACHED);
        assert!(reports(&step.actions).contains(&(s("o1"), Stage::Preempted)));
        let why = reason_of(&step.actions, Stage::Preempted).unwrap();
        assert!(why.contains("emergency item o2"), "{why}");
        assert!(
            step.actions
                .iter()
                .any(|x| matches!(x, Action::Play { item, .. } if item.id == "o2")),
            "{:?}",
            step.actions
        );
        a.handle(started("o2", Some(1)), t(9), Some(&with_emergency), CACHED);
        // After the emergency the interrupted item comes back as a restart.
        let step = a.handle(played("o2"), t(20), Some(&with_emergency), CACHED);
        let (from, restart) = step
            .actions
            .iter()
            .find_map(|x| match x {
                Action::Play {
                    item,
                    from,
                    restart,
                } if item.id == "o1" => Some((*from, *restart)),
                _ => None,
            })
            .expect("o1 plays again");
        assert!(restart, "{policy:?}");
        let want = if resumes { cut } else { Position::default() };
        assert_eq!(from, want, "{policy:?}");
    }
}

#[test]
fn an_item_withdrawn_on_air_stops_without_a_report() {
    let p = plan(
        AfterPreempt::Replay,
        vec![item("o1", 'a', 0, 600, Priority::Normal)],
    );
    let mut a = agenda();
    a.handle(Input::Tick, t(0), Some(&p), CACHED);
    a.handle(started("o1", Some(2)), t(0), Some(&p), CACHED);
    let empty = plan(AfterPreempt::Replay, vec![]);
    let step = a.handle(Input::PlanApplied, t(3), Some(&empty), CACHED);
    assert_eq!(
        step.actions,
        [Action::Stop {
            item: s("o1"),
            why: StopWhy::Withdrawn,
        }]
    );
    let step = a.handle(
        stopped("o1", Position { part: 0, ms: 3000 }),
        t(3),
        Some(&empty),
        CACHED,
    );
    assert!(step.actions.is_empty(), "{:?}", step.actions);
    assert!(a.on_air().is_none());
}

#[test]
fn player_failures_decide_between_retry_give_up_and_fetch_again() {
    let p = plan(
        AfterPreempt::Replay,
        vec![item("o1", 'a', 0, 600, Priority::Normal)],
    );
    // A busy device: failed, the device error shown, and tried again after the pause.
    let mut a = agenda();
    a.handle(Input::Tick, t(0), Some(&p), CACHED);
    let busy = AudioError::Device {
        device: s("default"),
        message: s("busy"),
    };
    let step = a.handle(
        Input::Player(PlayerEvent::Finished {
            item: s("o1"),
            result: Err(busy),
        }),
        t(1),
        Some(&p),
        CACHED,
    );
    assert_eq!(reports(&step.actions), [(s("o1"), Stage::Failed)]);
    assert!(a.device_error().is_some_and(|e| e.contains("busy")));
    assert_eq!(step.wake, Some(t(1 + RETRY_AFTER_SECS)));
    let step = a.handle(Input::Tick, t(1 + RETRY_AFTER_SECS), Some(&p), CACHED);
    assert!(
        matches!(&step.actions[..], [Action::Play { .. }]),
        "{:?}",
        step.actions
    );
    a.handle(started("o1", None), t(7), Some(&p), CACHED);
    assert!(
        a.device_error().is_none(),
        "a start clears the device error"
    );

    // A file that does not decode: failed for good.
    let mut a = agenda();
    a.handle(Input::Tick, t(0), Some(&p), CACHED);
    let step = a.handle(
        Input::Player(PlayerEvent::Finished {
            item: s("o1"),
            result: Err(AudioError::Decode(s("not an MP3"))),
        }),
        t(1),
        Some(&p),
        CACHED,
    );
    assert!(reason_of(&step.actions, Stage::Failed)
        .unwrap()
        .contains("cannot decode"));
    assert!(a.ledger().is_done("o1"));
    assert!(a
        .handle(Input::Tick, t(30), Some(&p), CACHED)
        .actions
        .is_empty());

    // A damaged file in the cache: failed, and fetched again once it is gone.
    let mut a = agenda();
    a.handle(Input::Tick, t(0), Some(&p), CACHED);
    let step = a.handle(
        Input::Player(PlayerEvent::Corrupt { item: s("o1") }),
        t(1),
        Some(&p),
        EMPTY,
    );
    assert_eq!(
        reason_of(&step.actions, Stage::Failed).as_deref(),
        Some(CORRUPT_REASON)
    );
    assert!(
        step.actions
            .iter()
            .any(|x| matches!(x, Action::Fetch { .. })),
        "{:?}",
        step.actions
    );
}
