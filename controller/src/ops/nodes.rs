//! The node registry as staff change it: provisioning (which returns the node's config file,
//! the only copy of its secrets), new credentials, sound settings, and decommissioning.
//! Shared by the API, the zones page and the CLI.

use serde::Deserialize;

use super::{App, OpError};
use crate::provision::{AudioSection, NodeConfigFile};
use crate::secrets::{hash_secret, new_secret};
use crate::store::locations::LocationSource;
use crate::store::nodes::{NodeRow, SecretHashes};
use loa_protocol::MqttSection;

/// A node to provision.
#[derive(utoipa::ToSchema, Deserialize)]
pub struct NewNode {
    /// Letters, digits, '-', '_', '.'; made up when absent.
    pub id: Option<String>,
    pub name: String,
    pub zone_id: i64,
    /// Where the node keeps its data; `/var/lib/loa-node` when absent.
    pub data_dir: Option<String>,
    /// Where it stands, degrees (−90 to 90), with `longitude`; both or neither.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Degrees (−180 to 180), with `latitude`.
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// Registers a node with fresh secrets, lets it into the broker, joins it to its zone's
/// programme, and returns it with its config file (the only copy of its secrets). Shared
/// with the zones page.
pub async fn provision(s: &App, n: NewNode) -> Result<(NodeRow, String), OpError> {
    let id =
        n.id.unwrap_or_else(|| format!("n{}", &hash_secret(&new_secret())[..8]));
    // The check speaks of wire messages ("malformed message: …"); a clerk needs only the rule.
    loa_protocol::error::check_id("node id", &id).map_err(|e| match e {
        loa_protocol::ProtocolError::Malformed(rule) => OpError::invalid(rule),
        other => OpError::invalid(other.to_string()),
    })?;
    let name = crate::limits::NODE_NAME.check(&n.name)?;
    let place = super::locations::pair(n.latitude, n.longitude)?;
    let fresh = Fresh::new();
    let mut node = s
        .store
        .create_node(&id, name, n.zone_id, &fresh.hashes())
        .await?;
    if let Some(place) = place {
        node = super::locations::record(s, &id, place, LocationSource::Provisioning).await?;
    }
    s.broker_accounts.set(&id, &hash_secret(&fresh.password));
    crate::mqtt::mosquitto::refresh(&s.store, &s.cfg).await;
    let data_dir = n.data_dir.unwrap_or_else(|| DATA_DIR.into());
    let text = config_text(s, &node, &fresh, &data_dir).await?;
    tracing::info!(node = %id, zone = n.zone_id, "node provisioned");
    // Its zone's schedules already materialised reach it too.
    match s.materializer.attach_node(&id).await {
        Ok(0) => {}
        Ok(added) => {
            tracing::info!(node = %id, occurrences = added, "new node joins its zone's programme")
        }
        Err(e) => {
            tracing::error!(node = %id, error = %e, "cannot attach the new node to its zone's programme")
        }
    }
    // Its first plan waits for it on the broker, even an empty one.
    s.planner.publish_all(std::slice::from_ref(&id)).await;
    Ok((node, text))
}

/// Where a node keeps its data unless told otherwise.
const DATA_DIR: &str = "/var/lib/loa-node";

/// Gives a node new secrets (the old ones stop working) and returns its new config file.
/// Shared with the zones page.
pub async fn new_credentials(s: &App, id: &str) -> Result<(NodeRow, String), OpError> {
    let fresh = Fresh::new();
    s.store.reset_node_secrets(id, &fresh.hashes()).await?;
    crate::mqtt::revoke::renew(&s.broker_accounts, &s.store, &s.cfg, id, &fresh.password).await;
    let node = s.store.node(id).await?;
    let text = config_text(s, &node, &fresh, DATA_DIR).await?;
    tracing::info!(node = %id, "node secrets reset");
    Ok((node, text))
}

/// A node's new secrets and signing key, shown once in its config file.
struct Fresh {
    password: String,
    token: String,
    key: ed25519_dalek::SigningKey,
}

impl Fresh {
    fn new() -> Fresh {
        Fresh {
            password: new_secret(),
            token: new_secret(),
            key: loa_protocol::generate_key(),
        }
    }

    /// What the controller keeps of them.
    fn hashes(&self) -> SecretHashes {
        SecretHashes {
            mqtt_password: hash_secret(&self.password),
            media_token: hash_secret(&self.token),
            public_key: loa_protocol::public_key_b64(&self.key),
            mqtt_mosquitto: crate::mqtt::mosquitto::hash::hash_password(&self.password),
        }
    }
}

async fn config_text(
    s: &App,
    node: &NodeRow,
    fresh: &Fresh,
    data_dir: &str,
) -> Result<String, OpError> {
    let zone_path = s.store.zone_path(node.zone_id).await?;
    let broker = s.cfg.public_broker_address();
    let url = s.cfg.public_url();
    // Read at each provisioning (checked at start), so a renewed CA file is picked up.
    let ca_pem = match &s.cfg.tls.ca {
        Some(path) => Some(crate::tls::read_ca_pem(path).map_err(OpError::internal)?),
        None => None,
    };
    let file = NodeConfigFile {
        node_id: node.id.clone(),
        site: s.cfg.site.clone(),
        controller_url: url,
        controller_public_key: s.planner.keys().public(),
        node_key: loa_protocol::envelope::secret_key_b64(&fresh.key),
        media_token: fresh.token.clone(),
        data_dir: data_dir.into(),
        ca_pem,
        cache_budget_bytes: loa_protocol::node_file::DEFAULT_CACHE_BUDGET_BYTES,
        clock_check_secs: loa_protocol::node_file::DEFAULT_CLOCK_CHECK_SECS,
        mqtt: MqttSection {
            address: broker,
            username: node.id.clone(),
            password: fresh.password.clone(),
            keep_alive_secs: loa_protocol::NODE_KEEP_ALIVE_SECS,
            tls: s.cfg.mqtt_tls(),
        },
        audio: AudioSection {
            sink: "cpal".into(),
        },
        relay: None,
        update: loa_protocol::UpdateSection {
            release_key: s.cfg.release_key.clone(),
            ..Default::default()
        },
    };
    Ok(crate::provision::to_toml(&file, &node.name, &zone_path))
}

/// Changes a node's volume and chime and publishes its new plan, through which the node
/// hears of it. Shared with the zones page.
pub async fn set_sound(
    s: &App,
    id: &str,
    volume: Option<u8>,
    chime: Option<bool>,
) -> Result<NodeRow, OpError> {
    s.store.set_node_sound(id, volume, chime).await?;
    tracing::info!(node = %id, volume = ?volume, chime = ?chime, "node sound settings changed");
    if let Err(e) = s.planner.publish(id).await {
        tracing::error!(node = %id, error = %e, "cannot publish the plan after a settings change");
    }
    Ok(s.store.node(id).await?)
}

/// What moving a node did.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct Moved {
    pub node: NodeRow,
    /// Its deliveries withdrawn: what its old zone would have played.
    pub cancelled: u64,
    /// Its new zone's planned occurrences it joined.
    pub added: usize,
}

/// Moves a node to another zone (another village) and plans it again: what its old zone's
/// schedules and broadcasts would have played there is withdrawn, its new zone's schedules
/// already planned reach it, and it gets its new plan. Shared with the zones page.
pub async fn move_node(s: &App, id: &str, zone_id: i64) -> Result<Moved, OpError> {
    let before = s.store.node(id).await?;
    if before.zone_id == zone_id {
        return Err(OpError::conflict(
            "node.same_zone",
            format!("node {id} is already in zone {zone_id}"),
        ));
    }
    let cancelled = s.store.move_node(id, zone_id, s.clock.now()).await?;
    let added = s.materializer.attach_node(id).await?;
    tracing::info!(node = %id, from = before.zone_id, to = zone_id, cancelled, added, "node moved");
    s.planner.publish_all(&[id.to_string()]).await;
    Ok(Moved {
        node: s.store.node(id).await?,
        cancelled,
        added,
    })
}

/// Asks a node for a speaker check now: the request goes out in its plan. Shared with the
/// station page.
pub async fn request_speaker_check(s: &App, id: &str) -> Result<NodeRow, OpError> {
    s.store.request_speaker_check(id, s.clock.now()).await?;
    tracing::info!(node = %id, "speaker check asked for");
    if let Err(e) = s.planner.publish(id).await {
        tracing::error!(node = %id, error = %e, "cannot publish the plan asking for a speaker check");
    }
    Ok(s.store.node(id).await?)
}

/// Takes a node out of service. Its records stay; its credentials stop working at once.
/// Returns how many of its deliveries were cancelled. Shared with the zones page.
pub async fn decommission_node(s: &App, id: &str) -> Result<u64, OpError> {
    let id = id.to_string();
    let cancelled = s.store.decommission_node(&id, s.clock.now()).await?;
    // Its broker account closes and its live connection is cut, on either broker.
    crate::mqtt::revoke::close(&s.broker_accounts, &s.store, &s.cfg, &id).await;
    // Its retained plan and ack go, so nothing waits on the broker for its old session.
    if let Err(e) = s.planner.withdraw(&id).await {
        tracing::error!(node = %id, error = %e, "cannot clear the decommissioned node's retained plan");
    }
    tracing::warn!(node = %id, cancelled, "node decommissioned: broker account, key and media token revoked");
    Ok(cancelled)
}
