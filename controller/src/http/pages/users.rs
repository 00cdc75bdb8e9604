//! `/ui/users` (admins): the staff accounts, a form to add one (through the API's own
//! [`crate::ops::users::add_user`]), and the audit log of every change, newest first. Each
//! account's own page, where it is changed, is [`super::accounts`].

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::dashboard::ZonePaths;
use super::emergency::zone_choices;
use super::form::FormData;
use super::render::Ctx;
use crate::auth::Actor;
use crate::http::{ApiError, AppState};
use crate::ops::users::{add_user, NewAccount};
use crate::store::accounts::Role;

/// How many lines of the audit log the page shows.
const AUDIT_LIMIT: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/users", get(page).post(create))
}

async fn data(ctx: &Ctx, actor: &Actor) -> Result<Value, ApiError> {
    let mut paths = ZonePaths::default();
    let mut users = Vec::new();
    for u in ctx.s.store.users().await? {
        let mut zones = Vec::new();
        for z in &u.zone_ids {
            zones.push(paths.get(ctx, *z).await?);
        }
        users.push(json!({"u": u, "zones": zones}));
    }
    Ok(json!({
        "users": users,
        "audit": ctx.s.store.audit_log(AUDIT_LIMIT).await?,
        "zones": zone_choices(ctx, actor).await?,
    }))
}

async fn page(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        Ok(ctx.render("users.html", data(&ctx, actor).await?))
    }
    .await;
    ctx.respond(r)
}

async fn create(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let role = form.get("role").unwrap_or("viewer").parse::<Role>();
        let made = match role {
            Ok(role) => {
                let account = NewAccount {
                    username: form.get("username").unwrap_or_default().to_owned(),
                    display_name: form.get("display_name").map(str::to_owned),
                    // Not trimmed: a password is what was typed.
                    password: form
                        .0
                        .iter()
                        .find(|(k, _)| k == "password")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                    role,
                    language: form.get("language").map(str::to_owned),
                    zone_ids: form.ids("zones"),
                };
                add_user(&ctx.s.store, &account)
                    .await
                    .map_err(ApiError::from)
            }
            Err(e) => Err(ApiError::invalid(e)),
        };
        match made {
            Ok(_) => Ok(Redirect::to("/ui/users").into_response()),
            Err(e) if e.status.is_client_error() => {
                let mut d = data(&ctx, actor).await?;
                d["error"] = json!(ctx.error_text(&e));
                Ok(ctx.render_status(e.status, "users.html", d))
            }
            Err(e) => Err(e),
        }
    }
    .await;
    ctx.respond(r)
}
