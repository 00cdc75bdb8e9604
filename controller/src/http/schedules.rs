//! `/api/v1/schedules`: standing programmes and one-off schedules — create (conflicts shown
//! first), edit, pause, resume, cancel, approve — and their occurrences.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use loa_protocol::Priority;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::schedules::{
    self, change_status, check_schedule, editable, next_airings, save_edit, save_new,
};
use crate::schedule::conflicts::Conflict;
use crate::schedule::rule::Recurrence;
use crate::store::occurrences::OccurrenceRow;
use crate::store::schedules::{ScheduleRow, ScheduleSpec, Status};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules", get(list).post(create))
        .route("/api/v1/schedules/{id}", get(one).put(update))
        .route("/api/v1/schedules/{id}/occurrences", get(occurrences))
        .route("/api/v1/schedules/{id}/pause", post(pause))
        .route("/api/v1/schedules/{id}/resume", post(resume))
        .route("/api/v1/schedules/{id}/cancel", post(cancel))
        .route("/api/v1/schedules/{id}/approve", post(approve))
}

#[derive(Deserialize)]
struct ScheduleBody {
    name: String,
    announcement_id: i64,
    /// Zone ids; every node under each, including nodes added later.
    zones: Vec<i64>,
    #[serde(default = "normal")]
    priority: Priority,
    recurrence: Recurrence,
    #[serde(default = "thirty")]
    expires_in_minutes: i64,
    /// Save even though it overlaps other schedules or broadcasts.
    #[serde(default)]
    accept_conflicts: bool,
}

fn normal() -> Priority {
    Priority::Normal
}
fn thirty() -> i64 {
    30
}

impl ScheduleBody {
    fn spec(&self) -> ScheduleSpec {
        ScheduleSpec {
            name: self.name.trim().to_string(),
            announcement_id: self.announcement_id,
            priority: self.priority,
            recurrence: self.recurrence.clone(),
            expires_in_minutes: self.expires_in_minutes,
            zone_ids: self.zones.clone(),
        }
    }
}

#[derive(Deserialize)]
struct DryRun {
    /// Only check: answer the conflicts and the next airings, save nothing.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
struct ScheduleView {
    schedule: ScheduleRow,
    /// The next airings, in the commune's time zone.
    next: Vec<String>,
    conflicts: Vec<Conflict>,
}

/// The refusal that lists the overlaps, so the clerk can decide.
fn conflicts_response(conflicts: Vec<Conflict>) -> Response {
    (
        StatusCode::CONFLICT,
        Json(serde_json::json!({
            "error": format!(
                "this schedule overlaps {} other schedule(s) or broadcast(s) on the same loudspeakers; \
                 change the time or zones, or save with accept_conflicts",
                conflicts.len()
            ),
            "code": "schedule.conflicts",
            "conflicts": conflicts,
        })),
    )
        .into_response()
}

async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<DryRun>,
    Json(body): Json<ScheduleBody>,
) -> Result<Response, ApiError> {
    let spec = body.spec();
    let found = check_schedule(&s, &actor, &spec, None).await?;
    if q.dry_run {
        return Ok(Json(serde_json::json!({
            "conflicts": found,
            "next": next_airings(&s, &spec.recurrence).await,
        }))
        .into_response());
    }
    if !found.is_empty() && !body.accept_conflicts {
        return Ok(conflicts_response(found));
    }
    let row = save_new(&s, &spec).await?;
    let next = next_airings(&s, &row.recurrence).await;
    Ok((
        StatusCode::CREATED,
        Json(ScheduleView {
            schedule: row,
            next,
            conflicts: found,
        }),
    )
        .into_response())
}

async fn update(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    Json(body): Json<ScheduleBody>,
) -> Result<Response, ApiError> {
    editable(&s, &actor, id).await?;
    let spec = body.spec();
    let found = check_schedule(&s, &actor, &spec, Some(id)).await?;
    if !found.is_empty() && !body.accept_conflicts {
        return Ok(conflicts_response(found));
    }
    let row = save_edit(&s, id, &spec).await?;
    let next = next_airings(&s, &row.recurrence).await;
    Ok(Json(ScheduleView {
        schedule: row,
        next,
        conflicts: found,
    })
    .into_response())
}

async fn set_status(
    s: &AppState,
    actor: &Actor,
    id: i64,
    to: Status,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = change_status(s, actor, id, to).await?;
    Ok(view_of(s, row).await)
}

/// A schedule with its next airings, as the API answers it.
async fn view_of(s: &AppState, row: ScheduleRow) -> Json<ScheduleView> {
    let next = next_airings(s, &row.recurrence).await;
    Json(ScheduleView {
        schedule: row,
        next,
        conflicts: Vec::new(),
    })
}

async fn pause(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    set_status(&s, &actor, id, Status::Paused).await
}
async fn resume(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = schedules::resume(&s, &actor, id).await?;
    Ok(view_of(&s, row).await)
}
async fn cancel(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    set_status(&s, &actor, id, Status::Cancelled).await
}
async fn approve(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = schedules::approve(&s, &actor, id).await?;
    Ok(view_of(&s, row).await)
}

async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Vec<ScheduleRow>>, ApiError> {
    let mut out = Vec::new();
    for r in s.store.schedules().await? {
        if actor.concerns(&s.store, &r.zone_ids).await? {
            out.push(r);
        }
    }
    Ok(Json(out))
}

async fn one(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = s.store.schedule(id).await?;
    actor.check_concerns(&s.store, &row.zone_ids).await?;
    let next = next_airings(&s, &row.recurrence).await;
    Ok(Json(ScheduleView {
        schedule: row,
        next,
        conflicts: Vec::new(),
    }))
}

#[derive(Serialize)]
struct OccurrenceLine {
    #[serde(flatten)]
    occurrence: OccurrenceRow,
    /// The start in the commune's time zone.
    local_start: String,
}

async fn occurrences(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OccurrenceLine>>, ApiError> {
    let row = s.store.schedule(id).await?;
    actor.check_concerns(&s.store, &row.zone_ids).await?;
    let rows = s.store.schedule_occurrences(id, 1000).await?;
    Ok(Json(
        rows.into_iter()
            .map(|o| OccurrenceLine {
                local_start: o.start_at.with_timezone(&s.tz).to_rfc3339(),
                occurrence: o,
            })
            .collect(),
    ))
}
