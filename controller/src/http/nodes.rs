//! `/api/v1/nodes`: provisioning (which returns the node's config file) and the registry.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::nodes::{new_credentials, provision, set_sound, NewNode};
use crate::store::nodes::NodeRow;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes", get(list).post(create))
        .route("/api/v1/nodes/{id}", get(one).patch(patch_sound))
        .route("/api/v1/nodes/{id}/credentials", post(reset_credentials))
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

async fn create(
    State(s): State<AppState>,
    Query(f): Query<Format>,
    Json(n): Json<NewNode>,
) -> Result<Response, ApiError> {
    let (node, text) = provision(&s, n).await?;
    respond(StatusCode::CREATED, f, node, text)
}

async fn reset_credentials(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(f): Query<Format>,
) -> Result<Response, ApiError> {
    let (node, text) = new_credentials(&s, &id).await?;
    respond(StatusCode::OK, f, node, text)
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

async fn patch_sound(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(p): Json<SoundPatch>,
) -> Result<Json<NodeRow>, ApiError> {
    Ok(Json(set_sound(&s, &id, p.volume, p.chime).await?))
}
