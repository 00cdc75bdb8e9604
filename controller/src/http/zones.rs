//! `/api/v1/zones`: the zone tree (commune → village → cluster).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::store::zones::Zone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/zones", get(list).post(create))
        .route("/api/v1/zones/{id}", patch(rename))
}

#[derive(Deserialize)]
struct NewZone {
    name: String,
    parent_id: Option<i64>,
}

async fn create(
    State(s): State<AppState>,
    Json(z): Json<NewZone>,
) -> Result<(StatusCode, Json<Zone>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_zone(&z.name, z.parent_id).await?),
    ))
}

#[derive(Deserialize)]
struct Rename {
    name: String,
}

async fn rename(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(r): Json<Rename>,
) -> Result<Json<Zone>, ApiError> {
    Ok(Json(s.store.rename_zone(id, &r.name).await?))
}

/// A zone with its children, for the tree view.
#[derive(Serialize)]
struct ZoneTree {
    id: i64,
    name: String,
    children: Vec<ZoneTree>,
}

fn subtree(all: &[Zone], parent: Option<i64>) -> Vec<ZoneTree> {
    all.iter()
        .filter(|z| z.parent_id == parent)
        .map(|z| ZoneTree {
            id: z.id,
            name: z.name.clone(),
            children: subtree(all, Some(z.id)),
        })
        .collect()
}

/// The whole tree, or for an account limited to some zones, the subtrees under them.
async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Vec<ZoneTree>>, ApiError> {
    let all = s.store.zones().await?;
    if !actor.is_scoped() {
        return Ok(Json(subtree(&all, None)));
    }
    let roots = all
        .iter()
        .filter(|z| actor.user.zone_ids.contains(&z.id))
        .map(|z| ZoneTree {
            id: z.id,
            name: z.name.clone(),
            children: subtree(&all, Some(z.id)),
        })
        .collect();
    Ok(Json(roots))
}
