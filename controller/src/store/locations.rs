//! Where each loudspeaker stands (latitude, longitude), with when and by whom it was set.
//! The latest set wins: a location is written only when it was set after the one kept, so
//! an installer's location reported again in every state of the node does not undo the
//! centre's later correction, and a new one from the installer replaces an older one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::{ts, Result, Store, StoreError};

/// Who set a node's location.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// Given when the node was provisioned.
    Provisioning,
    /// Set by staff at the service centre (the API, the zones page).
    Centre,
    /// Set by the installer in the village (`loa-node check --location`), reported by the node.
    Installer,
}

impl LocationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationSource::Provisioning => "provisioning",
            LocationSource::Centre => "centre",
            LocationSource::Installer => "installer",
        }
    }

    pub fn parse(s: &str) -> Option<LocationSource> {
        [
            LocationSource::Provisioning,
            LocationSource::Centre,
            LocationSource::Installer,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A node's place on the map.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NodeLocation {
    /// Degrees, −90 to 90 (WGS 84).
    pub latitude: f64,
    /// Degrees, −180 to 180.
    pub longitude: f64,
    /// When it was set.
    pub set_at: DateTime<Utc>,
    pub source: LocationSource,
}

impl Store {
    /// Sets node `id`'s location unless a later one is kept; true if it was written.
    pub async fn set_node_location(&self, id: &str, at: &NodeLocation) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let written = write_location(&mut conn, id, at).await?;
        if !written {
            // Gone, or a later one is kept.
            self.node(id).await?;
        }
        Ok(written)
    }

    /// Forgets node `id`'s location (staff clear it).
    pub async fn clear_node_location(&self, id: &str) -> Result<()> {
        let r = sqlx::query(
            "UPDATE nodes SET latitude = NULL, longitude = NULL, location_set_at = NULL,
                              location_source = NULL
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("node {id}")));
        }
        Ok(())
    }
}

/// Writes a node's location if none is kept or the kept one was set no later than `at`'s
/// (the same instant again: a repeated state, or two changes within one clock reading).
/// Used by the ingest, in its transaction, for the installer's location in a node's state.
pub async fn write_location(
    conn: &mut SqliteConnection,
    id: &str,
    at: &NodeLocation,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE nodes SET latitude = ?, longitude = ?, location_set_at = ?, location_source = ?
         WHERE id = ? AND revoked_at IS NULL
           AND (location_set_at IS NULL OR location_set_at <= ?)",
    )
    .bind(at.latitude)
    .bind(at.longitude)
    .bind(ts(at.set_at))
    .bind(at.source.as_str())
    .bind(id)
    .bind(ts(at.set_at))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The location columns of a `nodes` row, read back.
pub fn from_columns(
    latitude: Option<f64>,
    longitude: Option<f64>,
    set_at: Option<DateTime<Utc>>,
    source: Option<&str>,
) -> Option<NodeLocation> {
    Some(NodeLocation {
        latitude: latitude?,
        longitude: longitude?,
        set_at: set_at?,
        source: source.and_then(LocationSource::parse)?,
    })
}
