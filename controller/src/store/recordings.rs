//! What went out on air, kept as evidence: the recordings the relay hub made, linked to the
//! airings (broadcasts and schedule occurrences) of relays of that source whose window they
//! overlap, so officials can hear what each airing sent the villages.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ts, Result, Store};

/// A recording of what an airing sent the villages.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct AiredRecording {
    /// The recording in the media store (`GET /api/v1/media/{sha256}/audio` plays it).
    pub media_sha256: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

impl Store {
    /// Links the recording `sha256` of `source`'s relay, made from `started` to `ended`, to
    /// each airing of a relay of that source whose window (its start to its start plus the
    /// relay's length) overlaps it. Returns how many airings it was linked to.
    pub async fn link_relay_recording(
        &self,
        source: i64,
        sha256: &str,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> Result<u64> {
        // Times are stored as RFC 3339 UTC text of one width, so text order is time order;
        // the window's end is computed by SQLite from the start and the relay's seconds.
        let done = sqlx::query(
            "INSERT OR IGNORE INTO occurrence_recordings
                 (occurrence_id, media_sha256, started_at, ended_at)
             SELECT o.id, ?, ?, ? FROM occurrences o
             JOIN announcements a ON a.id = o.announcement_id
             WHERE a.source_id = ? AND o.start_at <= ?
               AND strftime('%Y-%m-%dT%H:%M:%fZ', o.start_at, '+' || a.relay_secs || ' seconds') >= ?",
        )
        .bind(sha256)
        .bind(ts(started))
        .bind(ts(ended))
        .bind(source)
        .bind(ts(ended))
        .bind(ts(started))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The recordings of what `occurrence` sent the villages, oldest first.
    pub async fn aired_recordings(&self, occurrence: i64) -> Result<Vec<AiredRecording>> {
        Ok(sqlx::query_as(
            "SELECT media_sha256, started_at, ended_at FROM occurrence_recordings
             WHERE occurrence_id = ? ORDER BY started_at",
        )
        .bind(occurrence)
        .fetch_all(&self.pool)
        .await?)
    }
}
