//! The HTTP side: the REST API under `/api/v1`, the staff pages under `/ui/` ([`pages`]),
//! media downloads and relayed streams for nodes, health and metrics, all behind [`crate::http::guard::guard`].
//!
//! One router per area, merged in [`app`]; tests call `app(state)` with `oneshot`, no socket.
//! Each API area's `routes()` is an `OpenApiRouter` of annotated handlers: the routes, the
//! role each needs and the OpenAPI document served at `/api/v1/openapi.json` all come from
//! those annotations ([`openapi`]).

mod audit_form;
mod broadcasts;
mod cap;
pub mod cookies;
mod error;
mod faults;
pub mod guard;
mod health;
pub mod keys;
mod live;
pub mod login;
mod map;
mod media;
mod nodes;
pub mod openapi;
pub mod pages;
pub mod rate;
mod releases;
pub mod reports;
mod schedules;
pub mod security;
mod settings;
mod sources;
mod streams;
mod tts;
pub mod users;
mod zones;

pub use error::ApiError;

use axum::Router;
use std::sync::{Arc, OnceLock};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::policy::Policy;

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

/// The whole application: the API (see [`openapi::api`]) and the pages, behind the guard.
pub fn app(state: AppState) -> Router {
    // The document and the policy read from it are the same for every call: made once.
    static SPEC: OnceLock<Arc<openapi::Spec>> = OnceLock::new();
    let (api, doc) = openapi::api().split_for_parts();
    let spec = SPEC
        .get_or_init(|| Arc::new(openapi::Spec::new(doc)))
        .clone();
    serve(state, api, spec)
}

/// [`app`] with other API routes beside the usual ones (for tests: a route added without a
/// role).
pub fn app_with(state: AppState, extra: OpenApiRouter<AppState>) -> Router {
    let (api, doc) = openapi::api().merge(extra).split_for_parts();
    serve(state, api, Arc::new(openapi::Spec::new(doc)))
}

fn serve(state: AppState, api: Router<AppState>, spec: Arc<openapi::Spec>) -> Router {
    Router::new()
        .merge(api)
        .merge(pages::router())
        // Every route above: who is asking, may they, and the audit log.
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), spec.clone()),
            crate::http::guard::guard,
        ))
        // The document, for `GET /api/v1/openapi.json`.
        .layer(axum::Extension(spec))
        // Said explicitly rather than left to axum's default (2 MB); uploads stream their body
        // and count it against `max_upload_bytes` themselves.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::limits::JSON_BODY_BYTES,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The role of every route, as the guard enforces it (for tests and the role matrix).
pub fn policy() -> Policy {
    let (_, doc) = openapi::api().split_for_parts();
    openapi::Spec::new(doc).policy
}
