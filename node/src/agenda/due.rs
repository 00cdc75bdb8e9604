//! What is due now: given the plan, the ledger, the cache and the clock, which items to report,
//! which media to fetch, what to play or interrupt, and when to look again.
//!
//! A pure function, table-tested without network or audio; the [`Agenda`](super::Agenda)
//! machine asks it after every input.
//!
//! Just over 500 lines because its table tests sit beside the rule they pin down; the rule itself is under 200.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{MediaRef, Plan, PlanItem, Priority, Stage};

use crate::ledger::Ledger;

/// How long before its instant an item is handed to the player, which checks the file, opens
/// the device and then waits for the exact instant: 1.5 s, or the amplifier relay's lead when
/// that is longer (the relay is switched on while the player waits).
pub fn prepare_lead(relay_lead: Duration) -> Duration {
    Duration::milliseconds(1500).max(relay_lead)
}

/// Downloads under way at once, at most (an emergency's file may start beyond it).
pub const MAX_DOWNLOADS: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write this event to the spool (and the ledger).
    Report {
        item: String,
        stage: Stage,
        reason: Option<String>,
    },
    /// Download this media into the cache.
    Fetch {
        sha256: String,
        url: String,
        size: u64,
    },
    /// Hand this item to the player.
    Play(PlanItem),
    /// Stop the item on air: an emergency is due. It is reported `preempted` and afterwards
    /// replays or resumes (the plan's `after_preempt`) if it has not expired.
    Preempt { item: String, by: String },
}

/// What the agenda needs to know about the world besides plan and ledger.
pub struct World<'a> {
    pub now: DateTime<Utc>,
    /// Is this media in the cache, verified?
    pub cached: &'a dyn Fn(&str) -> bool,
    /// Is this media being fetched now, or waiting to retry?
    pub fetch_busy: &'a dyn Fn(&str) -> bool,
    /// Downloads under way now.
    pub downloading: usize,
    /// The item on air (or being prepared), if any, and its priority.
    pub playing: Option<&'a str>,
    pub playing_priority: Option<Priority>,
    /// Is this item waiting to retry after its playback failed (e.g. the device was busy)?
    pub held: &'a dyn Fn(&str) -> bool,
    /// How long before its instant an item goes to the player ([`prepare_lead`]).
    pub prepare_lead: Duration,
}

/// The actions due now, and when to look again (absent: nothing is waiting on the clock).
pub fn decide(plan: &Plan, ledger: &Ledger, w: &World) -> (Vec<Action>, Option<DateTime<Utc>>) {
    let mut actions = Vec::new();
    let mut wake: Option<DateTime<Utc>> = None;
    let mut soonest = |t: DateTime<Utc>| {
        wake = Some(wake.map_or(t, |x: DateTime<Utc>| x.min(t)));
    };
    let mut candidates: Vec<&PlanItem> = Vec::new();
    // Media to download, with the item that needs it.
    let mut wanted: Vec<(&PlanItem, &MediaRef)> = Vec::new();
    for item in &plan.items {
        if ledger.is_done(&item.id) || w.playing == Some(item.id.as_str()) {
            continue;
        }
        let reported = ledger.get(&item.id).map(|e| e.reported);
        if reported.is_none() {
            actions.push(report(item, Stage::Received, None));
        }
        // A stream item that was on air and cut by an emergency goes on until its stream's
        // end; one not yet started is missed at its expiry, or when its stream's window closes.
        let on_air_before = ledger
            .get(&item.id)
            .is_some_and(|e| e.resume_from.is_some());
        let deadline = match &item.stream {
            Some(s) if on_air_before => s.until,
            Some(s) => item.expires_at.min(s.until),
            None => item.expires_at,
        };
        if item.stream.is_some() && on_air_before && w.now >= deadline {
            // Its end came during the interruption: it was on air, and now it is over.
            actions.push(report(item, Stage::Played, None));
            continue;
        }
        if w.now >= deadline {
            let reason = match ledger.get(&item.id).and_then(|e| e.last_failure.as_deref()) {
                Some(f) => format!("expired before it could play; last error: {f}"),
                None => {
                    "expired before it could play (the node was offline, or busy with other items)"
                        .into()
                }
            };
            actions.push(report(item, Stage::Missed, Some(reason)));
            continue;
        }
        soonest(deadline);
        let missing: Vec<&MediaRef> = item.media().filter(|m| !(w.cached)(&m.sha256)).collect();
        if missing.is_empty() {
            if reported.is_none_or(|r| r < Stage::Ready) {
                actions.push(report(item, Stage::Ready, None));
            }
            if w.now >= item.start_at - w.prepare_lead {
                if !(w.held)(&item.id) {
                    candidates.push(item);
                }
            } else {
                soonest(item.start_at - w.prepare_lead);
            }
        }
        for media in missing {
            if !(w.fetch_busy)(&media.sha256) {
                wanted.push((item, media));
            }
        }
    }
    actions.extend(downloads_in_order_of_need(wanted, w.downloading));
    if let (Some(on_air), Some(p)) = (w.playing, w.playing_priority) {
        // Only an emergency interrupts; a priority item waits for its turn.
        if p < Priority::Emergency {
            if let Some(e) = candidates
                .iter()
                .find(|c| c.priority == Priority::Emergency)
            {
                actions.push(Action::Preempt {
                    item: on_air.to_string(),
                    by: e.id.clone(),
                });
            }
        }
    }
    if w.playing.is_none() {
        // Highest priority first; at equal priority the earlier start; then the plan's order.
        if let Some(best) = candidates.iter().max_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(b.start_at.cmp(&a.start_at))
        }) {
            actions.push(Action::Play((*best).clone()));
        }
    }
    (actions, wake)
}

/// The downloads to start: each missing file once, the most urgent need first (an emergency,
/// then priority, then the earliest start), no more than [`MAX_DOWNLOADS`] under way, so a 3G
/// link is not split many ways. An emergency's file starts at once whatever is under way: it
/// does not wait for a bulk prefetch to finish.
fn downloads_in_order_of_need(
    mut wanted: Vec<(&PlanItem, &MediaRef)>,
    downloading: usize,
) -> Vec<Action> {
    wanted.sort_by(|(a, _), (b, _)| {
        b.priority
            .cmp(&a.priority)
            .then(a.start_at.cmp(&b.start_at))
    });
    let mut out: Vec<Action> = Vec::new();
    let mut slots = MAX_DOWNLOADS.saturating_sub(downloading);
    for (item, media) in wanted {
        let queued = out
            .iter()
            .any(|a| matches!(a, Action::Fetch { sha256, .. } if *sha256 == media.sha256));
        if queued {
            continue;
        }
        let urgent = item.priority == Priority::Emergency;
        if slots == 0 && !urgent {
            continue;
        }
        slots = slots.saturating_sub(1);
        out.push(Action::Fetch {
            sha256: media.sha256.clone(),
            url: media.url.clone(),
            size: media.size,
        });
    }
    out
}

fn report(item: &PlanItem, stage: Stage, reason: Option<String>) -> Action {
    Action::Report {
        item: item.id.clone(),
        stage,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agenda::fixtures::{item, part, plan, t};

    fn run(
        p: &Plan,
        l: &Ledger,
        now: i64,
        cached: bool,
        playing: Option<&str>,
    ) -> (Vec<Action>, Option<DateTime<Utc>>) {
        let c = move |_: &str| cached;
        let no = |_: &str| false;
        let playing_priority = playing
            .and_then(|id| p.items.iter().find(|i| i.id == id))
            .map(|i| i.priority);
        decide(
            p,
            l,
            &World {
                now: t(now),
                cached: &c,
                fetch_busy: &no,
                downloading: 0,
                playing,
                playing_priority,
                held: &no,
                prepare_lead: prepare_lead(Duration::zero()),
            },
        )
    }

    fn stages(actions: &[Action]) -> Vec<(String, Stage)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Report { item, stage, .. } => Some((item.clone(), *stage)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_item_in_several_languages_waits_for_every_part() {
        let mut multi = item("o1", 'a', 60, 600, Priority::Normal);
        multi.parts = vec![part('c'), part('a'), part('b'), part('a')];
        let p = plan(vec![multi]);
        fn world<'a>(cached: &'a dyn Fn(&str) -> bool, no: &'a dyn Fn(&str) -> bool) -> World<'a> {
            World {
                now: t(60),
                cached,
                fetch_busy: no,
                downloading: 0,
                playing: None,
                playing_priority: None,
                held: no,
                prepare_lead: prepare_lead(Duration::zero()),
            }
        }
        let only_a = |sha: &str| sha.starts_with('a');
        let no = |_: &str| false;
        let (actions, _) = decide(&p, &Ledger::default(), &world(&only_a, &no));
        let fetched: Vec<&str> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Fetch { sha256, .. } => Some(&sha256[..1]),
                _ => None,
            })
            .collect();
        assert_eq!(fetched, ["c", "b"], "each missing file once, in order");
        assert!(!actions.iter().any(|a| matches!(a, Action::Play(_))));
        assert_eq!(stages(&actions), [("o1".into(), Stage::Received)]);

        let all = |_: &str| true;
        let (actions, _) = decide(&p, &Ledger::default(), &world(&all, &no));
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::Play(i) if i.id == "o1")));
    }

    #[test]
    fn a_new_item_is_received_and_fetched_once_per_media() {
        let p = plan(vec![
            item("o1", 'a', 60, 600, Priority::Normal),
            item("o2", 'a', 90, 600, Priority::Normal),
        ]);
        let (actions, wake) = run(&p, &Ledger::default(), 0, false, None);
        assert_eq!(
            stages(&actions),
            [
                ("o1".into(), Stage::Received),
                ("o2".into(), Stage::Received)
            ]
        );
        let fetches = actions
            .iter()
            .filter(|a| matches!(a, Action::Fetch { .. }))
            .count();
        assert_eq!(fetches, 1);
        assert_eq!(wake, Some(t(600)));
    }

    #[test]
    fn cached_media_is_ready_and_plays_at_its_instant_not_before() {
        let p = plan(vec![item("o1", 'a', 60, 600, Priority::Normal)]);
        let mut l = Ledger::default();
        l.record("o1", Stage::Received, t(600), None);
        let (actions, wake) = run(&p, &l, 0, true, None);
        assert_eq!(stages(&actions), [("o1".into(), Stage::Ready)]);
        assert!(!actions.iter().any(|a| matches!(a, Action::Play(_))));
        assert_eq!(wake, Some(t(60) - Duration::milliseconds(1500)));
        let (actions, _) = run(&p, &l, 59, true, None);
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::Play(i) if i.id == "o1")));
    }

    #[test]
    fn a_longer_relay_lead_hands_the_item_over_earlier() {
        assert_eq!(prepare_lead(Duration::zero()), Duration::milliseconds(1500));
        let lead = prepare_lead(Duration::seconds(5));
        assert_eq!(lead, Duration::seconds(5));
        let p = plan(vec![item("o1", 'a', 60, 600, Priority::Normal)]);
        let mut l = Ledger::default();
        l.record("o1", Stage::Ready, t(600), None);
        let c = |_: &str| true;
        let no = |_: &str| false;
        let at = |now| {
            decide(
                &p,
                &l,
                &World {
                    now: t(now),
                    cached: &c,
                    fetch_busy: &no,
                    downloading: 0,
                    playing: None,
                    playing_priority: None,
                    held: &no,
                    prepare_lead: lead,
                },
            )
        };
        let (actions, wake) = at(50);
        assert!(actions.is_empty());
        assert_eq!(wake, Some(t(55)));
        let (actions, _) = at(55);
        assert!(matches!(&actions[..], [Action::Play(i)] if i.id == "o1"));
    }

    #[test]
    fn higher_priority_plays_first_then_the_earlier_one() {
        let p = plan(vec![
            item("early", 'a', 10, 600, Priority::Normal),
            item("late", 'b', 20, 600, Priority::Normal),
            item("urgent", 'c', 30, 600, Priority::Emergency),
        ]);
        let (actions, _) = run(&p, &Ledger::default(), 40, true, None);
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::Play(i) if i.id == "urgent")));
        let p = plan(p.items[..2].to_vec());
        let (actions, _) = run(&p, &Ledger::default(), 40, true, None);
        assert!(actions
            .iter()
            .any(|a| matches!(a, Action::Play(i) if i.id == "early")));
    }

    #[test]
    fn nothing_new_plays_while_something_plays() {
        let p = plan(vec![
            item("a", 'a', 0, 600, Priority::Normal),
            item("b", 'b', 0, 600, Priority::Normal),
        ]);
        let (actions, _) = run(&p, &Ledger::default(), 5, true, Some("a"));
        assert!(!actions.iter().any(|a| matches!(a, Action::Play(_))));
    }

    #[test]
    fn expiry_reports_missed_with_the_last_failure() {
        let p = plan(vec![item("o1", 'a', 0, 60, Priority::Normal)]);
        let mut l = Ledger::default();
        l.record("o1", Stage::Received, t(60), None);
        l.record(
            "o1",
            Stage::Failed,
            t(60),
            Some("media: connection refused"),
        );
        let (actions, _) = run(&p, &l, 61, false, None);
        match &actions[..] {
            [Action::Report {
                stage: Stage::Missed,
                reason: Some(r),
                ..
            }] => {
                assert!(r.contains("connection refused"), "{r}")
            }
            other => panic!("expected one missed report, got {other:?}"),
        }
    }

    #[test]
    fn done_items_are_left_alone() {
        let p = plan(vec![item("o1", 'a', 0, 60, Priority::Normal)]);
        let mut l = Ledger::default();
        l.record("o1", Stage::Played, t(60), None);
        let (actions, wake) = run(&p, &l, 10, true, None);
        assert!(actions.is_empty());
        assert_eq!(wake, None);
    }

    fn preempts(actions: &[Action]) -> Vec<(String, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Preempt { item, by } => Some((item.clone(), by.clone())),
                _ => None,
            })
            .collect()
    }

    /// Arbitration on one node: (what plays, what is due, its priority) → interrupted or not.
    #[test]
    fn only_an_emergency_interrupts_what_plays() {
        let cases = [
            (Priority::Normal, Priority::Emergency, true),
            (Priority::Priority, Priority::Emergency, true),
            (Priority::Normal, Priority::Priority, false),
            (Priority::Normal, Priority::Normal, false),
            (Priority::Emergency, Priority::Emergency, false),
        ];
        for (on_air, due, interrupts) in cases {
            let p = plan(vec![
                item("air", 'a', 0, 600, on_air),
                item("due", 'b', 10, 600, due),
            ]);
            let (actions, _) = run(&p, &Ledger::default(), 20, true, Some("air"));
            let want = if interrupts {
                vec![("air".to_string(), "due".to_string())]
            } else {
                vec![]
            };
            assert_eq!(preempts(&actions), want, "{on_air:?} on air, {due:?} due");
            assert!(
                !actions.iter().any(|a| matches!(a, Action::Play(_))),
                "nothing starts while the device is busy"
            );
        }
    }

    #[test]
    fn overlapping_items_play_by_priority_then_start_and_the_late_one_waits_or_is_missed() {
        // Three items due at once on one node: emergency first, then priority, then the
        // earlier of two normals; a normal that expires while it waits is missed.
        let mut p = plan(vec![
            item("n-late", 'a', 20, 90, Priority::Normal),
            item("n-early", 'b', 10, 600, Priority::Normal),
            item("prio", 'c', 30, 600, Priority::Priority),
            item("emerg", 'd', 40, 600, Priority::Emergency),
        ]);
        let mut l = Ledger::default();
        let mut order = Vec::new();
        let mut now = 45;
        loop {
            let (actions, _) = run(&p, &l, now, true, None);
            for a in &actions {
                if let Action::Report { item, stage, .. } = a {
                    let exp = p.items.iter().find(|i| &i.id == item).unwrap().expires_at;
                    l.record(item, *stage, exp, None);
                    if *stage == Stage::Missed {
                        order.push(format!("{item} missed"));
                    }
                }
            }
            let Some(Action::Play(next)) = actions.iter().find(|a| matches!(a, Action::Play(_)))
            else {
                break;
            };
            order.push(next.id.clone());
            l.record(&next.id, Stage::Played, next.expires_at, None);
            p.items.retain(|i| i.id != next.id);
            now += 30; // each takes half a minute
        }
        assert_eq!(order, ["emerg", "prio", "n-late missed", "n-early"]);
    }

    /// An item waiting for its media: (id, media, start, priority).
    type Waiting = (&'static str, char, i64, Priority);

    /// Downloads in order of need: (what is under way, the items waiting for media) → which
    /// files start, in order.
    #[test]
    fn downloads_start_in_order_of_need_and_at_most_two_at_once_but_an_emergency_never_waits() {
        let cases: &[(usize, &[Waiting], &[char])] = &[
            // Bulk prefetches for the evening, an item due sooner, a priority one: by need.
            (
                0,
                &[
                    ("evening", 'a', 3600, Priority::Normal),
                    ("soon", 'b', 60, Priority::Normal),
                    ("prio", 'c', 1800, Priority::Priority),
                ],
                &['c', 'b'],
            ),
            // One slot left of two.
            (
                1,
                &[
                    ("late", 'a', 3600, Priority::Normal),
                    ("soon", 'b', 60, Priority::Normal),
                ],
                &['b'],
            ),
            // Both slots taken by prefetches: the normal item waits, the emergency does not.
            (
                2,
                &[
                    ("soon", 'b', 60, Priority::Normal),
                    ("flood", 'e', 30, Priority::Emergency),
                ],
                &['e'],
            ),
        ];
        for (n, &(downloading, items, want)) in cases.iter().enumerate() {
            let p = plan(
                items
                    .iter()
                    .map(|&(id, sha, start, prio)| item(id, sha, start, 7200, prio))
                    .collect(),
            );
            let no = |_: &str| false;
            let (actions, _) = decide(
                &p,
                &Ledger::default(),
                &World {
                    now: t(0),
                    cached: &no,
                    fetch_busy: &no,
                    downloading,
                    playing: None,
                    playing_priority: None,
                    held: &no,
                    prepare_lead: prepare_lead(Duration::zero()),
                },
            );
            let started: Vec<char> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Fetch { sha256, .. } => sha256.chars().next(),
                    _ => None,
                })
                .collect();
            assert_eq!(started, want, "case {n}");
        }
    }
}
