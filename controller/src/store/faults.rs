//! Faults in the store: the facts the rules in [`crate::faults`] read (each live node's
//! presence, last state, plan and last refusal; the emergencies overdue and not played), the
//! commune's thresholds, the fault history (`fault_log`, written by the sweep), and what a
//! station played in a period.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{Priority, Stage};
use serde::Serialize;
use std::collections::HashMap;

use super::{ts, Result, Store, StoreError};
use crate::faults::{
    emergency_faults, node_faults, EmergencyGap, Fault, NodeFacts, Thresholds,
    EMERGENCY_WATCH_HOURS,
};

/// One fault in a station's history.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FaultRecord {
    /// A [`crate::faults::FaultKind`] name.
    pub kind: String,
    /// The emergency's broadcast id for `emergency_not_played`, else empty.
    pub subject: String,
    pub began_at: DateTime<Utc>,
    /// Absent while it lasts.
    pub ended_at: Option<DateTime<Utc>>,
    pub detail: String,
}

/// One delivery on a station, for its page.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct StationDelivery {
    pub occurrence_id: i64,
    pub title: String,
    pub priority: Priority,
    pub start_at: DateTime<Utc>,
    pub stage: Stage,
    pub reason: Option<String>,
    pub played_at: Option<DateTime<Utc>>,
}

/// The settings that hold the thresholds.
pub const EMERGENCY_AFTER_KEY: &str = "fault_emergency_after_secs";
pub const CLOCK_OFFSET_KEY: &str = "fault_clock_offset_ms";
pub const LOW_DISK_KEY: &str = "fault_low_disk_bytes";

#[derive(sqlx::FromRow)]
struct FactsRecord {
    id: String,
    name: String,
    zone_id: i64,
    presence: String,
    last_seen: Option<DateTime<Utc>>,
    offline_since: Option<DateTime<Utc>>,
    state_json: Option<String>,
    /// Written from `u64` with `as i64`.
    plan_version: i64,
    plan_issued_at: Option<DateTime<Utc>>,
    refused_at: Option<DateTime<Utc>>,
    refused_detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct GapRecord {
    occurrence_id: i64,
    title: String,
    start_at: DateTime<Utc>,
    node_id: String,
    node_name: String,
    zone_id: i64,
    stage: String,
    reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StationRecord {
    occurrence_id: i64,
    title: String,
    priority: String,
    start_at: DateTime<Utc>,
    stage: String,
    reason: Option<String>,
    played_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct OpenRecord {
    id: i64,
    node_id: String,
    kind: String,
    subject: String,
    began_at: DateTime<Utc>,
    detail: String,
}

impl Store {
    /// The commune's fault thresholds, each with its default when unset.
    pub async fn fault_thresholds(&self) -> Result<Thresholds> {
        let d = Thresholds::default();
        let int = |v: Option<serde_json::Value>| v.and_then(|v| v.as_i64());
        Ok(Thresholds {
            emergency_after_secs: int(self.setting(EMERGENCY_AFTER_KEY).await?)
                .unwrap_or(d.emergency_after_secs),
            clock_offset_ms: int(self.setting(CLOCK_OFFSET_KEY).await?)
                .unwrap_or(d.clock_offset_ms),
            low_disk_bytes: self
                .setting(LOW_DISK_KEY)
                .await?
                .and_then(|v| v.as_u64())
                .unwrap_or(d.low_disk_bytes),
        })
    }

    /// Every live node's faults and every overdue emergency's, at `now`, most urgent first
    /// (zone paths not filled in). `since` is the evidence's where there is some.
    pub async fn faults_now(&self, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Result<Vec<Fault>> {
        let th = self.fault_thresholds().await?;
        let facts = sqlx::query_as::<_, FactsRecord>(
            "SELECT n.id, n.name, n.zone_id, n.presence, n.last_seen, n.state_json,
                    n.plan_version, n.plan_issued_at,
                    (SELECT MAX(p.at) FROM presence_log p
                     WHERE p.node_id = n.id AND p.presence = 'offline') AS offline_since,
                    s.last_at AS refused_at, s.last_detail AS refused_detail
             FROM nodes n
             LEFT JOIN security_reports s
                    ON s.node_id = n.id AND s.kind = 'plan_refused_by_node'
             WHERE n.revoked_at IS NULL
             ORDER BY n.zone_id, n.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in facts {
            let n = NodeFacts {
                id: r.id,
                name: r.name,
                zone_id: r.zone_id,
                presence: r.presence,
                last_seen: r.last_seen,
                offline_since: r.offline_since,
                // A state that does not parse says nothing.
                state: r.state_json.and_then(|s| serde_json::from_str(&s).ok()),
                plan_version: r.plan_version as u64,
                plan_issued_at: r.plan_issued_at,
                refused_at: r.refused_at,
                refused_detail: r.refused_detail,
            };
            out.extend(node_faults(&n, &th, tz));
        }
        let gaps = sqlx::query_as::<_, GapRecord>(
            "SELECT o.id AS occurrence_id, a.title, o.start_at, d.node_id, n.name AS node_name,
                    n.zone_id, d.stage, d.reason
             FROM deliveries d
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN announcements a ON a.id = o.announcement_id
             JOIN nodes n ON n.id = d.node_id
             WHERE o.priority = 'emergency' AND o.cancelled_at IS NULL
               AND o.start_at >= ? AND o.start_at <= ?
               AND d.stage NOT IN ('played', 'cancelled') AND n.revoked_at IS NULL
             ORDER BY o.start_at, o.id, n.zone_id, d.node_id",
        )
        .bind(ts(now - Duration::hours(EMERGENCY_WATCH_HOURS)))
        .bind(ts(now - Duration::seconds(th.emergency_after_secs)))
        .fetch_all(&self.pool)
        .await?;
        let gaps = gaps
            .into_iter()
            .map(|g| {
                Ok(EmergencyGap {
                    occurrence_id: g.occurrence_id,
                    title: g.title,
                    start_at: g.start_at,
                    node_id: g.node_id,
                    node_name: g.node_name,
                    zone_id: g.zone_id,
                    stage: g.stage.parse().map_err(StoreError::Invalid)?,
                    reason: g.reason,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.extend(emergency_faults(&gaps, &th, tz));
        crate::faults::sort(&mut out);
        Ok(out)
    }

    /// Brings the fault history in line with `current` at `at`: a row opens for each fault not
    /// open yet (from its `since`, else `at`), an open row's detail follows the fault's, and
    /// the rows of faults gone are closed. Returns how many opened and closed.
    pub async fn log_faults(&self, current: &[Fault], at: DateTime<Utc>) -> Result<(u64, u64)> {
        let _turn = self.bulk_write_turn().await;
        let mut tx = self.write_tx().await?;
        let open: Vec<OpenRecord> = sqlx::query_as(
            "SELECT id, node_id, kind, subject, began_at, detail FROM fault_log
             WHERE ended_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut open: HashMap<(String, String, String), OpenRecord> = open
            .into_iter()
            .map(|r| ((r.node_id.clone(), r.kind.clone(), r.subject.clone()), r))
            .collect();
        let (mut opened, mut closed) = (0, 0);
        for f in current {
            let key = (f.node_id.clone(), f.kind.as_str().to_string(), f.subject());
            match open.remove(&key) {
                Some(r) if r.detail == f.detail => {}
                Some(r) => {
                    sqlx::query("UPDATE fault_log SET detail = ? WHERE id = ?")
                        .bind(&f.detail)
                        .bind(r.id)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    let began = f.since.unwrap_or(at).min(at);
                    sqlx::query(
                        "INSERT INTO fault_log (node_id, kind, subject, began_at, detail)
                         VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(&key.0)
                    .bind(&key.1)
                    .bind(&key.2)
                    .bind(ts(began))
                    .bind(&f.detail)
                    .execute(&mut *tx)
                    .await?;
                    opened += 1;
                }
            }
        }
        for r in open.into_values() {
            sqlx::query("UPDATE fault_log SET ended_at = ? WHERE id = ?")
                .bind(ts(at.max(r.began_at)))
                .bind(r.id)
                .execute(&mut *tx)
                .await?;
            closed += 1;
        }
        tx.commit().await?;
        Ok((opened, closed))
    }

    /// When each open fault began, by (node, kind, subject).
    pub async fn open_fault_starts(
        &self,
    ) -> Result<HashMap<(String, String, String), DateTime<Utc>>> {
        let rows: Vec<OpenRecord> = sqlx::query_as(
            "SELECT id, node_id, kind, subject, began_at, detail FROM fault_log
             WHERE ended_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.node_id, r.kind, r.subject), r.began_at))
            .collect())
    }

    /// A node's fault history, the latest first; at most `limit`.
    pub async fn fault_history(&self, node: &str, limit: i64) -> Result<Vec<FaultRecord>> {
        Ok(sqlx::query_as(
            "SELECT kind, subject, began_at, ended_at, detail FROM fault_log
             WHERE node_id = ? ORDER BY began_at DESC, id DESC LIMIT ?",
        )
        .bind(node)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A node's deliveries of occurrences starting in `[from, to)`, by start.
    pub async fn station_deliveries(
        &self,
        node: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StationDelivery>> {
        let rows = sqlx::query_as::<_, StationRecord>(
            "SELECT d.occurrence_id, a.title, o.priority, o.start_at, d.stage, d.reason,
                    d.played_at
             FROM deliveries d
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN announcements a ON a.id = o.announcement_id
             WHERE d.node_id = ? AND o.start_at >= ? AND o.start_at < ?
             ORDER BY o.start_at, o.id",
        )
        .bind(node)
        .bind(ts(from))
        .bind(ts(to))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StationDelivery {
                    occurrence_id: r.occurrence_id,
                    title: r.title,
                    priority: r.priority.parse().map_err(StoreError::Invalid)?,
                    start_at: r.start_at,
                    stage: r.stage.parse().map_err(StoreError::Invalid)?,
                    reason: r.reason,
                    played_at: r.played_at,
                })
            })
            .collect()
    }
}
