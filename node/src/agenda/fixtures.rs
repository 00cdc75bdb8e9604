//! Plans and items for the agenda's table tests ([`super::due`] and the machine's).

use chrono::{DateTime, Duration, TimeZone, Utc};
use loa_protocol::{AfterPreempt, MediaRef, Part, PartKind, Plan, PlanItem, Priority};

/// `s` seconds after 06:00 on the test day.
pub fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap() + Duration::seconds(s)
}

/// An item with one part (media `sha` repeated), starting and expiring `start` and `expires`
/// seconds after [`t`]'s origin.
pub fn item(id: &str, sha: char, start: i64, expires: i64, priority: Priority) -> PlanItem {
    PlanItem {
        id: id.into(),
        title: id.into(),
        parts: vec![part(sha)],
        start_at: t(start),
        expires_at: t(expires),
        priority,
        volume: 100,
        stream: None,
    }
}

/// One Vietnamese recording whose media is `sha` repeated.
pub fn part(sha: char) -> Part {
    Part {
        kind: PartKind::Recording,
        language: Some("vi".into()),
        media: MediaRef {
            sha256: sha.to_string().repeat(64),
            size: 10,
            url: format!("http://c/media/{sha}"),
            duration_ms: 1000,
        },
        gain_db: 0.0,
    }
}

/// A plan of `items` that replays what an emergency cut.
pub fn plan(items: Vec<PlanItem>) -> Plan {
    plan_with(AfterPreempt::Replay, items)
}

/// A plan of `items` with this policy after an emergency.
pub fn plan_with(after_preempt: AfterPreempt, items: Vec<PlanItem>) -> Plan {
    Plan {
        version: 1,
        site: "s".into(),
        node: "n".into(),
        issued_at: t(0),
        valid_until: t(0) + Duration::hours(72),
        next_key: None,
        volume: 100,
        after_preempt,
        speaker_check: None,
        release: None,
        items,
    }
}
