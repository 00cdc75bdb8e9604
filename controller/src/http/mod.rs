//! The HTTP side: the REST API under `/api/v1`, the staff pages under `/ui/` ([`pages`]),
//! media downloads for nodes, health and metrics, all behind [`crate::http::guard::guard`].
//!
//! One router per area, merged in [`app`]; tests call `app(state)` with `oneshot`, no socket.
//! The API is described in `controller/openapi.json`, served at `/api/v1/openapi.json`.

mod broadcasts;
mod error;
pub mod guard;
mod health;
pub mod keys;
pub mod login;
mod media;
mod nodes;
mod openapi;
pub mod pages;
pub mod rate;
pub mod reports;
mod schedules;
pub mod security;
mod settings;
mod tts;
pub mod users;
mod zones;

pub use error::ApiError;

use axum::Router;
use std::sync::Arc;

use crate::ops::App;

/// What every handler can reach: the operations' [`App`] (through `Deref`, so `s.store` reads
/// as before) and the parts only the HTTP side has; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// Node config files waiting to be downloaded from the zones page.
    pub downloads: Arc<pages::downloads::Downloads>,
    /// Requests per client on the API and the pages (`[limits]` in the config).
    pub rate: Arc<rate::RateLimit>,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(zones::router())
        .merge(nodes::router())
        .merge(media::router())
        .merge(broadcasts::router())
        .merge(schedules::router())
        .merge(settings::router())
        .merge(tts::router())
        .merge(login::router())
        .merge(users::router())
        .merge(openapi::router())
        .merge(reports::router())
        .merge(security::router())
        .merge(keys::router())
        .merge(pages::router())
        // Every route above: who is asking, may they, and the audit log.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::guard::guard,
        ))
        // Said explicitly rather than left to axum's default (2 MB); uploads stream their body
        // and count it against `max_upload_bytes` themselves.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::limits::JSON_BODY_BYTES,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
