//! Nodes: the loudspeaker clusters, their secrets (hashed), plan versions, last state and the
//! history of their presence (online / offline).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::locations::NodeLocation;
use super::occurrences::{load_delivery, save_delivery};
use super::{ts, Result, Store, StoreError};
use crate::delivery::Outcome;

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct NodeRow {
    pub id: String,
    pub name: String,
    pub zone_id: i64,
    pub volume: u8,
    /// Plays the commune's chime before announcements (unless an item says otherwise).
    pub chime: bool,
    pub plan_version: u64,
    pub acked_seq: u64,
    /// `online`, `offline`, or `unknown` before the node first spoke.
    pub presence: String,
    pub last_seen: Option<DateTime<Utc>>,
    /// The node's last reported state, as it sent it.
    pub state: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    /// When staff last asked for a speaker check; the node's plan carries it.
    pub speaker_check_requested_at: Option<DateTime<Utc>>,
    /// Where it stands, once someone said (see `store::locations`).
    pub location: Option<NodeLocation>,
}

/// What the controller keeps of a node's credentials: the hashes of its two secrets and the
/// public half of its signing key.
pub struct SecretHashes {
    pub mqtt_password: String,
    pub media_token: String,
    /// Base64; the node's events and states must verify under it.
    pub public_key: String,
    /// The MQTT password again, in Mosquitto's own salted format (for its password file).
    pub mqtt_mosquitto: String,
}

const NODE_COLUMNS: &str = "id, name, zone_id, volume, chime, plan_version, acked_seq, presence, \
                            last_seen, state_json, created_at, speaker_check_requested_at, \
                            latitude, longitude, location_set_at, location_source";

impl Store {
    pub async fn create_node(
        &self,
        id: &str,
        name: &str,
        zone_id: i64,
        secrets: &SecretHashes,
    ) -> Result<NodeRow> {
        self.zone(zone_id).await?;
        let res = sqlx::query(
            "INSERT INTO nodes (id, name, zone_id, mqtt_password_hash, media_token_hash, public_key,
                                mqtt_mosquitto_hash, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(name)
        .bind(zone_id)
        .bind(&secrets.mqtt_password)
        .bind(&secrets.media_token)
        .bind(&secrets.public_key)
        .bind(&secrets.mqtt_mosquitto)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => self.node(id).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a node with id {id:?} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a node's secrets and key (a lost config file, a suspected leak). The state
    /// stamp starts over with the new key.
    pub async fn reset_node_secrets(&self, id: &str, secrets: &SecretHashes) -> Result<()> {
        let r = sqlx::query(
            "UPDATE nodes SET mqtt_password_hash = ?, media_token_hash = ?, public_key = ?,
                              mqtt_mosquitto_hash = ?, state_session = NULL, state_serial = NULL
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(&secrets.mqtt_password)
        .bind(&secrets.media_token)
        .bind(&secrets.public_key)
        .bind(&secrets.mqtt_mosquitto)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("node {id}")));
        }
        Ok(())
    }

    pub async fn node(&self, id: &str) -> Result<NodeRow> {
        sqlx::query_as::<_, NodeRecord>(&format!(
            "SELECT {NODE_COLUMNS} FROM nodes WHERE id = ? AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("node {id}")))
        .map(NodeRow::from)
    }

    /// Moves a live node to another zone. Its open deliveries of occurrences yet to start that
    /// target none of the new zone and the zones above it (its old village's programme and
    /// broadcasts) end `cancelled`, in the same transaction. Returns how many.
    pub async fn move_node(&self, id: &str, zone_id: i64, now: DateTime<Utc>) -> Result<u64> {
        self.zone(zone_id).await?;
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("UPDATE nodes SET zone_id = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(zone_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("node {id}")));
        }
        let left: Vec<i64> = sqlx::query_scalar(&format!(
            "WITH RECURSIVE up(id, parent_id) AS (
                SELECT id, parent_id FROM zones WHERE id = ?
                UNION ALL
                SELECT z.id, z.parent_id FROM zones z JOIN up ON z.id = up.parent_id
             )
             SELECT d.occurrence_id FROM deliveries d JOIN occurrences o ON o.id = d.occurrence_id
             WHERE d.node_id = ? AND d.stage NOT IN ({}) AND o.start_at > ?
               AND NOT EXISTS (SELECT 1 FROM occurrence_zones oz
                               WHERE oz.occurrence_id = o.id AND oz.zone_id IN (SELECT id FROM up))",
            crate::delivery::Delivery::final_stages_sql()
        ))
        .bind(zone_id)
        .bind(id)
        .bind(ts(now))
        .fetch_all(&mut *tx)
        .await?;
        let mut cancelled = 0;
        for occ in left {
            if let Some((mut d, err)) = load_delivery(&mut tx, occ, id).await? {
                if d.cancel(now, "the loudspeaker moved to another zone") == Outcome::Moved {
                    save_delivery(&mut tx, occ, id, &d, err).await?;
                    cancelled += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    /// The live nodes among `ids`, in any order (one query for a batch).
    pub async fn nodes_by_ids(&self, ids: &[String]) -> Result<Vec<NodeRow>> {
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT {NODE_COLUMNS} FROM nodes WHERE id IN ({marks}) AND revoked_at IS NULL"
        );
        let mut q = super::batch_query_as::<NodeRecord>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(NodeRow::from)
            .collect())
    }

    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query_as::<_, NodeRecord>(&format!(
            "SELECT {NODE_COLUMNS} FROM nodes WHERE revoked_at IS NULL ORDER BY zone_id, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(NodeRow::from).collect())
    }

    /// Every live node's id and MQTT password hash, for the embedded broker.
    pub async fn node_credentials(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT id, mqtt_password_hash FROM nodes WHERE revoked_at IS NULL")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The nodes an external broker (Mosquitto) should let in, by id, with the Mosquitto hash
    /// of their password (`None` for a node provisioned before it was kept). The one place
    /// that decides which nodes get a broker account: filter decommissioned nodes here.
    pub async fn mosquitto_accounts(&self) -> Result<Vec<(String, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT id, mqtt_mosquitto_hash FROM nodes WHERE revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The live node holding this media token hash.
    pub async fn node_by_media_token(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM nodes WHERE media_token_hash = ? AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Begins writing new plans, in one transaction that [`PlanWrites::commit`] ends.
    pub async fn begin_plans(&self) -> Result<PlanWrites> {
        let turn = self.bulk_write_turn().await;
        Ok(PlanWrites {
            tx: self.write_tx().await?,
            _turn: turn,
        })
    }

    /// Records what a node said about itself; see [`record_node_state`].
    pub async fn record_node_state(
        &self,
        id: &str,
        presence: &str,
        state_json: &str,
        stamp: (u64, u64),
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let taken = record_node_state(&mut tx, id, presence, state_json, stamp, at).await?;
        tx.commit().await?;
        Ok(taken)
    }
}

/// A `nodes` row as read ([`NODE_COLUMNS`]); the counters were written from the same
/// unsigned types, so sqlx's range-checked decoding gives back what was written.
#[derive(sqlx::FromRow)]
struct NodeRecord {
    id: String,
    name: String,
    zone_id: i64,
    volume: u8,
    chime: bool,
    /// Written from `u64` with `as i64`, read back with `as u64`.
    plan_version: i64,
    acked_seq: i64,
    presence: String,
    last_seen: Option<DateTime<Utc>>,
    state_json: Option<String>,
    created_at: DateTime<Utc>,
    speaker_check_requested_at: Option<DateTime<Utc>>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    location_set_at: Option<DateTime<Utc>>,
    location_source: Option<String>,
}

impl From<NodeRecord> for NodeRow {
    fn from(r: NodeRecord) -> NodeRow {
        NodeRow {
            id: r.id,
            name: r.name,
            zone_id: r.zone_id,
            volume: r.volume,
            chime: r.chime,
            plan_version: r.plan_version as u64,
            acked_seq: r.acked_seq as u64,
            presence: r.presence,
            last_seen: r.last_seen,
            // A state that does not parse is shown as none, as before.
            state: r.state_json.and_then(|s| serde_json::from_str(&s).ok()),
            created_at: r.created_at,
            speaker_check_requested_at: r.speaker_check_requested_at,
            location: super::locations::from_columns(
                r.latitude,
                r.longitude,
                r.location_set_at,
                r.location_source.as_deref(),
            ),
        }
    }
}

impl Store {
    /// Records that staff asked node `id` for a speaker check at `at`.
    pub async fn request_speaker_check(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "UPDATE nodes SET speaker_check_requested_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("node {id}")));
        }
        Ok(())
    }

    /// Live nodes whose last plan was issued before `before`, or that have none yet.
    pub async fn nodes_with_plans_before(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM nodes WHERE revoked_at IS NULL
               AND (plan_issued_at IS NULL OR plan_issued_at < ?) ORDER BY id",
        )
        .bind(ts(before))
        .fetch_all(&self.pool)
        .await?)
    }

    /// A live node's last signed plan, if it has one.
    pub async fn sealed_plan(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT plan_sealed FROM nodes WHERE id = ? AND revoked_at IS NULL")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(sealed.flatten())
    }

    /// Every live node's last signed plan.
    pub async fn sealed_plans(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(sqlx::query_as(
            "SELECT id, plan_sealed FROM nodes WHERE revoked_at IS NULL AND plan_sealed IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Records what a node said about itself, received at `at` (the controller's clock), with
/// the state's stamp (session, serial) to compare the next one with. A change of presence
/// is also written to the presence history, in the same transaction.
pub async fn record_node_state(
    conn: &mut SqliteConnection,
    id: &str,
    presence: &str,
    state_json: &str,
    stamp: (u64, u64),
    at: DateTime<Utc>,
) -> Result<bool> {
    // One statement compares with the old presence and writes the change, so the write
    // lock is taken before that read (a read-then-write transaction can fail to upgrade
    // its lock under WAL).
    super::presence::log_change(conn, id, presence, at).await?;
    let kept;
    let state_json = if presence == "offline" {
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT state_json FROM nodes WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        kept = keep_what_it_is(old.flatten().as_deref(), state_json);
        kept.as_str()
    } else {
        state_json
    };
    let r = sqlx::query(
        "UPDATE nodes SET presence = ?, state_json = ?, last_seen = ?, state_session = ?,
                          state_serial = ?
         WHERE id = ? AND revoked_at IS NULL",
    )
    .bind(presence)
    .bind(state_json)
    .bind(ts(at))
    .bind(stamp.0 as i64)
    .bind(stamp.1 as i64)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// What a node's last state said about what it is (its software, the release it is trying,
/// its board, where the installer put it, its last loudspeaker check, the controller keys it
/// trusts), which the will it leaves when its link drops does not repeat: kept across going
/// offline, so an offline station still shows its version, and a node that saw the next key
/// before its link dropped still counts as having seen it when a rotation is committed (the
/// node keeps its keys on disk). What it was doing (playing, its volume, its disk) is not.
const KEPT_OFFLINE: &[&str] = &[
    "software",
    "arch",
    "update",
    "location",
    "speaker_check",
    "controller_keys",
];

/// `offline_json` with [`KEPT_OFFLINE`] taken from `old` where it has none of its own.
fn keep_what_it_is(old: Option<&str>, offline_json: &str) -> String {
    let old: Option<serde_json::Value> = old.and_then(|o| serde_json::from_str(o).ok());
    let Ok(serde_json::Value::Object(mut new)) = serde_json::from_str(offline_json) else {
        return offline_json.to_owned();
    };
    if let Some(serde_json::Value::Object(old)) = old {
        for key in KEPT_OFFLINE {
            if let (Some(v), false) = (old.get(*key), new.contains_key(*key)) {
                new.insert((*key).to_owned(), v.clone());
            }
        }
    }
    serde_json::Value::Object(new).to_string()
}

/// One node's new plan, ready to store.
pub struct NewPlan<'a> {
    pub node: &'a str,
    /// The version the node's last plan had; the new one is the next.
    pub previous: u64,
    pub version: u64,
    /// Occurrence id → the labels of its parts, in order.
    pub parts: Vec<(i64, Vec<&'a str>)>,
    pub sealed: &'a [u8],
}

/// Plans being written, in one transaction.
pub struct PlanWrites {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    /// Dropped after the transaction (fields drop in order).
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl PlanWrites {
    /// Records each plan's version, the parts it gives each delivery and the sealed plan with
    /// its issue time (republished after a broker restart): three statements for the batch.
    /// Fails if a node's version moved meanwhile, or the node is gone.
    pub async fn record(&mut self, plans: &[NewPlan<'_>], issued_at: DateTime<Utc>) -> Result<()> {
        if plans.is_empty() {
            return Ok(());
        }
        let items: Vec<(&str, i64, &[&str])> = plans
            .iter()
            .flat_map(|p| p.parts.iter().map(|(o, l)| (p.node, *o, l.as_slice())))
            .collect();
        super::parts::write_plan_parts(&mut self.tx, &items).await?;
        let values = vec!["(?, ?, ?, ?)"; plans.len()].join(", ");
        let sql = format!(
            "WITH v(id, previous, version, sealed) AS (VALUES {values})
             UPDATE nodes SET plan_version = v.version, plan_sealed = v.sealed, plan_issued_at = ?
             FROM v WHERE nodes.id = v.id AND nodes.plan_version = v.previous
               AND nodes.revoked_at IS NULL"
        );
        let mut q = super::batch_query(&sql);
        for p in plans {
            q = q
                .bind(p.node)
                .bind(p.previous as i64)
                .bind(p.version as i64)
                .bind(p.sealed);
        }
        let done = q.bind(ts(issued_at)).execute(&mut *self.tx).await?;
        if done.rows_affected() != plans.len() as u64 {
            return Err(StoreError::Conflict(format!(
                "{} of {} plans could not be stored: a node was taken out or planned meanwhile",
                plans.len() as u64 - done.rows_affected(),
                plans.len()
            )));
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::keep_what_it_is;

    #[test]
    fn the_will_keeps_what_the_node_is_and_the_keys_it_trusts_but_not_what_it_did() {
        let old = r#"{"software":"0.1.0","controller_keys":["old","next"],"volume":80}"#;
        let will = r#"{"presence":"offline","session":2}"#;
        let kept: serde_json::Value =
            serde_json::from_str(&keep_what_it_is(Some(old), will)).unwrap();
        assert_eq!(kept["presence"], "offline");
        assert_eq!(kept["software"], "0.1.0");
        assert_eq!(kept["controller_keys"], serde_json::json!(["old", "next"]));
        assert!(kept.get("volume").is_none(), "{kept}");
    }
}
