//! `/api/v1/schedules`: standing programmes and one-off schedules — create (conflicts shown
//! first), edit, pause, resume, cancel, approve — and their occurrences.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use loa_protocol::Priority;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::conflicts::{self, Conflict};
use crate::planner::MAX_PLAN_ITEMS;
use crate::schedule::rule::Recurrence;
use crate::store::occurrences::OccurrenceRow;
use crate::store::schedules::{ScheduleRow, ScheduleSpec, Source, Status};

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

/// The next ten airings, in the commune's time zone.
pub(crate) async fn next_airings(s: &AppState, r: &Recurrence) -> Vec<String> {
    let now = Utc::now();
    r.fires_between(s.tz, now, now + chrono::Duration::days(400), 10)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.with_timezone(&s.tz).to_rfc3339())
        .collect()
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

/// Refuses a rule that fires more often than a node's plan can carry within the horizon.
fn check_rate(s: &AppState, r: &Recurrence) -> Result<(), ApiError> {
    r.validate().map_err(|e| ApiError::invalid(e.to_string()))?;
    let now = Utc::now();
    let horizon = chrono::Duration::seconds(s.cfg.plan_horizon_secs);
    let n = r
        .fires_between(s.tz, now, now + horizon, MAX_PLAN_ITEMS + 1)
        .map_err(|e| ApiError::invalid(e.to_string()))?
        .len();
    if n > MAX_PLAN_ITEMS {
        return Err(ApiError::invalid(format!(
            "this rule airs more than {MAX_PLAN_ITEMS} times in {} hours; space the airings out",
            s.cfg.plan_horizon_secs / 3600
        )));
    }
    Ok(())
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

/// Checks a new or changed schedule (the account's zones, the rule, how often it airs) and
/// finds what it would overlap. Shared by the API and the schedules page.
pub(crate) async fn check_schedule(
    s: &AppState,
    actor: &Actor,
    spec: &ScheduleSpec,
    editing: Option<i64>,
) -> Result<Vec<Conflict>, ApiError> {
    actor.check_zones(&s.store, &spec.zone_ids).await?;
    check_rate(s, &spec.recurrence)?;
    Ok(conflicts::find(&s.store, s.tz, spec, editing, Utc::now()).await?)
}

/// Saves a checked new schedule: a draft when the commune requires approval, else active.
pub(crate) async fn save_new(s: &AppState, spec: &ScheduleSpec) -> Result<ScheduleRow, ApiError> {
    let approval = s.store.require_approval().await?;
    let status = if approval {
        Status::Draft
    } else {
        Status::Active
    };
    let row = s
        .store
        .create_schedule(spec, status, Source::Api, None)
        .await?;
    tracing::info!(schedule = row.id, name = %row.name, status = status.as_str(), "schedule created");
    s.materializer.wake.notify_one();
    Ok(row)
}

/// The schedule as it stands, if the account may change it: within its zones, not from a file.
pub(crate) async fn editable(
    s: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<ScheduleRow, ApiError> {
    let current = s.store.schedule(id).await?;
    actor.check_zones(&s.store, &current.zone_ids).await?;
    refuse_file(&current)?;
    Ok(current)
}

/// Saves a checked change: the old future occurrences are withdrawn and it is planned again.
pub(crate) async fn save_edit(
    s: &AppState,
    id: i64,
    spec: &ScheduleSpec,
) -> Result<ScheduleRow, ApiError> {
    let touched = s.store.update_schedule(id, spec).await?;
    s.planner.publish_all(&touched).await;
    s.materializer.wake.notify_one();
    Ok(s.store.schedule(id).await?)
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

/// File schedules are changed in their file (and the controller restarted), not here.
fn refuse_file(s: &ScheduleRow) -> Result<(), ApiError> {
    if s.source == Source::File {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "schedule.from_file",
            format!(
                "schedule {} comes from {} line {}; change it there",
                s.id,
                s.source_file.as_deref().unwrap_or("?"),
                s.source_line.unwrap_or(0)
            ),
        ));
    }
    Ok(())
}

async fn set_status(
    s: &AppState,
    actor: &Actor,
    id: i64,
    to: Status,
) -> Result<Json<ScheduleView>, ApiError> {
    let row = change_status(s, actor, id, to).await?;
    let next = next_airings(s, &row.recurrence).await;
    Ok(Json(ScheduleView {
        schedule: row,
        next,
        conflicts: Vec::new(),
    }))
}

/// Pauses, resumes or cancels a schedule within the account's zones (a file's cannot be
/// cancelled here). Shared by the API and the schedules page.
pub(crate) async fn change_status(
    s: &AppState,
    actor: &Actor,
    id: i64,
    to: Status,
) -> Result<ScheduleRow, ApiError> {
    let current = s.store.schedule(id).await?;
    actor.check_zones(&s.store, &current.zone_ids).await?;
    if to == Status::Cancelled {
        refuse_file(&current)?;
    }
    let touched = s.store.set_schedule_status(id, to).await?;
    tracing::info!(
        schedule = id,
        status = to.as_str(),
        nodes = touched.len(),
        "schedule status changed"
    );
    s.planner.publish_all(&touched).await;
    s.materializer.wake.notify_one();
    Ok(s.store.schedule(id).await?)
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
    // A draft goes live only by an admin's approval.
    if s.store.schedule(id).await?.status == Status::Draft {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "schedule.awaiting_approval",
            format!("schedule {id} is a draft awaiting an admin's approval"),
        ));
    }
    set_status(&s, &actor, id, Status::Active).await
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
    let current = s.store.schedule(id).await?;
    if current.status != Status::Draft {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "schedule.not_draft",
            format!(
                "schedule {id} is {}, not a draft awaiting approval",
                current.status.as_str()
            ),
        ));
    }
    set_status(&s, &actor, id, Status::Active).await
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
