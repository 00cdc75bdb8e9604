//! `/ui/emergency` (operators): the one red action. Choose the villages and an announcement
//! (an existing one, or a text the script turns into one with text-to-speech), confirm on a
//! second page that says what will happen, and it plays now with priority `emergency`,
//! interrupting whatever plays. The broadcast is made by the API's own
//! [`crate::ops::broadcasts::create_broadcast`].

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use loa_protocol::Priority;
use serde_json::{json, Value};

use super::dashboard::ZonePaths;
use super::form::FormData;
use super::render::Ctx;
use crate::auth::Actor;
use crate::http::{ApiError, AppState};
use crate::ops::broadcasts::{create_broadcast, NewBroadcast};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/emergency", get(page).post(submit))
}

/// The zones the account may target, in tree order with their depth, for the picker.
pub async fn zone_choices(ctx: &Ctx, actor: &Actor) -> Result<Vec<Value>, ApiError> {
    let all = ctx.s.store.zones().await?;
    let mut out = Vec::new();
    fn walk(
        all: &[crate::store::zones::Zone],
        parent: Option<i64>,
        depth: usize,
        out: &mut Vec<(i64, String, usize)>,
    ) {
        for z in all.iter().filter(|z| z.parent_id == parent) {
            out.push((z.id, z.name.clone(), depth));
            walk(all, Some(z.id), depth + 1, out);
        }
    }
    let mut ordered = Vec::new();
    walk(&all, None, 0, &mut ordered);
    for (id, name, depth) in ordered {
        if actor.sees_zone(&ctx.s.store, id).await? {
            out.push(json!({"id": id, "name": name, "depth": depth}));
        }
    }
    Ok(out)
}

async fn form_data(ctx: &Ctx, actor: &Actor, form: Option<&FormData>) -> Result<Value, ApiError> {
    let zones = zone_choices(ctx, actor).await?;
    let announcements = crate::ops::announcements::search(&ctx.s, &Default::default()).await?;
    Ok(json!({
        "zones": zones,
        "announcements": announcements,
        "chosen_zones": form.map(|f| f.ids("zones")).unwrap_or_default(),
        "chosen_announcement": form.and_then(|f| f.get("announcement_id")).unwrap_or(""),
    }))
}

async fn page(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        Ok(ctx.render("emergency.html", form_data(&ctx, actor, None).await?))
    }
    .await;
    ctx.respond(r)
}

async fn submit(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        match step(&ctx, actor, &form).await {
            Ok(resp) => Ok(resp),
            // The clerk's mistakes are shown on the form, with what they chose kept.
            Err(e) if e.status.is_client_error() && e.code != "auth.zone" => {
                let mut data = form_data(&ctx, actor, Some(&form)).await?;
                data["error"] = json!(ctx.error_text(&e));
                Ok(ctx.render_status(e.status, "emergency.html", data))
            }
            Err(e) => Err(e),
        }
    }
    .await;
    ctx.respond(r)
}

/// First post: the confirmation page. Second post (`confirm=yes`): the broadcast.
async fn step(ctx: &Ctx, actor: &Actor, form: &FormData) -> Result<Response, ApiError> {
    let zones = form.ids("zones");
    if zones.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "ui.no_zone",
            "choose at least one zone",
        ));
    }
    let Some(announcement_id) = form.get("announcement_id").and_then(|v| v.parse().ok()) else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "ui.no_announcement",
            "choose an announcement",
        ));
    };
    actor.check_zones(&ctx.s.store, &zones).await?;
    let announcement = ctx.s.store.announcement(announcement_id).await?;
    if form.get("confirm") != Some("yes") {
        let nodes = ctx.s.store.nodes_under(&zones).await?;
        let mut paths = ZonePaths::default();
        let mut names = Vec::new();
        for z in &zones {
            names.push(paths.get(ctx, *z).await?);
        }
        return Ok(ctx.render(
            "emergency_confirm.html",
            json!({"zones": zones, "zone_names": names, "announcement": announcement,
                   "node_count": nodes.len()}),
        ));
    }
    let b = NewBroadcast {
        announcement_id,
        zones,
        at: None,
        priority: Priority::Emergency,
        expires_in_minutes: None,
        chime: None,
        volume: None,
    };
    let occ = create_broadcast(&ctx.s, actor, &b).await?;
    Ok(Redirect::to(&format!("/ui/broadcasts/{}?emergency=1", occ.id)).into_response())
}
