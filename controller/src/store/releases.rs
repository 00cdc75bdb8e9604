//! Node releases and their rollouts: the uploaded builds (`releases`) and the nodes each
//! rollout names (`release_targets`). Progress is not stored here: it is what each node's
//! state says (see `ops::releases`).

use chrono::Utc;
use serde::Serialize;
use std::collections::HashMap;

use super::{ts, Result, Store, StoreError};

/// One uploaded release.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct Release {
    pub id: i64,
    pub version: String,
    /// `amd64`, `arm64` or `armhf`.
    pub arch: String,
    pub sha256: String,
    pub size: i64,
    /// Base64 signature of the release key over the manifest.
    pub signature: String,
    /// RFC 3339, UTC.
    pub uploaded_at: String,
}

/// A node a rollout named.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub node_id: String,
    pub allow_metered: bool,
    pub assigned_at: String,
}

const COLUMNS: &str = "id, version, arch, sha256, size, signature, uploaded_at";

impl Store {
    /// Records a release whose binary is already at its place.
    pub async fn create_release(
        &self,
        manifest: &loa_protocol::ReleaseManifest,
        signature: &str,
    ) -> Result<Release> {
        let uploaded_at = ts(Utc::now());
        let res = sqlx::query(
            "INSERT INTO releases (version, arch, sha256, size, signature, uploaded_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&manifest.version)
        .bind(&manifest.arch)
        .bind(&manifest.sha256)
        .bind(manifest.size as i64)
        .bind(signature)
        .bind(&uploaded_at)
        .execute(&self.pool)
        .await;
        match res {
            Ok(r) => self.release(r.last_insert_rowid()).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!(
                    "release {} for {} is already uploaded",
                    manifest.version, manifest.arch
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every release, newest first.
    pub async fn releases(&self) -> Result<Vec<Release>> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM releases ORDER BY id DESC"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn release(&self, id: i64) -> Result<Release> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM releases WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("release {id}")))
    }

    /// Names `nodes` in a rollout of `release` (again: the allowance is updated).
    pub async fn add_release_targets(
        &self,
        release: i64,
        nodes: &[String],
        allow_metered: bool,
    ) -> Result<()> {
        let at = ts(Utc::now());
        let mut tx = self.write_tx().await?;
        for n in nodes {
            // Deleted and inserted, so the row's id makes this the node's latest rollout.
            sqlx::query("DELETE FROM release_targets WHERE release_id = ? AND node_id = ?")
                .bind(release)
                .bind(n)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO release_targets (release_id, node_id, allow_metered, assigned_at)
                 VALUES (?, ?, ?, ?)",
            )
            .bind(release)
            .bind(n)
            .bind(allow_metered)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The nodes named in rollouts of `release`.
    pub async fn release_targets(&self, release: i64) -> Result<Vec<Target>> {
        Ok(sqlx::query_as(
            "SELECT node_id, allow_metered, assigned_at FROM release_targets
             WHERE release_id = ? ORDER BY node_id",
        )
        .bind(release)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Per node, the release of its latest rollout and whether metered links are allowed.
    pub async fn latest_releases_for(
        &self,
        nodes: &[String],
    ) -> Result<HashMap<String, (Release, bool)>> {
        let mut out = HashMap::new();
        for n in nodes {
            let row: Option<(i64, bool)> = sqlx::query_as(
                "SELECT release_id, allow_metered FROM release_targets
                 WHERE node_id = ? ORDER BY id DESC LIMIT 1",
            )
            .bind(n)
            .fetch_optional(&self.pool)
            .await?;
            if let Some((id, metered)) = row {
                out.insert(n.clone(), (self.release(id).await?, metered));
            }
        }
        Ok(out)
    }
}
