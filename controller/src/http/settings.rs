//! `/api/v1/settings` (commune settings), `/api/v1/zones/{id}/quiet-hours` and
//! `/api/v1/zones/{id}/languages`.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::ops::settings::{
    change, change_languages, change_quiet_hours, current, LanguagesView, QuietView, Settings,
    SettingsPatch,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/settings", get(settings).put(set_settings))
        .route("/api/v1/zones/{id}/quiet-hours", put(set_quiet_hours))
        .route("/api/v1/zones/{id}/languages", put(set_languages))
}

async fn settings(State(s): State<AppState>) -> Result<Json<Settings>, ApiError> {
    Ok(Json(current(&s).await?))
}

async fn set_settings(
    State(s): State<AppState>,
    Json(p): Json<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(change(&s, &p).await?))
}

#[derive(Deserialize)]
struct LanguagesBody {
    /// In playing order; null (or absent) inherits from the zone above.
    languages: Option<Vec<String>>,
}

async fn set_languages(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<LanguagesBody>,
) -> Result<Json<LanguagesView>, ApiError> {
    Ok(Json(change_languages(&s, id, b.languages).await?))
}

#[derive(Deserialize)]
struct QuietBody {
    /// Local "HH:MM"; both absent (or null) clears the zone's quiet hours.
    start: Option<String>,
    end: Option<String>,
}

async fn set_quiet_hours(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<QuietBody>,
) -> Result<Json<QuietView>, ApiError> {
    Ok(Json(
        change_quiet_hours(&s, id, b.start.as_deref(), b.end.as_deref()).await?,
    ))
}
