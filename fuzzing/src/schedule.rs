//! Fuzzing the schedules: time rules, RRULE text with its start, and programme files.
//!
//! Every rule is validated and then expanded over bounded windows (a month near the rule's own
//! date, and the same a decade later so long-running rules are fast-forwarded), with a bounded
//! number of plays, so one input cannot legitimately run long: a slow input is a finding
//! (libFuzzer reports it as a timeout).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use loa_controller::schedule::file::load_file;
use loa_controller::schedule::rule::{parse_tz, Recurrence, TimeRule};
use std::io::Write;

/// Most plays asked of one window.
const LIMIT: usize = 500;
/// The zone rules are read in unless the input names one.
const DEFAULT_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// A recurrence: an optional first line `tz=<IANA name>`, then either the JSON of a
/// [`Recurrence`] (as the API and the store carry it) or a bare cron expression.
pub fn schedule_rule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (tz, body) = zone_line(text);
    let recurrence = serde_json::from_str::<Recurrence>(body).unwrap_or_else(|_| Recurrence {
        rule: TimeRule::Cron {
            expr: body.to_string(),
        },
        repeat: None,
        valid_from: None,
        valid_until: None,
    });
    check_recurrence(&recurrence, tz);
}

/// An RRULE: an optional first line with the local start (`2026-01-30T19:30`), then the
/// rule's parts (`FREQ=MONTHLY;BYDAY=-1FR`).
pub fn rrule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (start, rule) = match parse_local(first.trim()) {
        Some(start) => (start, rest),
        None => (default_start(), text),
    };
    let recurrence = Recurrence {
        rule: TimeRule::Rrule {
            start,
            rule: rule.to_string(),
        },
        repeat: None,
        valid_from: None,
        valid_until: None,
    };
    check_recurrence(&recurrence, DEFAULT_TZ);
}

/// A programme file (`schedules/*.toml`), read from disk as the controller does.
pub fn schedule_file(data: &[u8]) {
    let mut file = tempfile::Builder::new()
        .prefix("loa-fuzz-")
        .suffix(".toml")
        .tempfile()
        .expect("a temporary file");
    file.write_all(data).expect("writing the temporary file");
    if let Ok(specs) = load_file(file.path()) {
        for spec in specs {
            assert!(
                spec.recurrence.validate().is_ok(),
                "a loaded programme has a valid rule: {spec:?}"
            );
            assert!(!spec.zones.is_empty(), "a loaded programme has zones");
        }
    }
}

/// Validates the rule, expands it over bounded windows and checks what comes back.
fn check_recurrence(r: &Recurrence, tz: Tz) {
    let valid = r.validate();
    let anchor = match &r.rule {
        TimeRule::Once { at } => *at,
        TimeRule::Rrule { start, .. } => *start,
        TimeRule::Cron { .. } => r.valid_from.map_or(default_start(), day_start),
    };
    let anchor = Utc.from_utc_datetime(&anchor);
    for offset_days in [-1, 3650] {
        let Some(from) = Duration::try_days(offset_days).and_then(|d| anchor.checked_add_signed(d))
        else {
            continue;
        };
        let Some(to) = from.checked_add_signed(Duration::days(31)) else {
            continue;
        };
        check_window(r, tz, from, to, &valid);
    }
}

fn check_window<E: std::fmt::Debug>(
    r: &Recurrence,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    valid: &Result<(), E>,
) {
    let plays = match r.fires_between(tz, from, to, LIMIT) {
        Ok(plays) => plays,
        Err(e) => {
            assert!(
                valid.is_err(),
                "fires_between refuses ({e}) what validate accepts"
            );
            return;
        }
    };
    assert!(plays.len() <= LIMIT);
    assert!(
        plays.windows(2).all(|w| w[0] < w[1]),
        "plays in order, each once: {plays:?}"
    );
    assert!(
        plays.iter().all(|p| from <= *p && *p < to),
        "plays inside [{from}, {to}): {plays:?}"
    );
    if let Err(e) = valid {
        assert!(
            plays.is_empty(),
            "validate refuses ({e:?}) a rule that plays at {plays:?}"
        );
    }
    let first = r
        .fires_between(tz, from, to, 3)
        .expect("same rule, same answer");
    assert_eq!(
        first,
        plays[..plays.len().min(3)],
        "a lower limit is a prefix"
    );
}

/// `tz=<name>` on the first line picks the zone (an unknown name falls back to UTC).
fn zone_line(text: &str) -> (Tz, &str) {
    match text.strip_prefix("tz=") {
        Some(rest) => {
            let (name, body) = rest.split_once('\n').unwrap_or((rest, ""));
            (parse_tz(name).unwrap_or(Tz::UTC), body)
        }
        None => (DEFAULT_TZ, text),
    }
}

fn parse_local(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
}

fn default_start() -> NaiveDateTime {
    day_start(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
}

fn day_start(d: NaiveDate) -> NaiveDateTime {
    d.and_time(chrono::NaiveTime::MIN)
}
