//! `/api/v1/sources`: relay sources (a station's stream the controller may pass on).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::ops::sources::{self, NewSource};
use crate::store::sources::Source;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
}

/// Register a relay source
///
/// A name and the URL of a station's stream (Icecast/Shoutcast over HTTP or HTTPS, MP3 or
/// AAC). The URL's form is checked here; the station itself is first contacted when a relay
/// pulls it.
#[utoipa::path(
    post,
    path = "/api/v1/sources",
    tag = "sources",
    operation_id = "createSource",
    extensions(("x-loa-role" = json!("operator"))),
    request_body = NewSource,
    responses(
        (status = 201, description = "The source.", body = Source),
        (status = 409, description = "A source of that name exists (`conflict`)."),
        (status = 422, description = "An empty or long name, or a URL that is not `http(s)://host/…` (`source.bad_url`)."),
    )
)]
async fn create(
    State(s): State<AppState>,
    Json(new): Json<NewSource>,
) -> Result<(StatusCode, Json<Source>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(sources::add_source(&s, &new).await?),
    ))
}

/// The relay sources
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "sources",
    operation_id = "listSources",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "Every source, by name.", body = Vec<Source>))
)]
async fn list(State(s): State<AppState>) -> Result<Json<Vec<Source>>, ApiError> {
    Ok(Json(sources::list_sources(&s).await?))
}

/// Remove a relay source
#[utoipa::path(
    delete,
    path = "/api/v1/sources/{id}",
    tag = "sources",
    operation_id = "deleteSource",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The source's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404),
        (status = 409, description = "Relays use it (`source.in_use`), named in the error."),
    )
)]
async fn remove(State(s): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    sources::remove_source(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
