//! `/ui/schedules`: the schedules (lịch phát) with pause, resume and cancel; a form to make or
//! change one with a zone picker and a time rule a clerk can read (see [`super::schedule_rule`]),
//! which shows the conflicts and next airings before saving; and `/ui/schedules/week`, the
//! coming week's programme per village. Who wrote each schedule, who approved it, and why an
//! admin sent one back are shown; approving and sending back are in [`super::approvals`]. The
//! checks, saving and status changes are the API's own (`crate::ops::schedules`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use loa_protocol::Priority;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::dashboard::ZonePaths;
use super::emergency::zone_choices;
use super::form::FormData;
use super::render::Ctx;
use super::schedule_rule::{recurrence, rule_fields, DAYS, NTH};
use crate::auth::Actor;
use crate::http::{ApiError, AppState};
use crate::ops::announcements::search;
use crate::ops::schedules::{
    change_status, check_schedule, editable, next_airings, save_edit, save_new,
};
use crate::store::accounts::Role;
use crate::store::schedules::{ScheduleRow, ScheduleSpec, Status};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/schedules", get(list).post(create))
        .route("/ui/schedules/new", get(new_form))
        .route("/ui/schedules/week", get(week))
        .route("/ui/schedules/{id}", post(update))
        .route("/ui/schedules/{id}/edit", get(edit_form))
        .route("/ui/schedules/{id}/status", post(status))
}

/// How many airings of one schedule the week view shows at most.
const WEEK_LIMIT: usize = 200;

fn bad(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn spec(form: &FormData, today: NaiveDate) -> Result<ScheduleSpec, ApiError> {
    let zone_ids = form.ids("zones");
    if zone_ids.is_empty() {
        return Err(bad("ui.no_zone", "choose at least one zone"));
    }
    let announcement_id = form
        .get("announcement_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("ui.no_announcement", "choose an announcement"))?;
    let name = form
        .get("name")
        .ok_or_else(|| bad("ui.no_name", "give the schedule a name"))?;
    let priority = match form.get("priority").unwrap_or("normal") {
        "priority" => Priority::Priority,
        "emergency" => Priority::Emergency,
        _ => Priority::Normal,
    };
    Ok(ScheduleSpec {
        name: name.to_owned(),
        announcement_id,
        priority,
        recurrence: recurrence(form, today)?,
        expires_in_minutes: form
            .get("expires_in_minutes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
        zone_ids,
    })
}

/// The form's page: choices, what was filled in, and what a check found.
async fn form_page(
    ctx: &Ctx,
    actor: &Actor,
    status: StatusCode,
    mut fields: Value,
    extra: Value,
) -> Result<Response, ApiError> {
    if fields.get("kind").is_none() {
        fields["kind"] = json!("daily");
    }
    // Those in use, and the one the schedule plays even if it was archived since.
    let mut announcements = search(&ctx.s, &Default::default()).await?;
    let chosen = fields["announcement_id"]
        .as_str()
        .and_then(|a| a.parse().ok());
    if let Some(id) = chosen.filter(|id| !announcements.iter().any(|a| a.id == *id)) {
        if let Ok(a) = ctx.s.store.announcement(id).await {
            announcements.push(a);
        }
    }
    let mut data = json!({
        "zones": zone_choices(ctx, actor).await?,
        "announcements": announcements,
        "days": DAYS,
        "nths": NTH,
        "f": fields,
    });
    if let (Some(d), Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    Ok(ctx.render_status(status, "schedule_form.html", data))
}

/// What the clerk filled in, to show the form again as it was.
fn fields_of(form: &FormData) -> Value {
    let mut f = serde_json::Map::new();
    for k in [
        "name",
        "announcement_id",
        "priority",
        "kind",
        "time",
        "date",
        "cron",
        "expires_in_minutes",
        "nth",
        "weekday",
        "interval",
        "repeat_times",
        "repeat_gap",
        "valid_from",
        "valid_until",
    ] {
        if let Some(v) = form.get(k) {
            f.insert(k.into(), json!(v));
        }
    }
    f.insert("zones".into(), json!(form.ids("zones")));
    f.insert("days".into(), json!(form.all("days")));
    Value::Object(f)
}

async fn list(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let mut paths = ZonePaths::default();
        let mut rows = Vec::new();
        for sch in ctx.s.store.schedules().await? {
            if !actor.concerns(&ctx.s.store, &sch.zone_ids).await? {
                continue;
            }
            let mut zones = Vec::new();
            for z in &sch.zone_ids {
                zones.push(paths.get(&ctx, *z).await?);
            }
            let next = next_airings(&ctx.s, &sch.recurrence).await;
            let title = ctx
                .s
                .store
                .announcement(sch.announcement_id)
                .await
                .map(|a| a.title)
                .unwrap_or_default();
            rows.push(json!({"s": sch, "zones": zones, "next": next.first(),
                             "rule": rule_fields(&sch.recurrence), "title": title}));
        }
        let approval = ctx.s.store.require_approval().await?;
        Ok(ctx.render(
            "schedules.html",
            json!({"schedules": rows, "is_admin": actor.role() >= Role::Admin,
                   "approval": approval, "me": actor.user.username}),
        ))
    }
    .await;
    ctx.respond(r)
}

async fn new_form(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        form_page(
            &ctx,
            actor,
            StatusCode::OK,
            json!({}),
            json!({"action": "/ui/schedules"}),
        )
        .await
    }
    .await;
    ctx.respond(r)
}

async fn edit_form(ctx: Ctx, Path(id): Path<i64>) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        let sch = editable(&ctx.s, actor, id).await?;
        let mut f = rule_fields(&sch.recurrence);
        f["name"] = json!(sch.name);
        f["announcement_id"] = json!(sch.announcement_id.to_string());
        f["priority"] = json!(sch.priority);
        f["zones"] = json!(sch.zone_ids);
        f["expires_in_minutes"] = json!(sch.expires_in_minutes.to_string());
        let action = format!("/ui/schedules/{id}");
        form_page(
            &ctx,
            actor,
            StatusCode::OK,
            f,
            json!({"action": action, "editing": id}),
        )
        .await
    }
    .await;
    ctx.respond(r)
}

async fn create(ctx: Ctx, form: FormData) -> Response {
    let r = submit(&ctx, &form, None).await;
    ctx.respond(r)
}

async fn update(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = submit(&ctx, &form, Some(id)).await;
    ctx.respond(r)
}

/// `action=check` shows the conflicts and next airings; `action=save` saves unless there are
/// conflicts the clerk has not accepted.
async fn submit(ctx: &Ctx, form: &FormData, editing: Option<i64>) -> Result<Response, ApiError> {
    let actor = ctx.require(Role::Operator)?;
    actor.check_form_csrf(form.csrf())?;
    if let Some(id) = editing {
        editable(&ctx.s, actor, id).await?;
    }
    let action = match editing {
        Some(id) => format!("/ui/schedules/{id}"),
        None => "/ui/schedules".into(),
    };
    let outcome = async {
        let today = ctx.s.clock.now().with_timezone(&ctx.s.tz).date_naive();
        let spec = spec(form, today)?;
        let conflicts = check_schedule(&ctx.s, actor, &spec, editing).await?;
        Ok::<_, ApiError>((spec, conflicts))
    }
    .await;
    let (spec, conflicts) = match outcome {
        Ok(v) => v,
        Err(e) if e.status.is_client_error() && e.code != "auth.zone" => {
            let extra = json!({"action": action, "editing": editing, "error": ctx.error_text(&e)});
            return form_page(ctx, actor, e.status, fields_of(form), extra).await;
        }
        Err(e) => return Err(e),
    };
    let accepted = form.get("accept_conflicts") == Some("yes");
    if form.get("action") != Some("save") || (!conflicts.is_empty() && !accepted) {
        let mut shown = Vec::new();
        for c in &conflicts {
            let times: Vec<Value> = c.times.iter().map(|(a, b)| json!([a, b])).collect();
            shown.push(json!({"c": c, "times": times}));
        }
        let next = next_airings(&ctx.s, &spec.recurrence).await;
        let status = if conflicts.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::CONFLICT
        };
        let extra = json!({"action": action, "editing": editing, "checked": true,
                           "conflicts": shown, "next": next});
        return form_page(ctx, actor, status, fields_of(form), extra).await;
    }
    let row = match editing {
        Some(id) => save_edit(&ctx.s, id, &spec).await?,
        None => save_new(&ctx.s, actor, &spec).await?,
    };
    Ok(Redirect::to(&format!("/ui/schedules#schedule-{}", row.id)).into_response())
}

async fn status(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let to = match form.get("to") {
            Some("pause") => Status::Paused,
            Some("resume") => Status::Active,
            Some("cancel") => Status::Cancelled,
            _ => return Err(bad("ui.bad_status", "pause, resume or cancel")),
        };
        change_status(&ctx.s, actor, id, to).await?;
        Ok(Redirect::to("/ui/schedules").into_response())
    }
    .await;
    ctx.respond(r)
}

/// The coming seven days, per village: the active schedules' airings (worked out from their
/// rules, beyond what is already planned) and the one-off broadcasts.
async fn week(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let s = &ctx.s;
        let today = s.clock.now().with_timezone(&s.tz).date_naive();
        let start =
            s.tz.from_local_datetime(&today.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(Utc::now);
        let end = start + Duration::days(7);
        let days: Vec<NaiveDate> = (0..7).map(|i| today + Duration::days(i)).collect();
        // village → day index → airings
        let mut grid: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
        let mut paths = ZonePaths::default();
        let mut place = |village: String, at: chrono::DateTime<Utc>, item: Value| {
            let day = (at.with_timezone(&s.tz).date_naive() - today).num_days();
            if (0..7).contains(&day) {
                grid.entry(village).or_insert_with(|| vec![Vec::new(); 7])[day as usize]
                    .push(json!({"at": at, "item": item}));
            }
        };
        let mut entries: Vec<(Vec<i64>, chrono::DateTime<Utc>, Value)> = Vec::new();
        for sch in s.store.schedules().await? {
            if sch.status != Status::Active {
                continue;
            }
            let fires = sch
                .recurrence
                .fires_between(s.tz, start, end, WEEK_LIMIT)
                .unwrap_or_default();
            for at in fires {
                entries.push((sch.zone_ids.clone(), at, item_of(&sch)));
            }
        }
        for o in s.store.occurrences_between(start, end).await? {
            if o.schedule_id.is_none() && o.cancelled_at.is_none() {
                let item = json!({"name": o.title, "priority": o.priority,
                                  "href": format!("/ui/broadcasts/{}", o.id)});
                entries.push((o.zone_ids.clone(), o.start_at, item));
            }
        }
        for (zones, at, item) in entries {
            for village in villages(&ctx, actor, &zones, &mut paths).await? {
                place(village, at, item.clone());
            }
        }
        for days in grid.values_mut() {
            for d in days.iter_mut() {
                d.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
            }
        }
        let rows: Vec<Value> = grid
            .into_iter()
            .map(|(village, days)| json!({"village": village, "days": days}))
            .collect();
        let days: Vec<String> = days.iter().map(|d| d.format("%d/%m").to_string()).collect();
        let weekdays: Vec<String> = (0..7)
            .map(|i| {
                use chrono::Datelike;
                (today + Duration::days(i)).weekday().to_string()
            })
            .collect();
        Ok(ctx.render(
            "schedule_week.html",
            json!({"rows": rows, "days": days, "weekdays": weekdays}),
        ))
    }
    .await;
    ctx.respond(r)
}

fn item_of(sch: &ScheduleRow) -> Value {
    json!({"name": sch.name, "priority": sch.priority,
           "href": format!("/ui/schedules#schedule-{}", sch.id)})
}

/// The villages (zones holding loudspeakers) a target reaches, that the account sees.
async fn villages(
    ctx: &Ctx,
    actor: &Actor,
    zones: &[i64],
    paths: &mut ZonePaths,
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for node in ctx.s.store.nodes_under(zones).await? {
        let n = ctx.s.store.node(&node).await?;
        if !actor.sees_zone(&ctx.s.store, n.zone_id).await? {
            continue;
        }
        let p = paths.get(ctx, n.zone_id).await?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}
