//! What an admin does when something is wrong with a node: reads the security reports (messages
//! refused on a node's topics, plans a node refused) and decommissions a node, which revokes
//! its broker account, its key and its media token at once.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::ops::nodes::decommission_node;
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
