//! `/api/v1/nodes`: provisioning (which returns the node's config file), the registry,
//! moving a node to another zone, and where it stands.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::locations::{clear_location, set_location};
use crate::ops::nodes::{
    move_node, new_credentials, provision, request_speaker_check, set_sound, Moved, NewNode,
};
use crate::store::nodes::NodeRow;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, patch_sound))
        .routes(routes!(reset_credentials))
        .routes(routes!(move_zone))
        .routes(routes!(speaker_check))
        .routes(routes!(put_location, delete_location))
}

/// Where a node stands, in decimal degrees (WGS 84).
#[derive(Deserialize, ToSchema)]
struct LocationBody {
    /// −90 to 90.
    latitude: f64,
    /// −180 to 180.
    longitude: f64,
}

/// Set where a node stands
///
/// For the station map. The latest set wins: a location the installer saves later on the node
/// (`loa-node check --location`) replaces this one, and this one replaces an earlier one of
/// the installer's.
#[utoipa::path(
    put,
    path = "/api/v1/nodes/{id}/location",
    tag = "nodes",
    operation_id = "setNodeLocation",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = String, Path, description = "The node's id.")),
    request_body = LocationBody,
    responses(
        (status = 200, description = "The node, with its location.", body = NodeRow),
        (status = 404),
        (status = 409, description = "A location set later is kept (`node.location_newer`; only a clock moved back makes this)."),
        (status = 422, description = "Out of range (`node.bad_location`)."),
    )
)]
async fn put_location(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Json(b): Json<LocationBody>,
) -> Result<Json<NodeRow>, ApiError> {
    Ok(Json(
        set_location(&s, &actor, &id, Some(b.latitude), Some(b.longitude)).await?,
    ))
}

/// Forget where a node stands
///
/// It is listed beside the map as without a place until someone sets one again (or its node
/// reports the installer's).
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{id}/location",
    tag = "nodes",
    operation_id = "clearNodeLocation",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = String, Path, description = "The node's id.")),
    responses((status = 200, description = "The node, without a location.", body = NodeRow), (status = 404))
)]
async fn delete_location(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Json<NodeRow>, ApiError> {
    Ok(Json(clear_location(&s, &actor, &id).await?))
}

#[derive(Deserialize)]
struct Format {
    /// `toml` returns the config file alone, ready to save as `node.toml`.
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Provisioned {
    node: NodeRow,
    /// The node's config file. Its secrets are not shown again.
    config_toml: String,
}

/// Provision a node
///
/// Registers the node and answers its config file (with its broker password, media token and
/// signing key, shown this once).
#[utoipa::path(
    post,
    path = "/api/v1/nodes",
    tag = "nodes",
    operation_id = "createNode",
    extensions(("x-loa-role" = json!("admin"))),
    params(("format" = Option<String>, Query,
            description = "`toml` answers the config file alone (`application/toml`), ready to save as `node.toml`.")),
    request_body = NewNode,
    responses(
        (status = 201, description = "The node and its config file.",
         content((Provisioned = "application/json"), (String = "application/toml"))),
        (status = 404, description = "No zone `zone_id`."),
        (status = 409, description = "A node with that id exists."),
    )
)]
async fn create(
    State(s): State<AppState>,
    Query(f): Query<Format>,
    Json(n): Json<NewNode>,
) -> Result<Response, ApiError> {
    let (node, text) = provision(&s, n).await?;
    respond(StatusCode::CREATED, f, node, text)
}

/// New credentials for a node
///
/// A new broker password, media token and node key; the old ones stop working. Answers the
/// node's new config file.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{id}/credentials",
    tag = "nodes",
    operation_id = "resetNodeCredentials",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = String, Path, description = "The node's id."),
           ("format" = Option<String>, Query,
            description = "`toml` answers the config file alone (`application/toml`).")),
    responses(
        (status = 200, description = "The node and its new config file.",
         content((Provisioned = "application/json"), (String = "application/toml"))),
        (status = 404),
    )
)]
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

/// The nodes
///
/// Those in the account's zones.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "nodes",
    operation_id = "listNodes",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The nodes.", body = Vec<NodeRow>))
)]
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

/// One node
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{id}",
    tag = "nodes",
    operation_id = "getNode",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("id" = String, Path, description = "The node's id.")),
    responses((status = 200, description = "The node.", body = NodeRow), (status = 404))
)]
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
#[derive(Deserialize, ToSchema)]
struct SoundPatch {
    /// 0–100.
    volume: Option<u8>,
    /// Play the commune's chime before announcements.
    chime: Option<bool>,
}

/// Change a node's sound
#[utoipa::path(
    patch,
    path = "/api/v1/nodes/{id}",
    tag = "nodes",
    operation_id = "setNodeSound",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = String, Path, description = "The node's id.")),
    request_body = SoundPatch,
    responses((status = 200, description = "The node.", body = NodeRow), (status = 404))
)]
async fn patch_sound(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(p): Json<SoundPatch>,
) -> Result<Json<NodeRow>, ApiError> {
    Ok(Json(set_sound(&s, &id, p.volume, p.chime).await?))
}

#[derive(Deserialize, ToSchema)]
struct MoveTo {
    zone_id: i64,
}

/// Move a node to another zone
///
/// To another village (or cluster): what its old zone's schedules and broadcasts would have
/// played on it is withdrawn (`cancelled`), its new zone's planned schedules reach it, and it
/// is sent its new plan.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{id}/zone",
    tag = "nodes",
    operation_id = "moveNode",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = String, Path, description = "The node's id.")),
    request_body = MoveTo,
    responses(
        (status = 200, description = "The node, with what was withdrawn and added.", body = Moved),
        (status = 404, description = "No such node or zone."),
        (status = 409, description = "Already in that zone (`node.same_zone`)."),
    )
)]
async fn move_zone(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(m): Json<MoveTo>,
) -> Result<Json<Moved>, ApiError> {
    Ok(Json(move_node(&s, &id, m.zone_id).await?))
}

/// Ask a node for a speaker check
///
/// The node plays its quiet test signal and listens for it through its microphone input as
/// soon as nothing plays or is due within two minutes; the verdict arrives in its state
/// (`state.speaker_check`), and a failure is a fault on the dashboard. A node without a
/// microphone configured (`[audio.speaker_check]` in its `node.toml`) ignores the request.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{id}/speaker-check",
    tag = "nodes",
    operation_id = "requestSpeakerCheck",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = String, Path, description = "The node's id.")),
    responses((status = 202, description = "Asked; the node's plan carries the request.", body = NodeRow), (status = 404))
)]
async fn speaker_check(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<NodeRow>), ApiError> {
    let node = s.store.node(&id).await?;
    actor.check_zones(&s.store, &[node.zone_id]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(request_speaker_check(&s, &id).await?),
    ))
}
