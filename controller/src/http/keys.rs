//! `/api/v1/keys`: the controller's signing key and its rotation, without visiting villages.
//!
//! `rotate` makes the next key, and every node's next plan announces it; each node's state then
//! lists it. `commit` switches to it once every live node has seen it (or when told to go on
//! anyway: a node that missed the announcement needs a new config file).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::ops::keys::{begin_rotation, commit_rotation, status, KeyStatus};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(rotate))
        .routes(routes!(commit))
}

/// The signing keys
///
/// The current key, the next one during a rotation, and which keys each live node accepts.
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "security",
    operation_id = "showKeys",
    extensions(("x-loa-role" = json!("admin"))),
    responses((status = 200, description = "The keys.", body = KeyStatus))
)]
async fn show(State(s): State<AppState>) -> Result<Json<KeyStatus>, ApiError> {
    Ok(Json(status(&s).await?))
}

/// Begin a key rotation
///
/// Makes the next key; every node's next plan announces it.
#[utoipa::path(
    post,
    path = "/api/v1/keys/rotate",
    tag = "security",
    operation_id = "beginKeyRotation",
    extensions(("x-loa-role" = json!("admin"))),
    responses((status = 200, description = "The keys, `next` set.", body = KeyStatus))
)]
async fn rotate(State(s): State<AppState>) -> Result<Json<KeyStatus>, ApiError> {
    begin_rotation(&s).await?;
    Ok(Json(status(&s).await?))
}

#[derive(Deserialize, Default, ToSchema)]
struct Commit {
    /// Switch even though some nodes have not seen the next key (they will refuse plans
    /// until they get a new config file).
    #[serde(default)]
    force: bool,
}

/// Switch to the next key
///
/// Once every live node has seen it, or with `force`.
#[utoipa::path(
    post,
    path = "/api/v1/keys/commit",
    tag = "security",
    operation_id = "commitKeyRotation",
    extensions(("x-loa-role" = json!("admin"))),
    request_body(content = Option<Commit>, description = "Optional."),
    responses(
        (status = 200, description = "The keys, the next one now current.", body = KeyStatus),
        (status = 409, description = "No rotation under way (`keys.no_rotation`), or nodes that have not seen the next key (`keys.not_seen`)."),
    )
)]
async fn commit(
    State(s): State<AppState>,
    body: Option<Json<Commit>>,
) -> Result<Json<KeyStatus>, ApiError> {
    let force = body.map(|Json(c)| c.force).unwrap_or(false);
    commit_rotation(&s, force).await?;
    Ok(Json(status(&s).await?))
}
