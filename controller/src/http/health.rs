//! `/healthz` (is the controller able to work), `/metrics` (Prometheus text) and `/time` (the
//! controller's clock, for the nodes' offset measurement).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(time))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok`, or `degraded` when the database or the broker is not there.
    #[schema(examples("ok", "degraded"))]
    status: &'static str,
    /// `ok` or `unavailable`.
    database: &'static str,
    /// `connected` or `disconnected`.
    mqtt: &'static str,
    site: String,
    version: &'static str,
}

/// Is the controller able to work
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "health",
    extensions(("x-loa-role" = json!("public"))),
    responses(
        (status = 200, description = "The database answers.", body = Health),
        (status = 503, description = "The database is unavailable.", body = Health),
    )
)]
async fn healthz(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let db = s.store.ping().await.is_ok();
    let mqtt = s.counters.mqtt_connected.load(Ordering::Relaxed);
    let status = if db {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if db && mqtt { "ok" } else { "degraded" },
            database: if db { "ok" } else { "unavailable" },
            mqtt: if mqtt { "connected" } else { "disconnected" },
            site: s.cfg.site.clone(),
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
}

#[derive(Serialize, ToSchema)]
struct Time {
    /// Microseconds since 1970-01-01 UTC.
    unix_micros: i64,
}

/// The controller's clock
///
/// For nodes to measure their offset (an NTP-style exchange over HTTP).
#[utoipa::path(
    get,
    path = "/time",
    tag = "health",
    operation_id = "time",
    extensions(("x-loa-role" = json!("public"))),
    responses((status = 200, description = "Now.", body = Time))
)]
async fn time() -> Json<Time> {
    Json(Time {
        unix_micros: chrono::Utc::now().timestamp_micros(),
    })
}

/// Counters in Prometheus' text format
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    operation_id = "metrics",
    extensions(("x-loa-role" = json!("public"))),
    responses((status = 200, description = "Prometheus text exposition.", body = String,
               content_type = "text/plain"))
)]
async fn metrics(State(s): State<AppState>) -> String {
    s.counters.render()
}
