//! Presence as evidence, in the store: the controller's own "alive" mark, nodes turned
//! `unknown` when the controller cannot vouch for them, `unknown` turned `offline` after the
//! grace, a node's events taken as a sign of life, and the open deliveries of expired items
//! whose node is offline (for the sweep). The rules are in [`crate::presence`].

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::occurrences::{load_delivery, save_delivery};
use super::{ts, Result, Store};

/// An open delivery of an expired item whose node is offline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hanging {
    pub occurrence_id: i64,
    pub node_id: String,
    /// When the controller last heard from the node (`None`: never).
    pub last_seen: Option<DateTime<Utc>>,
}

impl Store {
    /// Records that the controller was alive and in touch with its broker at `at`.
    pub async fn mark_alive(&self, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO controller_alive (id, at) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(ts(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last instant [`Store::mark_alive`] recorded, if any.
    pub async fn last_alive(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(
            sqlx::query_scalar("SELECT at FROM controller_alive WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every live node not heard from since `not_seen_since` turns `unknown`, in the presence
    /// history from `from` (or from its last message, when that is later). Returns how many.
    pub async fn presence_unknown(
        &self,
        not_seen_since: DateTime<Utc>,
        from: DateTime<Utc>,
    ) -> Result<u64> {
        let _turn = self.bulk_write_turn().await;
        let mut tx = self.write_tx().await?;
        let filter = "revoked_at IS NULL AND presence IS NOT 'unknown'
                      AND (last_seen IS NULL OR last_seen < ?)";
        sqlx::query(&format!(
            "INSERT INTO presence_log (node_id, at, presence)
             SELECT id, MAX(?, COALESCE(last_seen, '')), 'unknown' FROM nodes WHERE {filter}"
        ))
        .bind(ts(from))
        .bind(ts(not_seen_since))
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query(&format!(
            "UPDATE nodes SET presence = 'unknown' WHERE {filter}"
        ))
        .bind(ts(not_seen_since))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// Nodes `unknown` since before `unknown_before` (and created before it) turn `offline`
    /// at `at`. Returns their ids.
    pub async fn unknown_to_offline(
        &self,
        unknown_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let _turn = self.bulk_write_turn().await;
        let mut tx = self.write_tx().await?;
        let cut = ts(unknown_before);
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE nodes SET presence = 'offline'
             WHERE presence = 'unknown' AND revoked_at IS NULL AND created_at <= ?
               AND NOT EXISTS (SELECT 1 FROM presence_log p
                               WHERE p.node_id = nodes.id AND p.at > ?)
             RETURNING id",
        )
        .bind(&cut)
        .bind(&cut)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            sqlx::query(
                "INSERT INTO presence_log (node_id, at, presence) VALUES (?, ?, 'offline')",
            )
            .bind(id)
            .bind(ts(at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Open deliveries (planned, received, ready, playing) of items expired before `now`
    /// whose node is `offline`.
    pub async fn hanging_deliveries(&self, now: DateTime<Utc>) -> Result<Vec<Hanging>> {
        Ok(sqlx::query_as::<_, Hanging>(
            "SELECT d.occurrence_id, d.node_id, n.last_seen
             FROM deliveries d
             JOIN occurrences o ON o.id = d.occurrence_id
             JOIN nodes n ON n.id = d.node_id
             WHERE d.stage IN ('planned', 'received', 'ready', 'playing')
               AND o.expires_at < ? AND n.presence = 'offline' AND n.revoked_at IS NULL
             ORDER BY d.occurrence_id, d.node_id",
        )
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends each hanging delivery `missed`, as the controller presumes it, with the reason
    /// `reason(h)` gives. Returns how many moved.
    pub async fn presume_missed(
        &self,
        hanging: &[Hanging],
        at: DateTime<Utc>,
        reason: impl Fn(&Hanging) -> String,
    ) -> Result<usize> {
        let _turn = self.bulk_write_turn().await;
        let mut tx = self.write_tx().await?;
        let mut moved = 0;
        for h in hanging {
            let Some((mut d, err_ms)) = load_delivery(&mut tx, h.occurrence_id, &h.node_id).await?
            else {
                continue;
            };
            if d.presume_missed(at, &reason(h)) == crate::delivery::Outcome::Moved {
                save_delivery(&mut tx, h.occurrence_id, &h.node_id, &d, err_ms).await?;
                moved += 1;
            }
        }
        tx.commit().await?;
        Ok(moved)
    }
}

/// Writes `presence` at `at` to a live node's presence history, if it is a change (the report
/// reads the history; the node's row is set by the caller).
pub(super) async fn log_change(
    conn: &mut SqliteConnection,
    id: &str,
    presence: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO presence_log (node_id, at, presence)
         SELECT id, ?, ? FROM nodes
         WHERE id = ? AND revoked_at IS NULL AND presence IS NOT ?",
    )
    .bind(ts(at))
    .bind(presence)
    .bind(id)
    .bind(presence)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A node's message other than its state proved it connected at `at`: it is `online` (a
/// change written to the history) and last seen then.
pub async fn node_seen(conn: &mut SqliteConnection, id: &str, at: DateTime<Utc>) -> Result<()> {
    log_change(conn, id, "online", at).await?;
    sqlx::query(
        "UPDATE nodes SET presence = 'online', last_seen = ? WHERE id = ? AND revoked_at IS NULL",
    )
    .bind(ts(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
