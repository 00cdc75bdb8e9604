//! `/ui/zones` (admins): the zone tree (commune → villages → clusters) with each zone's
//! loudspeakers, quiet hours and languages, the values it inherits shown beside its own; adding
//! a zone, renaming one; each loudspeaker's volume and chime. Provisioning, new credentials and
//! taking a loudspeaker out of service are in [`super::nodes`]; removing an empty zone and
//! moving a loudspeaker to another zone in [`super::zone_changes`]. Every change goes through the API's own functions
//! (`crate::http::settings`, `crate::http::nodes`), which publish the new plans.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

use super::emergency::zone_choices;
use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::settings::{change_languages, change_quiet_hours};
use crate::store::accounts::Role;
use crate::store::schedules::effective_quiet;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/zones", get(page).post(add_zone))
        .route("/ui/zones/{id}/rename", post(rename))
        .route("/ui/zones/{id}/quiet-hours", post(quiet_hours))
        .route("/ui/zones/{id}/languages", post(languages))
}

/// Everything the page shows: the tree in order, each zone with its settings and nodes.
pub async fn data(ctx: &Ctx) -> Result<Value, ApiError> {
    let actor = ctx.require(Role::Admin)?;
    let s = &ctx.s;
    let order = zone_choices(ctx, actor).await?;
    let names: HashMap<i64, String> = s
        .store
        .zones()
        .await?
        .into_iter()
        .map(|z| (z.id, z.name))
        .collect();
    let quiet: HashMap<i64, _> = s
        .store
        .zones_quiet()
        .await?
        .into_iter()
        .map(|z| (z.id, z))
        .collect();
    let mut nodes: HashMap<i64, Vec<Value>> = HashMap::new();
    for n in s.store.nodes().await? {
        nodes.entry(n.zone_id).or_default().push(json!(n));
    }
    let hm = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
    let mut zones = Vec::new();
    for z in &order {
        let id = z["id"].as_i64().unwrap_or_default();
        let own_quiet = quiet.get(&id).and_then(|q| q.quiet);
        let effective = effective_quiet(&quiet, id);
        zones.push(json!({
            "id": id,
            "name": z["name"],
            "depth": z["depth"],
            "own_quiet": own_quiet.map(|q| json!({"start": hm(q.start), "end": hm(q.end)})),
            "quiet": effective.map(|(from, q)| json!({
                "start": hm(q.start), "end": hm(q.end),
                "from": (from != id).then(|| names.get(&from).cloned()).flatten(),
            })),
            "own_languages": s.store.zone_own_languages(id).await?,
            "languages": s.store.zone_languages(id).await?,
            "nodes": nodes.remove(&id).unwrap_or_default(),
        }));
    }
    Ok(json!({"zones": zones, "choices": order,
              "max_zone_depth": crate::limits::MAX_ZONE_DEPTH}))
}

/// What the page was sent back with after taking a loudspeaker out of service.
#[derive(Deserialize)]
struct Done {
    decommissioned: Option<String>,
    name: Option<String>,
    cancelled: Option<u64>,
    /// A loudspeaker moved: its id, with `to` (the zone), `cancelled` and `added`.
    moved: Option<String>,
    to: Option<i64>,
    added: Option<u64>,
}

async fn page(ctx: Ctx, Query(q): Query<Done>) -> Response {
    let r = async {
        let mut d = data(&ctx).await?;
        if let (Some(id), Some(to)) = (&q.moved, q.to) {
            let name = ctx
                .s
                .store
                .node(id)
                .await
                .map(|n| n.name)
                .unwrap_or(id.clone());
            d["moved"] = json!({"name": name, "zone": ctx.s.store.zone_path(to).await?,
                                "cancelled": q.cancelled.unwrap_or(0),
                                "added": q.added.unwrap_or(0)});
        }
        if let Some(id) = q.decommissioned {
            let name = q.name.unwrap_or_else(|| id.clone());
            d["decommissioned"] =
                json!({"id": id, "name": name, "cancelled": q.cancelled.unwrap_or(0)});
        }
        Ok(ctx.render("zones.html", d))
    }
    .await;
    ctx.respond(r)
}

/// After a change: back to the zone on the page, or the page again with the clerk's mistake
/// told at the top.
pub async fn after<T>(ctx: &Ctx, done: Result<T, ApiError>, anchor: &str) -> Response {
    let r = match done {
        Ok(_) => Ok(Redirect::to(&format!("/ui/zones#{anchor}")).into_response()),
        Err(e) if e.status.is_client_error() => match data(ctx).await {
            Ok(mut d) => {
                d["error"] = json!(ctx.error_text(&e));
                Ok(ctx.render_status(e.status, "zones.html", d))
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    ctx.respond(r)
}

async fn add_zone(ctx: Ctx, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let parent = form.get("parent_id").and_then(|p| p.parse().ok());
        let name = form.get("name").unwrap_or_default();
        Ok::<_, ApiError>(ctx.s.store.create_zone(name, parent).await?)
    }
    .await;
    let anchor = match &done {
        Ok(z) => format!("zone-{}", z.id),
        Err(_) => "add-zone".into(),
    };
    after(&ctx, done, &anchor).await
}

async fn rename(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let name = form.get("name").unwrap_or_default();
        Ok::<_, ApiError>(ctx.s.store.rename_zone(id, name).await?)
    }
    .await;
    after(&ctx, done, &format!("zone-{id}")).await
}

async fn quiet_hours(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        if form.get("clear").is_some() {
            change_quiet_hours(&ctx.s, id, None, None)
                .await
                .map_err(ApiError::from)
        } else {
            change_quiet_hours(&ctx.s, id, form.get("start"), form.get("end"))
                .await
                .map_err(ApiError::from)
        }
    }
    .await;
    after(&ctx, done, &format!("zone-{id}")).await
}

/// `vi, hmn` (commas or spaces) in playing order.
pub fn language_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|l| !l.is_empty())
        .map(str::to_lowercase)
        .collect()
}

async fn languages(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let list = if form.get("inherit").is_some() {
            None
        } else {
            Some(language_list(form.get("languages").unwrap_or_default()))
        };
        change_languages(&ctx.s, id, list)
            .await
            .map_err(ApiError::from)
    }
    .await;
    after(&ctx, done, &format!("zone-{id}")).await
}

#[cfg(test)]
mod tests {
    use super::language_list;

    #[test]
    fn languages_are_read_in_order_with_commas_or_spaces() {
        assert_eq!(language_list("vi, hmn"), ["vi", "hmn"]);
        assert_eq!(language_list(" HMN  vi,tai "), ["hmn", "vi", "tai"]);
        assert!(language_list(" , ").is_empty());
    }
}
