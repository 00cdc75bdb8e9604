//! Approving schedules on the schedules page (admins): approve a draft, or send it back to its
//! author with a reason. The rules (a draft only; while approval is on, never one's own) are
//! the operations' ([`crate::ops::schedules::approve`], [`crate::ops::schedules::send_back`]),
//! so the page and the API refuse the same things.

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;

use super::form::FormData;
use super::render::Ctx;
use crate::http::AppState;
use crate::ops::schedules::{approve, send_back};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/schedules/{id}/approve", post(approve_one))
        .route("/ui/schedules/{id}/send-back", post(send_back_one))
}

async fn approve_one(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        approve(&ctx.s, actor, id).await?;
        Ok(Redirect::to(&format!("/ui/schedules#schedule-{id}")).into_response())
    }
    .await;
    ctx.respond(r)
}

async fn send_back_one(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        send_back(&ctx.s, actor, id, form.get("reason").unwrap_or("")).await?;
        Ok(Redirect::to(&format!("/ui/schedules#schedule-{id}")).into_response())
    }
    .await;
    ctx.respond(r)
}
