//! Zones: the commune → village → loudspeaker-cluster tree.

use chrono::Utc;
use serde::Serialize;

use super::{ts, Result, Store, StoreError};
use crate::limits::{LimitError, MAX_ZONE_DEPTH, ZONE_NAME};

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct Zone {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
}

/// What uses a zone, counted: a zone is removed only when all are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneUses {
    pub children: i64,
    pub nodes: i64,
    pub schedules: i64,
    pub broadcasts: i64,
    pub accounts: i64,
}

impl ZoneUses {
    pub fn is_empty(&self) -> bool {
        [
            self.children,
            self.nodes,
            self.schedules,
            self.broadcasts,
            self.accounts,
        ]
        .iter()
        .all(|n| *n == 0)
    }
}

impl Store {
    pub async fn create_zone(&self, name: &str, parent_id: Option<i64>) -> Result<Zone> {
        let name = ZONE_NAME.check(name)?;
        if let Some(p) = parent_id {
            self.zone(p).await?;
            let level = self.zone_depth(p).await? + 1;
            if level > MAX_ZONE_DEPTH {
                return Err(LimitError::ZoneTooDeep {
                    max: MAX_ZONE_DEPTH,
                    level,
                }
                .into());
            }
        }
        let res = sqlx::query("INSERT INTO zones (name, parent_id, created_at) VALUES (?, ?, ?)")
            .bind(name)
            .bind(parent_id)
            .bind(ts(Utc::now()))
            .execute(&self.pool)
            .await;
        match res {
            Ok(r) => Ok(Zone {
                id: r.last_insert_rowid(),
                name: name.to_string(),
                parent_id,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a zone named {name:?} already exists there"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// How deep a zone lies: the commune (no parent) is level 1.
    pub async fn zone_depth(&self, id: i64) -> Result<usize> {
        let n: i64 = sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent_id) AS (
                SELECT id, parent_id FROM zones WHERE id = ?
                UNION ALL
                SELECT z.id, z.parent_id FROM zones z JOIN up ON z.id = up.parent_id
             ) SELECT COUNT(*) AS n FROM up",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as usize)
    }

    /// Renames a zone (same rules as a new one: [`ZONE_NAME`], unique under its parent).
    pub async fn rename_zone(&self, id: i64, name: &str) -> Result<Zone> {
        let name = ZONE_NAME.check(name)?;
        self.zone(id).await?;
        let res = sqlx::query("UPDATE zones SET name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await;
        match res {
            Ok(_) => self.zone(id).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a zone named {name:?} already exists there"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// What keeps a zone from being removed, counted: its zones below, its loudspeakers
    /// (decommissioned ones too: their history stands in it), the schedules that target it,
    /// the broadcasts it received, and the accounts limited to it.
    pub async fn zone_uses(&self, id: i64) -> Result<ZoneUses> {
        self.zone(id).await?;
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(id)
                .fetch_one(&self.pool)
                .await
        };
        Ok(ZoneUses {
            children: count("SELECT COUNT(*) FROM zones WHERE parent_id = ?").await?,
            nodes: count("SELECT COUNT(*) FROM nodes WHERE zone_id = ?").await?,
            schedules: count("SELECT COUNT(*) FROM schedule_zones WHERE zone_id = ?").await?,
            broadcasts: count("SELECT COUNT(*) FROM occurrence_zones WHERE zone_id = ?").await?,
            accounts: count("SELECT COUNT(*) FROM user_zones WHERE zone_id = ?").await?,
        })
    }

    /// Removes a zone nothing uses or ever used (see [`Store::zone_uses`]), so no record loses
    /// its village. Refused with a conflict otherwise.
    pub async fn delete_zone(&self, id: i64) -> Result<()> {
        if !self.zone_uses(id).await?.is_empty() {
            return Err(StoreError::Conflict(format!("zone {id} is in use")));
        }
        sqlx::query("DELETE FROM zones WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn zone(&self, id: i64) -> Result<Zone> {
        sqlx::query_as("SELECT id, name, parent_id FROM zones WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("zone {id}")))
    }

    pub async fn zones(&self) -> Result<Vec<Zone>> {
        Ok(
            sqlx::query_as("SELECT id, name, parent_id FROM zones ORDER BY parent_id, name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The zone's names from the root down: `Xã Demo / Thôn Nà Sài`.
    pub async fn zone_path(&self, id: i64) -> Result<String> {
        let names: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE up(id, name, parent_id, depth) AS (
                SELECT id, name, parent_id, 0 FROM zones WHERE id = ?
                UNION ALL
                SELECT z.id, z.name, z.parent_id, up.depth + 1 FROM zones z JOIN up ON z.id = up.parent_id
             ) SELECT name FROM up ORDER BY depth DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(names.join(" / "))
    }

    /// Ids of the live nodes anywhere under the given zones.
    pub async fn nodes_under(&self, zone_ids: &[i64]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for &z in zone_ids {
            self.zone(z).await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "WITH RECURSIVE down(id) AS (
                    SELECT id FROM zones WHERE id = ?
                    UNION SELECT z.id FROM zones z JOIN down ON z.parent_id = down.id
                 ) SELECT n.id FROM nodes n JOIN down ON n.zone_id = down.id
                   WHERE n.revoked_at IS NULL ORDER BY n.id",
            )
            .bind(z)
            .fetch_all(&self.pool)
            .await?;
            for id in ids {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }
}

impl Store {
    /// The zone a clerk or a file names: a name (`Thôn Nà Sài`, which must be unique) or a
    /// path from the top (`Xã Demo / Thôn Nà Sài`).
    pub async fn zone_by_name(&self, name: &str) -> Result<Zone> {
        let parts: Vec<&str> = name
            .split('/')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let all = self.zones().await?;
        if parts.len() == 1 {
            let found: Vec<&Zone> = all.iter().filter(|z| z.name == parts[0]).collect();
            return match found.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(StoreError::NotFound(format!("zone named {name:?}"))),
                _ => Err(StoreError::Invalid(format!(
                    "{} zones are named {name:?}; give the path, e.g. \"Xã … / {name}\"",
                    found.len()
                ))),
            };
        }
        let mut parent = None;
        let mut current = None;
        for part in &parts {
            let z = all
                .iter()
                .find(|z| z.parent_id == parent && z.name == *part)
                .ok_or_else(|| {
                    StoreError::NotFound(format!("zone {name:?} (no {part:?} there)"))
                })?;
            parent = Some(z.id);
            current = Some(z.clone());
        }
        current.ok_or_else(|| StoreError::NotFound(format!("zone {name:?}")))
    }
}
