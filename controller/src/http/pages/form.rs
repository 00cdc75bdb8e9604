//! A posted HTML form (`application/x-www-form-urlencoded`) as name–value pairs, so a field
//! may repeat (a zone picker's checkboxes), with the CSRF field every page form carries.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use crate::http::{ApiError, AppState};

/// The largest form accepted; the pages' forms are a few hundred bytes.
pub const FORM_LIMIT: usize = 64 * 1024;

pub struct FormData(pub Vec<(String, String)>);

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("a form is at most {}", crate::limits::megabytes(FORM_LIMIT)),
    )
}

impl FromRequest<AppState> for FormData {
    type Rejection = ApiError;

    async fn from_request(req: Request, s: &AppState) -> Result<FormData, ApiError> {
        let bytes = Bytes::from_request(req, s)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                _ => ApiError::invalid(e.body_text()),
            })?;
        if bytes.len() > FORM_LIMIT {
            return Err(too_large());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(FormData)
            .map_err(|e| ApiError::invalid(format!("the form cannot be read: {e}")))
    }
}

impl FormData {
    /// The first value of a field, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of a field, trimmed, blanks left out.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Every value of a field that reads as a number (checkboxes, a multiple select).
    pub fn ids(&self, name: &str) -> Vec<i64> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.trim().parse().ok())
            .collect()
    }

    /// The page's CSRF token (field `_csrf`).
    pub fn csrf(&self) -> Option<&str> {
        self.get("_csrf")
    }
}
