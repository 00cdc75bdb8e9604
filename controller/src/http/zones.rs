//! `/api/v1/zones`: the zone tree (commune → village → cluster): add, rename, remove an
//! empty one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::zones::remove_zone;
use crate::store::zones::Zone;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(rename, remove))
}

#[derive(Deserialize, ToSchema)]
struct NewZone {
    name: String,
    parent_id: Option<i64>,
}

/// Add a zone
///
/// Under `parent_id`, or a new top (the commune) without it.
#[utoipa::path(
    post,
    path = "/api/v1/zones",
    tag = "zones",
    operation_id = "createZone",
    extensions(("x-loa-role" = json!("admin"))),
    request_body = NewZone,
    responses(
        (status = 201, description = "The zone.", body = Zone),
        (status = 404, description = "No zone `parent_id`."),
        (status = 409, description = "A zone of that name already stands under that parent."),
    )
)]
async fn create(
    State(s): State<AppState>,
    Json(z): Json<NewZone>,
) -> Result<(StatusCode, Json<Zone>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_zone(&z.name, z.parent_id).await?),
    ))
}

#[derive(Deserialize, ToSchema)]
struct Rename {
    name: String,
}

/// Rename a zone
#[utoipa::path(
    patch,
    path = "/api/v1/zones/{id}",
    tag = "zones",
    operation_id = "renameZone",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The zone's id.")),
    request_body = Rename,
    responses(
        (status = 200, description = "The zone.", body = Zone),
        (status = 404),
        (status = 409, description = "A sibling has that name."),
    )
)]
async fn rename(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(r): Json<Rename>,
) -> Result<Json<Zone>, ApiError> {
    Ok(Json(s.store.rename_zone(id, &r.name).await?))
}

/// Remove an empty zone
///
/// Only a zone nothing uses or used: no zones below, no loudspeakers (decommissioned ones
/// included), no schedules, no broadcasts, no accounts limited to it. Otherwise 409
/// `zone.not_empty`, saying what still uses it.
#[utoipa::path(
    delete,
    path = "/api/v1/zones/{id}",
    tag = "zones",
    operation_id = "removeZone",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The zone's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404),
        (status = 409, description = "Still used (`zone.not_empty`)."),
    )
)]
async fn remove(State(s): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    remove_zone(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A zone with its children, for the tree view.
#[derive(Serialize, ToSchema)]
struct ZoneTree {
    id: i64,
    name: String,
    // A tree: the schema refers to itself.
    #[schema(no_recursion)]
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

/// The zone tree
///
/// The whole tree, or for an account limited to some zones, the subtrees under them.
#[utoipa::path(
    get,
    path = "/api/v1/zones",
    tag = "zones",
    operation_id = "listZones",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The roots with their children.", body = Vec<ZoneTree>))
)]
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
