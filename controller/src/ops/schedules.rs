//! Schedules as staff make them: check (the account's zones, the rule, how often it airs, what
//! it overlaps), save new (a draft when approval is on, its author kept), edit, pause, resume,
//! cancel, approve (never by its own author while approval is on) or send back with a reason;
//! and the next airings of a rule. Shared by the API and the schedules page.

use super::{App, OpError};
use crate::auth::Actor;
use crate::mqtt::planner::MAX_PLAN_ITEMS;
use crate::schedule::conflicts::{self, Conflict};
use crate::schedule::rule::Recurrence;
use crate::store::schedules::{ScheduleRow, ScheduleSpec, Source, Status};

/// The next ten airings, in the commune's time zone.
pub async fn next_airings(s: &App, r: &Recurrence) -> Vec<String> {
    let now = s.clock.now();
    r.fires_between(s.tz, now, now + chrono::Duration::days(400), 10)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.with_timezone(&s.tz).to_rfc3339())
        .collect()
}

/// Refuses a rule that fires more often than a node's plan can carry within the horizon.
pub fn check_rate(s: &App, r: &Recurrence) -> Result<(), OpError> {
    r.validate().map_err(|e| OpError::invalid(e.to_string()))?;
    let now = s.clock.now();
    let horizon = chrono::Duration::seconds(s.cfg.plan_horizon_secs);
    let n = r
        .fires_between(s.tz, now, now + horizon, MAX_PLAN_ITEMS + 1)
        .map_err(|e| OpError::invalid(e.to_string()))?
        .len();
    if n > MAX_PLAN_ITEMS {
        return Err(OpError::invalid(format!(
            "this rule airs more than {MAX_PLAN_ITEMS} times in {} hours; space the airings out",
            s.cfg.plan_horizon_secs / 3600
        )));
    }
    Ok(())
}

/// Checks a new or changed schedule (the account's zones, the rule, how often it airs) and
/// finds what it would overlap. Shared by the API and the schedules page.
pub async fn check_schedule(
    s: &App,
    actor: &Actor,
    spec: &ScheduleSpec,
    editing: Option<i64>,
) -> Result<Vec<Conflict>, OpError> {
    actor.check_zones(&s.store, &spec.zone_ids).await?;
    check_rate(s, &spec.recurrence)?;
    Ok(conflicts::find(&s.store, s.tz, spec, editing, s.clock.now()).await?)
}

/// Saves a checked new schedule, written by `actor`: a draft when the commune requires
/// approval, else active.
pub async fn save_new(s: &App, actor: &Actor, spec: &ScheduleSpec) -> Result<ScheduleRow, OpError> {
    let approval = s.store.require_approval().await?;
    let status = if approval {
        Status::Draft
    } else {
        Status::Active
    };
    let row = s
        .store
        .create_schedule(spec, status, Source::Api, None, Some(&actor.user.username))
        .await?;
    tracing::info!(schedule = row.id, name = %row.name, status = status.as_str(), "schedule created");
    s.materializer.wake.notify_one();
    Ok(row)
}

/// The schedule as it stands, if the account may change it: within its zones, not from a file.
pub async fn editable(s: &App, actor: &Actor, id: i64) -> Result<ScheduleRow, OpError> {
    let current = s.store.schedule(id).await?;
    actor.check_zones(&s.store, &current.zone_ids).await?;
    refuse_file(&current)?;
    Ok(current)
}

/// Saves a checked change: the old future occurrences are withdrawn and it is planned again.
pub async fn save_edit(s: &App, id: i64, spec: &ScheduleSpec) -> Result<ScheduleRow, OpError> {
    let touched = s.store.update_schedule(id, spec).await?;
    s.planner.publish_all(&touched).await;
    s.materializer.wake.notify_one();
    Ok(s.store.schedule(id).await?)
}

/// File schedules are changed in their file (and the controller restarted), not here.
pub fn refuse_file(s: &ScheduleRow) -> Result<(), OpError> {
    if s.source == Source::File {
        return Err(OpError::conflict(
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

/// Pauses, resumes or cancels a schedule within the account's zones (a file's cannot be
/// cancelled here). Shared by the API and the schedules page.
pub async fn change_status(
    s: &App,
    actor: &Actor,
    id: i64,
    to: Status,
) -> Result<ScheduleRow, OpError> {
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

/// Makes a paused schedule air again; a draft goes live only by an admin's approval.
pub async fn resume(s: &App, actor: &Actor, id: i64) -> Result<ScheduleRow, OpError> {
    if s.store.schedule(id).await?.status == Status::Draft {
        return Err(OpError::conflict(
            "schedule.awaiting_approval",
            format!("schedule {id} is a draft awaiting an admin's approval"),
        ));
    }
    change_status(s, actor, id, Status::Active).await
}

/// A draft awaiting approval, within the account's zones, that this account may decide on:
/// while the commune requires approval, nobody approves or sends back their own schedule.
async fn awaiting(s: &App, actor: &Actor, id: i64) -> Result<ScheduleRow, OpError> {
    let current = s.store.schedule(id).await?;
    actor.check_zones(&s.store, &current.zone_ids).await?;
    if current.status != Status::Draft {
        return Err(OpError::conflict(
            "schedule.not_draft",
            format!(
                "schedule {id} is {}, not a draft awaiting approval",
                current.status.as_str()
            ),
        ));
    }
    if current.created_by.as_deref() == Some(actor.user.username.as_str())
        && s.store.require_approval().await?
    {
        return Err(OpError::conflict(
            "schedule.own_approval",
            format!(
                "schedule {id} was written by {}; another admin must approve it",
                actor.user.username
            ),
        ));
    }
    Ok(current)
}

/// An admin approves a draft: it goes live, with the admin's name kept.
pub async fn approve(s: &App, actor: &Actor, id: i64) -> Result<ScheduleRow, OpError> {
    awaiting(s, actor, id).await?;
    let touched = s
        .store
        .set_schedule_status_by(id, Status::Active, Some(&actor.user.username))
        .await?;
    tracing::info!(schedule = id, by = %actor.user.username, "schedule approved");
    s.planner.publish_all(&touched).await;
    s.materializer.wake.notify_one();
    Ok(s.store.schedule(id).await?)
}

/// An admin sends a draft back to its author with a reason, which the schedules page shows;
/// it stays a draft until changed and approved.
pub async fn send_back(
    s: &App,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<ScheduleRow, OpError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(OpError::new(
            super::Kind::Invalid,
            "schedule.no_reason",
            "say why the schedule is sent back, so its author can change it",
        ));
    }
    crate::limits::CANCEL_REASON.check_max(reason)?;
    awaiting(s, actor, id).await?;
    s.store
        .send_back_schedule(id, &actor.user.username, reason)
        .await?;
    tracing::info!(schedule = id, by = %actor.user.username, "schedule sent back");
    Ok(s.store.schedule(id).await?)
}
