//! `/api/v1/releases`: node releases over the air (admin): upload a signed bundle, list them,
//! roll one out, read each node's progress; and `/releases/{id}`, where a node downloads the
//! binary its plan names, with its media token.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::media::MediaError;
use crate::ops::releases::{self, ReleaseProgress, Rollout};
use crate::store::releases::Release;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, upload))
        .routes(routes!(one))
        .routes(routes!(rollout))
        .routes(routes!(binary))
}

/// Upload a node release
///
/// The body is a bundle made by `loa-controller release sign`: the signed manifest (version,
/// arch, SHA-256, size) on one line, then the binary. It is refused unless the configured
/// release key signed it and the binary matches the manifest.
#[utoipa::path(
    post,
    path = "/api/v1/releases",
    tag = "releases",
    operation_id = "uploadRelease",
    extensions(("x-loa-role" = json!("admin"))),
    request_body(content = String, content_type = "application/octet-stream",
                 description = "The release bundle."),
    responses(
        (status = 201, description = "The release.", body = Release),
        (status = 409, description = "No release key configured (`release.no_key`), or that version and arch are already uploaded (`conflict`)."),
        (status = 413, description = "Over `max_upload_bytes` (`media.too_large`)."),
        (status = 422, description = "Not a bundle (`release.malformed`), not signed by the release key (`release.bad_signature`), or a binary that does not match its manifest (`release.hash_mismatch`)."),
    )
)]
async fn upload(
    State(s): State<AppState>,
    body: Body,
) -> Result<(StatusCode, Json<Release>), ApiError> {
    let limit = s.cfg.max_upload_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| MediaError::TooLarge { limit })?;
    Ok((
        StatusCode::CREATED,
        Json(releases::upload(&s, &bytes).await?),
    ))
}

/// The node releases
#[utoipa::path(
    get,
    path = "/api/v1/releases",
    tag = "releases",
    operation_id = "listReleases",
    extensions(("x-loa-role" = json!("admin"))),
    responses((status = 200, description = "Every release, newest first.", body = Vec<Release>))
)]
async fn list(State(s): State<AppState>) -> Result<Json<Vec<Release>>, ApiError> {
    Ok(Json(releases::list(&s).await?))
}

/// A release and its rollout's progress
///
/// Each node a rollout named, failures (`failed`, `rolled_back`, with the reason) first.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{id}",
    tag = "releases",
    operation_id = "getRelease",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The release's id.")),
    responses(
        (status = 200, description = "The release and each node's progress.", body = ReleaseProgress),
        (status = 404, description = "No such release (`not_found`)."),
    )
)]
async fn one(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ReleaseProgress>, ApiError> {
    Ok(Json(releases::progress(&s, id).await?))
}

/// Roll a release out
///
/// To some nodes (`nodes`), the nodes under some zones (`zones`), or every node (`all`). Each
/// named node's next plan carries the release; a node takes it when it is idle, and only over
/// a link it marks metered when `allow_metered` is set.
#[utoipa::path(
    post,
    path = "/api/v1/releases/{id}/rollout",
    tag = "releases",
    operation_id = "rollOutRelease",
    extensions(("x-loa-role" = json!("admin"))),
    params(("id" = i64, Path, description = "The release's id.")),
    request_body = Rollout,
    responses(
        (status = 200, description = "The release and each node's progress.", body = ReleaseProgress),
        (status = 404, description = "No such release or node (`not_found`)."),
        (status = 422, description = "No node named (`invalid`)."),
    )
)]
async fn rollout(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(r): Json<Rollout>,
) -> Result<Json<ReleaseProgress>, ApiError> {
    Ok(Json(releases::rollout(&s, id, &r).await?))
}

/// A release's binary, for nodes
///
/// The binary of a release whose rollout names the node holding the media token
/// (`Authorization: Bearer <media token>`), whole or from where a dropped download stopped
/// (`Range: bytes=N-`, answered 206).
#[utoipa::path(
    get,
    path = "/releases/{id}",
    tag = "releases",
    operation_id = "downloadRelease",
    extensions(("x-loa-role" = json!("public"))),
    params(("id" = i64, Path, description = "The release's id.")),
    responses(
        (status = 200, description = "The binary.", body = String,
         content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for.", body = String,
         content_type = "application/octet-stream"),
        (status = 416, description = "A range outside the binary."),
        (status = 401, description = "No media token (`media.token_missing`)."),
        (status = 403, description = "A media token that is not valid (`media.token_invalid`)."),
        (status = 404, description = "No such release for this node (`release.not_for_node`)."),
    )
)]
async fn binary(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let node = super::media::node_of(&s, &headers).await?;
    let latest = s
        .store
        .latest_releases_for(std::slice::from_ref(&node))
        .await?;
    let Some((release, _)) = latest.get(&node).filter(|(r, _)| r.id == id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "release.not_for_node",
            "no such release for this node",
        ));
    };
    let path = releases::binary_path(&s, &release.sha256);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(MediaError::from)?;
    super::media::serve_file(file, &release.sha256, &headers, "application/octet-stream").await
}
