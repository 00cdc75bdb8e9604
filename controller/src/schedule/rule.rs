//! Time rules: when an announcement airs, as pure functions (no clock, no I/O).
//!
//! Rules are written in the commune's local time; the caller passes the time zone and the
//! window, and every answer is an instant in UTC.
//!
//! - [`TimeRule::Once`]: a local date and time.
//! - [`TimeRule::Cron`]: the `cron` crate's syntax, 6 or 7 fields, seconds first:
//!   `sec min hour day-of-month month day-of-week [year]`, names allowed (`Mon-Sat`, `Jan`).
//!   Two traps for anyone used to Unix cron: numeric weekdays count from **1 = Sunday** to
//!   7 = Saturday (`2-7` is Monday–Saturday, and 0 is an error), and when both day-of-month
//!   and day-of-week are restricted a day must match **both** (`0 0 8 1-7 * Fri` is the first
//!   Friday of the month).
//! - [`TimeRule::Rrule`]: an iCalendar RRULE (RFC 5545) from a local start, for what cron
//!   cannot say: `FREQ=MONTHLY;BYDAY=-1FR` (last Friday), `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO`
//!   (every other Monday). As in python-dateutil, and unlike RFC 5545's DTSTART, the start airs
//!   only if it matches the rule. `UNTIL` without `Z` is local time, with `Z` UTC, and a
//!   date-only `UNTIL` includes that whole day.
//!
//! Every rule is expanded in local wall-clock time and each local time is then placed in the
//! zone: one that a daylight-saving change makes ambiguous takes the earlier instant, one that
//! it skips takes the first instant after the gap. (Vietnam has no daylight saving; this only
//! matters for a commune configured with another zone.)
//!
//! A [`Repeat`] plays each firing again, `gap_minutes` apart. The validity window
//! (`valid_from`, `valid_until`: local dates, inclusive) selects firings by their local date;
//! a firing's repeats belong to it even when they fall after midnight.
//!
//! Just over 500 lines: the four kinds of rule share their window and time-zone handling, which
//! is clearer kept together than split (tests: rule_tests.rs).

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::str::FromStr;

/// At most this many plays per firing.
pub const MAX_REPEAT_TIMES: u32 = 24;
/// The plays of one firing end within this many minutes of it, so a window's look-back is short.
pub const MAX_REPEAT_SPAN_MINUTES: u32 = 24 * 60;

/// Beyond the largest daylight-saving shift (2 h), so a local window covers its UTC window.
const DST_SLACK_HOURS: i64 = 3;
/// Each cron field's name and range.
const CRON_FIELDS: [(&str, u32, u32); 7] = [
    ("seconds", 0, 59),
    ("minutes", 0, 59),
    ("hours", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 1, 7),
    ("year", 1970, 2100),
];

/// When an announcement airs. Times are the commune's local times.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeRule {
    /// Once, at a local date and time.
    Once {
        /// Local, without an offset: `2026-11-24T06:00:00`.
        #[schema(value_type = String)]
        at: NaiveDateTime,
    },
    /// A cron expression with 6 or 7 fields (sec min hour day-of-month month day-of-week
    /// [year]), names allowed: `0 30 6 * * Mon-Sat`. Numeric weekdays count from 1 = Sunday.
    Cron { expr: String },
    /// An iCalendar RRULE (RFC 5545) from a local start: `FREQ=MONTHLY;BYDAY=-1FR` (last
    /// Friday), `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO` (every two weeks on Monday).
    Rrule {
        /// Local, without an offset.
        #[schema(value_type = String)]
        start: NaiveDateTime,
        rule: String,
    },
}

/// Play each firing `times` times in all, `gap_minutes` apart (start to start). times >= 1.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    pub times: u32,
    pub gap_minutes: u32,
}

/// A time rule with its repeats and validity window.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recurrence {
    pub rule: TimeRule,
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// Local date, inclusive.
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    /// Local date, inclusive.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
}

/// Quiet hours in local time, e.g. 22:00–05:00 (may wrap midnight); start == end means none.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// Whether the local time `t` is quiet: `start` is inside, `end` is not.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// Whether the instant `at` falls in quiet hours in the zone `tz`.
    pub fn contains_instant(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.contains(at.with_timezone(&tz).time())
    }
}

/// What is wrong with a rule, in words a clerk understands, naming the bad part.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error(
        "cron needs 6 or 7 fields: seconds first, e.g. `0 30 6 * * Mon-Sat`; `{expr}` has {found}"
    )]
    CronFieldCount { expr: String, found: usize },
    #[error("in the cron rule `{expr}`, the {field} field `{value}` is wrong: {reason}")]
    CronField {
        expr: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("the cron rule `{expr}` is not valid: {reason}")]
    Cron { expr: String, reason: String },
    #[error("the RRULE `{rule}` is not valid: {reason}")]
    Rrule { rule: String, reason: String },
    #[error("valid_until {until} is before valid_from {from}")]
    UntilBeforeFrom { from: NaiveDate, until: NaiveDate },
    #[error("repeat times is 0: it must be at least 1 (1 plays once)")]
    RepeatZero,
    #[error("repeat times is {0}: at most 24 plays per firing")]
    RepeatTooMany(u32),
    #[error("repeat gap_minutes is 0: plays of one firing must be at least 1 minute apart")]
    RepeatNoGap,
    #[error("{times} plays {gap_minutes} minutes apart last {span} minutes: the repeats of one firing must end within 24 hours (1440 minutes)")]
    RepeatTooLong {
        times: u32,
        gap_minutes: u32,
        span: u64,
    },
    #[error("the rule never fires: {0}")]
    NeverFires(String),
    #[error("unknown time zone `{0}`: use an IANA name such as `Asia/Ho_Chi_Minh`")]
    UnknownTimeZone(String),
}

/// Parses a time zone name ("Asia/Ho_Chi_Minh") with a clear error.
pub fn parse_tz(name: &str) -> Result<Tz, RuleError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| RuleError::UnknownTimeZone(name.to_string()))
}

impl Recurrence {
    /// Checks the rule parses and can fire at all: the validity window is in order, the repeat
    /// is sane, and some time in the validity window matches the rule.
    pub fn validate(&self) -> Result<(), RuleError> {
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until < from {
                return Err(RuleError::UntilBeforeFrom { from, until });
            }
        }
        self.plays()?;
        // Local expansion does not depend on the zone, so UTC stands in for it here.
        let compiled = Compiled::new(&self.rule, Tz::UTC)?;
        let (lo, hi) = self.local_validity();
        // No floor without `valid_from`: a rule dated long ago still expands in
        // `fires_between`, so calling it "never fires" would be wrong (found by fuzzing).
        let lo = lo.unwrap_or(NaiveDateTime::MIN);
        let hi = hi.unwrap_or(NaiveDateTime::MAX);
        if compiled.local_firings(lo, hi).next().is_none() {
            return Err(RuleError::NeverFires(self.never_fires_reason()));
        }
        Ok(())
    }

    /// Every instant (UTC) at which the announcement airs in [from, to), in order, including
    /// repeats (also those of a firing before `from`), within the validity window read in `tz`.
    /// Stops after `limit` instants. An instant reached twice (two firings' repeats meeting)
    /// is listed once.
    pub fn fires_between(
        &self,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>, RuleError> {
        let (times, gap_minutes) = self.plays()?;
        let compiled = Compiled::new(&self.rule, tz)?;
        let mut out = Vec::new();
        if limit == 0 || from >= to {
            return Ok(out);
        }
        let gap = Duration::minutes(i64::from(gap_minutes));
        let look_back = gap * (times as i32 - 1);
        // Plays not yet emitted, earliest first. A play earlier than the next firing is final.
        let mut pending = BinaryHeap::new();
        let look_from = from.checked_sub_signed(look_back).unwrap_or(from);
        for firing in self.firings(&compiled, tz, look_from, to) {
            while let Some(&Reverse(next)) = pending.peek() {
                if next >= firing {
                    break;
                }
                pending.pop();
                if push_play(&mut out, next, limit) {
                    return Ok(out);
                }
            }
            for k in 0..times as i32 {
                match firing.checked_add_signed(gap * k) {
                    Some(play) if play >= from && play < to => pending.push(Reverse(play)),
                    _ => {}
                }
            }
        }
        while let Some(Reverse(next)) = pending.pop() {
            if push_play(&mut out, next, limit) {
                break;
            }
        }
        Ok(out)
    }

    /// (times, gap in minutes) of each firing, checked.
    fn plays(&self) -> Result<(u32, u32), RuleError> {
        let Some(Repeat { times, gap_minutes }) = self.repeat else {
            return Ok((1, 0));
        };
        let span = u64::from(times.saturating_sub(1)) * u64::from(gap_minutes);
        match times {
            0 => Err(RuleError::RepeatZero),
            t if t > MAX_REPEAT_TIMES => Err(RuleError::RepeatTooMany(t)),
            t if t > 1 && gap_minutes == 0 => Err(RuleError::RepeatNoGap),
            _ if span > u64::from(MAX_REPEAT_SPAN_MINUTES) => Err(RuleError::RepeatTooLong {
                times,
                gap_minutes,
                span,
            }),
            _ => Ok((times, gap_minutes)),
        }
    }

    /// The validity window as local times [from, until): the start of `valid_from`, the end
    /// of `valid_until`.
    fn local_validity(&self) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
        let until = self
            .valid_until
            .map(|d| d.succ_opt().map_or(NaiveDateTime::MAX, day_start));
        (self.valid_from.map(day_start), until)
    }

    /// The firings (no repeats) in [lo, hi), in order, within the validity window.
    fn firings<'a>(
        &self,
        compiled: &'a Compiled,
        tz: Tz,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Utc>> + 'a {
        let slack = Duration::hours(DST_SLACK_HOURS);
        let local_lo = lo.with_timezone(&tz).naive_local();
        let mut local_lo = local_lo.checked_sub_signed(slack).unwrap_or(local_lo);
        let local_hi = hi.with_timezone(&tz).naive_local();
        let mut local_hi = local_hi.checked_add_signed(slack).unwrap_or(local_hi);
        let (valid_lo, valid_hi) = self.local_validity();
        local_lo = local_lo.max(valid_lo.unwrap_or(local_lo));
        local_hi = local_hi.min(valid_hi.unwrap_or(local_hi));
        let mut last = None;
        compiled
            .local_firings(local_lo, local_hi)
            .map(move |local| place(tz, local))
            .filter(move |at| *at >= lo && *at < hi)
            // Placing is monotonic, so a repeated instant (a skipped hour) is adjacent.
            .filter(move |at| last.replace(*at) != Some(*at))
    }

    fn never_fires_reason(&self) -> String {
        let window = match (self.valid_from, self.valid_until) {
            (Some(f), Some(u)) => format!(" between valid_from {f} and valid_until {u}"),
            (Some(f), None) => format!(" on or after valid_from {f}"),
            (None, Some(u)) => format!(" up to valid_until {u}"),
            (None, None) => String::new(),
        };
        match &self.rule {
            TimeRule::Once { at } => format!("`at` {at} is not{window}"),
            TimeRule::Cron { expr } => {
                let fields: Vec<&str> = expr.split_whitespace().collect();
                let any = |i: usize| matches!(fields.get(i), None | Some(&"*") | Some(&"?"));
                let both = !any(3) && !any(5);
                let hint = if both {
                    " (a day must match both the day of month and the weekday)"
                } else {
                    ""
                };
                format!("no date matches `{expr}`{window}{hint}")
            }
            TimeRule::Rrule { start, rule } => {
                format!("no date from the start {start} matches `{rule}`{window}")
            }
        }
    }
}

/// Pushes a play unless it is the last one again; returns true when `limit` is reached.
fn push_play(out: &mut Vec<DateTime<Utc>>, at: DateTime<Utc>, limit: usize) -> bool {
    if out.last() != Some(&at) {
        out.push(at);
    }
    out.len() >= limit
}

fn day_start(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

/// The instant of a local time in `tz`: the earlier one when the time occurs twice, the first
/// one after the gap when the clocks skip it.
pub(crate) fn place(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            let minute = local.with_second(0).and_then(|t| t.with_nanosecond(0));
            let minute = minute.unwrap_or(local);
            (1..=DST_SLACK_HOURS * 60)
                .find_map(|m| {
                    tz.from_local_datetime(&(minute + Duration::minutes(m)))
                        .earliest()
                })
                .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
        }
    }
}

/// A time rule parsed once, expanded in local wall-clock time.
enum Compiled {
    Once(NaiveDateTime),
    Cron(cron::Schedule),
    Rrule {
        rule: RRule<Unvalidated>,
        start: NaiveDateTime,
    },
}

impl Compiled {
    fn new(rule: &TimeRule, tz: Tz) -> Result<Self, RuleError> {
        Ok(match rule {
            TimeRule::Once { at } => Compiled::Once(*at),
            TimeRule::Cron { expr } => Compiled::Cron(parse_cron(expr)?),
            TimeRule::Rrule { start, rule } => {
                let parsed = parse_rrule(rule, tz)?;
                parsed
                    .clone()
                    .validate(naive_frame(*start))
                    .map_err(|e| rrule_error(rule, &e))?;
                Compiled::Rrule {
                    rule: parsed,
                    start: *start,
                }
            }
        })
    }

    /// The local firing times in [lo, hi), in order.
    fn local_firings(
        &self,
        lo: NaiveDateTime,
        hi: NaiveDateTime,
    ) -> Box<dyn Iterator<Item = NaiveDateTime> + '_> {
        if lo >= hi {
            return Box::new(std::iter::empty());
        }
        match self {
            Compiled::Once(at) => {
                Box::new(Some(*at).filter(|at| lo <= *at && *at < hi).into_iter())
            }
            Compiled::Cron(schedule) => {
                // The crate's years start at 1970, and it reads an earlier (negative) year as
                // a huge one, finding nothing: start no earlier.
                let lo = lo.max(day_start(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()));
                // `after` is exclusive and works in whole seconds.
                let lo_second = lo.with_nanosecond(0).unwrap_or(lo);
                let before = lo_second.checked_sub_signed(Duration::seconds(1));
                let after = Utc.from_utc_datetime(&before.unwrap_or(lo_second));
                Box::new(
                    schedule
                        .after(&after)
                        .map(|t| t.naive_utc())
                        .skip_while(move |t| *t < lo)
                        .take_while(move |t| *t < hi),
                )
            }
            Compiled::Rrule { rule, start } => {
                let shifted = shifted_start(rule, *start, lo);
                let validated = rule
                    .clone()
                    .validate(naive_frame(shifted))
                    .map(|r| (r, shifted))
                    .or_else(|_| {
                        rule.clone()
                            .validate(naive_frame(*start))
                            .map(|r| (r, *start))
                    });
                let Ok((validated, from)) = validated else {
                    return Box::new(std::iter::empty());
                };
                // `limit` stops a rule that never matches after 100 000 empty periods.
                let set = RRuleSet::new(naive_frame(from)).rrule(validated).limit();
                Box::new(
                    (&set)
                        .into_iter()
                        .map(|t| t.naive_utc())
                        .skip_while(move |t| *t < lo)
                        .take_while(move |t| *t < hi),
                )
            }
        }
    }
}

fn parse_cron(expr: &str) -> Result<cron::Schedule, RuleError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if !(6..=7).contains(&fields.len()) {
        return Err(RuleError::CronFieldCount {
            expr: expr.trim().to_string(),
            found: fields.len(),
        });
    }
    cron::Schedule::from_str(&fields.join(" ")).map_err(|whole| {
        // The crate's message does not say which field is wrong: try each one alone.
        for (i, value) in fields.iter().enumerate() {
            let mut probe = vec!["*"; fields.len()];
            probe[i] = value;
            if let Err(e) = cron::Schedule::from_str(&probe.join(" ")) {
                return RuleError::CronField {
                    expr: expr.trim().to_string(),
                    field: CRON_FIELDS[i].0,
                    value: value.to_string(),
                    reason: cron_field_reason(i, &e),
                };
            }
        }
        RuleError::Cron {
            expr: expr.trim().to_string(),
            reason: whole.to_string(),
        }
    })
}

/// Why one cron field is wrong. The crate's range messages are off by one ("Hours must be less
/// than 23") and its syntax errors say only "^", so those are replaced.
fn cron_field_reason(field: usize, e: &cron::error::Error) -> String {
    let (_, min, max) = CRON_FIELDS[field];
    let crate_text = e.to_string();
    let mut reason = if crate_text.contains("must be") {
        format!("it must be from {min} to {max}")
    } else if crate_text.contains("is not a valid") {
        crate_text.trim().trim_end_matches('.').to_string()
    } else {
        "write a number, a range `1-5`, a list `1,3`, a step `0/15`, `*` or a name".into()
    };
    if field == 5 {
        reason.push_str(" (weekdays are Sun, Mon, … Sat, or 1 = Sunday to 7 = Saturday)");
    }
    reason
}

/// Parses an RRULE's parts, turning its `UNTIL` into the local frame the rule is expanded in.
fn parse_rrule(rule: &str, tz: Tz) -> Result<RRule<Unvalidated>, RuleError> {
    let err = |reason: String| RuleError::Rrule {
        rule: rule.to_string(),
        reason,
    };
    let body = rule.trim();
    let body = match body.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("RRULE:") => &body[6..],
        _ => body,
    };
    // The `rrule` crate slices its parts by byte and panics inside a multi-byte character
    // (found by fuzzing): nothing in an RRULE is outside ASCII, so refuse that first.
    if let Some(c) = body.chars().find(|c| !c.is_ascii()) {
        return Err(err(format!(
            "`{c}` is not allowed: an RRULE is written in ASCII letters, digits and ;=,-"
        )));
    }
    if body.contains(['\n', ':']) {
        return Err(err(
            "give only the rule's parts, e.g. `FREQ=MONTHLY;BYDAY=-1FR`; the start goes in `start`"
                .into(),
        ));
    }
    let mut parts = Vec::new();
    for part in body.split(';').filter(|p| !p.trim().is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("UNTIL") => {
                parts.push(format!(
                    "UNTIL={}",
                    until_in_local_frame(v, tz).map_err(err)?
                ));
            }
            _ => parts.push(part.trim().to_string()),
        }
    }
    parts
        .join(";")
        .parse::<RRule<Unvalidated>>()
        .map_err(|e| rrule_error(rule, &e))
}

/// `UNTIL` as a local time written with `Z`, the frame [`naive_frame`] expands rules in.
fn until_in_local_frame(value: &str, tz: Tz) -> Result<String, String> {
    let v = value.trim();
    let (body, utc) = match v.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (v, false),
    };
    let bad =
        || format!("UNTIL `{v}` is not a date (20261231) or a date and time (20261231T170000)");
    let at = if body.len() == 8 {
        let d = NaiveDate::parse_from_str(body, "%Y%m%d").map_err(|_| bad())?;
        d.and_hms_opt(23, 59, 59).ok_or_else(bad)?
    } else {
        NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").map_err(|_| bad())?
    };
    let local = if utc && body.len() != 8 {
        Utc.from_utc_datetime(&at).with_timezone(&tz).naive_local()
    } else {
        at
    };
    Ok(local.format("%Y%m%dT%H%M%SZ").to_string())
}

fn rrule_error(rule: &str, e: &rrule::RRuleError) -> RuleError {
    let reason = match e {
        rrule::RRuleError::ParserError(p) => p.to_string(),
        rrule::RRuleError::ValidationError(rrule::ValidationError::UntilBeforeStart { .. }) => {
            "UNTIL is before the start".to_string()
        }
        rrule::RRuleError::ValidationError(v) => v.to_string(),
        rrule::RRuleError::IterError(s) => s.clone(),
    };
    RuleError::Rrule {
        rule: rule.to_string(),
        reason,
    }
}

/// Local wall-clock time written as UTC: the `rrule` crate then expands in wall-clock time
/// with no daylight-saving surprises, and [`place`] puts each result in the real zone.
fn naive_frame(local: NaiveDateTime) -> DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&local)
}

/// A start moved forward by whole periods of the rule, to just before `lo`, so a long-running
/// rule is not expanded from its first day. Rules with COUNT count from the real start, and a
/// monthly or yearly rule from the 29th–31st would change its day, so those keep it. The
/// moved start stays two periods before `lo`: the occurrences of its own period that precede
/// it, which the expansion drops, are all before `lo`.
fn shifted_start(
    rule: &RRule<Unvalidated>,
    start: NaiveDateTime,
    lo: NaiveDateTime,
) -> NaiveDateTime {
    if rule.get_count().is_some() || lo <= start {
        return start;
    }
    let n = i64::from(rule.get_interval().max(1));
    let by_seconds = |period: i64| {
        let k = (lo - start).num_seconds() / period - 2;
        if k > 0 {
            start + Duration::seconds(k * period)
        } else {
            start
        }
    };
    let by_months = |period: i64| {
        let months = i64::from(lo.year() - start.year()) * 12 + i64::from(lo.month0())
            - i64::from(start.month0());
        let k = months / period - 2;
        let step = u32::try_from(k * period).unwrap_or(0);
        if k > 0 && start.day() <= 28 {
            start.checked_add_months(Months::new(step)).unwrap_or(start)
        } else {
            start
        }
    };
    match rule.get_freq() {
        Frequency::Secondly => by_seconds(n),
        Frequency::Minutely => by_seconds(60 * n),
        Frequency::Hourly => by_seconds(3600 * n),
        Frequency::Daily => by_seconds(86_400 * n),
        Frequency::Weekly => by_seconds(7 * 86_400 * n),
        Frequency::Monthly => by_months(n),
        Frequency::Yearly => by_months(12 * n),
    }
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
