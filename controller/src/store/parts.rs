//! What plays inside one item: an announcement's recordings per language, the languages each
//! zone hears (in order, inherited down the tree; the commune default is in [`super::settings`]),
//! and the record of each part a node played.

use chrono::{DateTime, Utc};
use loa_protocol::{check_language, ProtocolError, PART_GAP_MS};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use std::collections::BTreeMap;

use super::{ts, Result, Store, StoreError};

/// The languages a zone hears when neither it nor any zone above it says: Vietnamese.
pub const DEFAULT_LANGUAGES: &[&str] = &["vi"];

/// Most languages one zone may list, and one announcement may carry.
pub const MAX_LANGUAGES: usize = 7;

/// One recording of an announcement.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Recording {
    /// `vi`, `hmn`, `tai`… (letters, digits, `-`; as the commune names them).
    pub language: String,
    pub media_sha256: String,
}

/// One part of a delivery as officials read it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PartView {
    pub part: u32,
    /// `chime`, or the recording's language.
    pub label: String,
    pub played_at: Option<DateTime<Utc>>,
}

/// A `delivery_parts` row: the node's id and the part.
#[derive(sqlx::FromRow)]
struct PartRecord {
    node_id: String,
    #[sqlx(flatten)]
    part: PartView,
}

/// Checks a list of languages: each a valid code, none twice, at most [`MAX_LANGUAGES`].
pub fn check_languages<'a>(langs: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = Vec::new();
    for l in langs {
        check_language(l).map_err(|e| match e {
            ProtocolError::Malformed(rule) => StoreError::Invalid(rule),
            other => StoreError::Invalid(other.to_string()),
        })?;
        if seen.contains(&l) {
            return Err(StoreError::Invalid(format!("language {l:?} appears twice")));
        }
        seen.push(l);
    }
    if seen.len() > MAX_LANGUAGES {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_LANGUAGES} languages"
        )));
    }
    Ok(())
}

impl Store {
    /// An announcement's recordings, the main one first.
    pub async fn recordings(&self, announcement_id: i64) -> Result<Vec<Recording>> {
        Ok(sqlx::query_as(
            "SELECT language, media_sha256 FROM announcement_recordings
             WHERE announcement_id = ? ORDER BY position",
        )
        .bind(announcement_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How long the announcement lasts with every recording played (the most any zone hears),
    /// pauses included.
    pub async fn announcement_duration_ms(&self, announcement_id: i64) -> Result<u64> {
        let relay: Option<u32> =
            sqlx::query_scalar("SELECT relay_secs FROM announcements WHERE id = ?")
                .bind(announcement_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        if let Some(secs) = relay {
            return Ok(u64::from(secs) * 1000);
        }
        let (total, n): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(m.duration_ms), 0) AS total, COUNT(*) AS n
             FROM announcement_recordings r JOIN media m ON m.sha256 = r.media_sha256
             WHERE r.announcement_id = ?",
        )
        .bind(announcement_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(total as u64 + PART_GAP_MS * (n.max(1) - 1) as u64)
    }

    /// The languages a zone hears, in order: its own list, else the nearest zone above with
    /// one, else the commune's `languages` setting, else [`DEFAULT_LANGUAGES`].
    pub async fn zone_languages(&self, zone_id: i64) -> Result<Vec<String>> {
        let row: Option<String> = sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent_id, languages, depth) AS (
                SELECT id, parent_id, languages, 0 FROM zones WHERE id = ?
                UNION ALL
                SELECT z.id, z.parent_id, z.languages, up.depth + 1
                FROM zones z JOIN up ON z.id = up.parent_id
             ) SELECT languages FROM up WHERE languages IS NOT NULL ORDER BY depth LIMIT 1",
        )
        .bind(zone_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(text) = row {
            return serde_json::from_str(&text)
                .map_err(|e| StoreError::Invalid(format!("zone languages {text:?}: {e}")));
        }
        self.default_languages().await
    }

    /// A zone's own languages, as set; `None`: it inherits.
    pub async fn zone_own_languages(&self, zone_id: i64) -> Result<Option<Vec<String>>> {
        let languages: Option<String> =
            sqlx::query_scalar("SELECT languages FROM zones WHERE id = ?")
                .bind(zone_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("zone {zone_id}")))?;
        let Some(text) = languages else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Invalid(format!("zone languages {text:?}: {e}")))
    }

    /// Sets a zone's own languages (`None`: inherit from the zone above).
    pub async fn set_zone_languages(&self, zone_id: i64, langs: Option<&[String]>) -> Result<()> {
        self.zone(zone_id).await?;
        if let Some(l) = langs {
            if l.is_empty() {
                return Err(StoreError::Invalid(
                    "list at least one language, or none to inherit".into(),
                ));
            }
            check_languages(l.iter().map(String::as_str))?;
        }
        sqlx::query("UPDATE zones SET languages = ? WHERE id = ?")
            .bind(langs.map(|l| serde_json::to_string(l).expect("strings serialise")))
            .bind(zone_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A node's volume (0–100) and whether it plays the chime; `None` leaves one as it is.
    pub async fn set_node_sound(
        &self,
        node_id: &str,
        volume: Option<u8>,
        chime: Option<bool>,
    ) -> Result<()> {
        if volume.is_some_and(|v| v > 100) {
            return Err(StoreError::Invalid("volume is 0 to 100".into()));
        }
        let r = sqlx::query(
            "UPDATE nodes SET volume = COALESCE(?, volume), chime = COALESCE(?, chime) WHERE id = ?",
        )
        .bind(volume.map(i64::from))
        .bind(chime)
        .bind(node_id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("node {node_id}")));
        }
        Ok(())
    }

    /// Each node's parts of an occurrence, by node id.
    pub async fn delivery_parts(
        &self,
        occurrence_id: i64,
    ) -> Result<BTreeMap<String, Vec<PartView>>> {
        let rows = sqlx::query_as::<_, PartRecord>(
            "SELECT node_id, part, label, played_at FROM delivery_parts
             WHERE occurrence_id = ? ORDER BY node_id, part",
        )
        .bind(occurrence_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: BTreeMap<String, Vec<PartView>> = BTreeMap::new();
        for r in rows {
            out.entry(r.node_id).or_default().push(r.part);
        }
        Ok(out)
    }
}

/// Records the parts plans give their deliveries ((node, occurrence id) → labels in order);
/// parts already played keep their record. Two statements for any number of plans.
pub(crate) async fn write_plan_parts(
    conn: &mut SqliteConnection,
    items: &[(&str, i64, &[&str])],
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let rows: Vec<(&str, i64, usize, &str)> = items
        .iter()
        .flat_map(|(node, occ, labels)| {
            labels
                .iter()
                .enumerate()
                .map(move |(i, l)| (*node, *occ, i, *l))
        })
        .collect();
    // SQLite takes at most 32,766 values in one statement: a thousand rows at a time.
    for chunk in rows.chunks(1000) {
        let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO delivery_parts (occurrence_id, node_id, part, label) VALUES {values}
             ON CONFLICT DO UPDATE SET label = excluded.label WHERE played_at IS NULL"
        );
        let mut q = super::batch_query(&sql);
        for (node, occ, part, label) in chunk {
            q = q.bind(occ).bind(*node).bind(*part as i64).bind(*label);
        }
        q.execute(&mut *conn).await?;
    }
    // Parts past each item's count (its zone dropped a language) go, unless played. The
    // join starts from the plan's items and finds their parts by the whole primary key
    // (occurrence, node, part): filtering the table by occurrence alone visited every
    // node's parts of it, ten thousand per item at 10,000 nodes.
    for chunk in items.chunks(1000) {
        let keep = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "WITH keep(node_id, occurrence_id, parts) AS (VALUES {keep})
             DELETE FROM delivery_parts WHERE rowid IN (
                 SELECT p.rowid FROM keep k JOIN delivery_parts p
                   ON p.occurrence_id = k.occurrence_id AND p.node_id = k.node_id
                  AND p.part >= k.parts
                 WHERE p.played_at IS NULL)"
        );
        let mut q = super::batch_query(&sql);
        for (node, occ, labels) in chunk {
            q = q.bind(*node).bind(occ).bind(labels.len() as i64);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records, inside the ingest's transaction, that a node played one part of a delivery.
pub async fn part_played(
    conn: &mut SqliteConnection,
    occurrence_id: i64,
    node_id: &str,
    part: u32,
    label: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO delivery_parts (occurrence_id, node_id, part, label, played_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET label = excluded.label, played_at = excluded.played_at",
    )
    .bind(occurrence_id)
    .bind(node_id)
    .bind(i64::from(part))
    .bind(label)
    .bind(ts(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
