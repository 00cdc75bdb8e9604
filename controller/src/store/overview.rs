//! What the staff pages read at a glance: the occurrences within a time window (a day's
//! programme, a week view) and the recent deliveries, those that went wrong first.

use chrono::{DateTime, Utc};
use loa_protocol::{Priority, Stage};
use serde::Serialize;

use super::occurrences::OccurrenceRow;
use super::{ts, Result, Store, StoreError};

/// One delivery in the dashboard's list of recent ones.
#[derive(Debug, Clone, Serialize)]
pub struct RecentDelivery {
    pub occurrence_id: i64,
    pub title: String,
    pub priority: Priority,
    pub start_at: DateTime<Utc>,
    pub node_id: String,
    pub node_name: String,
    pub zone_id: i64,
    pub stage: Stage,
    pub reason: Option<String>,
    /// When the delivery last moved.
    pub updated_at: DateTime<Utc>,
    pub played_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Every occurrence (one-off and scheduled) starting in `[from, to)`, by start.
    pub async fn occurrences_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<OccurrenceRow>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM occurrences WHERE start_at >= ? AND start_at < ? ORDER BY start_at, id",
        )
        .bind(ts(from))
        .bind(ts(to))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.occurrence(id).await?);
        }
        Ok(out)
    }

    /// Deliveries of occurrences that started since `since` (and not after now): failed and
    /// missed ones first, then the newest first; at most `limit`.
    pub async fn recent_deliveries(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<RecentDelivery>> {
        let rows = sqlx::query_as::<_, RecentRecord>(
            "SELECT d.occurrence_id, a.title, o.priority, o.start_at, d.node_id, n.name AS node_name,
                    n.zone_id, d.stage, d.reason, d.updated_at, d.played_at
             FROM deliveries d
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN announcements a ON a.id = o.announcement_id
             JOIN nodes n ON n.id = d.node_id
             WHERE o.start_at >= ? AND o.start_at <= ?
             ORDER BY CASE WHEN d.stage IN ('failed', 'missed') THEN 0 ELSE 1 END,
                      o.start_at DESC, d.node_id
             LIMIT ?",
        )
        .bind(ts(since))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(RecentDelivery {
                    occurrence_id: r.occurrence_id,
                    title: r.title,
                    priority: r.priority.parse().map_err(StoreError::Invalid)?,
                    start_at: r.start_at,
                    node_id: r.node_id,
                    node_name: r.node_name,
                    zone_id: r.zone_id,
                    stage: r.stage.parse().map_err(StoreError::Invalid)?,
                    reason: r.reason,
                    updated_at: r.updated_at,
                    played_at: r.played_at,
                })
            })
            .collect()
    }
}

/// A line of [`Store::recent_deliveries`]' query; priority and stage are parsed after.
#[derive(sqlx::FromRow)]
struct RecentRecord {
    occurrence_id: i64,
    title: String,
    priority: String,
    start_at: DateTime<Utc>,
    node_id: String,
    node_name: String,
    zone_id: i64,
    stage: String,
    reason: Option<String>,
    updated_at: DateTime<Utc>,
    played_at: Option<DateTime<Utc>>,
}
