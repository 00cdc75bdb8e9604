//! Media records (the files live on disk, named by SHA-256) and announcements.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{parse_ts, ts, Result, Store, StoreError};

#[derive(Debug, Clone, Serialize, PartialEq)]
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

#[derive(Debug, Clone, Serialize)]
pub struct Announcement {
    pub id: i64,
    pub title: String,
    pub media_sha256: String,
    pub created_at: DateTime<Utc>,
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
        let row = sqlx::query("SELECT * FROM media WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("media {sha256}")))?;
        Ok(media_from(&row))
    }

    pub async fn media_list(&self) -> Result<Vec<MediaRow>> {
        let rows = sqlx::query("SELECT * FROM media ORDER BY created_at DESC")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(media_from).collect())
    }

    pub async fn create_announcement(
        &self,
        title: &str,
        media_sha256: &str,
    ) -> Result<Announcement> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(StoreError::Invalid(
                "an announcement title is 1 to 200 characters".into(),
            ));
        }
        self.media(media_sha256).await?;
        let now = Utc::now();
        let r = sqlx::query(
            "INSERT INTO announcements (title, media_sha256, created_at) VALUES (?, ?, ?)",
        )
        .bind(title)
        .bind(media_sha256)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        self.announcement(r.last_insert_rowid()).await
    }

    pub async fn announcement(&self, id: i64) -> Result<Announcement> {
        let row = sqlx::query("SELECT * FROM announcements WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("announcement {id}")))?;
        announcement_from(&row)
    }

    pub async fn announcements(&self) -> Result<Vec<Announcement>> {
        let rows = sqlx::query("SELECT * FROM announcements ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(announcement_from).collect()
    }
}

fn media_from(row: &sqlx::sqlite::SqliteRow) -> MediaRow {
    MediaRow {
        sha256: row.get("sha256"),
        size: row.get::<i64, _>("size") as u64,
        duration_ms: row.get::<i64, _>("duration_ms") as u64,
        codec: row.get("codec"),
        sample_rate: row.get::<i64, _>("sample_rate") as u32,
        channels: row.get::<i64, _>("channels") as u16,
        original_name: row.get("original_name"),
        loudness_lufs: row.get("loudness_lufs"),
    }
}

fn announcement_from(row: &sqlx::sqlite::SqliteRow) -> Result<Announcement> {
    Ok(Announcement {
        id: row.get("id"),
        title: row.get("title"),
        media_sha256: row.get("media_sha256"),
        created_at: parse_ts(&row.get::<String, _>("created_at"))?,
    })
}

impl Store {
    /// The announcement with this title and recording, made if there is none yet (schedule
    /// files load at every start and must not pile up copies).
    pub async fn find_or_create_announcement(
        &self,
        title: &str,
        media_sha256: &str,
    ) -> Result<Announcement> {
        let row = sqlx::query(
            "SELECT * FROM announcements WHERE title = ? AND media_sha256 = ? ORDER BY id LIMIT 1",
        )
        .bind(title.trim())
        .bind(media_sha256)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => announcement_from(&r),
            None => self.create_announcement(title, media_sha256).await,
        }
    }
}
