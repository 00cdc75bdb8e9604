//! `/ui/users/{id}` (admins): one staff account — its role and zones, disabling or enabling
//! it, a new password, and its API tokens for scripts (made, shown once, revoked). The rules
//! are the API's own ([`crate::ops::users::change_user`] keeps an admin who can sign in and
//! refuses to disable one's own account; [`crate::ops::users::make_token`]).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::emergency::zone_choices;
use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::users::{change_user, make_token, AccountPatch};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/users/{id}", get(page).post(update))
        .route("/ui/users/{id}/disabled", post(disabled))
        .route("/ui/users/{id}/password", post(password))
        .route("/ui/users/{id}/tokens", post(new_token))
        .route("/ui/tokens/{id}/revoke", post(revoke))
}

async fn data(ctx: &Ctx, id: i64) -> Result<Value, ApiError> {
    let actor = ctx.require(Role::Admin)?;
    let user = ctx.s.store.user(id).await?;
    let tokens: Vec<_> = ctx
        .s
        .store
        .tokens()
        .await?
        .into_iter()
        .filter(|t| t.user_id == id)
        .collect();
    Ok(json!({
        "account": user,
        "zones": zone_choices(ctx, actor).await?,
        "tokens": tokens,
        "is_self": actor.user.id == id,
    }))
}

async fn page(ctx: Ctx, Path(id): Path<i64>) -> Response {
    let r = async { Ok(ctx.render("account.html", data(&ctx, id).await?)) }.await;
    ctx.respond(r)
}

/// Back to the account's page, or the page again with the clerk's mistake told.
async fn after<T>(ctx: &Ctx, id: i64, done: Result<T, ApiError>) -> Response {
    let r = match done {
        Ok(_) => Ok(Redirect::to(&format!("/ui/users/{id}")).into_response()),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            match data(ctx, id).await {
                Ok(mut d) => {
                    d["error"] = json!(ctx.error_text(&e));
                    Ok(ctx.render_status(e.status, "account.html", d))
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    ctx.respond(r)
}

/// Checks the role and the form's token, then applies `p` to account `id`.
async fn apply(ctx: &Ctx, form: &FormData, id: i64, p: AccountPatch) -> Result<(), ApiError> {
    let actor = ctx.require(Role::Admin)?;
    actor.check_form_csrf(form.csrf())?;
    change_user(&ctx.s.store, actor, id, &p)
        .await
        .map_err(ApiError::from)
        .map(|_| ())
}

async fn update(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let p = form
        .get("role")
        .unwrap_or_default()
        .parse::<Role>()
        .map_err(ApiError::invalid)
        .map(|role| AccountPatch {
            role: Some(role),
            zone_ids: Some(form.ids("zones")),
            ..Default::default()
        });
    let done = match p {
        Ok(p) => apply(&ctx, &form, id, p).await,
        Err(e) => Err(e),
    };
    after(&ctx, id, done).await
}

async fn disabled(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let p = AccountPatch {
        disabled: Some(form.get("disabled") == Some("true")),
        ..Default::default()
    };
    let done = apply(&ctx, &form, id, p).await;
    after(&ctx, id, done).await
}

async fn password(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    // Not trimmed: a password is what was typed.
    let typed = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let p = AccountPatch {
        password: Some(typed),
        ..Default::default()
    };
    let done = apply(&ctx, &form, id, p).await;
    after(&ctx, id, done).await
}

async fn new_token(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let made = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        make_token(&ctx.s.store, id, form.get("name").unwrap_or_default())
            .await
            .map_err(ApiError::from)
    }
    .await;
    match made {
        // The token is on this page only: it is not kept, only its hash.
        Ok((row, token)) => {
            let r = async {
                let mut d = data(&ctx, id).await?;
                d["new_token"] = json!({"row": row, "token": token});
                Ok(ctx.render_status(StatusCode::CREATED, "account.html", d))
            }
            .await;
            ctx.respond(r)
        }
        Err(e) => after::<()>(&ctx, id, Err(e)).await,
    }
}

async fn revoke(ctx: Ctx, Path(token): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let owner = ctx
            .s
            .store
            .tokens()
            .await?
            .into_iter()
            .find(|t| t.id == token)
            .map(|t| t.user_id)
            .ok_or_else(|| {
                ApiError::from(crate::store::StoreError::NotFound(format!("token {token}")))
            })?;
        ctx.s.store.revoke_token(token).await?;
        Ok(Redirect::to(&format!("/ui/users/{owner}")).into_response())
    }
    .await;
    ctx.respond(r)
}
