//! Presence that is evidence: when the controller may say a node is online, offline or does
//! not know. Pure rules; the store applies them (`store::presence`) and the sweep
//! ([`crate::sweep`]) runs them on a clock.
//!
//! The evidence, and where it comes from:
//! - the node's **state**, signed, with a newer stamp than the last one taken: `online` when
//!   it (re)connects or answers, `offline` when it says goodbye or when the broker publishes
//!   its will: the broker's report that the connection died (no packet for 1.5 × the node's
//!   MQTT keep-alive, or the socket closed);
//! - the node's **events**, when they are fresh: a batch whose newest event is older than
//!   [`EVENT_FRESHNESS`] may have waited in the broker's queue while the controller was away,
//!   so it proves nothing about now;
//! - after every (re)connect to the broker the controller republishes each node's plan, and a
//!   node that receives the plan it already has answers with its state: the roll call.
//!
//! Without evidence the controller does not know:
//! - when the controller starts, every node is `unknown` from the last instant the controller
//!   knew it was alive (its `controller_alive` mark), so the controller's own downtime never
//!   counts as online time; when the link to the broker drops, every node is `unknown` too;
//! - a node still `unknown` once the grace ([`Grace`]) has passed with the link up is
//!   `offline`: a live node answers the roll call within seconds, and one the broker still
//!   thought connected is caught by its will within 1.5 × keep-alive, which the grace covers.
//!
//! Reports count only `online` as online time: `unknown` is not confirmed time. A node that is
//! not `online` is not shown playing, whatever its last state said.

use chrono::{DateTime, Duration, Utc};

/// A batch of events proves its node is connected only if its newest event is this fresh
/// (by the node's clock against the controller's; offsets are checked and small).
pub const EVENT_FRESHNESS: Duration = Duration::seconds(60);

/// Whether a batch of events received at `received_at`, the newest made at `newest`, shows
/// its node connected now.
pub fn events_show_presence(newest: DateTime<Utc>, received_at: DateTime<Utc>) -> bool {
    received_at - newest <= EVENT_FRESHNESS
}

/// How long a node may stay `unknown` with the link up before it is `offline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace(pub Duration);

impl Grace {
    /// The grace that follows from the nodes' MQTT keep-alive: the broker publishes a dead
    /// connection's will after 1.5 × keep-alive, and the grace must cover that, plus a margin
    /// for the will to travel and be stored.
    pub fn for_keep_alive(keep_alive_secs: i64) -> Grace {
        Grace(Duration::seconds(
            keep_alive_secs * 3 / 2 + WILL_MARGIN_SECS,
        ))
    }

    /// The instant before which an `unknown` node has waited out the grace at `now`, or
    /// `None` if the link has not been up for a grace yet (`link_up_since`): nothing is
    /// concluded from a silence the controller was not listening to.
    pub fn unknown_before(
        self,
        now: DateTime<Utc>,
        link_up_since: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let up = link_up_since?;
        let cut = now - self.0;
        (up <= cut).then_some(cut)
    }
}

/// Seconds beyond 1.5 × keep-alive for a will to reach the controller and be stored.
pub const WILL_MARGIN_SECS: i64 = 15;

/// The reason a delivery is presumed missed: its node offline since it was last heard from,
/// in the commune's time zone.
pub fn offline_reason(last_seen: Option<DateTime<Utc>>, tz: chrono_tz::Tz) -> String {
    match last_seen {
        Some(t) => format!(
            "node offline since {}",
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %:z")
        ),
        None => "node offline: never heard from".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap() + Duration::seconds(s)
    }

    #[test]
    fn events_are_evidence_only_when_fresh() {
        // (case, newest event at, received at, evidence)
        let cases = [
            ("just made", 100, 101, true),
            ("a minute old", 100, 160, true),
            ("queued while the controller was away", 100, 400, false),
            ("the node's clock a little ahead", 105, 100, true),
        ];
        for (name, newest, received, want) in cases {
            assert_eq!(events_show_presence(t(newest), t(received)), want, "{name}");
        }
    }

    #[test]
    fn the_grace_follows_the_keep_alive() {
        // (keep-alive s, grace s): 1.5 × keep-alive + the margin.
        for (ka, want) in [(30, 60), (300, 465), (360, 555), (4, 21)] {
            assert_eq!(Grace::for_keep_alive(ka).0, Duration::seconds(want), "{ka}");
        }
    }

    #[test]
    fn unknown_turns_offline_only_after_a_grace_with_the_link_up() {
        let g = Grace(Duration::seconds(60));
        // (case, now, link up since, cut)
        let cases = [
            ("link down: no conclusion", 1000, None, None),
            ("link up for less than the grace", 1000, Some(950), None),
            ("link up for exactly the grace", 1000, Some(940), Some(940)),
            ("link up long ago", 1000, Some(0), Some(940)),
        ];
        for (name, now, up, want) in cases {
            assert_eq!(g.unknown_before(t(now), up.map(t)), want.map(t), "{name}");
        }
    }

    #[test]
    fn the_reason_names_the_last_contact_in_the_communes_time() {
        let tz: chrono_tz::Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        assert_eq!(
            offline_reason(Some(t(3600)), tz),
            "node offline since 2026-12-05 08:00:00 +07:00"
        );
        assert_eq!(offline_reason(None, tz), "node offline: never heard from");
    }
}
