//! Schedules and their materialisation into occurrences, plus the zones' quiet hours.
//!
//! Materialising is idempotent: an occurrence is unique per (schedule, revision, instant), and
//! a schedule's occurrences and its `materialized_until` mark are written in one transaction,
//! so a crash half-way (even `kill -9`) neither duplicates nor skips an occurrence.
//!
//! Over 500 lines: creating, editing and materialising a schedule share one transaction
//! discipline (occurrences and the `materialized_until` mark together), kept in one file.

use chrono::{DateTime, NaiveTime, Utc};
use loa_protocol::Priority;
use serde::Serialize;
use std::collections::HashMap;

use super::occurrences::cancel_in;
use super::{ts, Result, Store, StoreError};
use crate::delivery::Delivery;
use crate::schedule::rule::{QuietHours, Recurrence};

/// Where a schedule was defined.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Api,
    File,
}

/// A schedule's life: `draft` waits for approval; only `active` ones reach nodes.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Active,
    Paused,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Active => "active",
            Status::Paused => "paused",
            Status::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Result<Status> {
        Ok(match s {
            "draft" => Status::Draft,
            "active" => Status::Active,
            "paused" => Status::Paused,
            "cancelled" => Status::Cancelled,
            other => return Err(StoreError::Invalid(format!("bad stored status {other:?}"))),
        })
    }
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct ScheduleRow {
    pub id: i64,
    pub name: String,
    pub announcement_id: i64,
    pub priority: Priority,
    pub recurrence: Recurrence,
    pub expires_in_minutes: i64,
    pub status: Status,
    pub source: Source,
    pub source_file: Option<String>,
    pub source_line: Option<i64>,
    pub revision: i64,
    pub materialized_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    /// The account that wrote it (none for a file's, or one made before this was kept).
    pub created_by: Option<String>,
    /// The admin who approved it.
    pub approved_by: Option<String>,
    /// An admin sent the draft back to its author: who, why and when. Cleared by the next edit.
    pub returned: Option<SentBack>,
    pub zone_ids: Vec<i64>,
}

/// A draft an admin sent back to its author, with the reason.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct SentBack {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What a schedule says; the same for creating and editing.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub announcement_id: i64,
    pub priority: Priority,
    pub recurrence: Recurrence,
    pub expires_in_minutes: i64,
    pub zone_ids: Vec<i64>,
}

/// One airing to write: when, until when, which nodes, and (for one that fell while the
/// controller was down, past the grace window) why it is already missed.
#[derive(Debug, Clone)]
pub struct Firing {
    pub start_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub nodes: Vec<String>,
    pub missed: Option<String>,
}

/// A `schedules` row as stored: priority, status and source as text, the recurrence as JSON.
#[derive(sqlx::FromRow)]
struct ScheduleRecord {
    id: i64,
    name: String,
    announcement_id: i64,
    priority: String,
    recurrence: String,
    expires_in_minutes: i64,
    status: String,
    source: String,
    source_file: Option<String>,
    source_line: Option<i64>,
    revision: i64,
    materialized_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    approved_at: Option<DateTime<Utc>>,
    created_by: Option<String>,
    approved_by: Option<String>,
    returned_by: Option<String>,
    returned_reason: Option<String>,
    returned_at: Option<DateTime<Utc>>,
}

/// A zone's quiet hours as stored, `HH:MM` text.
#[derive(sqlx::FromRow)]
struct ZoneQuietRecord {
    id: i64,
    parent_id: Option<i64>,
    quiet_start: Option<String>,
    quiet_end: Option<String>,
}

/// A zone with its quiet hours, for working out each node's effective quiet hours.
#[derive(Debug, Clone)]
pub struct ZoneQuiet {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub quiet: Option<QuietHours>,
}

/// The quiet hours `zone` follows, with the zone they are set on: its own, else the nearest
/// zone above that has some.
pub fn effective_quiet(zones: &HashMap<i64, ZoneQuiet>, zone: i64) -> Option<(i64, QuietHours)> {
    let mut seen = Vec::new();
    let mut cur = Some(zone);
    while let Some(z) = cur {
        if seen.contains(&z) {
            break;
        }
        seen.push(z);
        let here = zones.get(&z)?;
        if let Some(q) = here.quiet {
            return Some((z, q));
        }
        cur = here.parent_id;
    }
    None
}

impl Store {
    pub async fn create_schedule(
        &self,
        spec: &ScheduleSpec,
        status: Status,
        source: Source,
        file: Option<(&str, i64)>,
        author: Option<&str>,
    ) -> Result<ScheduleRow> {
        self.check_spec(spec).await?;
        let now = ts(Utc::now());
        let mut tx = self.write_tx().await?;
        let id = sqlx::query(
            "INSERT INTO schedules (name, announcement_id, priority, recurrence, expires_in_minutes, status,
                                    source, source_file, source_line, created_at, updated_at, approved_at,
                                    created_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&spec.name)
        .bind(spec.announcement_id)
        .bind(spec.priority.as_str())
        .bind(serde_json::to_string(&spec.recurrence).expect("recurrence serialises"))
        .bind(spec.expires_in_minutes)
        .bind(status.as_str())
        .bind(match source {
            Source::Api => "api",
            Source::File => "file",
        })
        .bind(file.map(|f| f.0))
        .bind(file.map(|f| f.1))
        .bind(&now)
        .bind(&now)
        .bind((status == Status::Active).then_some(&now))
        .bind(author)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        insert_zones(&mut tx, id, &spec.zone_ids).await?;
        tx.commit().await?;
        self.schedule(id).await
    }

    async fn check_spec(&self, spec: &ScheduleSpec) -> Result<()> {
        crate::limits::SCHEDULE_NAME.check(&spec.name)?;
        if spec.zone_ids.is_empty() {
            return Err(StoreError::Invalid("choose at least one zone".into()));
        }
        if !(1..=7 * 24 * 60).contains(&spec.expires_in_minutes) {
            return Err(StoreError::Invalid(
                "expires_in_minutes is 1 to 10080 (a week)".into(),
            ));
        }
        spec.recurrence
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.announcement(spec.announcement_id).await?;
        for z in &spec.zone_ids {
            self.zone(*z).await?;
        }
        Ok(())
    }

    /// Replaces what a schedule says. Its future occurrences are withdrawn (their deliveries
    /// end `cancelled`) and it is materialised again from now under a new revision. Returns
    /// the nodes whose plans change.
    pub async fn update_schedule(&self, id: i64, spec: &ScheduleSpec) -> Result<Vec<String>> {
        self.check_spec(spec).await?;
        let current = self.schedule(id).await?;
        if current.status == Status::Cancelled {
            return Err(StoreError::Conflict(format!("schedule {id} is cancelled")));
        }
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let touched = withdraw_future(&mut tx, id, now, "the schedule was changed").await?;
        sqlx::query(
            "UPDATE schedules SET name = ?, announcement_id = ?, priority = ?, recurrence = ?,
                    expires_in_minutes = ?, revision = revision + 1, materialized_until = ?, updated_at = ?,
                    returned_by = NULL, returned_reason = NULL, returned_at = NULL
             WHERE id = ?",
        )
        .bind(&spec.name)
        .bind(spec.announcement_id)
        .bind(spec.priority.as_str())
        .bind(serde_json::to_string(&spec.recurrence).expect("recurrence serialises"))
        .bind(spec.expires_in_minutes)
        .bind(ts(now))
        .bind(ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM schedule_zones WHERE schedule_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_zones(&mut tx, id, &spec.zone_ids).await?;
        tx.commit().await?;
        Ok(touched)
    }

    /// Moves a schedule to `to`. Pausing or cancelling withdraws its future occurrences;
    /// resuming and approving start it from now (what fell in a pause is not played). Returns
    /// the nodes whose plans change.
    pub async fn set_schedule_status(&self, id: i64, to: Status) -> Result<Vec<String>> {
        self.set_schedule_status_by(id, to, None).await
    }

    /// As [`Store::set_schedule_status`], naming the admin when a draft is approved.
    pub async fn set_schedule_status_by(
        &self,
        id: i64,
        to: Status,
        by: Option<&str>,
    ) -> Result<Vec<String>> {
        let s = self.schedule(id).await?;
        let allowed = matches!(
            (s.status, to),
            (Status::Draft, Status::Active)
                | (Status::Active, Status::Paused)
                | (Status::Paused, Status::Active)
                | (
                    Status::Draft | Status::Active | Status::Paused,
                    Status::Cancelled
                )
        );
        if !allowed {
            return Err(StoreError::Conflict(format!(
                "schedule {id} is {}; it cannot become {}",
                s.status.as_str(),
                to.as_str()
            )));
        }
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let touched = match to {
            Status::Paused => withdraw_future(&mut tx, id, now, "the schedule was paused").await?,
            Status::Cancelled => {
                withdraw_future(&mut tx, id, now, "the schedule was cancelled").await?
            }
            _ => Vec::new(),
        };
        let approved = (s.status == Status::Draft && to == Status::Active).then(|| ts(now));
        sqlx::query(
            "UPDATE schedules SET status = ?, revision = revision + 1, materialized_until = ?,
                    updated_at = ?, approved_at = COALESCE(?, approved_at),
                    approved_by = CASE WHEN ? IS NULL THEN approved_by ELSE ? END
             WHERE id = ?",
        )
        .bind(to.as_str())
        .bind(ts(now))
        .bind(ts(now))
        .bind(&approved)
        .bind(&approved)
        .bind(approved.as_ref().and(by))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(touched)
    }

    pub async fn schedule(&self, id: i64) -> Result<ScheduleRow> {
        let row = sqlx::query_as::<_, ScheduleRecord>("SELECT * FROM schedules WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("schedule {id}")))?;
        self.schedule_from(row).await
    }

    pub async fn schedules(&self) -> Result<Vec<ScheduleRow>> {
        let rows = sqlx::query_as::<_, ScheduleRecord>("SELECT * FROM schedules ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.schedule_from(r).await?);
        }
        Ok(out)
    }

    /// The schedule a file defined under this name, if any.
    pub async fn file_schedule(&self, file: &str, name: &str) -> Result<Option<ScheduleRow>> {
        let row = sqlx::query_as::<_, ScheduleRecord>(
            "SELECT * FROM schedules WHERE source = 'file' AND source_file = ? AND name = ?",
        )
        .bind(file)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(self.schedule_from(r).await?)),
            None => Ok(None),
        }
    }

    async fn schedule_from(&self, row: ScheduleRecord) -> Result<ScheduleRow> {
        let zone_ids = sqlx::query_scalar(
            "SELECT zone_id FROM schedule_zones WHERE schedule_id = ? ORDER BY zone_id",
        )
        .bind(row.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ScheduleRow {
            id: row.id,
            name: row.name,
            announcement_id: row.announcement_id,
            priority: row.priority.parse().map_err(StoreError::Invalid)?,
            recurrence: serde_json::from_str(&row.recurrence)
                .map_err(|e| StoreError::Invalid(format!("bad stored recurrence: {e}")))?,
            expires_in_minutes: row.expires_in_minutes,
            status: Status::parse(&row.status)?,
            source: if row.source == "file" {
                Source::File
            } else {
                Source::Api
            },
            source_file: row.source_file,
            source_line: row.source_line,
            revision: row.revision,
            materialized_until: row.materialized_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
            approved_at: row.approved_at,
            created_by: row.created_by,
            approved_by: row.approved_by,
            returned: match (row.returned_by, row.returned_reason, row.returned_at) {
                (Some(by), Some(reason), Some(at)) => Some(SentBack { by, reason, at }),
                _ => None,
            },
            zone_ids,
        })
    }

    /// An admin sends a draft back to its author with a reason; it stays a draft.
    pub async fn send_back_schedule(&self, id: i64, by: &str, reason: &str) -> Result<()> {
        let r = sqlx::query(
            "UPDATE schedules SET returned_by = ?, returned_reason = ?, returned_at = ?, updated_at = ?
             WHERE id = ? AND status = 'draft'",
        )
        .bind(by)
        .bind(reason)
        .bind(ts(Utc::now()))
        .bind(ts(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            self.schedule(id).await?;
            return Err(StoreError::Conflict(format!(
                "schedule {id} is not a draft awaiting approval"
            )));
        }
        Ok(())
    }

    /// Writes a schedule's firings and moves its `materialized_until` to `until`, in one
    /// transaction. A firing already written (same schedule, revision and instant) is skipped.
    /// Nothing is written if the schedule changed revision meanwhile. Returns the nodes that got
    /// new deliveries.
    pub async fn materialize(
        &self,
        s: &ScheduleRow,
        firings: &[Firing],
        until: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let moved = sqlx::query(
            "UPDATE schedules SET materialized_until = ? WHERE id = ? AND revision = ? AND status = 'active'",
        )
        .bind(ts(until))
        .bind(s.id)
        .bind(s.revision)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let mut touched = Vec::new();
        for f in firings {
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO occurrences
                    (announcement_id, priority, start_at, expires_at, created_at, schedule_id, schedule_revision)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(s.announcement_id)
            .bind(s.priority.as_str())
            .bind(ts(f.start_at))
            .bind(ts(f.expires_at))
            .bind(ts(now))
            .bind(s.id)
            .bind(s.revision)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                continue;
            }
            let occ = inserted.last_insert_rowid();
            for z in &s.zone_ids {
                sqlx::query("INSERT INTO occurrence_zones (occurrence_id, zone_id) VALUES (?, ?)")
                    .bind(occ)
                    .bind(z)
                    .execute(&mut *tx)
                    .await?;
            }
            for n in &f.nodes {
                insert_delivery(&mut tx, occ, n, now, f.missed.as_deref()).await?;
                if f.missed.is_none() && !touched.contains(n) {
                    touched.push(n.clone());
                }
            }
        }
        tx.commit().await?;
        Ok(touched)
    }

    /// Future occurrences of active schedules that target `zone_ids` (or any zone above a
    /// node's zone): (occurrence id, start, priority). For a node added after materialisation.
    pub async fn future_schedule_occurrences(
        &self,
        zone_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, DateTime<Utc>, Priority)>> {
        let mut out = Vec::new();
        for z in zone_ids {
            let rows = sqlx::query_as::<_, (i64, DateTime<Utc>, String)>(
                "SELECT DISTINCT o.id, o.start_at, o.priority FROM occurrences o
                 JOIN schedules s ON s.id = o.schedule_id AND s.revision = o.schedule_revision
                 JOIN occurrence_zones oz ON oz.occurrence_id = o.id
                 WHERE oz.zone_id = ? AND s.status = 'active' AND o.cancelled_at IS NULL AND o.start_at > ?",
            )
            .bind(z)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
            for (id, start_at, priority) in rows {
                if out.iter().any(|(o, _, _)| *o == id) {
                    continue;
                }
                out.push((id, start_at, priority.parse().map_err(StoreError::Invalid)?));
            }
        }
        Ok(out)
    }

    /// Adds a `planned` delivery of an existing occurrence for one node (a node added later).
    pub async fn add_delivery(&self, occurrence_id: i64, node_id: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_delivery(&mut conn, occurrence_id, node_id, Utc::now(), None).await
    }

    /// Every zone with its own quiet hours (if set).
    pub async fn zones_quiet(&self) -> Result<Vec<ZoneQuiet>> {
        let rows = sqlx::query_as::<_, ZoneQuietRecord>(
            "SELECT id, parent_id, quiet_start, quiet_end FROM zones",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let quiet = match (r.quiet_start, r.quiet_end) {
                    (Some(a), Some(b)) => Some(QuietHours {
                        start: parse_hhmm(&a)?,
                        end: parse_hhmm(&b)?,
                    }),
                    _ => None,
                };
                Ok(ZoneQuiet {
                    id: r.id,
                    parent_id: r.parent_id,
                    quiet,
                })
            })
            .collect()
    }

    pub async fn set_quiet_hours(&self, zone_id: i64, quiet: Option<QuietHours>) -> Result<()> {
        self.zone(zone_id).await?;
        sqlx::query("UPDATE zones SET quiet_start = ?, quiet_end = ? WHERE id = ?")
            .bind(quiet.map(|q| q.start.format("%H:%M").to_string()))
            .bind(quiet.map(|q| q.end.format("%H:%M").to_string()))
            .bind(zone_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Live nodes with their zone: (node id, zone id).
    pub async fn node_zones(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT id, zone_id FROM nodes WHERE revoked_at IS NULL")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

async fn insert_zones(
    conn: &mut sqlx::SqliteConnection,
    schedule_id: i64,
    zone_ids: &[i64],
) -> Result<()> {
    for z in zone_ids {
        sqlx::query("INSERT OR IGNORE INTO schedule_zones (schedule_id, zone_id) VALUES (?, ?)")
            .bind(schedule_id)
            .bind(z)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert_delivery(
    conn: &mut sqlx::SqliteConnection,
    occurrence_id: i64,
    node_id: &str,
    now: DateTime<Utc>,
    missed: Option<&str>,
) -> Result<()> {
    let d = match missed {
        Some(reason) => Delivery::missed(now, reason),
        None => Delivery::planned(now),
    };
    super::occurrences::insert_delivery(conn, occurrence_id, node_id, &d).await
}

/// Cancels a schedule's occurrences that have not started yet; returns the nodes touched.
async fn withdraw_future(
    conn: &mut sqlx::SqliteConnection,
    schedule_id: i64,
    now: DateTime<Utc>,
    reason: &str,
) -> Result<Vec<String>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM occurrences WHERE schedule_id = ? AND start_at > ? AND cancelled_at IS NULL",
    )
    .bind(schedule_id)
    .bind(ts(now))
    .fetch_all(&mut *conn)
    .await?;
    let mut touched: Vec<String> = Vec::new();
    for id in ids {
        for n in cancel_in(conn, id, reason, now).await?.unwrap_or_default() {
            if !touched.contains(&n) {
                touched.push(n);
            }
        }
    }
    Ok(touched)
}

fn parse_hhmm(s: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|e| StoreError::Invalid(format!("bad stored time {s:?}: {e}")))
}
