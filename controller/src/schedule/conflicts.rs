//! Conflicts: before a schedule is saved, which other schedules and broadcasts would play on
//! the same nodes at overlapping times, so the clerk can decide. Nothing overlapping is
//! accepted silently.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};

use crate::schedule::rule::Recurrence;
use crate::store::schedules::{ScheduleSpec, Status};
use crate::store::{Store, StoreError};

/// How far ahead overlaps are looked for.
pub fn window() -> Duration {
    Duration::days(14)
}

/// Most overlapping times listed per conflict.
const TIMES_SHOWN: usize = 5;
/// Most firings of one rule examined.
const FIRINGS_EXAMINED: usize = 1000;

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct Conflict {
    /// `schedule` or `broadcast`.
    pub kind: &'static str,
    pub id: i64,
    pub name: String,
    pub priority: loa_protocol::Priority,
    /// The zones (paths) whose nodes both would play on.
    pub zones: Vec<String>,
    /// The first overlapping starts: (this schedule's, the other's).
    #[schema(value_type = Vec<Vec<DateTime<Utc>>>)]
    pub times: Vec<Pair>,
    /// How many overlaps in the window in all.
    pub count: usize,
}

/// A pair of overlapping starts: (this schedule's, the other's).
type Pair = (DateTime<Utc>, DateTime<Utc>);

struct Airing {
    starts: Vec<DateTime<Utc>>,
    length: Duration,
}

/// Overlaps of `spec` with the other schedules (not `exclude`) and broadcasts, from `now` for
/// [`window`].
pub async fn find(
    store: &Store,
    tz: Tz,
    spec: &ScheduleSpec,
    exclude: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Vec<Conflict>, StoreError> {
    let to = now + window();
    let mine = Airing {
        starts: fires(&spec.recurrence, tz, now, to)?,
        length: length_of(store, spec.announcement_id).await?,
    };
    let my_nodes: HashSet<String> = store
        .nodes_under(&spec.zone_ids)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::new();

    for s in store.schedules().await? {
        if Some(s.id) == exclude || !matches!(s.status, Status::Active | Status::Draft) {
            continue;
        }
        let common = common_nodes(&my_nodes, store.nodes_under(&s.zone_ids).await?);
        if common.is_empty() {
            continue;
        }
        let theirs = Airing {
            starts: fires(&s.recurrence, tz, now, to)?,
            length: length_of(store, s.announcement_id).await?,
        };
        if let Some(c) = overlap(&mine, &theirs) {
            out.push(Conflict {
                kind: "schedule",
                id: s.id,
                name: s.name.clone(),
                priority: s.priority,
                zones: zones_of(store, &common).await?,
                times: c.0,
                count: c.1,
            });
        }
    }

    for o in store.occurrences(500).await? {
        if o.cancelled_at.is_some() || o.start_at < now - Duration::hours(1) || o.start_at > to {
            continue;
        }
        let targeted: Vec<String> = store
            .deliveries_of(o.id)
            .await?
            .into_iter()
            .map(|d| d.node_id)
            .collect();
        let common = common_nodes(&my_nodes, targeted);
        if common.is_empty() {
            continue;
        }
        let theirs = Airing {
            starts: vec![o.start_at],
            length: length_of(store, o.announcement_id).await?,
        };
        if let Some(c) = overlap(&mine, &theirs) {
            out.push(Conflict {
                kind: "broadcast",
                id: o.id,
                name: o.title.clone(),
                priority: o.priority,
                zones: zones_of(store, &common).await?,
                times: c.0,
                count: c.1,
            });
        }
    }
    Ok(out)
}

fn fires(
    r: &Recurrence,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, StoreError> {
    r.fires_between(tz, from, to, FIRINGS_EXAMINED)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

async fn length_of(store: &Store, announcement_id: i64) -> Result<Duration, StoreError> {
    let ms = store.announcement_duration_ms(announcement_id).await?;
    Ok(Duration::milliseconds(ms as i64))
}

fn common_nodes(mine: &HashSet<String>, theirs: Vec<String>) -> Vec<String> {
    theirs.into_iter().filter(|n| mine.contains(n)).collect()
}

async fn zones_of(store: &Store, nodes: &[String]) -> Result<Vec<String>, StoreError> {
    let mut zones = BTreeSet::new();
    for n in nodes {
        let node = store.node(n).await?;
        zones.insert(store.zone_path(node.zone_id).await?);
    }
    Ok(zones.into_iter().collect())
}

/// The first overlapping pairs and their count: two airings overlap when one starts before the
/// other ends. Both lists are in order, so one merge pass finds them.
fn overlap(a: &Airing, b: &Airing) -> Option<(Vec<Pair>, usize)> {
    let mut shown = Vec::new();
    let mut count = 0;
    let mut j0 = 0;
    for &x in &a.starts {
        while j0 < b.starts.len() && b.starts[j0] + b.length <= x {
            j0 += 1;
        }
        let mut j = j0;
        while j < b.starts.len() && b.starts[j] < x + a.length {
            count += 1;
            if shown.len() < TIMES_SHOWN {
                shown.push((x, b.starts[j]));
            }
            j += 1;
        }
    }
    (count > 0).then_some((shown, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn airing(starts: &[i64], minutes: i64) -> Airing {
        Airing {
            starts: starts.iter().map(|m| t(*m)).collect(),
            length: Duration::minutes(minutes),
        }
    }

    #[test]
    fn overlaps_are_found_where_one_starts_before_the_other_ends() {
        // (starts, length) against (starts, length): how many overlaps.
        type Case<'a> = (&'a [i64], i64, &'a [i64], i64, usize);
        let cases: &[Case] = &[
            (&[0], 5, &[4], 5, 1),           // starts inside
            (&[0], 5, &[5], 5, 0),           // back to back is fine
            (&[10], 5, &[8], 5, 1),          // the other runs into it
            (&[0, 60, 120], 5, &[62], 1, 1), // only the middle one
            (&[0, 60], 5, &[100, 200], 5, 0),
            (&[0], 60, &[10, 20, 30], 5, 3),
        ];
        for (a, al, b, bl, want) in cases {
            let got = overlap(&airing(a, *al), &airing(b, *bl)).map_or(0, |o| o.1);
            assert_eq!(got, *want, "{a:?}+{al} vs {b:?}+{bl}");
        }
    }
}
