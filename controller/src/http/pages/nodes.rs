//! The loudspeakers' forms on the zones page (admins): volume and chime; provisioning a node
//! and giving one new credentials (after a confirmation), both of which end on a page that
//! offers the node's config file, `node.toml`, as a download ([`super::downloads`]); taking
//! one out of service (after a confirmation), which ends back on the zones page saying how
//! many waiting deliveries were cancelled. The work is the API's own (`crate::http::nodes`,
//! [`crate::ops::nodes::decommission_node`]).

use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::downloads::VALID_FOR;
use super::form::FormData;
use super::render::Ctx;
use super::zones::after;
use crate::http::{ApiError, AppState};
use crate::ops::nodes::decommission_node;
use crate::ops::nodes::{new_credentials, provision, set_sound, NewNode};
use crate::store::accounts::Role;
use crate::store::nodes::NodeRow;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/nodes", post(create))
        .route("/ui/nodes/{id}/sound", post(sound))
        .route(
            "/ui/nodes/{id}/credentials",
            get(confirm_credentials).post(credentials),
        )
        .route(
            "/ui/nodes/{id}/decommission",
            get(confirm_decommission).post(decommission),
        )
        .route("/ui/nodes/{id}/node.toml", get(download))
}

async fn sound(ctx: Ctx, Path(id): Path<String>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let volume = match form.get("volume") {
            Some(v) => Some(
                v.parse::<u8>()
                    .map_err(|_| ApiError::invalid("volume is 0 to 100"))?,
            ),
            None => None,
        };
        // An unticked checkbox is not sent: the form says `chime` only when it is on.
        let chime = form.get("chime").is_some();
        set_sound(&ctx.s, &id, volume, Some(chime))
            .await
            .map_err(ApiError::from)
    }
    .await;
    after(&ctx, done, &format!("node-{id}")).await
}

async fn create(ctx: Ctx, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let zone_id = form
            .get("zone_id")
            .and_then(|z| z.parse().ok())
            .ok_or_else(|| ApiError::invalid("choose the node's zone"))?;
        let n = NewNode {
            id: form.get("id").map(str::to_owned),
            name: form.get("name").unwrap_or_default().to_owned(),
            zone_id,
            data_dir: None,
            latitude: super::locations::degrees(&form, "latitude")?,
            longitude: super::locations::degrees(&form, "longitude")?,
        };
        provision(&ctx.s, n).await.map_err(ApiError::from)
    }
    .await;
    match done {
        Ok((node, text)) => config_page(&ctx, &node, text, true),
        Err(e) => after::<()>(&ctx, Err(e), "provision").await,
    }
}

/// The page after provisioning or new credentials: where to put the file, and its download.
fn config_page(ctx: &Ctx, node: &NodeRow, text: String, new: bool) -> Response {
    let r = ctx.require(Role::Admin).map(|actor| {
        let ticket = ctx.s.downloads.keep(actor.user.id, &node.id, text);
        ctx.render(
            "node_config.html",
            json!({
                "node": node,
                "new": new,
                "ticket": ticket,
                "minutes": VALID_FOR.as_secs() / 60,
            }),
        )
    });
    ctx.respond(r)
}

async fn confirm_credentials(ctx: Ctx, Path(id): Path<String>) -> Response {
    let r = async {
        ctx.require(Role::Admin)?;
        let node = ctx.s.store.node(&id).await?;
        let zone = ctx.s.store.zone_path(node.zone_id).await?;
        Ok(ctx.render("node_credentials.html", json!({"node": node, "zone": zone})))
    }
    .await;
    ctx.respond(r)
}

async fn credentials(ctx: Ctx, Path(id): Path<String>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        new_credentials(&ctx.s, &id).await.map_err(ApiError::from)
    }
    .await;
    match done {
        Ok((node, text)) => config_page(&ctx, &node, text, false),
        Err(e) => ctx.fail(e),
    }
}

async fn confirm_decommission(ctx: Ctx, Path(id): Path<String>) -> Response {
    let r = async {
        ctx.require(Role::Admin)?;
        let node = ctx.s.store.node(&id).await?;
        let zone = ctx.s.store.zone_path(node.zone_id).await?;
        Ok(ctx.render(
            "node_decommission.html",
            json!({"node": node, "zone": zone}),
        ))
    }
    .await;
    ctx.respond(r)
}

/// Takes the node out of service, then back to the zones page, which says how many of its
/// waiting deliveries were cancelled.
async fn decommission(ctx: Ctx, Path(id): Path<String>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        // Its name, for the notice: the node is not found once out of service.
        let name = ctx.s.store.node(&id).await?.name;
        let cancelled = decommission_node(&ctx.s, &id).await?;
        let query = serde_urlencoded::to_string([
            ("decommissioned", id.as_str()),
            ("name", &name),
            ("cancelled", &cancelled.to_string()),
        ])
        .map_err(ApiError::internal)?;
        Ok(Redirect::to(&format!("/ui/zones?{query}#decommissioned")).into_response())
    }
    .await;
    ctx.respond(r)
}

#[derive(Deserialize)]
struct Ticket {
    ticket: String,
}

async fn download(ctx: Ctx, Path(id): Path<String>, Query(q): Query<Ticket>) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        let text = ctx
            .s
            .downloads
            .fetch(&q.ticket, actor.user.id, &id)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "ui.download_expired",
                    "this download has expired; give the node new credentials for a new file",
                )
            })?;
        Ok((
            [
                (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"node.toml\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response())
    }
    .await;
    ctx.respond(r)
}
