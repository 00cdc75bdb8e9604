//! Live sessions: who spoke to which villages and when, each carried by its own source (kind
//! `live`) and broadcast (the occurrence whose deliveries say what each village heard).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::sources::Source;
use super::{parse_opt_ts, parse_ts, ts, Result, Store, StoreError};

/// One live session.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct LiveSession {
    pub id: i64,
    /// The broadcast that carries it: its deliveries are each village's state.
    pub broadcast_id: i64,
    /// Its stream for the nodes, `/streams/{source_id}`.
    pub source_id: i64,
    /// The account that speaks.
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// When the villages go on air (after the chime, when one plays first).
    pub on_air_at: DateTime<Utc>,
    /// When it ended; absent while on air.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended: stopped, the speaker's browser went away, its longest length reached.
    pub end_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    source_id: i64,
    occurrence_id: i64,
    started_by: String,
    started_at: String,
    on_air_at: String,
    ended_at: Option<String>,
    end_reason: Option<String>,
}

impl TryFrom<Row> for LiveSession {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<LiveSession> {
        Ok(LiveSession {
            id: r.id,
            broadcast_id: r.occurrence_id,
            source_id: r.source_id,
            started_by: r.started_by,
            started_at: parse_ts(&r.started_at)?,
            on_air_at: parse_ts(&r.on_air_at)?,
            ended_at: parse_opt_ts(r.ended_at)?,
            end_reason: r.end_reason,
        })
    }
}

impl Store {
    /// A live session's own source: no URL to pull, the speaker feeds it.
    pub async fn create_live_source(&self, name: &str) -> Result<Source> {
        let created_at = ts(Utc::now());
        let id = sqlx::query(
            "INSERT INTO sources (name, url, created_at, kind) VALUES (?, 'live:', ?, 'live')",
        )
        .bind(name)
        .bind(&created_at)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        self.source(id).await
    }

    /// Takes back a live source and its announcement when the session could not be made
    /// (no loudspeaker to reach, say): nothing else refers to them yet.
    pub async fn discard_live_source(&self, source: i64, announcement: Option<i64>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if let Some(a) = announcement {
            sqlx::query("DELETE FROM announcements WHERE id = ? AND source_id = ?")
                .bind(a)
                .bind(source)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM sources WHERE id = ? AND kind = 'live'")
            .bind(source)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_live_session(
        &self,
        source: i64,
        broadcast: i64,
        started_by: &str,
        started_at: DateTime<Utc>,
        on_air_at: DateTime<Utc>,
    ) -> Result<LiveSession> {
        let id = sqlx::query(
            "INSERT INTO live_sessions (source_id, occurrence_id, started_by, started_at, on_air_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(source)
        .bind(broadcast)
        .bind(started_by)
        .bind(ts(started_at))
        .bind(ts(on_air_at))
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        self.live_session(id).await
    }

    pub async fn live_session(&self, id: i64) -> Result<LiveSession> {
        sqlx::query_as::<_, Row>("SELECT * FROM live_sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("live session {id}")))?
            .try_into()
    }

    /// The session a live source carries.
    pub async fn live_session_of_source(&self, source: i64) -> Result<Option<LiveSession>> {
        sqlx::query_as::<_, Row>("SELECT * FROM live_sessions WHERE source_id = ?")
            .bind(source)
            .fetch_optional(&self.pool)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// The sessions still on air (after a restart: the ones the controller must end).
    pub async fn open_live_sessions(&self) -> Result<Vec<LiveSession>> {
        sqlx::query_as::<_, Row>("SELECT * FROM live_sessions WHERE ended_at IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Ends a session with why; false if it had already ended.
    pub async fn end_live_session(&self, id: i64, reason: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE live_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(ts(Utc::now()))
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
