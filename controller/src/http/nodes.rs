//! `/api/v1/nodes`: provisioning (which returns the node's config file) and the registry.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::provision::{AudioSection, MqttSection, NodeConfigFile};
use crate::secrets::{hash_secret, new_secret};
use crate::store::nodes::{NodeRow, SecretHashes};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes", get(list).post(create))
        .route("/api/v1/nodes/{id}", get(one).patch(patch_sound))
        .route("/api/v1/nodes/{id}/credentials", post(reset_credentials))
}

/// A node to provision.
#[derive(Deserialize)]
pub struct NewNode {
    /// Letters, digits, '-', '_', '.'; made up when absent.
    pub id: Option<String>,
    pub name: String,
    pub zone_id: i64,
    /// Where the node keeps its data; `/var/lib/loa-node` when absent.
    pub data_dir: Option<String>,
}

#[derive(Deserialize)]
struct Format {
    /// `toml` returns the config file alone, ready to save as `node.toml`.
    format: Option<String>,
}

#[derive(Serialize)]
struct Provisioned {
    node: NodeRow,
    /// The node's config file. Its secrets are not shown again.
    config_toml: String,
}

/// Registers a node with fresh secrets, lets it into the broker, joins it to its zone's
/// programme, and returns it with its config file (the only copy of its secrets). Shared
/// with the zones page.
pub async fn provision(s: &AppState, n: NewNode) -> Result<(NodeRow, String), ApiError> {
    let id =
        n.id.unwrap_or_else(|| format!("n{}", &hash_secret(&new_secret())[..8]));
    // The check speaks of wire messages ("malformed message: …"); a clerk needs only the rule.
    loa_protocol::error::check_id("node id", &id).map_err(|e| match e {
        loa_protocol::ProtocolError::Malformed(rule) => ApiError::invalid(rule),
        other => ApiError::invalid(other.to_string()),
    })?;
    let name = crate::limits::NODE_NAME.check(&n.name)?;
    let fresh = Fresh::new();
    let node = s
        .store
        .create_node(&id, name, n.zone_id, &fresh.hashes())
        .await?;
    s.broker_accounts.set(&id, &hash_secret(&fresh.password));
    crate::mosquitto::refresh(&s.store, &s.cfg).await;
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

async fn create(
    State(s): State<AppState>,
    Query(f): Query<Format>,
    Json(n): Json<NewNode>,
) -> Result<Response, ApiError> {
    let (node, text) = provision(&s, n).await?;
    respond(StatusCode::CREATED, f, node, text)
}

/// Gives a node new secrets (the old ones stop working) and returns its new config file.
/// Shared with the zones page.
pub async fn new_credentials(s: &AppState, id: &str) -> Result<(NodeRow, String), ApiError> {
    let fresh = Fresh::new();
    s.store.reset_node_secrets(id, &fresh.hashes()).await?;
    crate::revoke::renew(&s.broker_accounts, &s.store, &s.cfg, id, &fresh.password).await;
    let node = s.store.node(id).await?;
    let text = config_text(s, &node, &fresh, DATA_DIR).await?;
    tracing::info!(node = %id, "node secrets reset");
    Ok((node, text))
}

async fn reset_credentials(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(f): Query<Format>,
) -> Result<Response, ApiError> {
    let (node, text) = new_credentials(&s, &id).await?;
    respond(StatusCode::OK, f, node, text)
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
            mqtt_mosquitto: crate::mosquitto::hash::hash_password(&self.password),
        }
    }
}

async fn config_text(
    s: &AppState,
    node: &NodeRow,
    fresh: &Fresh,
    data_dir: &str,
) -> Result<String, ApiError> {
    let zone_path = s.store.zone_path(node.zone_id).await?;
    let broker = s.cfg.public_broker_address();
    let url = s.cfg.public_url();
    // Read at each provisioning (checked at start), so a renewed CA file is picked up.
    let ca_pem = match &s.cfg.tls.ca {
        Some(path) => Some(crate::tls::read_ca_pem(path).map_err(ApiError::internal)?),
        None => None,
    };
    Ok(NodeConfigFile {
        node_id: &node.id,
        site: &s.cfg.site,
        controller_url: &url,
        controller_public_key: &s.planner.keys().public(),
        node_key: &loa_protocol::envelope::secret_key_b64(&fresh.key),
        media_token: &fresh.token,
        data_dir,
        ca_pem: ca_pem.as_deref(),
        mqtt: MqttSection {
            address: &broker,
            username: &node.id,
            password: &fresh.password,
            tls: s.cfg.mqtt_tls(),
        },
        audio: AudioSection { sink: "cpal" },
    }
    .to_toml(&node.name, &zone_path))
}

fn respond(
    status: StatusCode,
    f: Format,
    node: NodeRow,
    text: String,
) -> Result<Response, ApiError> {
    if f.format.as_deref() == Some("toml") {
        return Ok((
            status,
            [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
            text,
        )
            .into_response());
    }
    Ok((
        status,
        Json(Provisioned {
            node,
            config_toml: text,
        }),
    )
        .into_response())
}

async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Vec<NodeRow>>, ApiError> {
    let mut out = Vec::new();
    for n in s.store.nodes().await? {
        if actor.sees_zone(&s.store, n.zone_id).await? {
            out.push(n);
        }
    }
    Ok(Json(out))
}

async fn one(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Json<NodeRow>, ApiError> {
    let node = s.store.node(&id).await?;
    actor.check_zones(&s.store, &[node.zone_id]).await?;
    Ok(Json(node))
}

/// What a node's sound settings change; absent fields stay as they are.
#[derive(Deserialize)]
struct SoundPatch {
    /// 0–100.
    volume: Option<u8>,
    /// Play the commune's chime before announcements.
    chime: Option<bool>,
}

/// Changes a node's volume and chime and publishes its new plan, through which the node
/// hears of it. Shared with the zones page.
pub async fn set_sound(
    s: &AppState,
    id: &str,
    volume: Option<u8>,
    chime: Option<bool>,
) -> Result<NodeRow, ApiError> {
    s.store.set_node_sound(id, volume, chime).await?;
    tracing::info!(node = %id, volume = ?volume, chime = ?chime, "node sound settings changed");
    if let Err(e) = s.planner.publish(id).await {
        tracing::error!(node = %id, error = %e, "cannot publish the plan after a settings change");
    }
    Ok(s.store.node(id).await?)
}

async fn patch_sound(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(p): Json<SoundPatch>,
) -> Result<Json<NodeRow>, ApiError> {
    Ok(Json(set_sound(&s, &id, p.volume, p.chime).await?))
}
