//! `/healthz` (is the controller able to work), `/metrics` (Prometheus text) and `/time` (the
//! controller's clock, for the nodes' offset measurement).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::atomic::Ordering;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/time", get(time))
}

async fn healthz(State(s): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let db = s.store.ping().await.is_ok();
    let mqtt = s.counters.mqtt_connected.load(Ordering::Relaxed);
    let status = if db {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "status": if db && mqtt { "ok" } else { "degraded" },
            "database": if db { "ok" } else { "unavailable" },
            "mqtt": if mqtt { "connected" } else { "disconnected" },
            "site": s.cfg.site,
            "version": env!("CARGO_PKG_VERSION"),
        })),
    )
}

/// The controller's clock, for nodes to measure their offset (an NTP-style exchange over HTTP).
async fn time() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "unix_micros": chrono::Utc::now().timestamp_micros() }))
}

async fn metrics(State(s): State<AppState>) -> String {
    s.counters.render()
}
