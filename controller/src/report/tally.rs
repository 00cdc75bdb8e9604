//! Counting one village's deliveries and nodes into the report's numbers. Pure.

use chrono::{DateTime, Utc};
use loa_protocol::{Priority, Stage};

use super::online::{online_ms, Change};

/// One delivery (bulletin × node) whose occurrence starts in the period, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFact {
    /// The zone of the node it was planned to.
    pub zone_id: i64,
    pub stage: Stage,
    pub priority: Priority,
    /// By the node's clock.
    pub playing_at: Option<DateTime<Utc>>,
    pub played_at: Option<DateTime<Utc>>,
    /// An emergency cut it at least once (it was then played again).
    pub preempted: bool,
    /// The duration of the announcement's main recording.
    pub media_ms: u64,
}

/// One live node, with its presence history up to the period's end.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFact {
    pub zone_id: i64,
    /// When it was provisioned: it counts in the period from then on.
    pub created_at: DateTime<Utc>,
    /// Its presence changes in time order, the last one before the period included.
    pub presence: Vec<Change>,
}

/// One row's numbers, before rounding. Deliveries are counted per (bulletin, node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub nodes: u64,
    pub targeted: u64,
    pub played: u64,
    /// Ended `failed` or `missed` (as of now).
    pub failed: u64,
    /// Of `failed`, those `missed`.
    pub missed: u64,
    pub cancelled: u64,
    /// Not settled yet: planned, received, ready, playing or preempted.
    pub pending: u64,
    pub emergencies: u64,
    pub emergencies_played: u64,
    pub airtime_ms: u64,
    pub online_ms: i64,
    pub node_ms: i64,
}

impl Tally {
    /// Counts one delivery.
    pub fn add_delivery(&mut self, d: &DeliveryFact) {
        self.targeted += 1;
        let emergency = d.priority == Priority::Emergency;
        self.emergencies += u64::from(emergency);
        match d.stage {
            Stage::Played => {
                self.played += 1;
                self.emergencies_played += u64::from(emergency);
                self.airtime_ms += airtime_ms(d);
            }
            Stage::Failed => self.failed += 1,
            Stage::Missed => {
                self.failed += 1;
                self.missed += 1;
            }
            Stage::Cancelled => self.cancelled += 1,
            Stage::Planned | Stage::Received | Stage::Ready | Stage::Playing | Stage::Preempted => {
                self.pending += 1
            }
        }
    }

    /// Counts one node over `[start, end)`, where `end` is the period's end or now, whichever
    /// comes first. A node provisioned after `end` did not exist then and is not counted.
    pub fn add_node(&mut self, n: &NodeFact, start: DateTime<Utc>, end: DateTime<Utc>) {
        if n.created_at >= end {
            return;
        }
        let from = start.max(n.created_at);
        self.nodes += 1;
        self.node_ms += (end - from).num_milliseconds().max(0);
        self.online_ms += online_ms(&n.presence, from, end);
    }

    /// Adds another row's numbers (for the total).
    pub fn add(&mut self, o: &Tally) {
        self.nodes += o.nodes;
        self.targeted += o.targeted;
        self.played += o.played;
        self.failed += o.failed;
        self.missed += o.missed;
        self.cancelled += o.cancelled;
        self.pending += o.pending;
        self.emergencies += o.emergencies;
        self.emergencies_played += o.emergencies_played;
        self.airtime_ms += o.airtime_ms;
        self.online_ms += o.online_ms;
        self.node_ms += o.node_ms;
    }

    /// played / (targeted − cancelled); `None` when nothing was left to play.
    pub fn coverage(&self) -> Option<f64> {
        let due = self.targeted - self.cancelled;
        (due > 0).then(|| self.played as f64 / due as f64)
    }

    /// Node-time online / node-time in the period; `None` without any node-time.
    pub fn online_share(&self) -> Option<f64> {
        (self.node_ms > 0).then(|| self.online_ms as f64 / self.node_ms as f64)
    }
}

/// How long a played delivery was on air: from `playing` to `played` as the node reported
/// them, else (a step missing, the times out of order, or an emergency cut it so the span
/// holds the emergency too) the recording's duration.
pub fn airtime_ms(d: &DeliveryFact) -> u64 {
    match (d.playing_at, d.played_at) {
        (Some(a), Some(b)) if b >= a && !d.preempted => (b - a).num_milliseconds() as u64,
        _ => d.media_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use Stage::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap() + Duration::seconds(secs)
    }

    fn d(stage: Stage, priority: Priority) -> DeliveryFact {
        DeliveryFact {
            zone_id: 2,
            stage,
            priority,
            playing_at: None,
            played_at: None,
            preempted: false,
            media_ms: 90_000,
        }
    }

    #[test]
    fn airtime_table() {
        let base = d(Played, Priority::Normal);
        // (case, playing_at, played_at, preempted, airtime)
        let cases = [
            ("playing to played", Some(t(0)), Some(t(75)), false, 75_000),
            (
                "no playing step: the recording",
                None,
                Some(t(75)),
                false,
                90_000,
            ),
            (
                "no played time: the recording",
                Some(t(0)),
                None,
                false,
                90_000,
            ),
            (
                "played before playing: the recording",
                Some(t(75)),
                Some(t(0)),
                false,
                90_000,
            ),
            (
                "cut by an emergency: the recording",
                Some(t(0)),
                Some(t(600)),
                true,
                90_000,
            ),
        ];
        for (name, playing, played, preempted, want) in cases {
            let x = DeliveryFact {
                playing_at: playing,
                played_at: played,
                preempted,
                ..base.clone()
            };
            assert_eq!(airtime_ms(&x), want, "{name}");
        }
    }

    #[test]
    fn each_stage_lands_in_one_column() {
        let mut tally = Tally::default();
        for (stage, priority) in [
            (Played, Priority::Normal),
            (Played, Priority::Emergency),
            (Failed, Priority::Normal),
            (Missed, Priority::Emergency),
            (Cancelled, Priority::Priority),
            (Ready, Priority::Normal),
            (Preempted, Priority::Normal),
        ] {
            tally.add_delivery(&d(stage, priority));
        }
        let want = Tally {
            targeted: 7,
            played: 2,
            failed: 2,
            missed: 1,
            cancelled: 1,
            pending: 2,
            emergencies: 2,
            emergencies_played: 1,
            airtime_ms: 180_000,
            ..Tally::default()
        };
        assert_eq!(tally, want);
        assert_eq!(tally.coverage(), Some(2.0 / 6.0));
    }

    #[test]
    fn nothing_to_play_has_no_coverage_and_no_node_time_no_online_share() {
        let mut tally = Tally::default();
        assert_eq!((tally.coverage(), tally.online_share()), (None, None));
        tally.add_delivery(&d(Cancelled, Priority::Normal));
        assert_eq!(tally.coverage(), None);
    }

    #[test]
    fn a_node_counts_from_its_provisioning_and_until_the_end() {
        let node = NodeFact {
            zone_id: 2,
            created_at: t(3600),
            presence: vec![(t(3600), true), (t(5400), false)],
        };
        let mut tally = Tally::default();
        tally.add_node(&node, t(0), t(7200));
        assert_eq!(
            (tally.nodes, tally.node_ms, tally.online_ms),
            (1, 3_600_000, 1_800_000)
        );
        assert_eq!(tally.online_share(), Some(0.5));
        // Provisioned after the end: it did not exist then.
        let mut late = Tally::default();
        late.add_node(&node, t(0), t(1800));
        assert_eq!(late, Tally::default());
    }
}
