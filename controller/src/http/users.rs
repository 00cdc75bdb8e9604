//! `/api/v1/users`, `/api/v1/tokens`, `/api/v1/audit`: accounts, API tokens for scripts, and
//! the audit log, for admins.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::users::{add_user, change_user, make_token, AccountPatch, NewAccount};
use crate::store::accounts::{AuditEntry, TokenRow, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{id}", patch(update))
        .route("/api/v1/users/{id}/tokens", post(create_token))
        .route("/api/v1/tokens", get(tokens))
        .route("/api/v1/tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/audit", get(audit))
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

async fn update(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    Json(p): Json<AccountPatch>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(change_user(&s.store, &actor, id, &p).await?))
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
