//! `/api/v1/settings` (commune settings) and `/api/v1/zones/{id}/quiet-hours`.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::schedule::rule::QuietHours;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/settings", get(settings).put(set_settings))
        .route("/api/v1/zones/{id}/quiet-hours", put(set_quiet_hours))
}

#[derive(Serialize, Deserialize)]
struct Settings {
    /// Schedules made through the API wait as drafts until approved.
    require_approval: bool,
    /// The commune's time zone (from the controller's configuration).
    #[serde(default, skip_deserializing)]
    time_zone: String,
}

async fn settings(State(s): State<AppState>) -> Result<Json<Settings>, ApiError> {
    let require_approval = s
        .store
        .setting("require_approval")
        .await?
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(Json(Settings {
        require_approval,
        time_zone: s.tz.name().to_string(),
    }))
}

async fn set_settings(
    State(s): State<AppState>,
    Json(body): Json<Settings>,
) -> Result<Json<Settings>, ApiError> {
    s.store
        .set_setting(
            "require_approval",
            &serde_json::Value::Bool(body.require_approval),
        )
        .await?;
    tracing::info!(require_approval = body.require_approval, "settings changed");
    settings(State(s)).await
}

#[derive(Deserialize)]
struct QuietBody {
    /// Local "HH:MM"; both absent (or null) clears the zone's quiet hours.
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
struct QuietView {
    zone_id: i64,
    quiet_hours: Option<QuietHours>,
}

async fn set_quiet_hours(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<QuietBody>,
) -> Result<Json<QuietView>, ApiError> {
    let parse = |v: &str| {
        NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| {
            ApiError::invalid(format!("{v:?} is not a time of day as HH:MM (e.g. 22:00)"))
        })
    };
    let quiet = match (b.start.as_deref(), b.end.as_deref()) {
        (None, None) => None,
        (Some(a), Some(e)) => Some(QuietHours {
            start: parse(a)?,
            end: parse(e)?,
        }),
        _ => return Err(ApiError::invalid("quiet hours need both start and end")),
    };
    s.store.set_quiet_hours(id, quiet).await?;
    // Only occurrences written from now on follow the new hours.
    s.materializer.wake.notify_one();
    Ok(Json(QuietView {
        zone_id: id,
        quiet_hours: quiet,
    }))
}
