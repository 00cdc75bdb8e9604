//! Occurrences (one airing of an announcement) and their deliveries (one per targeted node).
//!
//! Just over 500 lines: occurrences and their deliveries are read and written together (a
//! broadcast is one occurrence with a delivery per node, in one transaction), so they share
//! this file and its row types.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{Priority, Stage};
use serde::Serialize;
use sqlx::SqliteConnection;
use std::collections::BTreeMap;
use std::collections::HashMap;

use super::parts::PartView;
use super::{ts, Result, Store, StoreError};
use crate::delivery::Delivery;

/// How long after expiry a delivery the node has not settled stays in its plan, so that a node
/// back from a long outage can still report it `missed`.
pub const SETTLE_WINDOW_HOURS: i64 = 24;

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct OccurrenceRow {
    pub id: i64,
    pub announcement_id: i64,
    pub title: String,
    pub priority: Priority,
    pub start_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub zone_ids: Vec<i64>,
    /// The schedule that made it; absent for a one-off broadcast.
    pub schedule_id: Option<i64>,
    /// With the chime, without, or (absent) as each node says.
    pub chime: Option<bool>,
    /// 0–100, on top of each node's volume; absent is 100.
    pub volume: Option<u8>,
}

/// One line of a node's plan, as stored.
#[derive(Debug, Clone)]
pub struct PlanItemRow {
    pub occurrence_id: i64,
    pub announcement_id: i64,
    pub title: String,
    /// With the chime (`Some(true)`), without, or as the node says (`None`).
    pub chime: Option<bool>,
    /// The item's volume, 0–100.
    pub volume: u8,
    pub start_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub priority: Priority,
}

/// What a new one-off occurrence (a broadcast) says.
#[derive(Debug, Clone, Copy)]
pub struct NewOccurrence {
    pub announcement_id: i64,
    pub priority: Priority,
    pub start_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// With the chime, without, or (`None`) as each node says.
    pub chime: Option<bool>,
    /// 0–100 on top of each node's volume; `None` is 100.
    pub volume: Option<u8>,
}

/// A delivery as officials read it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub node_id: String,
    pub node_name: String,
    pub zone_id: i64,
    pub stage: Stage,
    pub reason: Option<String>,
    pub start_error_ms: Option<i64>,
    /// When each step happened, by step name.
    pub times: BTreeMap<Stage, DateTime<Utc>>,
    /// What the item holds on this node (chime, each language) and when each part played.
    pub parts: Vec<PartView>,
    /// For a relay or a live session, once on air: how long the village had it, and every
    /// gap the node reported with its cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_air: Option<super::events::OnAir>,
}

fn stage_column(stage: Stage) -> &'static str {
    match stage {
        Stage::Planned => "planned_at",
        Stage::Received => "received_at",
        Stage::Ready => "ready_at",
        Stage::Playing => "playing_at",
        Stage::Played => "played_at",
        Stage::Failed => "failed_at",
        Stage::Missed => "missed_at",
        Stage::Preempted => "preempted_at",
        Stage::Cancelled => "cancelled_at",
    }
}

const DELIVERY_COLUMNS: &str =
    "stage, stage_seq, reason, start_error_ms, planned_at, received_at, \
     ready_at, playing_at, played_at, failed_at, missed_at, preempted_at, cancelled_at";

/// A delivery's [`DELIVERY_COLUMNS`] as stored: the stage as text, one time per stage.
#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    stage: String,
    /// Written from the machine's `u64` with `as i64`, read back with `as u64`.
    stage_seq: Option<i64>,
    reason: Option<String>,
    start_error_ms: Option<i64>,
    planned_at: Option<DateTime<Utc>>,
    received_at: Option<DateTime<Utc>>,
    ready_at: Option<DateTime<Utc>>,
    playing_at: Option<DateTime<Utc>>,
    played_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    missed_at: Option<DateTime<Utc>>,
    preempted_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
}

impl DeliveryRecord {
    /// The time of `stage`, from its column (the fields mirror [`stage_column`]).
    fn time(&self, stage: Stage) -> Option<DateTime<Utc>> {
        match stage {
            Stage::Planned => self.planned_at,
            Stage::Received => self.received_at,
            Stage::Ready => self.ready_at,
            Stage::Playing => self.playing_at,
            Stage::Played => self.played_at,
            Stage::Failed => self.failed_at,
            Stage::Missed => self.missed_at,
            Stage::Preempted => self.preempted_at,
            Stage::Cancelled => self.cancelled_at,
        }
    }

    /// The machine's delivery and the start error.
    fn into_delivery(self) -> Result<(Delivery, Option<i64>)> {
        let stage = self.stage.parse::<Stage>().map_err(StoreError::Invalid)?;
        let times = Stage::ALL
            .into_iter()
            .filter_map(|st| self.time(st).map(|t| (st, t)))
            .collect();
        let d = Delivery {
            stage,
            stage_seq: self.stage_seq.map(|s| s as u64),
            reason: self.reason,
            times,
        };
        Ok((d, self.start_error_ms))
    }
}

/// An `occurrences` row with its announcement's title; the priority is text.
#[derive(sqlx::FromRow)]
struct OccurrenceRecord {
    id: i64,
    announcement_id: i64,
    title: String,
    priority: String,
    start_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
    schedule_id: Option<i64>,
    chime: Option<bool>,
    volume: Option<u8>,
}

/// One line of [`Store::plan_items_for`]'s query.
#[derive(sqlx::FromRow)]
struct PlanItemRecord {
    node_id: String,
    id: i64,
    announcement_id: i64,
    title: String,
    chime: Option<bool>,
    volume: Option<u8>,
    start_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    priority: String,
}

/// One line of [`Store::deliveries_of`]'s query.
#[derive(sqlx::FromRow)]
struct DeliveryViewRecord {
    node_id: String,
    node_name: String,
    zone_id: i64,
    #[sqlx(flatten)]
    delivery: DeliveryRecord,
}

/// Loads one delivery inside a transaction.
pub async fn load_delivery(
    conn: &mut SqliteConnection,
    occurrence_id: i64,
    node_id: &str,
) -> Result<Option<(Delivery, Option<i64>)>> {
    let row = sqlx::query_as::<_, DeliveryRecord>(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE occurrence_id = ? AND node_id = ?"
    ))
    .bind(occurrence_id)
    .bind(node_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(DeliveryRecord::into_delivery).transpose()
}

/// Writes a new delivery inside a transaction, as the machine made it ([`Delivery::planned`],
/// [`Delivery::missed`]); one already there for the (occurrence, node) is left as it is.
pub async fn insert_delivery(
    conn: &mut SqliteConnection,
    occurrence_id: i64,
    node_id: &str,
    d: &Delivery,
) -> Result<()> {
    let sql = format!(
        "INSERT OR IGNORE INTO deliveries (occurrence_id, node_id, stage, stage_seq, reason, {}, updated_at)
         VALUES (?, ?, ?, ?, ?, {}, ?)",
        Stage::ALL
            .iter()
            .map(|s| stage_column(*s))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; Stage::ALL.len()].join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(occurrence_id)
        .bind(node_id)
        .bind(d.stage.as_str())
        .bind(d.stage_seq.map(|s| s as i64))
        .bind(&d.reason);
    for st in Stage::ALL {
        q = q.bind(d.times.get(&st).map(|t| ts(*t)));
    }
    let updated = d.times.values().max().copied().unwrap_or_else(Utc::now);
    q.bind(ts(updated)).execute(&mut *conn).await?;
    Ok(())
}

/// Writes a delivery back inside a transaction.
pub async fn save_delivery(
    conn: &mut SqliteConnection,
    occurrence_id: i64,
    node_id: &str,
    d: &Delivery,
    start_error_ms: Option<i64>,
) -> Result<()> {
    let sql = format!(
        "UPDATE deliveries SET stage = ?, stage_seq = ?, reason = ?, start_error_ms = ?, {}, updated_at = ?
         WHERE occurrence_id = ? AND node_id = ?",
        Stage::ALL
            .iter()
            .map(|s| format!("{} = ?", stage_column(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(d.stage.as_str())
        .bind(d.stage_seq.map(|s| s as i64))
        .bind(&d.reason)
        .bind(start_error_ms);
    for st in Stage::ALL {
        q = q.bind(d.times.get(&st).map(|t| ts(*t)));
    }
    q.bind(ts(Utc::now()))
        .bind(occurrence_id)
        .bind(node_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Creates an occurrence and a `planned` delivery for each node, in one transaction.
    pub async fn create_occurrence(
        &self,
        new: &NewOccurrence,
        zone_ids: &[i64],
        node_ids: &[String],
    ) -> Result<OccurrenceRow> {
        let NewOccurrence {
            announcement_id,
            priority,
            start_at,
            expires_at,
            chime,
            volume,
        } = *new;
        if volume.is_some_and(|v| v > 100) {
            return Err(StoreError::Invalid("volume is 0 to 100".into()));
        }
        if expires_at <= start_at {
            return Err(StoreError::Invalid(
                "the expiry must be after the start".into(),
            ));
        }
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let id = sqlx::query(
            "INSERT INTO occurrences (announcement_id, priority, start_at, expires_at, created_at, chime, volume)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(announcement_id)
        .bind(priority.as_str())
        .bind(ts(start_at))
        .bind(ts(expires_at))
        .bind(ts(now))
        .bind(chime)
        .bind(volume.map(i64::from))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        for z in zone_ids {
            sqlx::query(
                "INSERT OR IGNORE INTO occurrence_zones (occurrence_id, zone_id) VALUES (?, ?)",
            )
            .bind(id)
            .bind(z)
            .execute(&mut *tx)
            .await?;
        }
        for n in node_ids {
            insert_delivery(&mut tx, id, n, &Delivery::planned(now)).await?;
        }
        tx.commit().await?;
        self.occurrence(id).await
    }

    pub async fn occurrence(&self, id: i64) -> Result<OccurrenceRow> {
        let row = sqlx::query_as::<_, OccurrenceRecord>(
            "SELECT o.*, a.title FROM occurrences o JOIN announcements a ON a.id = o.announcement_id
             WHERE o.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("broadcast {id}")))?;
        self.occurrence_from(row).await
    }

    /// The occurrences of a schedule, by start.
    pub async fn schedule_occurrences(
        &self,
        schedule_id: i64,
        limit: i64,
    ) -> Result<Vec<OccurrenceRow>> {
        let rows = sqlx::query_as::<_, OccurrenceRecord>(
            "SELECT o.*, a.title FROM occurrences o JOIN announcements a ON a.id = o.announcement_id
             WHERE o.schedule_id = ? ORDER BY o.start_at, o.id LIMIT ?",
        )
        .bind(schedule_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.occurrences_from(rows).await
    }

    /// The newest one-off broadcasts first.
    pub async fn occurrences(&self, limit: i64) -> Result<Vec<OccurrenceRow>> {
        let rows = sqlx::query_as::<_, OccurrenceRecord>(
            "SELECT o.*, a.title FROM occurrences o JOIN announcements a ON a.id = o.announcement_id
             WHERE o.schedule_id IS NULL ORDER BY o.id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.occurrences_from(rows).await
    }

    async fn occurrences_from(&self, rows: Vec<OccurrenceRecord>) -> Result<Vec<OccurrenceRow>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.occurrence_from(r).await?);
        }
        Ok(out)
    }

    async fn occurrence_from(&self, row: OccurrenceRecord) -> Result<OccurrenceRow> {
        let zone_ids = sqlx::query_scalar(
            "SELECT zone_id FROM occurrence_zones WHERE occurrence_id = ? ORDER BY zone_id",
        )
        .bind(row.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(OccurrenceRow {
            id: row.id,
            announcement_id: row.announcement_id,
            title: row.title,
            priority: row.priority.parse().map_err(StoreError::Invalid)?,
            start_at: row.start_at,
            expires_at: row.expires_at,
            created_at: row.created_at,
            cancelled_at: row.cancelled_at,
            cancel_reason: row.cancel_reason,
            schedule_id: row.schedule_id,
            chime: row.chime,
            volume: row.volume,
            zone_ids,
        })
    }

    /// Withdraws an occurrence: every open delivery ends `cancelled`. Returns the nodes whose
    /// plans must change.
    pub async fn cancel_occurrence(&self, id: i64, reason: &str) -> Result<Vec<String>> {
        let mut tx = self.write_tx().await?;
        let Some(touched) = cancel_in(&mut tx, id, reason, Utc::now()).await? else {
            // Unknown, or already cancelled: say which.
            drop(tx);
            self.occurrence(id).await?;
            return Err(StoreError::Conflict(format!(
                "broadcast {id} is already cancelled"
            )));
        };
        tx.commit().await?;
        Ok(touched)
    }

    /// What belongs in each node's plan now: its deliveries not yet settled, not cancelled,
    /// and not long expired, in start order. One query for a whole batch of nodes.
    pub async fn plan_items_for(
        &self,
        node_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<PlanItemRow>>> {
        let marks = vec!["?"; node_ids.len()].join(", ");
        let final_stages = Delivery::final_stages_sql();
        let sql = format!(
            "SELECT d.node_id, o.id, o.announcement_id, a.title, o.chime, o.volume, o.start_at,
                    o.expires_at, o.priority
             FROM deliveries d
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN announcements a ON a.id = o.announcement_id
             WHERE d.node_id IN ({marks}) AND d.stage NOT IN ({final_stages})
               AND o.cancelled_at IS NULL AND o.expires_at > ?
             ORDER BY o.start_at, o.id"
        );
        let mut q = super::batch_query_as::<PlanItemRecord>(&sql);
        for id in node_ids {
            q = q.bind(id);
        }
        let rows = q
            .bind(ts(now - Duration::hours(SETTLE_WINDOW_HOURS)))
            .fetch_all(&self.pool)
            .await?;
        let mut out: HashMap<String, Vec<PlanItemRow>> = HashMap::new();
        for r in rows {
            out.entry(r.node_id).or_default().push(PlanItemRow {
                occurrence_id: r.id,
                announcement_id: r.announcement_id,
                title: r.title,
                chime: r.chime,
                volume: r.volume.unwrap_or(100),
                start_at: r.start_at,
                expires_at: r.expires_at,
                priority: r.priority.parse().map_err(StoreError::Invalid)?,
            });
        }
        Ok(out)
    }

    /// Every delivery of an occurrence, by node.
    pub async fn deliveries_of(&self, occurrence_id: i64) -> Result<Vec<DeliveryView>> {
        let rows = sqlx::query_as::<_, DeliveryViewRecord>(&format!(
            "SELECT d.node_id, n.name AS node_name, n.zone_id, {DELIVERY_COLUMNS}
             FROM deliveries d JOIN nodes n ON n.id = d.node_id
             WHERE d.occurrence_id = ? ORDER BY n.zone_id, d.node_id"
        ))
        .bind(occurrence_id)
        .fetch_all(&self.pool)
        .await?;
        let mut parts = self.delivery_parts(occurrence_id).await?;
        rows.into_iter()
            .map(|r| {
                let (d, start_error_ms) = r.delivery.into_delivery()?;
                Ok(DeliveryView {
                    parts: parts.remove(&r.node_id).unwrap_or_default(),
                    node_id: r.node_id,
                    node_name: r.node_name,
                    zone_id: r.zone_id,
                    stage: d.stage,
                    reason: d.reason,
                    start_error_ms,
                    times: d.times,
                    on_air: None,
                })
            })
            .collect()
    }
}

/// Cancels an occurrence inside a transaction: every open delivery ends `cancelled`. Returns
/// the nodes whose plans change, or `None` if it was unknown or already cancelled.
pub async fn cancel_in(
    conn: &mut SqliteConnection,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>> {
    let r = sqlx::query(
        "UPDATE occurrences SET cancelled_at = ?, cancel_reason = ? WHERE id = ? AND cancelled_at IS NULL",
    )
    .bind(ts(now))
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    let nodes: Vec<String> =
        sqlx::query_scalar("SELECT node_id FROM deliveries WHERE occurrence_id = ?")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let mut touched = Vec::new();
    for n in nodes {
        if let Some((mut d, err)) = load_delivery(conn, id, &n).await? {
            if d.cancel(now, reason) == crate::delivery::Outcome::Moved {
                save_delivery(conn, id, &n, &d, err).await?;
                touched.push(n);
            }
        }
    }
    Ok(Some(touched))
}
