//! The delivery lifecycle as a pure state machine: no I/O, table-tested.
//!
//! `planned → received → ready → playing → played`, or `failed` / `missed` / `preempted` /
//! `cancelled` with a reason. Events arrive at least once and not always in order (QoS 1
//! duplicates, resends after a reconnect), so the machine:
//! - records the time of every step the first time it is reported, whatever the order;
//! - never moves backwards along the progress steps, and never leaves a final stage
//!   (`played`, `missed`, `cancelled`);
//! - lets `failed` and `preempted` be superseded by a newer event (higher node sequence
//!   number): the node retries after a failure until the item expires;
//! - lets the controller *presume* an expired delivery `missed` when its node is offline
//!   ([`Delivery::presume_missed`], the sweep): that is the controller's word, not the
//!   node's, so the node's own outcome (played, missed, failed, preempted), reported once
//!   it is back, replaces it. A node plays from its stored plan while cut off.

use chrono::{DateTime, Utc};
use loa_protocol::Stage;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub stage: Stage,
    /// The node sequence number of the event that set `stage`; `None` when the controller set it.
    pub stage_seq: Option<u64>,
    pub reason: Option<String>,
    /// When each step was first reported.
    pub times: BTreeMap<Stage, DateTime<Utc>>,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stage changed.
    Moved,
    /// Only a step's timestamp was filled in.
    Recorded,
    /// Nothing changed (a duplicate, or a step the node cannot report).
    Ignored,
}

/// Position along the progress steps; `None` for the stages off that line.
fn progress_rank(stage: Stage) -> Option<u8> {
    match stage {
        Stage::Planned => Some(0),
        Stage::Received => Some(1),
        Stage::Ready => Some(2),
        Stage::Playing => Some(3),
        _ => None,
    }
}

impl Delivery {
    pub fn planned(at: DateTime<Utc>) -> Self {
        Delivery {
            stage: Stage::Planned,
            stage_seq: None,
            reason: None,
            times: BTreeMap::from([(Stage::Planned, at)]),
        }
    }

    /// A delivery already missed when it is written: its firing fell while the controller was
    /// down, past the grace for playing late.
    pub fn missed(at: DateTime<Utc>, reason: &str) -> Self {
        Delivery {
            stage: Stage::Missed,
            stage_seq: None,
            reason: Some(reason.to_string()),
            times: BTreeMap::from([(Stage::Planned, at), (Stage::Missed, at)]),
        }
    }

    /// The final stages as an SQL list (`'played', 'missed', 'cancelled'`), for the queries
    /// that look for deliveries still open; the machine's `is_final` is the one source.
    pub fn final_stages_sql() -> String {
        Stage::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Applies a node's event: `stage` reported with sequence number `seq` at `at`.
    pub fn apply(
        &mut self,
        stage: Stage,
        seq: u64,
        at: DateTime<Utc>,
        reason: Option<String>,
    ) -> Outcome {
        if matches!(stage, Stage::Planned | Stage::Cancelled) {
            // Only the controller plans and cancels.
            return Outcome::Ignored;
        }
        let recorded = !self.times.contains_key(&stage);
        if recorded {
            self.times.insert(stage, at);
        }
        if self.moves_to(stage, seq) {
            self.stage = stage;
            self.stage_seq = Some(seq);
            self.reason = match stage {
                Stage::Failed | Stage::Missed | Stage::Preempted => reason,
                _ => None,
            };
            return Outcome::Moved;
        }
        if recorded {
            Outcome::Recorded
        } else {
            Outcome::Ignored
        }
    }

    /// Whether the stage is `missed` as the controller presumed it, not as a node said.
    pub fn is_presumed_missed(&self) -> bool {
        self.stage == Stage::Missed && self.stage_seq.is_none()
    }

    fn moves_to(&self, stage: Stage, seq: u64) -> bool {
        if self.is_presumed_missed() {
            // Only an outcome of the node's own overrides the controller's presumption;
            // progress steps it reports late are only recorded.
            return progress_rank(stage).is_none();
        }
        if self.stage.is_final() || stage == self.stage {
            return false;
        }
        let newer = self.stage_seq.is_none_or(|s| seq > s);
        match (progress_rank(self.stage), progress_rank(stage)) {
            // Along the line: only forwards.
            (Some(cur), Some(new)) => new > cur,
            // From failed/preempted back onto the line: only when the node says so later.
            (None, Some(_)) => newer,
            // Played and missed end it, from anywhere.
            (_, None) if stage.is_final() => true,
            // Failed / preempted: only a newer report overrides the current stage.
            (_, None) => newer,
        }
    }

    /// Staff withdrew the occurrence: every delivery not yet final ends `cancelled`.
    pub fn cancel(&mut self, at: DateTime<Utc>, reason: &str) -> Outcome {
        if self.stage.is_final() {
            return Outcome::Ignored;
        }
        self.stage = Stage::Cancelled;
        self.stage_seq = None;
        self.reason = Some(reason.to_string());
        self.times.entry(Stage::Cancelled).or_insert(at);
        Outcome::Moved
    }
}

impl Delivery {
    /// The item expired and its node is offline: the controller presumes the delivery
    /// `missed` with `reason` ("node offline since …"). Only an open delivery on the progress
    /// line moves (planned, received, ready, playing); a failure or preemption the node
    /// reported keeps its own reason.
    pub fn presume_missed(&mut self, at: DateTime<Utc>, reason: &str) -> Outcome {
        if progress_rank(self.stage).is_none() {
            return Outcome::Ignored;
        }
        self.stage = Stage::Missed;
        self.stage_seq = None;
        self.reason = Some(reason.to_string());
        self.times.entry(Stage::Missed).or_insert(at);
        Outcome::Moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use Stage::*;

    fn t(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap() + chrono::Duration::seconds(s as i64)
    }

    /// A case: its name, the events (stage, seq) applied in order, then the expected stage
    /// and the steps that must carry a timestamp.
    type Case<'a> = (&'a str, &'a [(Stage, u64)], Stage, &'a [Stage]);

    #[test]
    fn lifecycle_table() {
        let cases: &[Case] = &[
            (
                "in order",
                &[(Received, 1), (Ready, 2), (Playing, 3), (Played, 4)],
                Played,
                &[Planned, Received, Ready, Playing, Played],
            ),
            (
                "duplicates change nothing",
                &[(Received, 1), (Received, 1), (Ready, 2), (Ready, 2)],
                Ready,
                &[Planned, Received, Ready],
            ),
            (
                "played before playing still records playing",
                &[(Received, 1), (Played, 4), (Playing, 3), (Ready, 2)],
                Played,
                &[Planned, Received, Ready, Playing, Played],
            ),
            (
                "never backwards",
                &[(Playing, 3), (Received, 1)],
                Playing,
                &[Planned, Received, Playing],
            ),
            (
                "failed then retried to played",
                &[
                    (Received, 1),
                    (Failed, 2),
                    (Ready, 3),
                    (Playing, 4),
                    (Played, 5),
                ],
                Played,
                &[Planned, Received, Failed, Ready, Playing, Played],
            ),
            (
                "a stale failure does not undo progress",
                &[(Received, 1), (Ready, 3), (Failed, 2)],
                Ready,
                &[Planned, Received, Ready, Failed],
            ),
            (
                "a newer failure does",
                &[(Received, 1), (Ready, 2), (Failed, 3)],
                Failed,
                &[Planned, Received, Ready, Failed],
            ),
            (
                "a stale progress step after a failure stays failed",
                &[(Failed, 5), (Ready, 4)],
                Failed,
                &[Planned, Ready, Failed],
            ),
            (
                "missed is final",
                &[(Received, 1), (Missed, 2), (Played, 3)],
                Missed,
                &[Planned, Received, Missed, Played],
            ),
            (
                "played is final",
                &[(Played, 4), (Failed, 5)],
                Played,
                &[Planned, Played, Failed],
            ),
            (
                "preempted then replayed",
                &[(Playing, 3), (Preempted, 4), (Playing, 5), (Played, 6)],
                Played,
                &[Planned, Playing, Preempted, Played],
            ),
            (
                "a node cannot plan or cancel",
                &[(Planned, 1), (Cancelled, 2)],
                Planned,
                &[Planned],
            ),
        ];
        for (name, events, want, stamped) in cases {
            let mut d = Delivery::planned(t(0));
            for (i, (stage, seq)) in events.iter().enumerate() {
                d.apply(*stage, *seq, t(10 + i as u32), Some("why".into()));
            }
            assert_eq!(d.stage, *want, "{name}: stage");
            let have: Vec<Stage> = d.times.keys().copied().collect();
            let mut want_stamped = stamped.to_vec();
            want_stamped.sort();
            assert_eq!(have, want_stamped, "{name}: stamped steps");
        }
    }

    #[test]
    fn outcomes_tell_moved_recorded_and_ignored_apart() {
        let mut d = Delivery::planned(t(0));
        assert_eq!(d.apply(Ready, 2, t(2), None), Outcome::Moved);
        assert_eq!(d.apply(Received, 1, t(1), None), Outcome::Recorded);
        assert_eq!(d.apply(Received, 1, t(1), None), Outcome::Ignored);
        assert_eq!(d.times[&Received], t(1));
    }

    #[test]
    fn failure_reason_is_kept_and_cleared_on_progress() {
        let mut d = Delivery::planned(t(0));
        d.apply(Failed, 1, t(1), Some("media: connection refused".into()));
        assert_eq!(d.reason.as_deref(), Some("media: connection refused"));
        d.apply(Ready, 2, t(2), None);
        assert_eq!(d.reason, None);
        d.apply(Missed, 3, t(3), Some("expired before it could play".into()));
        assert_eq!(
            (d.stage, d.reason.as_deref()),
            (Missed, Some("expired before it could play"))
        );
    }

    #[test]
    fn cancel_ends_open_deliveries_only() {
        let mut open = Delivery::planned(t(0));
        open.apply(Ready, 1, t(1), None);
        assert_eq!(open.cancel(t(5), "withdrawn by staff"), Outcome::Moved);
        assert_eq!(open.stage, Cancelled);
        assert_eq!(open.apply(Played, 2, t(6), None), Outcome::Recorded);
        assert_eq!(open.stage, Cancelled);

        let mut done = Delivery::planned(t(0));
        done.apply(Played, 1, t(1), None);
        assert_eq!(done.cancel(t(5), "late"), Outcome::Ignored);
        assert_eq!(done.stage, Played);
    }

    #[test]
    fn a_delivery_missed_when_written_says_why_and_is_the_controllers_presumption() {
        let d = Delivery::missed(t(0), "the controller was not running at 06:00");
        assert_eq!(d.stage, Missed);
        assert_eq!(
            d.times.keys().copied().collect::<Vec<_>>(),
            [Planned, Missed]
        );
        // It is the controller's word, not a node's: a node's own outcome would still count.
        assert!(d.is_presumed_missed());
        assert_eq!(
            d.reason.as_deref(),
            Some("the controller was not running at 06:00")
        );
    }

    #[test]
    fn the_sql_list_of_final_stages_is_the_machines() {
        assert_eq!(
            Delivery::final_stages_sql(),
            "'played', 'missed', 'cancelled'"
        );
    }

    #[test]
    fn a_presumed_miss_ends_open_deliveries_and_yields_to_the_nodes_own_outcome() {
        // (case, events before, presumed?, events after, final stage, reason kept)
        type Case<'a> = (&'a str, &'a [(Stage, u64)], bool, &'a [(Stage, u64)], Stage);
        let cases: &[Case] = &[
            ("planned, never heard of", &[], true, &[], Missed),
            (
                "playing when the node vanished",
                &[(Playing, 3)],
                true,
                &[],
                Missed,
            ),
            (
                "a reported failure keeps its word",
                &[(Failed, 2)],
                false,
                &[],
                Failed,
            ),
            (
                "a preemption keeps its word",
                &[(Preempted, 2)],
                false,
                &[],
                Preempted,
            ),
            ("played is not undone", &[(Played, 4)], false, &[], Played),
            (
                "cancelled is not undone",
                &[(Cancelled, 0)],
                false,
                &[],
                Cancelled,
            ),
            (
                "the node played it while cut off",
                &[(Ready, 2)],
                true,
                &[(Playing, 3), (Played, 4)],
                Played,
            ),
            (
                "the node's own miss replaces ours",
                &[],
                true,
                &[(Missed, 1)],
                Missed,
            ),
            (
                "the node's failure replaces ours",
                &[(Received, 1)],
                true,
                &[(Failed, 2)],
                Failed,
            ),
            (
                "a late progress step is only recorded",
                &[],
                true,
                &[(Ready, 1)],
                Missed,
            ),
        ];
        for (name, before, moves, after, want) in cases {
            let mut d = Delivery::planned(t(0));
            for (stage, seq) in *before {
                if *stage == Cancelled {
                    d.cancel(t(1), "withdrawn");
                } else {
                    d.apply(*stage, *seq, t(1), Some("node's reason".into()));
                }
            }
            let outcome = d.presume_missed(t(100), "node offline since 06:00");
            assert_eq!(outcome == Outcome::Moved, *moves, "{name}: presumed");
            for (stage, seq) in *after {
                d.apply(*stage, *seq, t(200), Some("node's reason".into()));
            }
            assert_eq!(d.stage, *want, "{name}: stage");
            if *moves && after.is_empty() {
                assert_eq!(
                    d.reason.as_deref(),
                    Some("node offline since 06:00"),
                    "{name}"
                );
                assert!(d.is_presumed_missed(), "{name}");
            }
            if !after.is_empty() && *want != Missed {
                assert!(!d.is_presumed_missed(), "{name}");
            }
        }
    }
}
