//! `/api/v1/map/stations`: the station map's data, which the commune's map page draws from
//! and a province's page can read the same way ([`crate::ops::map`]).

use axum::extract::State;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::map::{stations, StationMap};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The stations on the map
///
/// Every station in the account's villages: its place (absent until set), its state in one
/// word (`offline`, `fault`, `playing`, `online`, `unknown`: the first that applies), last
/// seen, software version, what plays now, today's deliveries and its faults now; and the
/// commune's tile URL template (empty: a plain background).
#[utoipa::path(
    get,
    path = "/api/v1/map/stations",
    tag = "nodes",
    operation_id = "mapStations",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The stations and the tiles.", body = StationMap))
)]
async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<StationMap>, ApiError> {
    Ok(Json(stations(&s, &actor).await?))
}
