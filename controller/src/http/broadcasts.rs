//! `/api/v1/announcements` and `/api/v1/broadcasts`: "play announcement A on zones Z at time T
//! (or now) with priority P", and each targeted node's delivery record.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::broadcasts::{
    cancel_broadcast, create_broadcast, view, BroadcastView, NewBroadcast,
};
use crate::store::media::Announcement;
use crate::store::occurrences::OccurrenceRow;
use crate::store::parts::{Recording, DEFAULT_LANGUAGES};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/announcements",
            get(list_announcements).post(create_announcement),
        )
        .route("/api/v1/broadcasts", get(list).post(create))
        .route("/api/v1/broadcasts/{id}", get(one))
        .route("/api/v1/broadcasts/{id}/cancel", post(cancel))
}

/// A new announcement: one recording (`media_sha256`, in Vietnamese unless `language` says
/// otherwise), or several, one per language, the main one first.
#[derive(Deserialize)]
struct NewAnnouncement {
    title: String,
    media_sha256: Option<String>,
    language: Option<String>,
    #[serde(default)]
    recordings: Vec<Recording>,
}

async fn create_announcement(
    State(s): State<AppState>,
    Json(a): Json<NewAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>), ApiError> {
    let recordings = match (a.media_sha256, a.recordings.is_empty()) {
        (Some(sha), true) => vec![Recording {
            language: a
                .language
                .unwrap_or_else(|| DEFAULT_LANGUAGES[0].to_owned()),
            media_sha256: sha,
        }],
        (None, false) => a.recordings,
        _ => {
            return Err(ApiError::invalid(
                "give either media_sha256 (one recording) or recordings (one per language)",
            ))
        }
    };
    let a = s.store.create_announcement(&a.title, &recordings).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn list_announcements(
    State(s): State<AppState>,
) -> Result<Json<Vec<Announcement>>, ApiError> {
    Ok(Json(s.store.announcements().await?))
}

async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Json(b): Json<NewBroadcast>,
) -> Result<(StatusCode, Json<BroadcastView>), ApiError> {
    let occ = create_broadcast(&s, &actor, &b).await?;
    Ok((StatusCode::CREATED, Json(view(&s, &actor, occ).await?)))
}

async fn one(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<BroadcastView>, ApiError> {
    let occ = s.store.occurrence(id).await?;
    actor.check_concerns(&s.store, &occ.zone_ids).await?;
    Ok(Json(view(&s, &actor, occ).await?))
}

async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Vec<OccurrenceRow>>, ApiError> {
    let mut out = Vec::new();
    for o in s.store.occurrences(200).await? {
        if actor.concerns(&s.store, &o.zone_ids).await? {
            out.push(o);
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
struct CancelRequest {
    reason: Option<String>,
}

async fn cancel(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    body: Option<Json<CancelRequest>>,
) -> Result<Json<BroadcastView>, ApiError> {
    let reason = body.and_then(|Json(r)| r.reason);
    let occ = cancel_broadcast(&s, &actor, id, reason).await?;
    Ok(Json(view(&s, &actor, occ).await?))
}
