//! `/api/v1/settings` (commune settings), `/api/v1/zones/{id}/quiet-hours` and
//! `/api/v1/zones/{id}/languages`.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::NaiveTime;
use loa_protocol::AfterPreempt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, AppState};
use crate::schedule::rule::QuietHours;
use crate::store::parts::check_languages;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/settings", get(settings).put(set_settings))
        .route("/api/v1/zones/{id}/quiet-hours", put(set_quiet_hours))
        .route("/api/v1/zones/{id}/languages", put(set_languages))
}

#[derive(Serialize)]
struct Settings {
    /// Schedules made through the API wait as drafts until approved.
    require_approval: bool,
    /// The recording played before announcements (SHA-256 of an uploaded file); none if null.
    chime_media: Option<String>,
    /// What an item interrupted by an emergency does afterwards: `replay` or `resume`.
    after_preempt: AfterPreempt,
    /// The languages zones hear when they do not say, in order.
    languages: Vec<String>,
    /// The commune's time zone (from the controller's configuration).
    time_zone: String,
}

/// A change of settings: fields left out stay as they are; `chime_media: null` removes the
/// chime.
#[derive(Deserialize)]
struct SettingsPatch {
    require_approval: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    chime_media: Option<Value>,
    after_preempt: Option<AfterPreempt>,
    languages: Option<Vec<String>>,
}

/// A field that is present, even as `null` (serde would read `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

async fn settings(State(s): State<AppState>) -> Result<Json<Settings>, ApiError> {
    let st = &s.store;
    Ok(Json(Settings {
        require_approval: st
            .setting("require_approval")
            .await?
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        chime_media: st
            .setting("chime_media")
            .await?
            .and_then(|v| v.as_str().map(str::to_owned)),
        after_preempt: st
            .setting("after_preempt")
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        // The top zone's fallback is the same rule every zone follows.
        languages: match st.setting("languages").await? {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => crate::store::parts::DEFAULT_LANGUAGES
                .iter()
                .map(|l| l.to_string())
                .collect(),
        },
        time_zone: s.tz.name().to_string(),
    }))
}

async fn set_settings(
    State(s): State<AppState>,
    Json(p): Json<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    let mut replan = false;
    if let Some(chime) = &p.chime_media {
        match chime {
            Value::Null => {}
            Value::String(sha) => {
                s.store.media(sha).await?;
            }
            _ => {
                return Err(ApiError::invalid(
                    "chime_media is the SHA-256 of an uploaded recording, or null for no chime",
                ))
            }
        }
    }
    if let Some(l) = &p.languages {
        if l.is_empty() {
            return Err(ApiError::invalid("list at least one language"));
        }
        check_languages(l.iter().map(String::as_str))?;
    }
    if let Some(v) = p.require_approval {
        s.store
            .set_setting("require_approval", &Value::Bool(v))
            .await?;
    }
    if let Some(chime) = &p.chime_media {
        s.store.set_setting("chime_media", chime).await?;
        replan = true;
    }
    if let Some(a) = p.after_preempt {
        let v = serde_json::to_value(a).expect("a policy serialises");
        s.store.set_setting("after_preempt", &v).await?;
        replan = true;
    }
    if let Some(l) = &p.languages {
        s.store
            .set_setting("languages", &serde_json::json!(l))
            .await?;
        replan = true;
    }
    tracing::info!(require_approval = ?p.require_approval, chime = ?p.chime_media, after_preempt = ?p.after_preempt, languages = ?p.languages, "settings changed");
    if replan {
        // Every node's items may hold other parts now.
        let nodes: Vec<String> = s
            .store
            .node_zones()
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        s.planner.publish_all(&nodes).await;
    }
    settings(State(s)).await
}

#[derive(Deserialize)]
struct LanguagesBody {
    /// In playing order; null (or absent) inherits from the zone above.
    languages: Option<Vec<String>>,
}

#[derive(Serialize)]
struct LanguagesView {
    zone_id: i64,
    /// The zone's own list, as set.
    own: Option<Vec<String>>,
    /// What its nodes play, inheritance applied.
    effective: Vec<String>,
}

async fn set_languages(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<LanguagesBody>,
) -> Result<Json<LanguagesView>, ApiError> {
    s.store
        .set_zone_languages(id, b.languages.as_deref())
        .await?;
    let nodes = s.store.nodes_under(&[id]).await?;
    s.planner.publish_all(&nodes).await;
    Ok(Json(LanguagesView {
        zone_id: id,
        own: b.languages,
        effective: s.store.zone_languages(id).await?,
    }))
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
