//! What an admin does when something is wrong with a node: reads the security reports (messages
//! refused on a node's topics, plans a node refused) and decommissions a node, which revokes
//! its broker account, its key and its media token at once.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::Utc;
use serde::Serialize;

use super::{ApiError, AppState};
use crate::store::security::SecurityReport;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nodes/{id}", delete(decommission))
        .route("/api/v1/security/reports", get(reports))
}

async fn reports(State(s): State<AppState>) -> Result<Json<Vec<SecurityReport>>, ApiError> {
    Ok(Json(s.store.security_reports().await?))
}

#[derive(Serialize)]
struct Decommissioned {
    id: String,
    /// Deliveries still open on the node, now `cancelled` ("node decommissioned").
    cancelled_deliveries: u64,
}

async fn decommission(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Decommissioned>, ApiError> {
    let cancelled = decommission_node(&s, &id).await?;
    Ok(Json(Decommissioned {
        id,
        cancelled_deliveries: cancelled,
    }))
}

/// Takes a node out of service. Its records stay; its credentials stop working at once.
/// Returns how many of its deliveries were cancelled. Shared with the zones page.
pub async fn decommission_node(s: &AppState, id: &str) -> Result<u64, ApiError> {
    let id = id.to_string();
    let cancelled = s.store.decommission_node(&id, Utc::now()).await?;
    // Its broker account closes and its live connection is cut, on either broker.
    crate::revoke::close(&s.broker_accounts, &s.store, &s.cfg, &id).await;
    // Its retained plan and ack go, so nothing waits on the broker for its old session.
    if let Err(e) = s.planner.withdraw(&id).await {
        tracing::error!(node = %id, error = %e, "cannot clear the decommissioned node's retained plan");
    }
    tracing::warn!(node = %id, cancelled, "node decommissioned: broker account, key and media token revoked");
    Ok(cancelled)
}
