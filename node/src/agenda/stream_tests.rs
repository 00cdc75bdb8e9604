//! Table tests of the agenda with stream items (a relay or a live session): an item with a
//! start and an end (`stream.until`) that plays its chime, then its stream. The orderings: the
//! start, an emergency during the stream, the end reached on air or during an emergency, a
//! stream that ends early, one that never sends audio, and a plan that withdraws it.

use super::fixtures::{item, part, plan, t};
use super::*;
use crate::audio::ItemReport;
use crate::stream::Gap;
use loa_protocol::StreamRef;

/// A relay from `start` until `until` (seconds after [`t`]'s origin), with a chime or not;
/// it may start up to a minute late.
fn relay(id: &str, start: i64, until: i64, chime: bool) -> PlanItem {
    let mut i = item(id, 'c', start, start + 60, Priority::Normal);
    if !chime {
        i.parts.clear();
    }
    i.stream = Some(StreamRef {
        url: format!("http://c/streams/{id}"),
        codec: "opus".into(),
        until: t(until),
    });
    i
}

fn agenda() -> Agenda {
    Agenda::new(Ledger::default(), prepare_lead(Duration::zero()))
}

fn reports(actions: &[Action]) -> Vec<(String, Stage)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Report { item, stage, .. } => Some((item.clone(), *stage)),
            _ => None,
        })
        .collect()
}

fn finished(item: &str, result: Result<ItemReport, AudioError>) -> Input {
    Input::Player(PlayerEvent::Finished {
        item: item.into(),
        result,
    })
}

fn ended(stopped_at: Option<Position>) -> Result<ItemReport, AudioError> {
    Ok(ItemReport {
        frames: 48_000,
        stopped_at,
    })
}

fn started(item: &str) -> Input {
    Input::Player(PlayerEvent::Started {
        item: item.into(),
        start_error_ms: Some(1),
    })
}

const CACHED: &dyn Fn(&str) -> bool = &|_| true;
const EMPTY: &dyn Fn(&str) -> bool = &|_| false;

fn s(x: &str) -> String {
    x.to_string()
}

/// Brings `id` on air at `at`: handed to the player, started.
fn on_air(a: &mut Agenda, p: &Plan, id: &str, at: i64) -> Vec<Action> {
    let step = a.handle(Input::Tick, t(at), Some(p), CACHED);
    assert!(
        step.actions
            .iter()
            .any(|x| matches!(x, Action::Play { item, .. } if item.id == id)),
        "{id} goes on air at {at}: {:?}",
        step.actions
    );
    a.handle(started(id), t(at), Some(p), CACHED);
    step.actions
}

#[test]
fn a_stream_item_plays_from_its_chime_and_ends_played_at_its_end_or_the_streams() {
    // (with a chime, when the player says it ended, why)
    let cases = [
        (true, 600, "until reached"),
        (false, 600, "until reached, no chime"),
        (true, 200, "the stream ended early"),
    ];
    for (chime, end, why) in cases {
        let p = plan(vec![relay("r1", 60, 600, chime)]);
        let mut a = agenda();
        // Nothing to fetch without a chime: ready at once. With one, its file is fetched.
        let step = a.handle(Input::PlanApplied, t(0), Some(&p), EMPTY);
        let fetches = step
            .actions
            .iter()
            .filter(|x| matches!(x, Action::Fetch { .. }))
            .count();
        assert_eq!(fetches, usize::from(chime), "{why}");
        let actions = on_air(&mut a, &p, "r1", 60);
        assert!(
            actions.iter().any(|x| matches!(x,
                Action::Play { from, restart: false, .. } if *from == Position::default())),
            "{why}: from the start: {actions:?}"
        );
        // A gap on the way is passed on as it is.
        let gap = Gap {
            from: t(100),
            ms: 2500,
            cause: s("the stream stalled"),
        };
        let step = a.handle(
            Input::Player(PlayerEvent::StreamGap {
                item: s("r1"),
                gap: gap.clone(),
            }),
            t(103),
            Some(&p),
            CACHED,
        );
        assert_eq!(step.actions, [Action::StreamGap { item: s("r1"), gap }]);
        let step = a.handle(finished("r1", ended(None)), t(end), Some(&p), CACHED);
        assert_eq!(reports(&step.actions), [(s("r1"), Stage::Played)], "{why}");
        assert!(a.on_air().is_none() && a.ledger().is_done("r1"), "{why}");
    }
}

#[test]
fn an_emergency_interrupts_a_stream_which_goes_on_live_after_it_if_its_end_is_ahead() {
    // (when the emergency ends, what the stream item does then)
    let cases = [(300, Some(Stage::Playing)), (700, Some(Stage::Played))];
    for (emergency_ends, then) in cases {
        let p = plan(vec![relay("r1", 60, 600, true)]);
        let mut a = agenda();
        on_air(&mut a, &p, "r1", 60);
        let mut with_emergency = p.clone();
        with_emergency
            .items
            .push(item("e1", 'e', 120, 900, Priority::Emergency));
        let step = a.handle(Input::PlanApplied, t(120), Some(&with_emergency), CACHED);
        assert!(step.actions.contains(&Action::Stop {
            item: s("r1"),
            why: StopWhy::Emergency(s("e1")),
        }));
        // The player stops it in the stream (the part after the chime).
        let cut = Position { part: 1, ms: 0 };
        let step = a.handle(
            finished("r1", ended(Some(cut))),
            t(121),
            Some(&with_emergency),
            CACHED,
        );
        assert_eq!(reports(&step.actions)[0], (s("r1"), Stage::Preempted));
        assert!(step
            .actions
            .iter()
            .any(|x| matches!(x, Action::Play { item, .. } if item.id == "e1")));
        a.handle(started("e1"), t(121), Some(&with_emergency), CACHED);
        let step = a.handle(
            finished("e1", ended(None)),
            t(emergency_ends),
            Some(&with_emergency),
            CACHED,
        );
        match then {
            // Back on air with the stream only (no chime again), as a restart.
            Some(Stage::Playing) => assert!(
                step.actions.iter().any(|x| matches!(x,
                    Action::Play { item, from, restart: true }
                        if item.id == "r1" && *from == cut)),
                "{:?}",
                step.actions
            ),
            // Its end came during the emergency: it was on air, and it is over.
            _ => {
                assert!(reports(&step.actions).contains(&(s("r1"), Stage::Played)));
                assert!(!step
                    .actions
                    .iter()
                    .any(|x| matches!(x, Action::Play { .. })));
            }
        }
    }
}

#[test]
fn a_stream_that_never_sends_audio_fails_then_is_missed_with_the_reason() {
    let p = plan(vec![relay("r1", 60, 600, false)]);
    let mut a = agenda();
    on_air(&mut a, &p, "r1", 60);
    let why = AudioError::Stream(s(
        "nothing came in the item's whole window (connection refused)",
    ));
    let step = a.handle(finished("r1", Err(why)), t(600), Some(&p), CACHED);
    assert_eq!(
        reports(&step.actions),
        [(s("r1"), Stage::Failed), (s("r1"), Stage::Missed)]
    );
    let missed = step.actions.iter().find_map(|x| match x {
        Action::Report {
            stage: Stage::Missed,
            reason,
            ..
        } => reason.clone(),
        _ => None,
    });
    assert!(missed.unwrap().contains("connection refused"));
    assert!(a.device_error().is_none(), "the device is not at fault");
}

#[test]
fn a_stream_item_withdrawn_on_air_stops_without_a_report() {
    let p = plan(vec![relay("r1", 60, 600, true)]);
    let mut a = agenda();
    on_air(&mut a, &p, "r1", 60);
    let mut without = p.clone();
    without.items.clear();
    without.version += 1;
    let step = a.handle(Input::PlanApplied, t(100), Some(&without), CACHED);
    assert!(step.actions.contains(&Action::Stop {
        item: s("r1"),
        why: StopWhy::Withdrawn,
    }));
    let step = a.handle(
        finished("r1", ended(Some(Position { part: 1, ms: 0 }))),
        t(101),
        Some(&without),
        CACHED,
    );
    assert!(reports(&step.actions).is_empty(), "{:?}", step.actions);
    assert!(a.on_air().is_none());
}

#[test]
fn a_stream_item_not_started_before_its_window_closes_is_missed() {
    // An emergency holds the device through the relay's whole window.
    let mut long = item("e1", 'e', 50, 900, Priority::Emergency);
    long.parts = vec![part('e')];
    let p = plan(vec![long, relay("r1", 60, 100, false)]);
    let mut a = agenda();
    on_air(&mut a, &p, "e1", 50);
    let step = a.handle(Input::Tick, t(99), Some(&p), CACHED);
    assert!(!reports(&step.actions).contains(&(s("r1"), Stage::Missed)));
    let step = a.handle(Input::Tick, t(100), Some(&p), CACHED);
    assert!(reports(&step.actions).contains(&(s("r1"), Stage::Missed)));
}
