//! What an admin does when something is wrong with a node: reads the security reports (messages
//! refused on a node's topics, plans a node refused) and decommissions a node, which revokes
//! its broker account, its key and its media token at once.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::ops::nodes::decommission_node;
use crate::store::security::SecurityReport;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(decommission))
        .routes(routes!(reports))
}

/// What was refused
///
/// Messages refused on a node's topics and plans a node refused, counted per node and kind.
#[utoipa::path(
    get,
    path = "/api/v1/security/reports",
    tag = "security",
    operation_id = "listSecurityReports",
    extensions(("x-loa-role" = json!("admin"))),
    responses((status = 200, description = "The reports, latest first.", body = Vec<SecurityReport>))
)]
async fn reports(State(s): State<AppState>) -> Result<Json<Vec<SecurityReport>>, ApiError> {
    Ok(Json(s.store.security_reports().await?))
}

#[derive(Serialize, ToSchema)]
struct Decommissioned {
    id: String,
    /// Deliveries still open on the node, now `cancelled` ("node decommissioned").
    cancelled_deliveries: u64,
}

/// Decommission a node
///
/// Revokes its broker account, its key and its media token at once; its open deliveries are
/// cancelled.
#[utoipa::path(
    delete,
    path = "/api/v1/nodes/{id}",
    tag = "nodes",
    operation_id = "decommissionNode",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = String, Path, description = "The node's id.")),
    responses((status = 200, description = "What was done.", body = Decommissioned), (status = 404))
)]
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
