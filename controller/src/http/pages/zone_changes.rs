//! Two changes of the zone tree on the zones page (admins): removing an empty zone, refused
//! with what still uses it in the clerk's language; and moving a loudspeaker to another zone
//! (village), after which the page says how many of its waiting deliveries were withdrawn and
//! how many of its new zone's it joined. The work is the API's own ([`crate::ops::zones`],
//! [`crate::ops::nodes::move_node`]).

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;

use super::form::FormData;
use super::render::Ctx;
use super::zones::after;
use crate::http::{ApiError, AppState};
use crate::ops::nodes::move_node;
use crate::ops::zones::remove_zone;
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/zones/{id}/remove", post(remove))
        .route("/ui/nodes/{id}/zone", post(move_to))
}

/// What still uses a zone, in the clerk's language: "1 cụm loa, 2 lịch phát".
async fn uses_text(ctx: &Ctx, id: i64) -> Result<String, ApiError> {
    let u = ctx.s.store.zone_uses(id).await?;
    let name = ctx.s.store.zone(id).await?.name;
    let parts: Vec<String> = [
        (u.children, "zones.uses_children"),
        (u.nodes, "zones.uses_nodes"),
        (u.schedules, "zones.uses_schedules"),
        (u.broadcasts, "zones.uses_broadcasts"),
        (u.accounts, "zones.uses_accounts"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, key)| format!("{n} {}", ctx.t(key)))
    .collect();
    Ok(format!("{name}: {}", parts.join(", ")))
}

async fn remove(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        match remove_zone(&ctx.s, id).await {
            Ok(()) => Ok::<(), ApiError>(()),
            Err(e) if e.code == "zone.not_empty" => {
                let mut e = ApiError::from(e);
                e.message = uses_text(&ctx, id).await?;
                Err(e)
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    after(&ctx, done, "add-zone").await
}

async fn move_to(ctx: Ctx, Path(id): Path<String>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let zone = form
            .get("zone_id")
            .and_then(|z| z.parse().ok())
            .ok_or_else(|| ApiError::invalid("choose a zone"))?;
        Ok::<_, ApiError>(move_node(&ctx.s, &id, zone).await?)
    }
    .await;
    match done {
        Ok(m) => Redirect::to(&format!(
            "/ui/zones?moved={}&to={}&cancelled={}&added={}#node-{}",
            m.node.id, m.node.zone_id, m.cancelled, m.added, m.node.id
        ))
        .into_response(),
        Err(e) => after::<()>(&ctx, Err(e), &format!("node-{id}")).await,
    }
}
