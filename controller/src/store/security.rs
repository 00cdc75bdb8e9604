//! What the controller knows to tell a node's own messages from forgeries: each node's public
//! key and the stamp of its last state; the counted reports of what was refused; and
//! decommissioning, which revokes a node's broker account, key and media token at once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

use super::occurrences::{load_delivery, save_delivery};
use super::{ts, Result, Store, StoreError};

/// One kind of refusal on one node's topics, counted.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SecurityReport {
    pub node_id: String,
    /// `events_refused`, `state_refused`, `state_replayed`, `plan_refused_by_node`…
    pub kind: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub count: u64,
    /// Why the last one was refused.
    pub last_detail: String,
}

/// What the ingest needs of a live node: its key and its last state's stamp.
pub struct NodeTrust {
    /// Absent for a node provisioned before nodes had keys: it needs new credentials.
    pub public_key: Option<String>,
    pub last_stamp: Option<(u64, u64)>,
}

/// A live node's key and state stamp as stored.
#[derive(sqlx::FromRow)]
struct NodeTrustRecord {
    id: String,
    public_key: Option<String>,
    /// The stamp's halves are written from `u64` with `as i64`, read back with `as u64`.
    state_session: Option<i64>,
    state_serial: Option<i64>,
}

impl Store {
    /// The key and last state stamp of each live node among `ids`, in one query; unknown and
    /// decommissioned nodes are left out.
    pub async fn node_trusts(&self, ids: &[String]) -> Result<HashMap<String, NodeTrust>> {
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT id, public_key, state_session, state_serial FROM nodes
             WHERE id IN ({marks}) AND revoked_at IS NULL"
        );
        let mut q = super::batch_query_as::<NodeTrustRecord>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| {
                let stamp = r.state_session.zip(r.state_serial);
                (
                    r.id,
                    NodeTrust {
                        public_key: r.public_key,
                        last_stamp: stamp.map(|(a, b)| (a as u64, b as u64)),
                    },
                )
            })
            .collect())
    }

    /// Counts a refusal of `kind` on `node`'s topics, keeping the last reason.
    pub async fn report_security(
        &self,
        node: &str,
        kind: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        // A reason is a sentence; a hostile one is cut short.
        let detail: String = detail.chars().take(300).collect();
        sqlx::query(
            "INSERT INTO security_reports (node_id, kind, first_at, last_at, count, last_detail)
             VALUES (?, ?, ?, ?, 1, ?)
             ON CONFLICT (node_id, kind) DO UPDATE
             SET last_at = excluded.last_at, count = count + 1, last_detail = excluded.last_detail",
        )
        .bind(node)
        .bind(kind)
        .bind(ts(at))
        .bind(ts(at))
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every report, the latest first.
    pub async fn security_reports(&self) -> Result<Vec<SecurityReport>> {
        Ok(sqlx::query_as(
            "SELECT node_id, kind, first_at, last_at, count, last_detail FROM security_reports
             ORDER BY last_at DESC, node_id, kind",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Takes a node out of service: its broker password, media token and key stop working,
    /// its deliveries still open end `cancelled`, it is offline from now on, and it leaves
    /// every zone's programme. Its past records stay, in reports too. Returns how many deliveries were cancelled.
    pub async fn decommission_node(&self, id: &str, at: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        // Out of service is offline from now on, in the presence history the report reads.
        super::presence::log_change(&mut tx, id, "offline", at).await?;
        let r = sqlx::query(
            "UPDATE nodes SET revoked_at = ?, presence = 'offline', mqtt_password_hash = '', mqtt_mosquitto_hash = NULL,
                              public_key = NULL,
                              media_token_hash = 'revoked:' || id, plan_sealed = NULL
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(ts(at))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("node {id}")));
        }
        let open: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT occurrence_id FROM deliveries
             WHERE node_id = ? AND stage NOT IN ({})",
            crate::delivery::Delivery::final_stages_sql()
        ))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let mut cancelled = 0;
        for occ in open {
            if let Some((mut d, err)) = load_delivery(&mut tx, occ, id).await? {
                if d.cancel(at, "node decommissioned") == crate::delivery::Outcome::Moved {
                    save_delivery(&mut tx, occ, id, &d, err).await?;
                    cancelled += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(cancelled)
    }
}
