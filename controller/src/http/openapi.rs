//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the REST API, written by hand in
//! `controller/openapi.json` and embedded at build time. `tests/openapi.rs` keeps it true: its
//! routes and roles against the policy table, its schemas against real responses.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::AppState;

/// The document, as written.
const DOCUMENT: &str = include_str!("../../openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
