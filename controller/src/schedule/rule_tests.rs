//! Table tests of the time rules ([`super`]): pure, no clock, no I/O beyond the fixtures.
//!
//! Over 500 lines because it is one table of cases per kind of rule, across time zones and
//! daylight-free Vietnam alike; a table reads better whole.

use super::*;

const HCM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}
fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}
fn time(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}
fn cron(expr: &str) -> Recurrence {
    rule(TimeRule::Cron { expr: expr.into() })
}
fn rrule(start: &str, rule_text: &str) -> Recurrence {
    rule(TimeRule::Rrule {
        start: local(start),
        rule: rule_text.into(),
    })
}
fn once(at: &str) -> Recurrence {
    rule(TimeRule::Once { at: local(at) })
}
fn rule(rule: TimeRule) -> Recurrence {
    Recurrence {
        rule,
        repeat: None,
        valid_from: None,
        valid_until: None,
    }
}
fn repeated(mut r: Recurrence, times: u32, gap_minutes: u32) -> Recurrence {
    r.repeat = Some(Repeat { times, gap_minutes });
    r
}
fn valid(mut r: Recurrence, from: Option<&str>, until: Option<&str>) -> Recurrence {
    r.valid_from = from.map(date);
    r.valid_until = until.map(date);
    r
}
fn fires(r: &Recurrence, tz: Tz, from: &str, to: &str) -> Vec<String> {
    r.fires_between(tz, utc(from), utc(to), 10_000)
        .unwrap()
        .iter()
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

/// The week of Monday 2026-01-05 to Sunday 2026-01-11, local midnight to midnight in Hanoi.
const WEEK: (&str, &str) = ("2026-01-04T17:00:00Z", "2026-01-11T17:00:00Z");

/// A case: what it shows, the rule, the zone, the UTC window, the instants it fires at.
type Case = (
    &'static str,
    Recurrence,
    Tz,
    (&'static str, &'static str),
    Vec<&'static str>,
);

#[test]
fn rules_fire_at_the_expected_instants() {
    let cases: Vec<Case> = vec![
        (
            "cron with names: 06:30 Mon-Sat in Hanoi is 23:30 UTC the day before",
            cron("0 30 6 * * Mon-Sat"),
            HCM,
            WEEK,
            vec![
                "2026-01-04T23:30Z",
                "2026-01-05T23:30Z",
                "2026-01-06T23:30Z",
                "2026-01-07T23:30Z",
                "2026-01-08T23:30Z",
                "2026-01-09T23:30Z",
            ],
        ),
        (
            "numeric weekday 2 is Monday: the cron crate counts 1 = Sunday",
            cron("0 0 6 * * 2"),
            HCM,
            WEEK,
            vec!["2026-01-04T23:00Z"],
        ),
        (
            "numeric weekday 1 is Sunday",
            cron("0 0 6 * * 1"),
            HCM,
            WEEK,
            vec!["2026-01-10T23:00Z"],
        ),
        (
            "day-of-month and weekday must both match: the first Friday",
            cron("0 0 8 1-7 * Fri"),
            HCM,
            ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"),
            vec!["2026-01-02T01:00Z", "2026-02-06T01:00Z"],
        ),
        (
            "a 7-field cron limited to a year",
            cron("0 0 6 * * Mon 2027"),
            HCM,
            WEEK,
            vec![],
        ),
        (
            "RRULE: the last Friday of each month, 16:00",
            rrule("2026-01-30T16:00", "FREQ=MONTHLY;BYDAY=-1FR"),
            HCM,
            ("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"),
            vec![
                "2026-01-30T09:00Z",
                "2026-02-27T09:00Z",
                "2026-03-27T09:00Z",
                "2026-04-24T09:00Z",
                "2026-05-29T09:00Z",
            ],
        ),
        (
            "RRULE: every two weeks on Monday, 07:00",
            rrule("2026-01-05T07:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            HCM,
            ("2026-01-01T00:00:00Z", "2026-02-20T00:00:00Z"),
            vec![
                "2026-01-05T00:00Z",
                "2026-01-19T00:00Z",
                "2026-02-02T00:00Z",
                "2026-02-16T00:00Z",
            ],
        ),
        (
            "RRULE: the start does not air unless it matches the rule",
            rrule("2026-01-15T08:00", "FREQ=MONTHLY;BYDAY=1FR"),
            HCM,
            ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"),
            vec!["2026-02-06T01:00Z"],
        ),
        (
            "RRULE: a first Friday rule started years ago keeps every first Friday",
            rrule("2020-01-15T08:00", "FREQ=MONTHLY;BYDAY=1FR"),
            HCM,
            ("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            vec![
                "2026-01-02T01:00Z",
                "2026-02-06T01:00Z",
                "2026-03-06T01:00Z",
            ],
        ),
        (
            "RRULE: a local UNTIL date includes that day",
            rrule("2026-01-05T06:00", "FREQ=DAILY;UNTIL=20260107"),
            HCM,
            WEEK,
            vec![
                "2026-01-04T23:00Z",
                "2026-01-05T23:00Z",
                "2026-01-06T23:00Z",
            ],
        ),
        (
            "RRULE: a UTC UNTIL is read as UTC (07:00 local on the 7th is 00:00Z)",
            rrule(
                "2026-01-05T06:00",
                "RRULE:FREQ=DAILY;UNTIL=20260106T230000Z",
            ),
            HCM,
            WEEK,
            vec![
                "2026-01-04T23:00Z",
                "2026-01-05T23:00Z",
                "2026-01-06T23:00Z",
            ],
        ),
        (
            "RRULE: COUNT counts from the start",
            rrule("2026-01-05T06:00", "FREQ=DAILY;COUNT=2"),
            HCM,
            WEEK,
            vec!["2026-01-04T23:00Z", "2026-01-05T23:00Z"],
        ),
        (
            "once, inside the window",
            once("2026-01-07T09:15"),
            HCM,
            WEEK,
            vec!["2026-01-07T02:15Z"],
        ),
        (
            "once, outside the window",
            once("2026-01-12T09:15"),
            HCM,
            WEEK,
            vec![],
        ),
        (
            "once, at the window's start is in, at its end is out",
            once("2026-01-05T00:00"),
            HCM,
            ("2026-01-04T17:00:00Z", "2026-01-04T17:00:01Z"),
            vec!["2026-01-04T17:00Z"],
        ),
        (
            "repeat 3 times 10 minutes apart",
            repeated(cron("0 0 6 * * *"), 3, 10),
            HCM,
            ("2026-01-04T17:00:00Z", "2026-01-05T17:00:00Z"),
            vec![
                "2026-01-04T23:00Z",
                "2026-01-04T23:10Z",
                "2026-01-04T23:20Z",
            ],
        ),
        (
            "a repeat of a firing before the window's start is included",
            repeated(cron("0 0 6 * * *"), 3, 10),
            HCM,
            ("2026-01-04T23:05:00Z", "2026-01-05T23:05:00Z"),
            vec![
                "2026-01-04T23:10Z",
                "2026-01-04T23:20Z",
                "2026-01-05T23:00Z",
            ],
        ),
        (
            "repeats of neighbouring firings interleave, in order, each instant once",
            repeated(cron("0 0,15 6 * * *"), 3, 15),
            HCM,
            ("2026-01-04T17:00:00Z", "2026-01-05T17:00:00Z"),
            vec![
                "2026-01-04T23:00Z",
                "2026-01-04T23:15Z",
                "2026-01-04T23:30Z",
                "2026-01-04T23:45Z",
            ],
        ),
        (
            "validity: from and until are inclusive local dates",
            valid(cron("0 30 6 * * *"), Some("2026-01-07"), Some("2026-01-09")),
            HCM,
            WEEK,
            vec![
                "2026-01-06T23:30Z",
                "2026-01-07T23:30Z",
                "2026-01-08T23:30Z",
            ],
        ),
        (
            "validity: only a start",
            valid(cron("0 30 6 * * *"), Some("2026-01-10"), None),
            HCM,
            WEEK,
            vec!["2026-01-09T23:30Z", "2026-01-10T23:30Z"],
        ),
        (
            "validity: the 00:10 repeat on the 6th belongs to the 5th's firing, the last valid one",
            valid(
                repeated(cron("0 50 23 * * *"), 2, 20),
                None,
                Some("2026-01-05"),
            ),
            HCM,
            WEEK,
            vec![
                "2026-01-04T17:10Z",
                "2026-01-05T16:50Z",
                "2026-01-05T17:10Z",
            ],
        ),
        (
            "the same rule in UTC fires 7 hours later than in Hanoi",
            cron("0 0 6 * * Mon"),
            chrono_tz::UTC,
            WEEK,
            vec!["2026-01-05T06:00Z"],
        ),
        (
            "RRULE start in the zone: 07:00 in UTC",
            rrule("2026-01-05T07:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            chrono_tz::UTC,
            WEEK,
            vec!["2026-01-05T07:00Z"],
        ),
        (
            "daylight saving: a skipped time takes the first instant after the gap",
            once("2026-03-08T02:30"),
            chrono_tz::America::New_York,
            ("2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"),
            vec!["2026-03-08T07:00Z"],
        ),
        (
            "daylight saving: an ambiguous time takes the earlier instant",
            cron("0 30 1 * * *"),
            chrono_tz::America::New_York,
            ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            vec!["2026-11-01T05:30Z"],
        ),
    ];
    for (name, r, tz, (from, to), want) in cases {
        r.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fires(&r, tz, from, to), want, "{name}");
    }
}

#[test]
fn fortnightly_rule_from_years_ago_keeps_its_weeks() {
    let r = rrule("2020-01-06T07:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO");
    let got = r
        .fires_between(
            HCM,
            utc("2026-01-01T00:00:00Z"),
            utc("2026-04-01T00:00:00Z"),
            100,
        )
        .unwrap();
    let first = local("2020-01-06T07:00");
    let want: Vec<_> = (0..200)
        .map(|k| first + Duration::weeks(2 * k))
        .map(|t| place(HCM, t))
        .filter(|t| *t >= utc("2026-01-01T00:00:00Z") && *t < utc("2026-04-01T00:00:00Z"))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got.len(), 6);
}

#[test]
fn a_rule_dated_long_ago_validates_as_it_fires() {
    // Before 1900 (a typo for the year): once validated "never fires" though it fired (found by
    // fuzzing). Validation and expansion now agree.
    let r = once("1899-12-31T07:00");
    assert!(r.validate().is_ok());
    assert_eq!(
        fires(&r, HCM, "1899-12-01T00:00:00Z", "1900-02-01T00:00:00Z").len(),
        1
    );
}

#[test]
fn the_limit_caps_the_result_without_error() {
    let every_minute = cron("0 * * * * *");
    let (from, to) = (utc("2026-01-05T00:00:00Z"), utc("2026-01-07T00:00:00Z"));
    let all = every_minute.fires_between(HCM, from, to, 10_000).unwrap();
    assert_eq!(all.len(), 48 * 60);
    assert_eq!(all[0], from);
    let capped = every_minute.fires_between(HCM, from, to, 100).unwrap();
    assert_eq!(capped, all[..100]);
    let repeated = repeated(every_minute, 3, 1);
    assert_eq!(repeated.fires_between(HCM, from, to, 5).unwrap(), all[..5]);
    assert!(cron("0 0 6 * * *")
        .fires_between(HCM, from, to, 0)
        .unwrap()
        .is_empty());
}

#[test]
fn quiet_hours_wrap_midnight_or_not() {
    let night = QuietHours {
        start: time("22:00"),
        end: time("05:00"),
    };
    let lunch = QuietHours {
        start: time("12:00"),
        end: time("13:00"),
    };
    let none = QuietHours {
        start: time("05:00"),
        end: time("05:00"),
    };
    let cases = [
        (night, "22:00", true),
        (night, "23:59", true),
        (night, "00:00", true),
        (night, "04:59", true),
        (night, "05:00", false),
        (night, "12:00", false),
        (night, "21:59", false),
        (lunch, "12:00", true),
        (lunch, "12:59", true),
        (lunch, "13:00", false),
        (lunch, "11:59", false),
        (lunch, "23:00", false),
        (none, "05:00", false),
        (none, "00:00", false),
    ];
    for (q, t, want) in cases {
        assert_eq!(q.contains(time(t)), want, "{q:?} at {t}");
    }
    // 15:30 UTC is 22:30 in Hanoi.
    let at = utc("2026-01-05T15:30:00Z");
    assert!(night.contains_instant(at, HCM));
    assert!(!night.contains_instant(at, chrono_tz::UTC));
}

#[test]
fn errors_name_the_bad_part() {
    let cases: Vec<(Recurrence, RuleError, &str)> = vec![
        (
            cron("30 6 * * 1-6"),
            RuleError::CronFieldCount {
                expr: "30 6 * * 1-6".into(),
                found: 5,
            },
            "cron needs 6 or 7 fields: seconds first, e.g. `0 30 6 * * Mon-Sat`",
        ),
        (
            cron("0 30 6 * * Mon-Sam"),
            RuleError::CronField {
                expr: "0 30 6 * * Mon-Sam".into(),
                field: "day-of-week",
                value: "Mon-Sam".into(),
                reason: String::new(),
            },
            "the day-of-week field `Mon-Sam` is wrong",
        ),
        (
            cron("0 30 25 * * *"),
            RuleError::CronField {
                expr: "0 30 25 * * *".into(),
                field: "hours",
                value: "25".into(),
                reason: String::new(),
            },
            "the hours field `25` is wrong: it must be from 0 to 23",
        ),
        (
            cron("0 0 6 * * 0"),
            RuleError::CronField {
                expr: "0 0 6 * * 0".into(),
                field: "day-of-week",
                value: "0".into(),
                reason: String::new(),
            },
            "`0` is wrong: it must be from 1 to 7 (weekdays are Sun, Mon, … Sat, or 1 = Sunday to 7 = Saturday)",
        ),
        (
            cron("0 0/x 6 * * *"),
            RuleError::CronField {
                expr: "0 0/x 6 * * *".into(),
                field: "minutes",
                value: "0/x".into(),
                reason: String::new(),
            },
            "the minutes field `0/x` is wrong: write a number, a range `1-5`",
        ),
        (
            rrule("2026-01-30T16:00", "FREQ=DAILY;UNTIL=20260101"),
            RuleError::Rrule {
                rule: "FREQ=DAILY;UNTIL=20260101".into(),
                reason: String::new(),
            },
            "UNTIL is before the start",
        ),
        (
            rrule("2026-01-30T16:00", "FREQ=SOMETIMES;BYDAY=-1FR"),
            RuleError::Rrule {
                rule: "FREQ=SOMETIMES;BYDAY=-1FR".into(),
                reason: String::new(),
            },
            "`SOMETIMES` is not a valid frequency",
        ),
        (
            rrule("2026-01-30T16:00", "FREQ=MONTHLY;BYDAY=-1XX"),
            RuleError::Rrule {
                rule: "FREQ=MONTHLY;BYDAY=-1XX".into(),
                reason: String::new(),
            },
            "not a valid weekday",
        ),
        (
            rrule("2026-01-30T16:00", "DTSTART:20260130T160000\nRRULE:FREQ=DAILY"),
            RuleError::Rrule {
                rule: "DTSTART:20260130T160000\nRRULE:FREQ=DAILY".into(),
                reason: String::new(),
            },
            "the start goes in `start`",
        ),
        (
            rrule("2026-01-30T16:00", "FREQ=DAILY;UNTIL=2026-12-31"),
            RuleError::Rrule {
                rule: "FREQ=DAILY;UNTIL=2026-12-31".into(),
                reason: String::new(),
            },
            "UNTIL `2026-12-31` is not a date",
        ),
        (
            // A stray non-ASCII character once panicked the rrule crate (found by fuzzing).
            rrule("2026-01-30T16:00", "FREQ=MONTHLY;BYDAY=-1FRđ"),
            RuleError::Rrule {
                rule: "FREQ=MONTHLY;BYDAY=-1FRđ".into(),
                reason: String::new(),
            },
            "`đ` is not allowed: an RRULE is written in ASCII",
        ),
        (
            valid(cron("0 0 6 * * *"), Some("2026-02-01"), Some("2026-01-31")),
            RuleError::UntilBeforeFrom {
                from: date("2026-02-01"),
                until: date("2026-01-31"),
            },
            "valid_until 2026-01-31 is before valid_from 2026-02-01",
        ),
        (
            repeated(cron("0 0 6 * * *"), 0, 10),
            RuleError::RepeatZero,
            "repeat times is 0",
        ),
        (
            repeated(cron("0 0 6 * * *"), 25, 10),
            RuleError::RepeatTooMany(25),
            "at most 24",
        ),
        (
            repeated(cron("0 0 6 * * *"), 2, 0),
            RuleError::RepeatNoGap,
            "gap_minutes is 0",
        ),
        (
            repeated(cron("0 0 6 * * *"), 3, 721),
            RuleError::RepeatTooLong {
                times: 3,
                gap_minutes: 721,
                span: 1442,
            },
            "within 24 hours",
        ),
        (
            valid(once("2026-12-01T07:00"), Some("2026-01-01"), Some("2026-06-30")),
            RuleError::NeverFires(String::new()),
            "`at` 2026-12-01 07:00:00 is not between valid_from 2026-01-01 and valid_until 2026-06-30",
        ),
        (
            cron("0 0 6 30 Feb *"),
            RuleError::NeverFires(String::new()),
            "no date matches `0 0 6 30 Feb *`",
        ),
        (
            valid(
                cron("0 0 6 * * Sun"),
                Some("2026-01-05"),
                Some("2026-01-10"),
            ),
            RuleError::NeverFires(String::new()),
            "between valid_from 2026-01-05 and valid_until 2026-01-10",
        ),
    ];
    for (r, want, words) in cases {
        let got = r.validate().expect_err(words);
        let text = got.to_string();
        assert!(text.contains(words), "{text:?} should say {words:?}");
        assert_eq!(
            std::mem::discriminant(&got),
            std::mem::discriminant(&want),
            "{text}"
        );
        match (&got, &want) {
            (
                RuleError::CronField { field, value, .. },
                RuleError::CronField {
                    field: f, value: v, ..
                },
            ) => assert_eq!((field, value), (f, v)),
            (RuleError::CronField { .. }, _)
            | (RuleError::Rrule { .. }, _)
            | (RuleError::NeverFires(_), _) => {}
            _ => assert_eq!(got, want),
        }
        // The same error comes from asking when it fires, except for never firing.
        if !matches!(
            want,
            RuleError::NeverFires(_) | RuleError::UntilBeforeFrom { .. }
        ) {
            let from = utc("2026-01-01T00:00:00Z");
            let e = r.fires_between(HCM, from, from + Duration::days(2), 10);
            assert_eq!(e.unwrap_err(), got);
        }
    }
    assert_eq!(parse_tz("Asia/Ho_Chi_Minh"), Ok(HCM));
    let e = parse_tz("Asia/Hanoi_City").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown time zone `Asia/Hanoi_City`: use an IANA name such as `Asia/Ho_Chi_Minh`"
    );
}

#[test]
fn recurrence_round_trips_through_json() {
    let r = valid(
        repeated(rrule("2026-01-30T16:00", "FREQ=MONTHLY;BYDAY=-1FR"), 2, 10),
        Some("2026-01-01"),
        None,
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["rule"]["kind"], "rrule");
    assert_eq!(json["rule"]["start"], "2026-01-30T16:00:00");
    let back: Recurrence = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
    let minimal: Recurrence =
        serde_json::from_str(r#"{"rule":{"kind":"cron","expr":"0 0 6 * * *"}}"#).unwrap();
    assert_eq!(minimal, cron("0 0 6 * * *"));
}
