//! CAP alerts taken in: each with its decision and why, the broadcast made for it, and the
//! message as received.

use chrono::Utc;
use serde::Serialize;

use super::{ts, Result, Store, StoreError};

/// One alert as recorded.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CapAlertRow {
    pub id: i64,
    pub identifier: String,
    pub sender: String,
    pub sent: String,
    pub msg_type: String,
    pub status: String,
    pub expires: Option<String>,
    /// played, cancelled, recorded or refused.
    pub decision: String,
    pub why: String,
    /// The broadcast made for it, when it was played.
    pub occurrence_id: Option<i64>,
    pub via: String,
    pub received_at: String,
}

/// What [`Store::record_cap_alert`] writes.
pub struct NewCapAlert<'a> {
    pub identifier: &'a str,
    pub sender: &'a str,
    pub sent: &'a str,
    pub msg_type: &'a str,
    pub status: &'a str,
    pub expires: Option<String>,
    pub decision: &'a str,
    pub why: &'a str,
    pub occurrence_id: Option<i64>,
    pub via: &'a str,
    pub xml: &'a str,
}

const COLUMNS: &str = "id, identifier, sender, sent, msg_type, status, expires, decision, why, \
                       occurrence_id, via, received_at";

impl Store {
    /// Whether an alert with this sender and identifier was taken (not refused) before.
    pub async fn cap_alert_taken(&self, sender: &str, identifier: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM cap_alerts
             WHERE sender = ? AND identifier = ? AND decision <> 'refused'",
        )
        .bind(sender)
        .bind(identifier)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The broadcasts made for the alerts with this sender and identifier.
    pub async fn cap_occurrences(&self, sender: &str, identifier: &str) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT occurrence_id FROM cap_alerts
             WHERE sender = ? AND identifier = ? AND occurrence_id IS NOT NULL",
        )
        .bind(sender)
        .bind(identifier)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records an alert. A second taken copy of the same sender and identifier is a conflict.
    pub async fn record_cap_alert(&self, a: &NewCapAlert<'_>) -> Result<CapAlertRow> {
        let res = sqlx::query(
            "INSERT INTO cap_alerts (identifier, sender, sent, msg_type, status, expires,
                 decision, why, occurrence_id, via, received_at, xml)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.identifier)
        .bind(a.sender)
        .bind(a.sent)
        .bind(a.msg_type)
        .bind(a.status)
        .bind(&a.expires)
        .bind(a.decision)
        .bind(a.why)
        .bind(a.occurrence_id)
        .bind(a.via)
        .bind(ts(Utc::now()))
        .bind(a.xml)
        .execute(&self.pool)
        .await;
        match res {
            Ok(r) => self.cap_alert(r.last_insert_rowid()).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!(
                    "duplicate: alert {} from {} was already taken",
                    a.identifier, a.sender
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn cap_alert(&self, id: i64) -> Result<CapAlertRow> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM cap_alerts WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CAP alert {id}")))
    }

    /// The newest alerts first.
    pub async fn cap_alerts(&self, limit: i64) -> Result<Vec<CapAlertRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM cap_alerts ORDER BY id DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
