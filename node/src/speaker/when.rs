//! Whether a speaker check is due: once a day at the configured quiet time (in the commune's
//! time), or when the controller asks for one (the station page's button, carried in the plan)
//! later than the last check. Pure: the clock and the last check come in.

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Utc};

/// Parses `HH:MM`.
pub fn parse_daily_at(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("speaker check time {text:?}: write it as HH:MM, e.g. 03:30"))
}

/// The last daily slot at or before `now`: today's `at` in the commune's time, or yesterday's.
fn last_slot(now: DateTime<Utc>, at: NaiveTime, utc_offset_hours: i32) -> DateTime<Utc> {
    let zone =
        FixedOffset::east_opt(utc_offset_hours * 3600).unwrap_or(FixedOffset::east_opt(0).unwrap());
    let local = now.with_timezone(&zone);
    let today = local.date_naive().and_time(at);
    let today = today
        .and_local_timezone(zone)
        .single()
        .map(|t| t.with_timezone(&Utc));
    match today {
        Some(t) if t <= now => t,
        Some(t) => t - Duration::days(1),
        None => now,
    }
}

/// Due when the daily slot or the controller's request came after the last check (or there
/// was none), and the slot is not more than `grace` old (a node that was off at 03:30 does not
/// check at noon, when people are about).
pub fn due(
    now: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    at: NaiveTime,
    utc_offset_hours: i32,
    requested: Option<DateTime<Utc>>,
    grace: Duration,
) -> bool {
    let after_last = |t: DateTime<Utc>| last.is_none_or(|l| t > l);
    if let Some(r) = requested {
        if r <= now && after_last(r) {
            return true;
        }
    }
    let slot = last_slot(now, at, utc_offset_hours);
    after_last(slot) && now - slot <= grace
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_daily_check_falls_at_its_local_time_once() {
        let at = parse_daily_at("03:30").unwrap();
        let grace = Duration::hours(1);
        // 03:30 in Vietnam is 20:30 UTC the day before.
        assert!(!due(t("2026-12-06T20:29:00Z"), None, at, 7, None, grace));
        assert!(due(t("2026-12-06T20:31:00Z"), None, at, 7, None, grace));
        let done = Some(t("2026-12-06T20:31:30Z"));
        assert!(!due(t("2026-12-06T20:40:00Z"), done, at, 7, None, grace));
        // Off at the slot: not made up at midday.
        assert!(!due(t("2026-12-07T05:00:00Z"), done, at, 7, None, grace));
        assert!(due(t("2026-12-07T20:30:00Z"), done, at, 7, None, grace));
        assert!(parse_daily_at("3h30").is_err());
    }

    #[test]
    fn a_request_newer_than_the_last_check_is_due_at_once() {
        let at = parse_daily_at("03:30").unwrap();
        let grace = Duration::hours(1);
        let last = Some(t("2026-12-07T01:00:00Z"));
        let asked = Some(t("2026-12-07T04:00:00Z"));
        assert!(due(t("2026-12-07T04:00:05Z"), last, at, 7, asked, grace));
        // Answered already, or asked for the future.
        let after = Some(t("2026-12-07T04:00:06Z"));
        assert!(!due(t("2026-12-07T04:10:00Z"), after, at, 7, asked, grace));
        assert!(!due(t("2026-12-07T03:59:00Z"), last, at, 7, asked, grace));
    }
}
