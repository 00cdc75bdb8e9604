//! The API's error: a clear 4xx for the caller's mistakes, a logged, detail-free 500 for ours.
//!
//! The body is `{"error": "<what is wrong, in plain words>", "code": "<stable key>"}`; the code
//! is what the web UI's translation files key on.
//!
//! A full disk is neither: it is 507 `disk.full`, logged, and the same request works again once
//! someone has made room.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth::AuthError;
use crate::limits::LimitError;
use crate::media::MediaError;
use crate::mqtt::planner::PlanError;
use crate::ops::{Kind, OpError};
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        OpError::invalid(message).into()
    }

    pub fn unauthenticated() -> Self {
        AuthError::Unauthenticated.into()
    }

    pub fn forbidden_role(need: crate::store::accounts::Role) -> Self {
        AuthError::ForbiddenRole(need).into()
    }

    pub fn forbidden_zone() -> Self {
        AuthError::ForbiddenZone.into()
    }

    pub fn throttled(wait: std::time::Duration) -> Self {
        AuthError::Throttled(wait).into()
    }

    pub fn csrf() -> Self {
        AuthError::Csrf.into()
    }

    /// The controller's disk (database or media store) is full.
    pub fn disk_full(e: impl std::fmt::Display) -> Self {
        OpError::disk_full(e).into()
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        OpError::internal(e).into()
    }
}

/// The status each kind of refusal answers with.
fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Every error the API itself answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
// Only written, never read: this makes the schema say `additionalProperties: false`.
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What is wrong, in plain words.
    pub error: String,
    /// A stable key the web UI's translation files key on.
    #[schema(examples("auth.required", "not_found", "invalid"))]
    pub code: &'static str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        ApiError::new(status_of(e.kind), e.code, e.message)
    }
}

/// Every lower layer's error reaches HTTP through [`OpError`], so each is mapped once.
macro_rules! through_ops {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                OpError::from(e).into()
            }
        }
    )*};
}
through_ops!(AuthError, StoreError, LimitError, MediaError, PlanError);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::DISK_FULL;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    /// A real SQLITE_FULL: a database held to its current size by `max_page_count` (the e2e
    /// test `tests/tests/disk_full.rs` fills a real disk).
    async fn sqlite_full() -> sqlx::Error {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SqliteConnectOptions::new()
            .filename(dir.path().join("full.db"))
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x BLOB)")
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query("PRAGMA max_page_count = 2")
            .execute(&mut db)
            .await
            .unwrap();
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = sqlx::query("INSERT INTO t VALUES (zeroblob(4000))")
                .execute(&mut db)
                .await
            {
                err = Some(e);
                break;
            }
        }
        db.close().await.unwrap();
        err.expect("the database filled up")
    }

    #[tokio::test]
    async fn a_full_database_is_507_disk_full_not_a_500() {
        let e = sqlite_full().await;
        assert!(e.to_string().contains("database or disk is full"), "{e}");
        let e = ApiError::from(StoreError::from(e));
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(e.code, DISK_FULL);
        assert!(e.message.contains("disk is full"), "{}", e.message);
    }

    #[test]
    fn a_full_media_store_is_507_disk_full_and_other_io_errors_stay_500() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let e = ApiError::from(MediaError::Io(full));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::INSUFFICIENT_STORAGE, DISK_FULL)
        );
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = ApiError::from(MediaError::Io(other));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        let e = ApiError::from(StoreError::NotFound("zone 9".into()));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }
}
