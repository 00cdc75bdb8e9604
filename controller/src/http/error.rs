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

use crate::media::MediaError;
use crate::planner::PlanError;
use crate::store::StoreError;

/// The code of [`ApiError::disk_full`].
pub const DISK_FULL: &str = "disk.full";

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
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn unauthenticated() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "auth.required",
            "sign in first (or send an API token: Authorization: Bearer loa_…)",
        )
    }

    pub fn forbidden_role(need: crate::store::accounts::Role) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.forbidden",
            format!("this needs the {} role", need.as_str()),
        )
    }

    pub fn forbidden_zone() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.zone",
            "that is outside the zones of your account",
        )
    }

    pub fn throttled(wait: std::time::Duration) -> Self {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "auth.throttled",
            format!("too many failed sign-ins; try again in {minutes} minute(s)"),
        )
    }

    pub fn csrf() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.csrf",
            "the page's security token is missing or old; reload the page and try again",
        )
    }

    /// The controller's disk (database or media store) is full.
    pub fn disk_full(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "disk full: a request could not be stored");
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            DISK_FULL,
            "the controller's disk is full: nothing can be saved until space is freed on it; \
             then try again",
        )
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the controller's log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message, "code": self.code });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            StoreError::Limit(l) => l.into(),
            other if other.is_disk_full() => ApiError::disk_full(other),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::limits::LimitError> for ApiError {
    fn from(e: crate::limits::LimitError) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        let status = match &e {
            MediaError::Io(_) if e.is_disk_full() => return ApiError::disk_full(e),
            MediaError::Io(_) => return ApiError::internal(e),
            MediaError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Store(s) => s.into(),
            PlanError::TooLarge { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "plan.too_large",
                e.to_string(),
            ),
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
