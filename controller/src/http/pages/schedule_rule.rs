//! The schedule form's time rule in a clerk's words, both ways: the form's fields (every day,
//! chosen weekdays, once, "the last Friday of the month", "every other Monday", cron for the
//! advanced; plays repeated N times a gap apart; valid from and until dates) to a
//! [`Recurrence`], and a stored rule back to those fields, which the list shows in words.

use axum::http::StatusCode;
use chrono::{NaiveDate, NaiveTime, Timelike};
use serde_json::{json, Value};

use super::form::FormData;
use crate::http::ApiError;
use crate::schedule::rule::{Recurrence, Repeat, TimeRule};

/// Weekday names as cron writes them, Monday first (the order a Vietnamese week is read in).
pub const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// The same days as an RRULE's BYDAY writes them.
const RRULE_DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
/// Which of the month's weekdays: the first to the fourth, or the last (-1).
pub const NTH: [i32; 5] = [1, 2, 3, 4, -1];

fn bad(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn rrule_day(day: &str) -> Option<&'static str> {
    DAYS.iter().position(|d| *d == day).map(|i| RRULE_DAYS[i])
}

fn cron_day(code: &str) -> Option<&'static str> {
    RRULE_DAYS.iter().position(|d| *d == code).map(|i| DAYS[i])
}

/// A rule as the form shows it: `kind` (`daily`, `weekdays`, `once`, `monthly`, `weeks`,
/// `cron`, or `rrule` for one written through the API that the form cannot say) with its
/// fields, plus the repeats and validity dates.
pub fn rule_fields(r: &Recurrence) -> Value {
    let mut v = time_fields(&r.rule);
    if let Some(rep) = r.repeat {
        v["repeat_times"] = json!(rep.times.to_string());
        v["repeat_gap"] = json!(rep.gap_minutes.to_string());
    }
    // The form's date fields take ISO dates; the list shows them as read here: 31/12/2026.
    if let Some(d) = r.valid_from {
        v["valid_from"] = json!(d.to_string());
        v["valid_from_text"] = json!(d.format("%d/%m/%Y").to_string());
    }
    if let Some(d) = r.valid_until {
        v["valid_until"] = json!(d.to_string());
        v["valid_until_text"] = json!(d.format("%d/%m/%Y").to_string());
    }
    v
}

fn time_fields(rule: &TimeRule) -> Value {
    match rule {
        TimeRule::Once { at } => {
            json!({"kind": "once", "date": at.date().to_string(), "time": hm(at.time())})
        }
        TimeRule::Cron { expr } => {
            let f: Vec<&str> = expr.split_whitespace().collect();
            let at = |m: &str, h: &str| -> Option<String> {
                let (m, h): (u32, u32) = (m.parse().ok()?, h.parse().ok()?);
                NaiveTime::from_hms_opt(h, m, 0).map(hm)
            };
            match f.as_slice() {
                ["0", m, h, "*", "*", dow] => match at(m, h) {
                    Some(time) if *dow == "*" => json!({"kind": "daily", "time": time}),
                    Some(time) if dow.split(',').all(|d| DAYS.contains(&d)) => {
                        json!({"kind": "weekdays", "time": time,
                               "days": dow.split(',').collect::<Vec<_>>()})
                    }
                    _ => json!({"kind": "cron", "cron": expr}),
                },
                _ => json!({"kind": "cron", "cron": expr}),
            }
        }
        TimeRule::Rrule { start, rule } => rrule_fields(*start, rule).unwrap_or_else(
            || json!({"kind": "rrule", "rrule": format!("{rule} (từ/from {start})")}),
        ),
    }
}

/// The two RRULE shapes the form makes: `FREQ=MONTHLY;BYDAY=-1FR` and
/// `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO`.
fn rrule_fields(start: chrono::NaiveDateTime, rule: &str) -> Option<Value> {
    let mut freq = None;
    let mut interval = 1u32;
    let mut byday = None;
    for part in rule.split(';') {
        match part.split_once('=')? {
            ("FREQ", f) => freq = Some(f),
            ("INTERVAL", n) => interval = n.parse().ok()?,
            ("BYDAY", d) => byday = Some(d),
            _ => return None,
        }
    }
    let time = hm(start.time());
    match (freq?, byday?) {
        ("MONTHLY", d) if interval == 1 && d.len() >= 3 => {
            let (n, code) = d.split_at(d.len() - 2);
            let nth: i32 = n.parse().ok().filter(|n| NTH.contains(n))?;
            Some(json!({"kind": "monthly", "nth": nth.to_string(),
                        "weekday": cron_day(code)?, "time": time}))
        }
        ("WEEKLY", d) if (2..=4).contains(&interval) => {
            let days: Option<Vec<&str>> = d.split(',').map(cron_day).collect();
            Some(
                json!({"kind": "weeks", "interval": interval.to_string(), "days": days?,
                        "date": start.date().to_string(), "time": time}),
            )
        }
        _ => None,
    }
}

fn date(form: &FormData, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    match form.get(field) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                bad(
                    "ui.bad_date",
                    "a date is day, month and year, e.g. 2026-12-31",
                )
            }),
    }
}

fn chosen_days(form: &FormData) -> Result<Vec<&str>, ApiError> {
    let days: Vec<&str> = form
        .all("days")
        .into_iter()
        .filter(|d| DAYS.contains(d))
        .collect();
    if days.is_empty() {
        return Err(bad("ui.no_days", "choose at least one day of the week"));
    }
    Ok(days)
}

/// The time rule, repeats and validity the form describes. `today` (the commune's) starts a
/// monthly or every-N-weeks rule when the form gives no first date.
pub fn recurrence(form: &FormData, today: NaiveDate) -> Result<Recurrence, ApiError> {
    let time = || -> Result<NaiveTime, ApiError> {
        form.get("time")
            .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
            .ok_or_else(|| bad("ui.no_time", "give a time, e.g. 06:30"))
    };
    let cron_at = |t: NaiveTime, dow: &str| format!("0 {} {} * * {dow}", t.minute(), t.hour());
    let valid_from = date(form, "valid_from")?;
    let valid_until = date(form, "valid_until")?;
    let first = valid_from.unwrap_or(today);
    let rule = match form.get("kind").unwrap_or("daily") {
        "daily" => TimeRule::Cron {
            expr: cron_at(time()?, "*"),
        },
        "weekdays" => TimeRule::Cron {
            expr: cron_at(time()?, &chosen_days(form)?.join(",")),
        },
        "once" => TimeRule::Once {
            at: date(form, "date")?
                .ok_or_else(|| bad("ui.no_date", "give a date"))?
                .and_time(time()?),
        },
        "monthly" => {
            let nth: i32 = form
                .get("nth")
                .and_then(|n| n.parse().ok())
                .filter(|n| NTH.contains(n))
                .ok_or_else(|| bad("ui.no_nth", "choose which weekday of the month"))?;
            let day = form
                .get("weekday")
                .and_then(rrule_day)
                .ok_or_else(|| bad("ui.no_days", "choose at least one day of the week"))?;
            TimeRule::Rrule {
                start: first.and_time(time()?),
                rule: format!("FREQ=MONTHLY;BYDAY={nth}{day}"),
            }
        }
        "weeks" => {
            let interval: u32 = form
                .get("interval")
                .and_then(|n| n.parse().ok())
                .filter(|n| (2..=4).contains(n))
                .ok_or_else(|| bad("ui.bad_interval", "every 2, 3 or 4 weeks"))?;
            let days: Vec<&str> = chosen_days(form)?
                .into_iter()
                .filter_map(rrule_day)
                .collect();
            TimeRule::Rrule {
                start: date(form, "date")?.unwrap_or(first).and_time(time()?),
                rule: format!("FREQ=WEEKLY;INTERVAL={interval};BYDAY={}", days.join(",")),
            }
        }
        "cron" => TimeRule::Cron {
            expr: form
                .get("cron")
                .ok_or_else(|| bad("ui.no_cron", "give a cron rule"))?
                .to_owned(),
        },
        _ => return Err(bad("ui.bad_rule", "choose a kind of time rule")),
    };
    let number = |field: &str| -> Result<Option<u32>, ApiError> {
        match form.get(field) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                bad(
                    "ui.bad_repeat",
                    "repeats are a number of plays and a gap in minutes",
                )
            }),
        }
    };
    let repeat = match (number("repeat_times")?, number("repeat_gap")?) {
        (None | Some(1), _) => None,
        (Some(times), gap) => Some(Repeat {
            times,
            gap_minutes: gap.unwrap_or(0),
        }),
    };
    Ok(Recurrence {
        rule,
        repeat,
        valid_from,
        valid_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form's fields, the rule it writes, and the fields it reads back as.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Value);

    fn form(fields: &[(&str, &str)]) -> FormData {
        FormData(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn each_kind_of_rule_reads_back_as_the_form_made_it() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let cases: &[Case] = &[
            (
                &[("kind", "daily"), ("time", "06:30")],
                "0 30 6 * * *",
                json!({"kind": "daily", "time": "06:30"}),
            ),
            (
                &[
                    ("kind", "weekdays"),
                    ("time", "17:00"),
                    ("days", "Mon"),
                    ("days", "Fri"),
                ],
                "0 0 17 * * Mon,Fri",
                json!({"kind": "weekdays", "time": "17:00", "days": ["Mon", "Fri"]}),
            ),
            (
                &[
                    ("kind", "monthly"),
                    ("nth", "-1"),
                    ("weekday", "Fri"),
                    ("time", "16:00"),
                ],
                "FREQ=MONTHLY;BYDAY=-1FR",
                json!({"kind": "monthly", "nth": "-1", "weekday": "Fri", "time": "16:00"}),
            ),
            (
                &[
                    ("kind", "monthly"),
                    ("nth", "1"),
                    ("weekday", "Mon"),
                    ("time", "08:00"),
                ],
                "FREQ=MONTHLY;BYDAY=1MO",
                json!({"kind": "monthly", "nth": "1", "weekday": "Mon", "time": "08:00"}),
            ),
            (
                &[
                    ("kind", "weeks"),
                    ("interval", "2"),
                    ("days", "Mon"),
                    ("time", "07:00"),
                ],
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
                json!({"kind": "weeks", "interval": "2", "days": ["Mon"], "time": "07:00",
                       "date": "2026-12-07"}),
            ),
        ];
        for (fields, rule, back) in cases {
            let r = recurrence(&form(fields), today).unwrap();
            let written = match &r.rule {
                TimeRule::Cron { expr } => expr.clone(),
                TimeRule::Rrule { rule, .. } => rule.clone(),
                TimeRule::Once { at } => at.to_string(),
            };
            assert_eq!(&written, rule, "{fields:?}");
            r.validate().unwrap();
            assert_eq!(&rule_fields(&r), back, "{fields:?}");
        }
    }

    #[test]
    fn repeats_and_validity_are_kept_and_wrong_ones_told() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let r = recurrence(
            &form(&[
                ("kind", "daily"),
                ("time", "06:00"),
                ("repeat_times", "3"),
                ("repeat_gap", "15"),
                ("valid_from", "2027-01-01"),
                ("valid_until", "2027-03-31"),
            ]),
            today,
        )
        .unwrap();
        assert_eq!(
            r.repeat,
            Some(Repeat {
                times: 3,
                gap_minutes: 15
            })
        );
        let f = rule_fields(&r);
        assert_eq!(f["valid_from_text"], "01/01/2027");
        assert_eq!(f["valid_until"], "2027-03-31");
        // One play is no repeat.
        let once = recurrence(
            &form(&[("kind", "daily"), ("time", "06:00"), ("repeat_times", "1")]),
            today,
        );
        assert_eq!(once.unwrap().repeat, None);
        for (fields, code) in [
            (
                &[("kind", "monthly"), ("weekday", "Fri"), ("time", "06:00")][..],
                "ui.no_nth",
            ),
            (
                &[
                    ("kind", "weeks"),
                    ("interval", "5"),
                    ("days", "Mon"),
                    ("time", "06:00"),
                ][..],
                "ui.bad_interval",
            ),
            (
                &[
                    ("kind", "daily"),
                    ("time", "06:00"),
                    ("valid_from", "31/12/2026"),
                ][..],
                "ui.bad_date",
            ),
            (
                &[("kind", "daily"), ("time", "06:00"), ("repeat_times", "ba")][..],
                "ui.bad_repeat",
            ),
            (&[("kind", "weekdays"), ("time", "06:00")][..], "ui.no_days"),
        ] {
            assert_eq!(
                recurrence(&form(fields), today).unwrap_err().code,
                code,
                "{fields:?}"
            );
        }
    }
}
