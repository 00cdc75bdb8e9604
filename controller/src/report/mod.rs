//! The delivery report officials attach to their daily report: for a period of local dates,
//! one row per village with what province dashboards ask of each station (bulletins targeted,
//! played, failed, emergencies, minutes on air, online time) and the commune's total.
//!
//! Pure, and tested with tables: the store gathers the [`Facts`] (`store::report`), this
//! module counts them.
//!
//! - [`villages`]: which zone is a village, and which village each node counts for.
//! - [`tally`]: one village's deliveries and nodes into numbers.
//! - [`online`]: online time from a node's presence history.
//! - [`csv`]: the CSV export (UTF-8 with a BOM, RFC 4180).

pub mod csv;
pub mod online;
pub mod tally;
pub mod villages;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;

use crate::schedule::rule::place;
use crate::store::zones::Zone;
use tally::{DeliveryFact, NodeFact, Tally};
use villages::Villages;

/// The longest period one report covers, in days.
pub const MAX_DAYS: i64 = 366;

/// A period of whole local days, `from` to `to` inclusive, and the instants it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `from` at 00:00 in the commune's time zone.
    pub start: DateTime<Utc>,
    /// The day after `to` at 00:00 there (the period ends just before it).
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{field} must be a date written YYYY-MM-DD, such as 2026-11-24 (got {got:?})")]
    BadDate { field: &'static str, got: String },
    #[error("the period runs backwards: from {from} is after to {to}")]
    Backwards { from: NaiveDate, to: NaiveDate },
    #[error("a report covers at most {MAX_DAYS} days; {from} to {to} is {days}")]
    TooLong {
        from: NaiveDate,
        to: NaiveDate,
        days: i64,
    },
}

impl PeriodError {
    /// The stable key the web UI's translations use.
    pub fn code(&self) -> &'static str {
        match self {
            PeriodError::BadDate { .. } => "report.bad_date",
            PeriodError::Backwards { .. } => "report.backwards",
            PeriodError::TooLong { .. } => "report.too_long",
        }
    }
}

impl Period {
    /// The period the query asks for: `from` (today when absent) to `to` (`from` when absent).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
        tz: Tz,
    ) -> Result<Period, PeriodError> {
        let from = from.map(|s| date("from", s)).transpose()?.unwrap_or(today);
        let to = to.map(|s| date("to", s)).transpose()?.unwrap_or(from);
        Period::new(from, to, tz)
    }

    pub fn new(from: NaiveDate, to: NaiveDate, tz: Tz) -> Result<Period, PeriodError> {
        if from > to {
            return Err(PeriodError::Backwards { from, to });
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong { from, to, days });
        }
        let midnight = |d: NaiveDate| place(tz, d.and_time(chrono::NaiveTime::MIN));
        Ok(Period {
            from,
            to,
            start: midnight(from),
            end: midnight(to + Duration::days(1)),
        })
    }
}

/// `YYYY-MM-DD` exactly (chrono alone would also take `2026-1-5`).
fn date(field: &'static str, s: &str) -> Result<NaiveDate, PeriodError> {
    let bad = || PeriodError::BadDate {
        field,
        got: s.chars().take(40).collect(),
    };
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return Err(bad());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())
}

/// What the store gathered for one period.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub zones: Vec<Zone>,
    /// Every live node.
    pub nodes: Vec<NodeFact>,
    /// Every delivery to a live node whose occurrence starts within the period.
    pub deliveries: Vec<DeliveryFact>,
}

/// Each village's numbers, in report order; a top zone's own row only when something
/// (nodes or deliveries) stands on it directly. Node-time ends at `now` if the period has not.
pub fn village_tallies(facts: &Facts, period: &Period, now: DateTime<Utc>) -> Vec<(Zone, Tally)> {
    let villages = Villages::new(&facts.zones);
    let end = period.end.min(now);
    let mut by_row: HashMap<i64, Tally> = HashMap::new();
    for n in &facts.nodes {
        if let Some(row) = villages.row_of(n.zone_id) {
            by_row
                .entry(row)
                .or_default()
                .add_node(n, period.start, end);
        }
    }
    for d in &facts.deliveries {
        if let Some(row) = villages.row_of(d.zone_id) {
            by_row.entry(row).or_default().add_delivery(d);
        }
    }
    villages
        .rows
        .iter()
        .filter_map(|z| {
            let t = by_row.remove(&z.id).unwrap_or_default();
            (!villages.is_top(z.id) || t != Tally::default()).then(|| (z.clone(), t))
        })
        .collect()
}

/// The report as the API answers it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    /// When it was counted, in the commune's time zone: the numbers are as of then.
    pub generated_at: DateTime<FixedOffset>,
    pub villages: Vec<VillageRow>,
    /// Over the rows above.
    pub total: Numbers,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct VillageRow {
    pub zone_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub numbers: Numbers,
}

/// One row's numbers as shown: counts, then rounded minutes, hours and percentages (one
/// decimal). Percentages are `null` when there is nothing to divide by.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Numbers {
    pub nodes: u64,
    pub targeted: u64,
    pub played: u64,
    pub failed: u64,
    pub missed: u64,
    pub cancelled: u64,
    pub pending: u64,
    pub coverage_percent: Option<f64>,
    pub emergencies: u64,
    pub emergencies_played: u64,
    pub minutes_on_air: f64,
    pub online_hours: f64,
    pub node_hours: f64,
    pub online_percent: Option<f64>,
}

/// To one decimal.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl From<&Tally> for Numbers {
    fn from(t: &Tally) -> Numbers {
        const HOUR_MS: f64 = 3_600_000.0;
        Numbers {
            nodes: t.nodes,
            targeted: t.targeted,
            played: t.played,
            failed: t.failed,
            missed: t.missed,
            cancelled: t.cancelled,
            pending: t.pending,
            coverage_percent: t.coverage().map(|c| round1(c * 100.0)),
            emergencies: t.emergencies,
            emergencies_played: t.emergencies_played,
            minutes_on_air: round1(t.airtime_ms as f64 / 60_000.0),
            online_hours: round1(t.online_ms as f64 / HOUR_MS),
            node_hours: round1(t.node_ms as f64 / HOUR_MS),
            online_percent: t.online_share().map(|s| round1(s * 100.0)),
        }
    }
}

impl Report {
    /// The report over `rows` (those the asking account may see), with their total.
    pub fn new(
        period: &Period,
        tz: Tz,
        generated_at: DateTime<Utc>,
        rows: &[(Zone, Tally)],
    ) -> Report {
        let mut total = Tally::default();
        for (_, t) in rows {
            total.add(t);
        }
        Report {
            from: period.from,
            to: period.to,
            time_zone: tz.name().to_owned(),
            generated_at: generated_at.with_timezone(&tz).fixed_offset(),
            villages: rows
                .iter()
                .map(|(z, t)| VillageRow {
                    zone_id: z.id,
                    name: z.name.clone(),
                    numbers: t.into(),
                })
                .collect(),
            total: (&total).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use loa_protocol::{Priority, Stage};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_are_whole_local_days() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let today = day("2026-11-24");
        let p = Period::parse(Some("2026-11-24"), None, today, tz).unwrap();
        assert_eq!(
            p.start,
            Utc.with_ymd_and_hms(2026, 11, 23, 17, 0, 0).unwrap()
        );
        assert_eq!(p.end, Utc.with_ymd_and_hms(2026, 11, 24, 17, 0, 0).unwrap());
        assert_eq!(
            Period::parse(None, None, today, tz).unwrap(),
            p,
            "today by default"
        );
        let year = Period::parse(Some("2024-01-01"), Some("2024-12-31"), today, tz).unwrap();
        assert_eq!((year.end - year.start).num_days(), 366, "a leap year fits");
    }

    #[test]
    fn bad_periods_say_what_is_wrong() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let today = day("2026-11-24");
        // (from, to, code, words the message holds)
        let cases: &[(Option<&str>, Option<&str>, &str, &str)] = &[
            (
                Some("24/11/2026"),
                None,
                "report.bad_date",
                "from must be a date written YYYY-MM-DD",
            ),
            (Some("2026-1-5"), None, "report.bad_date", "2026-1-5"),
            (Some("2026-02-30"), None, "report.bad_date", "2026-02-30"),
            (
                Some("2026-11-24"),
                Some("tomorrow"),
                "report.bad_date",
                "to must be",
            ),
            (
                Some("2026-11-25"),
                Some("2026-11-24"),
                "report.backwards",
                "from 2026-11-25 is after to 2026-11-24",
            ),
            (
                Some("2025-01-01"),
                Some("2026-01-02"),
                "report.too_long",
                "at most 366 days; 2025-01-01 to 2026-01-02 is 367",
            ),
        ];
        for (from, to, code, says) in cases {
            let e = Period::parse(*from, *to, today, tz).unwrap_err();
            assert_eq!(e.code(), *code, "{from:?} {to:?}");
            assert!(e.to_string().contains(says), "{e}");
        }
        assert!(
            Period::parse(Some("2025-01-01"), Some("2026-01-01"), today, tz).is_ok(),
            "366 days"
        );
    }

    fn zone(id: i64, name: &str, parent: Option<i64>) -> Zone {
        Zone {
            id,
            name: name.into(),
            parent_id: parent,
        }
    }

    #[test]
    fn tallies_go_to_villages_and_the_total_sums_them() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let p = Period::new(day("2026-11-24"), day("2026-11-24"), tz).unwrap();
        let before = p.start - Duration::days(30);
        let facts = Facts {
            zones: vec![
                zone(1, "Xã Tả Lùng", None),
                zone(2, "Thôn Nà Sài", Some(1)),
                zone(3, "Bản Phiêng", Some(1)),
                zone(4, "Cụm đầu thôn", Some(2)),
                zone(5, "Bản Cốc", Some(1)),
            ],
            nodes: vec![
                NodeFact {
                    zone_id: 2,
                    created_at: before,
                    presence: vec![(before, true)],
                },
                NodeFact {
                    zone_id: 4,
                    created_at: before,
                    presence: vec![],
                },
                NodeFact {
                    zone_id: 3,
                    created_at: before,
                    presence: vec![(before, true), (p.start + Duration::hours(6), false)],
                },
            ],
            deliveries: [(4, Stage::Played), (2, Stage::Missed), (3, Stage::Played)]
                .into_iter()
                .map(|(zone_id, stage)| DeliveryFact {
                    zone_id,
                    stage,
                    priority: Priority::Normal,
                    playing_at: None,
                    played_at: None,
                    preempted: false,
                    media_ms: 60_000,
                })
                .collect(),
        };
        // The report is asked for at 12:00 local on the day itself.
        let now = p.start + Duration::hours(12);
        let rows = village_tallies(&facts, &p, now);
        let names: Vec<&str> = rows.iter().map(|(z, _)| z.name.as_str()).collect();
        assert_eq!(
            names,
            ["Bản Cốc", "Bản Phiêng", "Thôn Nà Sài"],
            "no row for the commune"
        );
        let report = Report::new(&p, tz, now, &rows);
        let na_sai = &report.villages[2].numbers;
        assert_eq!(
            (
                na_sai.nodes,
                na_sai.targeted,
                na_sai.played,
                na_sai.failed,
                na_sai.missed
            ),
            (2, 2, 1, 1, 1),
            "the cluster's node counts for its village"
        );
        assert_eq!(
            (
                na_sai.node_hours,
                na_sai.online_hours,
                na_sai.online_percent
            ),
            (24.0, 12.0, Some(50.0))
        );
        assert_eq!(na_sai.coverage_percent, Some(50.0));
        let coc = &report.villages[0].numbers;
        assert_eq!(
            (coc.nodes, coc.coverage_percent, coc.online_percent),
            (0, None, None)
        );
        let t = &report.total;
        assert_eq!(
            (t.nodes, t.targeted, t.played, t.minutes_on_air),
            (3, 3, 2, 2.0)
        );
        assert_eq!(
            (t.online_hours, t.node_hours, t.online_percent),
            (18.0, 36.0, Some(50.0))
        );
        assert_eq!(t.coverage_percent, Some(66.7));
        assert_eq!(
            report.generated_at.to_rfc3339(),
            "2026-11-24T12:00:00+07:00"
        );
    }
}
