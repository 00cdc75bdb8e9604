//! What the delivery report counts, read for one period: the zones, every node in service
//! during the period (a decommissioned one until it was taken out) with its presence
//! history, and every delivery whose occurrence starts in the period. The counting
//! itself is [`crate::report`].

use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashMap;

use super::{parse_opt_ts, parse_ts, ts, Result, Store, StoreError};
use crate::report::online::Change;
use crate::report::tally::{DeliveryFact, NodeFact};
use crate::report::Facts;

impl Store {
    /// The facts for the period `[start, end)`.
    pub async fn report_facts(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Facts> {
        let zones = self.zones().await?;
        let mut presence = self.presence_history(start, end).await?;
        // A node decommissioned since still counts for the time it served.
        let nodes = sqlx::query(
            "SELECT id, zone_id, created_at FROM nodes WHERE revoked_at IS NULL OR revoked_at > ?",
        )
        .bind(ts(start))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let id: String = r.get("id");
            Ok(NodeFact {
                zone_id: r.get("zone_id"),
                created_at: parse_ts(&r.get::<String, _>("created_at"))?,
                presence: presence.remove(&id).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT n.zone_id, d.stage, o.priority, d.playing_at, d.played_at, d.preempted_at,
                    m.duration_ms
             FROM deliveries d
             JOIN nodes n ON n.id = d.node_id
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN announcements a ON a.id = o.announcement_id
             JOIN media m ON m.sha256 = a.media_sha256
             WHERE o.start_at >= ? AND o.start_at < ?",
        )
        .bind(ts(start))
        .bind(ts(end))
        .fetch_all(&self.pool)
        .await?;
        let deliveries = rows
            .iter()
            .map(|r| {
                let stage: String = r.get("stage");
                let priority: String = r.get("priority");
                Ok(DeliveryFact {
                    zone_id: r.get("zone_id"),
                    stage: stage.parse().map_err(StoreError::Invalid)?,
                    priority: priority.parse().map_err(StoreError::Invalid)?,
                    playing_at: parse_opt_ts(r.get("playing_at"))?,
                    played_at: parse_opt_ts(r.get("played_at"))?,
                    preempted: r.get::<Option<String>, _>("preempted_at").is_some(),
                    media_ms: r.get::<i64, _>("duration_ms").max(0) as u64,
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
        let rows = sqlx::query(
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
        for r in rows {
            let at = parse_ts(&r.get::<String, _>("at"))?;
            let online = r.get::<String, _>("presence") == "online";
            out.entry(r.get("node_id")).or_default().push((at, online));
        }
        Ok(out)
    }
}
