//! Signing in and out: the login throttle per user name and per address, the password check,
//! the session and its CSRF token, and the audit of each attempt. The cookie that carries the
//! session is the HTTP side's.

use std::time::Instant;

use super::{App, Kind, OpError};
use crate::auth::{password, AuthError};
use crate::secrets::{hash_secret, new_secret};
use crate::store::accounts::User;

/// A session just opened.
pub struct Opened {
    pub user: User,
    /// The session's token, for the cookie; only its hash is kept.
    pub token: String,
    /// The token the page sends back with every change.
    pub csrf: String,
}

/// Signs in: checks throttling and the password, opens a session.
pub async fn sign_in(
    s: &App,
    username: &str,
    given_password: &str,
    ip: Option<&str>,
) -> Result<Opened, OpError> {
    let username = username.trim();
    let keys = [
        format!("user:{}", username.to_lowercase()),
        format!("ip:{}", ip.unwrap_or("unknown")),
    ];
    let now = Instant::now();
    let detail = serde_json::json!({ "username": username }).to_string();
    if let Some(wait) = s.throttle.wait(&keys, now) {
        s.store
            .audit(None, "POST /api/v1/login", 429, Some(&detail), ip)
            .await?;
        return Err(AuthError::Throttled(wait).into());
    }
    let found = s.store.user_for_login(username).await?;
    let user = match found {
        Some((user, hash))
            if user.disabled_at.is_none() && password::verify(given_password, &hash) =>
        {
            user
        }
        Some(_) => {
            return Err(failed(s, &keys, now, &detail, ip).await);
        }
        None => {
            password::verify_nothing(given_password);
            return Err(failed(s, &keys, now, &detail, ip).await);
        }
    };
    s.throttle.succeeded(&keys[0]);
    let token = new_secret();
    let csrf = new_secret();
    s.store
        .create_session(&hash_secret(&token), user.id, &csrf, ip)
        .await?;
    s.store
        .audit(Some(&user), "POST /api/v1/login", 200, None, ip)
        .await?;
    Ok(Opened { user, token, csrf })
}

async fn failed(s: &App, keys: &[String], now: Instant, detail: &str, ip: Option<&str>) -> OpError {
    s.throttle.failed(keys, now);
    if let Err(e) = s
        .store
        .audit(None, "POST /api/v1/login", 401, Some(detail), ip)
        .await
    {
        return e.into();
    }
    OpError::new(
        Kind::Unauthenticated,
        "auth.bad_login",
        "wrong user name or password",
    )
}

/// Ends the session behind `token`, if there is one.
pub async fn sign_out(s: &App, token: Option<&str>) -> Result<(), OpError> {
    if let Some(token) = token {
        s.store.end_session(&hash_secret(token)).await?;
    }
    Ok(())
}
