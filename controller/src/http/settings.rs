//! `/api/v1/settings` (commune settings), `/api/v1/zones/{id}/quiet-hours` and
//! `/api/v1/zones/{id}/languages`.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::ops::settings::{
    change, change_languages, change_quiet_hours, current, LanguagesView, QuietView, Settings,
    SettingsPatch,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(settings, set_settings))
        .routes(routes!(set_quiet_hours))
        .routes(routes!(set_languages))
}

/// The commune's settings
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    operation_id = "getSettings",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The settings.", body = Settings))
)]
async fn settings(State(s): State<AppState>) -> Result<Json<Settings>, ApiError> {
    Ok(Json(current(&s).await?))
}

/// Change the commune's settings
///
/// Fields left out stay as they are; `chime_media: null` removes the chime. Every node gets a
/// new plan.
#[utoipa::path(
    put,
    path = "/api/v1/settings",
    tag = "settings",
    operation_id = "setSettings",
    extensions(("x-loa-role" = json!("admin"))),
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "The settings.", body = Settings),
        (status = 404, description = "`chime_media` is not a stored file."),
    )
)]
async fn set_settings(
    State(s): State<AppState>,
    Json(p): Json<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(change(&s, &p).await?))
}

#[derive(Deserialize, ToSchema)]
struct LanguagesBody {
    /// In playing order; null (or absent) inherits from the zone above.
    languages: Option<Vec<String>>,
}

/// Set a zone's languages
///
/// The languages its nodes play, in order; null inherits from the zone above.
#[utoipa::path(
    put,
    path = "/api/v1/zones/{id}/languages",
    tag = "zones",
    operation_id = "setZoneLanguages",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The zone's id.")),
    request_body = LanguagesBody,
    responses((status = 200, description = "The zone's languages.", body = LanguagesView),
              (status = 404))
)]
async fn set_languages(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<LanguagesBody>,
) -> Result<Json<LanguagesView>, ApiError> {
    Ok(Json(change_languages(&s, id, b.languages).await?))
}

#[derive(Deserialize, ToSchema)]
struct QuietBody {
    /// Local "HH:MM"; both absent (or null) clears the zone's quiet hours.
    start: Option<String>,
    end: Option<String>,
}

/// Set a zone's quiet hours
///
/// Normal announcements wait until they end; emergencies play. Both absent clears them.
#[utoipa::path(
    put,
    path = "/api/v1/zones/{id}/quiet-hours",
    tag = "zones",
    tags = ["schedules"],
    operation_id = "setQuietHours",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The zone's id.")),
    request_body = QuietBody,
    responses((status = 200, description = "The zone's quiet hours.", body = QuietView),
              (status = 404))
)]
async fn set_quiet_hours(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<QuietBody>,
) -> Result<Json<QuietView>, ApiError> {
    Ok(Json(
        change_quiet_hours(&s, id, b.start.as_deref(), b.end.as_deref()).await?,
    ))
}
