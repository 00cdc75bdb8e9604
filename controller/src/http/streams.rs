//! `GET /streams/{id}`: a relay source's stream for nodes, as Ogg Opus, with the node's media
//! token (as for `/media/{sha256}`), for a node whose plan relays that source.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::media::node_of;
use super::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// A relayed station or a live session, for nodes
///
/// An open-ended Ogg Opus stream (RFC 7845; 48 kHz mono, 20 ms frames, 200 ms pages): the
/// OpusHead and OpusTags pages, then the relay's audio from now on. The controller pulls the
/// station once, whatever the number of nodes listening; the relay starts with the first
/// listener and stops `[relay] linger_secs` (30 s) after the last one left, which ends every
/// listener's stream. While the station is down, the stream carries silence. A live session's
/// stream has 60 ms pages and ends, after a 100 ms fade, when the session does. A node gets only
/// the sources its current plan relays: a token taken from one village does not open every
/// station.
#[utoipa::path(
    get,
    path = "/streams/{id}",
    tag = "sources",
    operation_id = "streamSource",
    extensions(("x-loa-role" = json!("public"))),
    params(("id" = i64, Path, description = "The source's id.")),
    responses(
        (status = 200, description = "The stream, until the relay ends.", body = String,
         content_type = "audio/ogg"),
        (status = 401, description = "No media token (`media.token_missing`)."),
        (status = 403, description = "A media token that is not valid (`media.token_invalid`)."),
        (status = 404, description = "No such source, or not in the node's plan (`stream.not_in_plan`)."),
        (status = 410, description = "A live session that has ended (`stream.ended`)."),
    )
)]
async fn stream(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let node = node_of(&s, &headers).await?;
    let source = s.store.source(id).await?;
    if !relays_in_plan(&s, &node, id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "stream.not_in_plan",
            "this node's plan does not relay that source",
        ));
    }
    if source.live {
        if let Some(session) = s.store.live_session_of_source(id).await? {
            if session.ended_at.is_some() {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    "stream.ended",
                    "that live session has ended",
                ));
            }
        }
    }
    let listener = s
        .hub
        .listen(&source)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    tracing::info!(%node, source = id, "a node listens to a relay");
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "audio/ogg")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(listener.into_stream()))
        .expect("valid response"))
}

/// Whether `node`'s current plan has a stream item from `source`'s relay.
async fn relays_in_plan(s: &AppState, node: &str, source: i64) -> Result<bool, ApiError> {
    let Some(sealed) = s.store.sealed_plan(node).await? else {
        return Ok(false);
    };
    let plan: loa_protocol::Plan = loa_protocol::envelope::peek(&sealed)
        .map_err(|e| ApiError::internal(format!("node {node}'s stored plan: {e}")))?;
    let path = format!("/streams/{source}");
    Ok(plan
        .items
        .iter()
        .filter_map(|i| i.stream.as_ref())
        .any(|st| st.url.ends_with(&path)))
}
