//! `/api/v1/login`, `/api/v1/logout`, `/api/v1/me`: browser sessions in an HttpOnly,
//! SameSite=Strict cookie (Secure when the controller is served over https), with a CSRF
//! token the page sends back with every change; failed logins are throttled and audited.

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Instant;

use super::{ApiError, AppState};
use crate::auth::layer::cookie;
use crate::auth::{password, Actor, SESSION_COOKIE};
use crate::secrets::{hash_secret, new_secret};
use crate::store::accounts::{User, SESSION_IDLE_HOURS};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

#[derive(Serialize)]
struct Session {
    user: User,
    /// Send it back in the `X-CSRF-Token` header with every change.
    csrf_token: Option<String>,
}

/// Signs in: checks throttling and the password, opens a session. Returns the user, the
/// session's cookie header and CSRF token. Shared with the login page.
pub async fn sign_in(
    s: &AppState,
    form: &LoginForm,
    ip: Option<String>,
) -> Result<(User, HeaderValue, String), ApiError> {
    let username = form.username.trim();
    let keys = [
        format!("user:{}", username.to_lowercase()),
        format!("ip:{}", ip.as_deref().unwrap_or("unknown")),
    ];
    let now = Instant::now();
    let detail = serde_json::json!({ "username": username }).to_string();
    if let Some(wait) = s.throttle.wait(&keys, now) {
        s.store
            .audit(
                None,
                "POST /api/v1/login",
                429,
                Some(&detail),
                ip.as_deref(),
            )
            .await?;
        return Err(ApiError::throttled(wait));
    }
    let found = s.store.user_for_login(username).await?;
    let user = match found {
        Some((user, hash))
            if user.disabled_at.is_none() && password::verify(&form.password, &hash) =>
        {
            user
        }
        Some(_) => {
            return Err(failed(s, &keys, now, &detail, ip.as_deref()).await);
        }
        None => {
            password::verify_nothing(&form.password);
            return Err(failed(s, &keys, now, &detail, ip.as_deref()).await);
        }
    };
    s.throttle.succeeded(&keys[0]);
    let token = new_secret();
    let csrf = new_secret();
    s.store
        .create_session(&hash_secret(&token), user.id, &csrf, ip.as_deref())
        .await?;
    s.store
        .audit(Some(&user), "POST /api/v1/login", 200, None, ip.as_deref())
        .await?;
    let secure = if s.cfg.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_IDLE_HOURS * 3600
    );
    let cookie = HeaderValue::from_str(&cookie).expect("a cookie of URL-safe characters");
    Ok((user, cookie, csrf))
}

async fn failed(
    s: &AppState,
    keys: &[String],
    now: Instant,
    detail: &str,
    ip: Option<&str>,
) -> ApiError {
    s.throttle.failed(keys, now);
    if let Err(e) = s
        .store
        .audit(None, "POST /api/v1/login", 401, Some(detail), ip)
        .await
    {
        return e.into();
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "auth.bad_login",
        "wrong user name or password",
    )
}

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
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        s.store.end_session(&hash_secret(token)).await?;
    }
    Ok(HeaderValue::from_static(
        "loa_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
    ))
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let clear = sign_out(&s, &headers).await?;
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

async fn me(Extension(actor): Extension<Actor>) -> Json<Session> {
    Json(Session {
        user: actor.user,
        csrf_token: actor.csrf,
    })
}
