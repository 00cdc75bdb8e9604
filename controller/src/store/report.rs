//! What the delivery report counts, read for one period: the zones, every node in service
//! during the period (a decommissioned one until it was taken out) with its presence
//! history, and every delivery whose occurrence starts in the period. The counting
//! itself is [`crate::report`].

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::{ts, Result, Store, StoreError};
use crate::report::online::Change;
use crate::report::tally::{DeliveryFact, NodeFact};
use crate::report::Facts;

impl Store {
    /// The facts for the period `[start, end)`.
    pub async fn report_facts(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Facts> {
        let zones = self.zones().await?;
        let mut presence = self.presence_history(start, end).await?;
        // A node decommissioned since still counts for the time it served.
        let nodes = sqlx::query_as::<_, (String, i64, DateTime<Utc>)>(
            "SELECT id, zone_id, created_at FROM nodes WHERE revoked_at IS NULL OR revoked_at > ?",
        )
        .bind(ts(start))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|(id, zone_id, created_at)| NodeFact {
            zone_id,
            created_at,
            presence: presence.remove(&id).unwrap_or_default(),
        })
        .collect();
        let rows = sqlx::query_as::<_, DeliveryRecord>(
            "SELECT n.zone_id, d.stage, o.priority, d.playing_at, d.played_at, d.preempted_at,
                    COALESCE(m.duration_ms, a.relay_secs * 1000) AS duration_ms
             FROM deliveries d
             JOIN nodes n ON n.id = d.node_id
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN announcements a ON a.id = o.announcement_id
             LEFT JOIN media m ON m.sha256 = a.media_sha256
             WHERE o.start_at >= ? AND o.start_at < ?",
        )
        .bind(ts(start))
        .bind(ts(end))
        .fetch_all(&self.pool)
        .await?;
        let deliveries = rows
            .into_iter()
            .map(|r| {
                Ok(DeliveryFact {
                    zone_id: r.zone_id,
                    stage: r.stage.parse().map_err(StoreError::Invalid)?,
                    priority: r.priority.parse().map_err(StoreError::Invalid)?,
                    playing_at: r.playing_at,
                    played_at: r.played_at,
                    preempted: r.preempted_at.is_some(),
                    media_ms: r.duration_ms.max(0) as u64,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Facts {
            zones,
            nodes,
            deliveries,
        })
    }

    /// Each node's presence changes before `end`, in order: the last one before `start` (how
    /// the node stood when the period began), then those within it.
    pub async fn presence_history(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<Change>>> {
        let rows = sqlx::query_as::<_, (String, DateTime<Utc>, String, i64)>(
            "SELECT node_id, at, presence, id FROM (
                SELECT node_id, at, presence, id,
                       ROW_NUMBER() OVER (PARTITION BY node_id ORDER BY at DESC, id DESC) AS back
                FROM presence_log WHERE at < ?
             ) WHERE back = 1
             UNION ALL
             SELECT node_id, at, presence, id FROM presence_log WHERE at >= ? AND at < ?
             ORDER BY node_id, at, id",
        )
        .bind(ts(start))
        .bind(ts(start))
        .bind(ts(end))
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<Change>> = HashMap::new();
        for (node_id, at, presence, _) in rows {
            out.entry(node_id)
                .or_default()
                .push((at, presence == "online"));
        }
        Ok(out)
    }
}

/// One delivery as the report counts it.
#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    zone_id: i64,
    stage: String,
    priority: String,
    playing_at: Option<DateTime<Utc>>,
    played_at: Option<DateTime<Utc>>,
    preempted_at: Option<String>,
    duration_ms: i64,
}
