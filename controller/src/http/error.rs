//! The API's error: a clear 4xx for the caller's mistakes, a logged, detail-free 500 for ours.
//!
//! The body is `{"error": "<what is wrong, in plain words>", "code": "<stable key>"}`; the code
//! is what the web UI's translation files key on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::media::MediaError;
use crate::planner::PlanError;
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
