//! `/api/v1/keys`: the controller's signing key and its rotation, without visiting villages.
//!
//! `rotate` makes the next key, and every node's next plan announces it; each node's state then
//! lists it. `commit` switches to it once every live node has seen it (or when told to go on
//! anyway: a node that missed the announcement needs a new config file).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::ops::keys::{begin_rotation, commit_rotation, status, KeyStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/keys", get(show))
        .route("/api/v1/keys/rotate", post(rotate))
        .route("/api/v1/keys/commit", post(commit))
}

async fn show(State(s): State<AppState>) -> Result<Json<KeyStatus>, ApiError> {
    Ok(Json(status(&s).await?))
}

async fn rotate(State(s): State<AppState>) -> Result<Json<KeyStatus>, ApiError> {
    begin_rotation(&s).await?;
    Ok(Json(status(&s).await?))
}

#[derive(Deserialize, Default)]
struct Commit {
    /// Switch even though some nodes have not seen the next key (they will refuse plans
    /// until they get a new config file).
    #[serde(default)]
    force: bool,
}

async fn commit(
    State(s): State<AppState>,
    body: Option<Json<Commit>>,
) -> Result<Json<KeyStatus>, ApiError> {
    let force = body.map(|Json(c)| c.force).unwrap_or(false);
    commit_rotation(&s, force).await?;
    Ok(Json(status(&s).await?))
}
