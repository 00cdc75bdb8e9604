//! `/api/v1/schedules`: standing programmes and one-off schedules — create (conflicts shown
//! first), edit, pause, resume, cancel, approve or send back with a reason — and their
//! occurrences.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use loa_protocol::Priority;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::schedules::{
    self, change_status, check_schedule, editable, next_airings, save_edit, save_new,
};
use crate::schedule::conflicts::Conflict;
use crate::schedule::rule::Recurrence;
use crate::store::occurrences::OccurrenceRow;
use crate::store::schedules::{ScheduleRow, ScheduleSpec, Status};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, update))
        .routes(routes!(occurrences))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
        .routes(routes!(approve))
        .routes(routes!(send_back))
}

#[derive(Deserialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
struct ScheduleView {
    schedule: ScheduleRow,
    /// The next airings, in the commune's time zone.
    next: Vec<String>,
    conflicts: Vec<Conflict>,
}

/// What a dry run answers: the overlaps and the next airings; nothing is saved.
#[derive(Serialize, ToSchema)]
struct ScheduleCheck {
    conflicts: Vec<Conflict>,
    /// The next airings, in the commune's time zone.
    next: Vec<String>,
}

/// A schedule refused because it overlaps others.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConflictsError {
    error: String,
    /// `schedule.conflicts`.
    code: &'static str,
    #[schema(min_items = 1)]
    conflicts: Vec<Conflict>,
}

/// What a 409 of a schedule's save holds: the overlaps, or another clash.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only described: the handlers answer each through its own type.
enum ScheduleRefusal {
    Conflicts(ConflictsError),
    Other(ErrorBody),
}

/// The refusal that lists the overlaps, so the clerk can decide.
fn conflicts_response(conflicts: Vec<Conflict>) -> Response {
    (
        StatusCode::CONFLICT,
        Json(ConflictsError {
            error: format!(
                "this schedule overlaps {} other schedule(s) or broadcast(s) on the same loudspeakers; \
                 change the time or zones, or save with accept_conflicts",
                conflicts.len()
            ),
            code: "schedule.conflicts",
            conflicts,
        }),
    )
        .into_response()
}

/// Make a schedule
///
/// Overlaps with other schedules or broadcasts on the same loudspeakers are refused (409,
/// listing them) unless `accept_conflicts`; `?dry_run=true` only checks. With approval
/// required, the schedule waits as a `draft`.
#[utoipa::path(
    post,
    path = "/api/v1/schedules",
    tag = "schedules",
    operation_id = "createSchedule",
    extensions(("x-loa-role" = json!("operator"))),
    params(("dry_run" = Option<bool>, Query,
            description = "Only check: answer the conflicts and the next airings, save nothing.")),
    request_body = ScheduleBody,
    responses(
        (status = 201, description = "The schedule, its next airings and the overlaps it accepted.",
         body = ScheduleView),
        (status = 200, description = "The dry run's answer.", body = ScheduleCheck),
        (status = 404, description = "No such announcement or zone."),
        (status = 409, description = "Overlaps (`schedule.conflicts`).", body = ScheduleRefusal),
    )
)]
async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<DryRun>,
    Json(body): Json<ScheduleBody>,
) -> Result<Response, ApiError> {
    let spec = body.spec();
    let found = check_schedule(&s, &actor, &spec, None).await?;
    if q.dry_run {
        return Ok(Json(ScheduleCheck {
            conflicts: found,
            next: next_airings(&s, &spec.recurrence).await,
        })
        .into_response());
    }
    if !found.is_empty() && !body.accept_conflicts {
        return Ok(conflicts_response(found));
    }
    let row = save_new(&s, &actor, &spec).await?;
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

/// Change a schedule
///
/// Future occurrences are made again; overlaps are refused as for a new one.
#[utoipa::path(
    put,
    path = "/api/v1/schedules/{id}",
    tag = "schedules",
    operation_id = "updateSchedule",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 404),
        (status = 409, description = "Overlaps (`schedule.conflicts`), a cancelled schedule \
         (`conflict`) or one from a file (`schedule.from_file`).", body = ScheduleRefusal),
    )
)]
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

/// Pause a schedule
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/pause",
    tag = "schedules",
    operation_id = "pauseSchedule",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 404),
        (status = 409, description = "Not in a state that allows it."),
    )
)]
async fn pause(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    set_status(&s, &actor, id, Status::Paused).await
}
/// Resume a paused schedule
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/resume",
    tag = "schedules",
    operation_id = "resumeSchedule",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 404),
        (status = 409, description = "Not in a state that allows it."),
    )
)]
async fn resume(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = schedules::resume(&s, &actor, id).await?;
    Ok(view_of(&s, row).await)
}
/// Cancel a schedule
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/cancel",
    tag = "schedules",
    operation_id = "cancelSchedule",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 404),
        (status = 409, description = "Not in a state that allows it."),
    )
)]
async fn cancel(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    set_status(&s, &actor, id, Status::Cancelled).await
}
/// Approve a draft
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/approve",
    tag = "schedules",
    operation_id = "approveSchedule",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 404),
        (status = 409, description = "Not a draft (`schedule.not_draft`), or written by this \
         admin while approval is required (`schedule.own_approval`)."),
    )
)]
async fn approve(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = schedules::approve(&s, &actor, id).await?;
    Ok(view_of(&s, row).await)
}

#[derive(Deserialize, ToSchema)]
struct SendBackBody {
    /// Why: what the author should change. Shown to them on the schedules page.
    reason: String,
}

/// Send a draft back to its author
///
/// It stays a draft, with the reason, who sent it back and when (`returned`), until its
/// author changes it (which clears them) and an admin approves it.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/send-back",
    tag = "schedules",
    operation_id = "sendBackSchedule",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    request_body = SendBackBody,
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 404),
        (status = 409, description = "Not a draft (`schedule.not_draft`), or written by this \
         admin while approval is required (`schedule.own_approval`)."),
        (status = 422, description = "No reason given (`schedule.no_reason`)."),
    )
)]
async fn send_back(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    Json(body): Json<SendBackBody>,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = schedules::send_back(&s, &actor, id, &body.reason).await?;
    Ok(view_of(&s, row).await)
}

/// The schedules
///
/// Those that concern the account's zones.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    tag = "schedules",
    operation_id = "listSchedules",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The schedules.", body = Vec<ScheduleRow>))
)]
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

/// One schedule with its next airings
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}",
    tag = "schedules",
    operation_id = "getSchedule",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    responses((status = 200, description = "The schedule.", body = ScheduleView), (status = 404))
)]
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

#[derive(Serialize, ToSchema)]
struct OccurrenceLine {
    #[serde(flatten)]
    occurrence: OccurrenceRow,
    /// The start in the commune's time zone.
    local_start: String,
}

/// A schedule's occurrences
///
/// The latest 1000 made from it; each is a broadcast (`/api/v1/broadcasts/{id}`).
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/occurrences",
    tag = "schedules",
    operation_id = "listScheduleOccurrences",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "The schedule's id.")),
    responses((status = 200, description = "The occurrences.", body = Vec<OccurrenceLine>),
              (status = 404))
)]
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
