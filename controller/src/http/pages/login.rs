//! `/ui/login` and `/ui/logout`: the sign-in form (with the language switch, remembered in a
//! cookie) and signing out, through the same [`crate::http::login::sign_in`] and
//! [`crate::http::login::sign_out`] as the API.

use axum::extract::{ConnectInfo, Query};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

use super::form::FormData;
use super::render::Ctx;
use crate::http::login::{sign_in, sign_out, LoginForm};
use crate::http::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/login", get(page).post(submit))
        .route("/ui/logout", post(logout))
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only a page of this application: never another site (`//host`, `https://…`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/ui/".to_owned(),
    }
}

async fn page(ctx: Ctx, Query(q): Query<Next>) -> Response {
    if ctx.actor.as_ref().is_some_and(|a| a.csrf.is_some()) {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    ctx.render(
        "login.html",
        json!({"next": safe_next(q.next.as_deref()), "username": ""}),
    )
}

async fn submit(
    ctx: Ctx,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: FormData,
) -> Response {
    let ip = connect.map(|Extension(c)| c.0.ip().to_string());
    let login = LoginForm {
        username: form.get("username").unwrap_or_default().to_owned(),
        password: form
            .0
            .iter()
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    };
    let next = safe_next(form.get("next"));
    match sign_in(&ctx.s, &login, ip).await {
        Ok((_, cookie, _)) => ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response(),
        Err(e) => ctx.render_status(
            e.status,
            "login.html",
            json!({"next": next, "username": login.username, "error": ctx.error_text(&e)}),
        ),
    }
}

async fn logout(ctx: Ctx, headers: HeaderMap, form: FormData) -> Response {
    let r = async {
        ctx.actor()?.check_form_csrf(form.csrf())?;
        let clear = sign_out(&ctx.s, &headers).await?;
        Ok::<_, ApiError>(
            (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, clear),
                    (header::LOCATION, "/ui/login".parse().unwrap()),
                ],
            )
                .into_response(),
        )
    }
    .await;
    ctx.respond(r)
}
