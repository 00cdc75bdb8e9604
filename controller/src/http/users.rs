//! `/api/v1/users`, `/api/v1/tokens`, `/api/v1/audit`: accounts, API tokens for scripts, and
//! the audit log, for admins.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::users::{add_user, change_user, make_token, AccountPatch, NewAccount};
use crate::store::accounts::{AuditEntry, TokenRow, User};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
        .routes(routes!(create_token))
        .routes(routes!(tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(audit))
}

/// Add an account
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    operation_id = "createUser",
    extensions(("x-loa-role" = json!("admin"))),
    request_body = NewAccount,
    responses(
        (status = 201, description = "The account.", body = User),
        (status = 404, description = "A zone in `zone_ids` does not exist."),
        (status = 409, description = "The name is taken."),
    )
)]
async fn create(
    State(s): State<AppState>,
    Json(a): Json<NewAccount>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((StatusCode::CREATED, Json(add_user(&s.store, &a).await?)))
}

/// The accounts
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    operation_id = "listUsers",
    extensions(("x-loa-role" = json!("admin"))),
    responses((status = 200, description = "Every account.", body = Vec<User>))
)]
async fn list(State(s): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(s.store.users().await?))
}

/// Change an account
///
/// Fields left out stay as they are. The last admin who can sign in cannot be demoted or
/// disabled, nor can an admin disable their own account.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    operation_id = "updateUser",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The account's id.")),
    request_body = AccountPatch,
    responses((status = 200, description = "The account.", body = User), (status = 404))
)]
async fn update(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    Json(p): Json<AccountPatch>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(change_user(&s.store, &actor, id, &p).await?))
}

#[derive(Deserialize, ToSchema)]
struct NewToken {
    name: String,
}

#[derive(Serialize, ToSchema)]
struct CreatedToken {
    #[serde(flatten)]
    row: TokenRow,
    /// Shown only this once.
    token: String,
}

/// Make an API token for an account
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/tokens",
    tag = "accounts",
    operation_id = "createToken",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The account's id.")),
    request_body = NewToken,
    responses((status = 201, description = "The token, shown this once.", body = CreatedToken),
              (status = 404))
)]
async fn create_token(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(t): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let (row, token) = make_token(&s.store, id, &t.name).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { row, token })))
}

/// The API tokens
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "accounts",
    operation_id = "listTokens",
    extensions(("x-loa-role" = json!("admin"))),
    responses((status = 200, description = "Every token (not the secrets).", body = Vec<TokenRow>))
)]
async fn tokens(State(s): State<AppState>) -> Result<Json<Vec<TokenRow>>, ApiError> {
    Ok(Json(s.store.tokens().await?))
}

/// Revoke an API token
#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/revoke",
    tag = "accounts",
    operation_id = "revokeToken",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The token's id.")),
    responses((status = 204, description = "Revoked."),
              (status = 404, description = "No such token, or already revoked."))
)]
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

/// The audit log
///
/// Every change, who made it, from where and with what (secrets blanked), latest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "accounts",
    operation_id = "audit",
    extensions(("x-loa-role" = json!("admin"))),
    params(("limit" = Option<i64>, Query, description = "How many lines, 1–5000; 200 when absent.")),
    responses((status = 200, description = "The latest lines.", body = Vec<AuditEntry>))
)]
async fn audit(
    State(s): State<AppState>,
    Query(l): Query<Limit>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = l.limit.unwrap_or(200).clamp(1, 5000);
    Ok(Json(s.store.audit_log(limit).await?))
}
