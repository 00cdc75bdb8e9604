//! `/api/v1/login`, `/api/v1/logout`, `/api/v1/me`: browser sessions in an HttpOnly,
//! SameSite=Strict cookie (Secure when the controller is served over https), with a CSRF
//! token the page sends back with every change; failed logins are throttled and audited.

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookies::cookie;
use super::{ApiError, AppState};
use crate::auth::{Actor, SESSION_COOKIE};
use crate::ops::sessions;
use crate::store::accounts::{User, SESSION_IDLE_HOURS};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
struct Session {
    user: User,
    /// Send it back in the `X-CSRF-Token` header with every change.
    csrf_token: Option<String>,
}

/// Signs in (see [`sessions::sign_in`]) and returns the user, the session's cookie header and
/// CSRF token. Shared with the login page.
pub async fn sign_in(
    s: &AppState,
    form: &LoginForm,
    ip: Option<String>,
) -> Result<(User, HeaderValue, String), ApiError> {
    let opened = sessions::sign_in(s, &form.username, &form.password, ip.as_deref()).await?;
    let secure = if s.cfg.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        opened.token,
        SESSION_IDLE_HOURS * 3600
    );
    let cookie = HeaderValue::from_str(&cookie).expect("a cookie of URL-safe characters");
    Ok((opened.user, cookie, opened.csrf))
}

/// Sign in
///
/// Opens a browser session: the cookie `loa_session` (HttpOnly, SameSite=Strict) and the CSRF
/// token to send back with every change. Failed sign-ins are throttled and audited.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "accounts",
    operation_id = "login",
    extensions(("x-loa-role" = json!("public"))),
    request_body = LoginForm,
    responses(
        (status = 200, description = "Signed in.", body = Session,
         headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 401, description = "Wrong name or password, or a disabled account (`auth.bad_login`)."),
        (status = 429, description = "Too many failed sign-ins (`auth.throttled`), or too many requests (`rate_limited`)."),
    )
)]
async fn login(
    State(s): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(form): Json<LoginForm>,
) -> Result<Response, ApiError> {
    let ip = connect.map(|Extension(c)| c.0.ip().to_string());
    let (user, cookie, csrf) = sign_in(&s, &form, ip).await?;
    let body = Session {
        user,
        csrf_token: Some(csrf),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Ends the browser's session (if any) and clears its cookie.
pub async fn sign_out(s: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    sessions::sign_out(s, cookie(headers, SESSION_COOKIE)).await?;
    Ok(HeaderValue::from_static(
        "loa_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
    ))
}

/// Sign out
///
/// Ends the browser's session (if any) and clears its cookie.
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "accounts",
    operation_id = "logout",
    extensions(("x-loa-role" = json!("public"))),
    responses((status = 204, description = "Signed out.",
               headers(("Set-Cookie" = String, description = "Clears the cookie."))))
)]
async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let clear = sign_out(&s, &headers).await?;
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

/// Who am I
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    operation_id = "me",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The account, and the session's CSRF token (null for an API token).",
               body = Session))
)]
async fn me(Extension(actor): Extension<Actor>) -> Json<Session> {
    Json(Session {
        user: actor.user,
        csrf_token: actor.csrf,
    })
}
