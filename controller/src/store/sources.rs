//! Relay sources: a name and the URL of a station's stream, or a live session's own source
//! (fed by the speaker's browser; see [`super::live`]).

use chrono::Utc;
use serde::Serialize;

use super::{ts, Result, Store, StoreError};

/// Named `RelaySource` in the OpenAPI document: a schedule's `Source` is another thing.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
#[schema(as = RelaySource)]
pub struct Source {
    pub id: i64,
    pub name: String,
    /// The station's stream: Icecast/Shoutcast over HTTP(S), MP3 or AAC, or HLS.
    pub url: String,
    /// When it was registered (RFC 3339, UTC).
    pub created_at: String,
    /// A live session's source (fed by the speaker, not pulled from `url`).
    #[serde(skip)]
    #[schema(ignore)]
    pub live: bool,
}

const COLUMNS: &str = "id, name, url, created_at, kind = 'live' AS live";

impl Store {
    /// Registers a source; `name` and `url` are checked by the caller.
    pub async fn create_source(&self, name: &str, url: &str) -> Result<Source> {
        let created_at = ts(Utc::now());
        let res = sqlx::query("INSERT INTO sources (name, url, created_at) VALUES (?, ?, ?)")
            .bind(name)
            .bind(url)
            .bind(&created_at)
            .execute(&self.pool)
            .await;
        match res {
            Ok(r) => Ok(Source {
                id: r.last_insert_rowid(),
                name: name.to_string(),
                url: url.to_string(),
                created_at,
                live: false,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a source named {name:?} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every station's source, by name (live sessions' sources are not listed).
    pub async fn sources(&self) -> Result<Vec<Source>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM sources WHERE kind = 'station' ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn source(&self, id: i64) -> Result<Source> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM sources WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("source {id}")))
    }

    /// The titles of the relay announcements of `id`.
    pub async fn relays_of(&self, id: i64) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT title FROM announcements WHERE source_id = ? ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn delete_source(&self, id: i64) -> Result<()> {
        let r = sqlx::query("DELETE FROM sources WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("source {id}")));
        }
        Ok(())
    }
}

impl Store {
    /// The stations (not live sessions) with an airing not withdrawn that is on air at `now`
    /// or starts by `soon`: the hub connects to them ahead of their slot and keeps them up
    /// through it.
    pub async fn stations_airing(
        &self,
        now: chrono::DateTime<Utc>,
        soon: chrono::DateTime<Utc>,
    ) -> Result<Vec<Source>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM sources WHERE kind = 'station' AND id IN (
                 SELECT a.source_id FROM occurrences o
                 JOIN announcements a ON a.id = o.announcement_id
                 WHERE a.source_id IS NOT NULL AND o.cancelled_at IS NULL
                   AND o.start_at <= ?
                   AND strftime('%Y-%m-%dT%H:%M:%fZ', o.start_at, '+' || a.relay_secs || ' seconds') >= ?)
             ORDER BY id"
        ))
        .bind(ts(soon))
        .bind(ts(now))
        .fetch_all(&self.pool)
        .await?)
    }
}
