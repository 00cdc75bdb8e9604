//! `/ui/broadcasts/new` (operators): a one-off broadcast of an announcement on chosen zones,
//! now or at a date and time, with a priority. Like the schedule form it is checked before it
//! is made: the other schedules and broadcasts it overlaps and the villages in quiet hours then
//! (those loudspeakers are left out) are shown, and it is made only once the clerk accepts
//! them. An emergency is exempt from both. The check and the broadcast are the API's own
//! ([`crate::ops::broadcasts`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{NaiveDate, NaiveTime};
use loa_protocol::Priority;
use serde_json::{json, Value};

use super::emergency::zone_choices;
use super::form::FormData;
use super::render::Ctx;
use crate::auth::Actor;
use crate::http::{ApiError, AppState};
use crate::ops::announcements::search;
use crate::ops::broadcasts::{check_broadcast, create_broadcast, NewBroadcast};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/broadcasts/new", get(page).post(submit))
}

fn bad(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// The broadcast the form describes; no date and time means now.
fn broadcast(ctx: &Ctx, form: &FormData) -> Result<NewBroadcast, ApiError> {
    let zones = form.ids("zones");
    if zones.is_empty() {
        return Err(bad("ui.no_zone", "choose at least one zone"));
    }
    let announcement_id = form
        .get("announcement_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("ui.no_announcement", "choose an announcement"))?;
    let at = match (form.get("date"), form.get("time")) {
        (None, None) => None,
        (d, Some(t)) => {
            let date = match d {
                Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
                None => Some(ctx.s.clock.now().with_timezone(&ctx.s.tz).date_naive()),
            };
            let time = NaiveTime::parse_from_str(t, "%H:%M").ok();
            let local = date
                .zip(time)
                .map(|(d, t)| d.and_time(t))
                .ok_or_else(|| bad("ui.bad_time", "give a date and a time"))?;
            let at = local
                .and_local_timezone(ctx.s.tz)
                .earliest()
                .ok_or_else(|| bad("ui.bad_time", "give a date and a time"))?;
            Some(at.fixed_offset())
        }
        (Some(_), None) => return Err(bad("ui.no_time", "give a time, e.g. 06:30")),
    };
    let priority = match form.get("priority").unwrap_or("normal") {
        "priority" => Priority::Priority,
        "emergency" => Priority::Emergency,
        _ => Priority::Normal,
    };
    Ok(NewBroadcast {
        announcement_id,
        zones,
        at,
        priority,
        expires_in_minutes: None,
        chime: None,
        volume: None,
    })
}

/// What the clerk filled in, to show the form again as it was.
fn fields_of(form: &FormData) -> Value {
    let mut f = serde_json::Map::new();
    for k in ["announcement_id", "date", "time", "priority"] {
        if let Some(v) = form.get(k) {
            f.insert(k.into(), json!(v));
        }
    }
    f.insert("zones".into(), json!(form.ids("zones")));
    Value::Object(f)
}

async fn form_page(
    ctx: &Ctx,
    actor: &Actor,
    status: StatusCode,
    fields: Value,
    extra: Value,
) -> Result<Response, ApiError> {
    let announcements = search(&ctx.s, &Default::default()).await?;
    let mut data = json!({
        "zones": zone_choices(ctx, actor).await?,
        "announcements": announcements,
        "f": fields,
    });
    if let (Some(d), Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    Ok(ctx.render_status(status, "broadcast_new.html", data))
}

async fn page(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        form_page(&ctx, actor, StatusCode::OK, json!({}), json!({})).await
    }
    .await;
    ctx.respond(r)
}

/// `action=check` (or a save with overlaps or quiet hours not accepted) shows what the check
/// found; `action=save` makes the broadcast.
async fn submit(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let checked = async {
            let b = broadcast(&ctx, &form)?;
            let found = check_broadcast(&ctx.s, actor, &b).await?;
            Ok::<_, ApiError>((b, found))
        }
        .await;
        let (b, found) = match checked {
            Ok(v) => v,
            Err(e) if e.status.is_client_error() && e.code != "auth.zone" => {
                let extra = json!({"error": ctx.error_text(&e)});
                return form_page(&ctx, actor, e.status, fields_of(&form), extra).await;
            }
            Err(e) => return Err(e),
        };
        let warned = !found.conflicts.is_empty() || !found.quiet_zones.is_empty();
        let accepted = form.get("accept") == Some("yes");
        if form.get("action") != Some("save") || (warned && !accepted) {
            let shown: Vec<Value> = found
                .conflicts
                .iter()
                .map(|c| {
                    let times: Vec<Value> = c.times.iter().map(|(a, b)| json!([a, b])).collect();
                    json!({"c": c, "times": times})
                })
                .collect();
            let status = if warned {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            let extra = json!({"checked": true, "conflicts": shown,
                               "quiet_zones": found.quiet_zones, "node_count": found.nodes,
                               "emergency": b.priority == Priority::Emergency});
            return form_page(&ctx, actor, status, fields_of(&form), extra).await;
        }
        let occ = create_broadcast(&ctx.s, actor, &b).await?;
        Ok(Redirect::to(&format!("/ui/broadcasts/{}", occ.id)).into_response())
    }
    .await;
    ctx.respond(r)
}
