//! `/api/v1/users`, `/api/v1/tokens`, `/api/v1/audit`: accounts, API tokens for scripts, and
//! the audit log, for admins.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::{password, Actor, TOKEN_PREFIX};
use crate::secrets::{hash_secret, new_secret};
use crate::store::accounts::{AuditEntry, NewUser, Role, TokenRow, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{id}", patch(update))
        .route("/api/v1/users/{id}/tokens", post(create_token))
        .route("/api/v1/tokens", get(tokens))
        .route("/api/v1/tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/audit", get(audit))
}

#[derive(Deserialize)]
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    pub role: Role,
    pub language: Option<String>,
    /// Limit the account to these zones (and what lies below); none: the whole commune.
    #[serde(default)]
    pub zone_ids: Vec<i64>,
}

/// Creates an account after checking the password rules; shared with `loa-controller user add`.
pub async fn add_user(store: &crate::store::Store, a: &NewAccount) -> Result<User, ApiError> {
    password::check_new(&a.password).map_err(ApiError::invalid)?;
    let hash = password::hash(&a.password);
    Ok(store
        .create_user(&NewUser {
            username: a.username.trim(),
            // Left blank: the user name.
            display_name: a
                .display_name
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or(a.username.trim()),
            password_hash: &hash,
            role: a.role,
            language: a.language.as_deref().unwrap_or("vi"),
            zone_ids: &a.zone_ids,
        })
        .await?)
}

async fn create(
    State(s): State<AppState>,
    Json(a): Json<NewAccount>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((StatusCode::CREATED, Json(add_user(&s.store, &a).await?)))
}

async fn list(State(s): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(s.store.users().await?))
}

/// A change to an account; fields left out stay as they are.
#[derive(Deserialize, Default)]
pub struct AccountPatch {
    pub role: Option<Role>,
    /// The zones it is limited to; empty: the whole commune.
    pub zone_ids: Option<Vec<i64>>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

async fn update(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    Json(p): Json<AccountPatch>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(change_user(&s.store, &actor, id, &p).await?))
}

/// Changes account `id` as `actor` asks, after the password rules, and refuses what would
/// leave no admin who can sign in or would disable the actor's own account. Shared with the
/// users page.
pub async fn change_user(
    store: &crate::store::Store,
    actor: &Actor,
    id: i64,
    p: &AccountPatch,
) -> Result<User, ApiError> {
    let hash = match &p.password {
        Some(pw) => {
            password::check_new(pw).map_err(ApiError::invalid)?;
            Some(password::hash(pw))
        }
        None => None,
    };
    let demoted = p.role.is_some_and(|r| r != Role::Admin) || p.disabled == Some(true);
    if demoted {
        let admins_left = store
            .users()
            .await?
            .iter()
            .filter(|u| u.role == Role::Admin && u.disabled_at.is_none() && u.id != id)
            .count();
        if admins_left == 0 {
            return Err(ApiError::invalid(
                "that would leave no admin who can sign in; make another admin first",
            ));
        }
    }
    if id == actor.user.id && p.disabled == Some(true) {
        return Err(ApiError::invalid("you cannot disable your own account"));
    }
    Ok(store
        .update_user(
            id,
            p.role,
            p.zone_ids.as_deref(),
            hash.as_deref(),
            p.disabled,
        )
        .await?)
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
}

#[derive(Serialize)]
struct CreatedToken {
    #[serde(flatten)]
    row: TokenRow,
    /// Shown only this once.
    token: String,
}

/// Makes an API token for `user_id`; returns its record and the token itself.
pub async fn make_token(
    store: &crate::store::Store,
    user_id: i64,
    name: &str,
) -> Result<(TokenRow, String), ApiError> {
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let row = store
        .create_token(user_id, name, &hash_secret(&token))
        .await?;
    Ok((row, token))
}

async fn create_token(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(t): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let (row, token) = make_token(&s.store, id, &t.name).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { row, token })))
}

async fn tokens(State(s): State<AppState>) -> Result<Json<Vec<TokenRow>>, ApiError> {
    Ok(Json(s.store.tokens().await?))
}

async fn revoke_token(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    s.store.revoke_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<i64>,
}

async fn audit(
    State(s): State<AppState>,
    Query(l): Query<Limit>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = l.limit.unwrap_or(200).clamp(1, 5000);
    Ok(Json(s.store.audit_log(limit).await?))
}
