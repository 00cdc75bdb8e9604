//! `/api/v1/faults` and `/api/v1/nodes/{id}/station`: what needs a person now, and one
//! station's state, faults with their history, and its day (see [`crate::ops::faults`]).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::faults::Fault;
use crate::ops::faults::{current, station as station_of, Station};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(station))
}

/// What needs a person
///
/// The faults now in the account's villages, most urgent first: emergencies not played on a
/// node some seconds after they began (`fault_emergency_after_secs`), stations offline, device
/// errors, refused plans, clocks off by more than `fault_clock_offset_ms`, disks with less than
/// `fault_low_disk_bytes` free.
#[utoipa::path(
    get,
    path = "/api/v1/faults",
    tag = "nodes",
    operation_id = "listFaults",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The faults, most urgent first.", body = Vec<Fault>))
)]
async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Vec<Fault>>, ApiError> {
    Ok(Json(current(&s, &actor).await?))
}

/// One station
///
/// The node with its last state, its faults now and their history, and its deliveries of
/// today (in the commune's time zone).
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{id}/station",
    tag = "nodes",
    operation_id = "getStation",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("id" = String, Path, description = "The node's id.")),
    responses((status = 200, description = "The station.", body = Station), (status = 404))
)]
async fn station(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Json<Station>, ApiError> {
    Ok(Json(station_of(&s, &actor, &id).await?))
}
