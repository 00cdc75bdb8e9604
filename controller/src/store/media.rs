//! Media records (the files live on disk, named by SHA-256) and announcements: recordings,
//! or a relay of a source for a set time.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::parts::{check_languages, Recording, DEFAULT_LANGUAGES};
use super::{ts, Result, Store, StoreError};

/// Read straight from a `media` row: the unsigned fields are written from the same types, so
/// sqlx's range-checked decoding gives back exactly what was written.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct MediaRow {
    pub sha256: String,
    pub size: u64,
    pub duration_ms: u64,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub original_name: Option<String>,
    /// EBU R128 integrated loudness, LUFS.
    pub loudness_lufs: Option<f64>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Announcement {
    pub id: i64,
    pub title: String,
    /// The main recording (the first of `recordings`); absent for a relay.
    pub media_sha256: Option<String>,
    /// One recording per language, the main one first; none for a relay.
    pub recordings: Vec<Recording>,
    /// A relay: the source it passes on to the villages, and for how long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayContent>,
    pub created_at: DateTime<Utc>,
    /// A category staff chose (free text, e.g. "Thời tiết"), for finding it again.
    pub category: Option<String>,
    /// Archived: kept with its history, but no longer offered in the pickers.
    pub archived_at: Option<DateTime<Utc>>,
}

/// What a relay announcement plays: `source` (`/api/v1/sources`) for `secs` seconds.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RelayContent {
    pub source_id: i64,
    pub secs: u32,
}

/// The longest relay: a day's broadcasting. "Relay now until stopped" is a relay of this
/// length, withdrawn when staff stop it.
pub const MAX_RELAY_SECS: u32 = 12 * 3600;

/// An `announcements` row as stored; its recordings are read apart.
#[derive(sqlx::FromRow)]
struct AnnouncementRecord {
    id: i64,
    title: String,
    media_sha256: Option<String>,
    created_at: DateTime<Utc>,
    category: Option<String>,
    archived_at: Option<DateTime<Utc>>,
    source_id: Option<i64>,
    relay_secs: Option<u32>,
}

impl MediaRow {
    /// The record of a file the probe accepted.
    pub fn probed(
        sha256: String,
        size: u64,
        p: crate::media::Probed,
        original_name: Option<String>,
    ) -> MediaRow {
        MediaRow {
            sha256,
            size,
            duration_ms: p.duration_ms,
            codec: p.codec,
            sample_rate: p.sample_rate,
            channels: p.channels,
            original_name,
            loudness_lufs: p.loudness_lufs,
        }
    }
}

impl Store {
    /// Records a probed file; the same content uploaded twice is one record.
    pub async fn insert_media(&self, m: &MediaRow) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO media (sha256, size, duration_ms, codec, sample_rate, channels, original_name, created_at, loudness_lufs)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.sha256)
        .bind(m.size as i64)
        .bind(m.duration_ms as i64)
        .bind(&m.codec)
        .bind(m.sample_rate as i64)
        .bind(m.channels as i64)
        .bind(&m.original_name)
        .bind(ts(Utc::now()))
        .bind(m.loudness_lufs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn media(&self, sha256: &str) -> Result<MediaRow> {
        sqlx::query_as("SELECT * FROM media WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("media {sha256}")))
    }

    pub async fn media_list(&self) -> Result<Vec<MediaRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM media ORDER BY created_at DESC")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Creates an announcement with its recordings (at least one; one per language).
    pub async fn create_announcement(
        &self,
        title: &str,
        recordings: &[Recording],
    ) -> Result<Announcement> {
        let title = crate::limits::ANNOUNCEMENT_TITLE.check(title)?;
        let Some(main) = recordings.first() else {
            return Err(StoreError::Invalid(
                "an announcement needs at least one recording".into(),
            ));
        };
        check_languages(recordings.iter().map(|r| r.language.as_str()))?;
        for r in recordings {
            self.media(&r.media_sha256).await?;
        }
        let mut tx = self.write_tx().await?;
        let id = sqlx::query(
            "INSERT INTO announcements (title, media_sha256, created_at) VALUES (?, ?, ?)",
        )
        .bind(title)
        .bind(&main.media_sha256)
        .bind(ts(Utc::now()))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        for (i, r) in recordings.iter().enumerate() {
            sqlx::query(
                "INSERT INTO announcement_recordings (announcement_id, language, media_sha256, position)
                 VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&r.language)
            .bind(&r.media_sha256)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.announcement(id).await
    }

    /// Creates a relay announcement: `source` passed on for `secs` seconds (the caller checks
    /// the length; a zero or over-long one is refused here too).
    pub async fn create_relay_announcement(
        &self,
        title: &str,
        relay: RelayContent,
    ) -> Result<Announcement> {
        let title = crate::limits::ANNOUNCEMENT_TITLE.check(title)?;
        if relay.secs == 0 || relay.secs > MAX_RELAY_SECS {
            return Err(StoreError::Invalid(format!(
                "a relay lasts up to {} hours",
                MAX_RELAY_SECS / 3600
            )));
        }
        self.source(relay.source_id).await?;
        let id = sqlx::query(
            "INSERT INTO announcements (title, source_id, relay_secs, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(title)
        .bind(relay.source_id)
        .bind(relay.secs)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        self.announcement(id).await
    }

    pub async fn announcement(&self, id: i64) -> Result<Announcement> {
        let row = sqlx::query_as("SELECT * FROM announcements WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("announcement {id}")))?;
        self.announcement_from(row).await
    }

    pub async fn announcements(&self) -> Result<Vec<Announcement>> {
        let rows: Vec<AnnouncementRecord> =
            sqlx::query_as("SELECT * FROM announcements ORDER BY id DESC")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.announcement_from(r).await?);
        }
        Ok(out)
    }

    async fn announcement_from(&self, row: AnnouncementRecord) -> Result<Announcement> {
        Ok(Announcement {
            id: row.id,
            title: row.title,
            media_sha256: row.media_sha256,
            recordings: self.recordings(row.id).await?,
            relay: row
                .source_id
                .zip(row.relay_secs)
                .map(|(source_id, secs)| RelayContent { source_id, secs }),
            created_at: row.created_at,
            category: row.category,
            archived_at: row.archived_at,
        })
    }

    /// Sets an announcement's category (`None`: none).
    pub async fn set_announcement_category(&self, id: i64, category: Option<&str>) -> Result<()> {
        self.announcement(id).await?;
        sqlx::query("UPDATE announcements SET category = ? WHERE id = ?")
            .bind(category)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Archives an announcement (`Some(when)`) or takes it out of the archive (`None`).
    pub async fn set_announcement_archived(
        &self,
        id: i64,
        at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.announcement(id).await?;
        sqlx::query("UPDATE announcements SET archived_at = ? WHERE id = ?")
            .bind(at.map(ts))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The categories in use, in order.
    pub async fn announcement_categories(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT category FROM announcements WHERE category IS NOT NULL ORDER BY category",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Store {
    /// The announcement with this title and recording, made if there is none yet (schedule
    /// files load at every start and must not pile up copies).
    pub async fn find_or_create_announcement(
        &self,
        title: &str,
        media_sha256: &str,
    ) -> Result<Announcement> {
        let row = sqlx::query_as(
            "SELECT * FROM announcements WHERE title = ? AND media_sha256 = ? ORDER BY id LIMIT 1",
        )
        .bind(title.trim())
        .bind(media_sha256)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => self.announcement_from(r).await,
            None => {
                let main = Recording {
                    language: DEFAULT_LANGUAGES[0].to_owned(),
                    media_sha256: media_sha256.to_owned(),
                };
                self.create_announcement(title, &[main]).await
            }
        }
    }
}
