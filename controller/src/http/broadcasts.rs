//! `/api/v1/announcements` and `/api/v1/broadcasts`: "play announcement A on zones Z at time T
//! (or now) with priority P", and each targeted node's delivery record.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::announcements::{self, AnnouncementChange, NewRelay, Search};
use crate::ops::broadcasts::{
    cancel_broadcast, check_broadcast, create_broadcast, view, BroadcastCheck, BroadcastView,
    NewBroadcast,
};
use crate::store::media::Announcement;
use crate::store::occurrences::OccurrenceRow;
use crate::store::parts::{Recording, DEFAULT_LANGUAGES};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_announcements, create_announcement))
        .routes(routes!(change_announcement))
        .routes(routes!(list, create))
        .routes(routes!(one))
        .routes(routes!(cancel))
}

/// A new announcement: one recording (`media_sha256`, in Vietnamese unless `language` says
/// otherwise), or several, one per language, the main one first; or a relay of a source.
#[derive(Deserialize, ToSchema)]
struct NewAnnouncement {
    title: String,
    media_sha256: Option<String>,
    language: Option<String>,
    #[serde(default)]
    recordings: Vec<Recording>,
    relay: Option<NewRelay>,
}

/// Make an announcement
///
/// One recording (`media_sha256`, in Vietnamese unless `language` says otherwise), or several,
/// one per language, the main one first.
#[utoipa::path(
    post,
    path = "/api/v1/announcements",
    tag = "broadcasts",
    operation_id = "createAnnouncement",
    extensions(("x-loa-role" = json!("operator"))),
    request_body = NewAnnouncement,
    responses(
        (status = 201, description = "The announcement.", body = Announcement),
        (status = 404, description = "A recording's media is not stored."),
    )
)]
async fn create_announcement(
    State(s): State<AppState>,
    Json(a): Json<NewAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>), ApiError> {
    if let Some(r) = &a.relay {
        if a.media_sha256.is_some() || !a.recordings.is_empty() {
            return Err(ApiError::invalid(
                "a relay has no recording: give relay, or media_sha256 or recordings",
            ));
        }
        let made = announcements::create_relay(&s, &a.title, r).await?;
        return Ok((StatusCode::CREATED, Json(made)));
    }
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

/// The announcements
///
/// Those in use (not archived), newest first; `q` finds words in the title or category,
/// `category` keeps one category, `archived=true` lists the archive instead.
#[utoipa::path(
    get,
    path = "/api/v1/announcements",
    tag = "broadcasts",
    operation_id = "listAnnouncements",
    extensions(("x-loa-role" = json!("viewer"))),
    params(Search),
    responses((status = 200, description = "The announcements.", body = Vec<Announcement>))
)]
async fn list_announcements(
    State(s): State<AppState>,
    Query(f): Query<Search>,
) -> Result<Json<Vec<Announcement>>, ApiError> {
    Ok(Json(announcements::search(&s, &f).await?))
}

/// File an announcement under a category, or archive it
///
/// Fields left out stay; an empty `category` removes it. An archived announcement keeps its
/// history and what is planned with it, but is no longer offered in the pages' pickers.
#[utoipa::path(
    patch,
    path = "/api/v1/announcements/{id}",
    tag = "broadcasts",
    operation_id = "changeAnnouncement",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The announcement's id.")),
    request_body = AnnouncementChange,
    responses(
        (status = 200, description = "The announcement.", body = Announcement),
        (status = 404),
        (status = 422, description = "A category over 60 characters."),
    )
)]
async fn change_announcement(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(c): Json<AnnouncementChange>,
) -> Result<Json<Announcement>, ApiError> {
    Ok(Json(announcements::change(&s, id, &c).await?))
}

/// Broadcast an announcement
///
/// "Play announcement A on zones Z at time T (or now) with priority P": one delivery per node
/// under the zones, each sent its new plan. Loudspeakers in quiet hours at that time are left
/// out unless it is an emergency. `?dry_run=true` only checks, as for a schedule: it answers
/// the other schedules and broadcasts it overlaps and the villages in quiet hours then (an
/// emergency: none of either), and makes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/broadcasts",
    tag = "broadcasts",
    operation_id = "createBroadcast",
    extensions(("x-loa-role" = json!("operator"))),
    params(("dry_run" = Option<bool>, Query,
            description = "Only check: answer the overlaps and quiet hours, make nothing.")),
    request_body = NewBroadcast,
    responses(
        (status = 201, description = "The broadcast with its deliveries.", body = BroadcastView),
        (status = 200, description = "The dry run's answer.", body = BroadcastCheck),
        (status = 404, description = "No such announcement or zone."),
        (status = 422, description = "A wrong field or time, or every chosen loudspeaker in \
         quiet hours then (`broadcast.all_quiet`)."),
    )
)]
async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<DryRun>,
    Json(b): Json<NewBroadcast>,
) -> Result<Response, ApiError> {
    if q.dry_run {
        return Ok(Json(check_broadcast(&s, &actor, &b).await?).into_response());
    }
    let occ = create_broadcast(&s, &actor, &b).await?;
    Ok((StatusCode::CREATED, Json(view(&s, &actor, occ).await?)).into_response())
}

#[derive(Deserialize)]
struct DryRun {
    /// Only check: answer the overlaps and quiet hours, make nothing.
    #[serde(default)]
    dry_run: bool,
}

/// One broadcast with its deliveries
///
/// Also an occurrence of a schedule, by its id.
#[utoipa::path(
    get,
    path = "/api/v1/broadcasts/{id}",
    tag = "broadcasts",
    operation_id = "getBroadcast",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "The occurrence's id.")),
    responses((status = 200, description = "The broadcast.", body = BroadcastView), (status = 404))
)]
async fn one(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<BroadcastView>, ApiError> {
    let occ = s.store.occurrence(id).await?;
    actor.check_concerns(&s.store, &occ.zone_ids).await?;
    Ok(Json(view(&s, &actor, occ).await?))
}

/// The latest broadcasts and occurrences
///
/// The latest 200 that concern the account's zones.
#[utoipa::path(
    get,
    path = "/api/v1/broadcasts",
    tag = "broadcasts",
    operation_id = "listBroadcasts",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "Latest first.", body = Vec<OccurrenceRow>))
)]
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

#[derive(Deserialize, Default, ToSchema)]
struct CancelRequest {
    reason: Option<String>,
}

/// Cancel a broadcast
///
/// Its open deliveries become `cancelled`; the nodes get new plans.
#[utoipa::path(
    post,
    path = "/api/v1/broadcasts/{id}/cancel",
    tag = "broadcasts",
    operation_id = "cancelBroadcast",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The occurrence's id.")),
    request_body(content = Option<CancelRequest>, description = "Optional: why."),
    responses(
        (status = 200, description = "The broadcast, cancelled.", body = BroadcastView),
        (status = 404),
        (status = 409, description = "Already cancelled, or over."),
    )
)]
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
