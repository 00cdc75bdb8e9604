//! Media: uploads (`POST /api/v1/media`, the file as the request body), the list, and
//! `GET /media/{sha256}` for nodes, with HTTP Range and the node's media token.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::media::MediaError;
use crate::secrets::hash_secret;
use crate::store::media::MediaRow;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The upload streams to disk and counts its own bytes against the limit.
        .routes(routes!(list, upload))
        .routes(routes!(one))
        .routes(routes!(download))
        .routes(routes!(listen))
}

#[derive(Deserialize)]
struct UploadQuery {
    /// The original file name; its extension helps the probe.
    name: Option<String>,
}

/// Upload a recording
///
/// The file is the request body. It is probed before it is kept: a file that does not decode
/// is refused. Stored by its SHA-256; the same file twice is one record.
#[utoipa::path(
    post,
    path = "/api/v1/media",
    tag = "media",
    operation_id = "uploadMedia",
    extensions(("x-loa-role" = json!("operator"))),
    params(("name" = Option<String>, Query,
            description = "The original file name; its extension helps the probe.")),
    request_body(content = String, content_type = "application/octet-stream",
                 description = "The audio file."),
    responses(
        (status = 201, description = "The file's record.", body = MediaRow),
        (status = 400, description = "The upload broke off (`media.upload_broken`)."),
        (status = 413, description = "Over `max_upload_bytes` (`media.too_large`)."),
        (status = 422, description = "Empty (`media.empty`) or not audio the probe can decode (`media.undecodable`)."),
    )
)]
async fn upload(
    State(s): State<AppState>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<MediaRow>), ApiError> {
    let limit = s.cfg.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Refused before a byte is read.
        return Err(MediaError::TooLarge { limit }.into());
    }
    let tmp = s.media.incoming();
    let result = receive(&s, &tmp, body, limit, q.name.clone()).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    let row = result?;
    Ok((StatusCode::CREATED, Json(row)))
}

async fn receive(
    s: &AppState,
    tmp: &std::path::Path,
    body: Body,
    limit: usize,
    name: Option<String>,
) -> Result<MediaRow, ApiError> {
    let mut file = tokio::fs::File::create(tmp)
        .await
        .map_err(MediaError::from)?;
    let mut hasher = Sha256::new();
    let mut size: usize = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "media.upload_broken",
                format!("the upload broke off: {e}"),
            )
        })?;
        size += chunk.len();
        if size > limit {
            return Err(MediaError::TooLarge { limit }.into());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(MediaError::from)?;
    }
    file.sync_all().await.map_err(MediaError::from)?;
    drop(file);
    if size == 0 {
        return Err(MediaError::Empty.into());
    }
    let sha256 = hex::encode(hasher.finalize());
    keep(s, tmp, sha256, size as u64, name).await
}

/// Keeps a complete upload: `ops::media::keep`.
pub(super) async fn keep(
    s: &AppState,
    tmp: &std::path::Path,
    sha256: String,
    size: u64,
    name: Option<String>,
) -> Result<MediaRow, ApiError> {
    Ok(crate::ops::media::keep(s, tmp, sha256, size, name).await?)
}

/// The recordings
#[utoipa::path(
    get,
    path = "/api/v1/media",
    tag = "media",
    operation_id = "listMedia",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "Every stored file.", body = Vec<MediaRow>))
)]
async fn list(State(s): State<AppState>) -> Result<Json<Vec<MediaRow>>, ApiError> {
    Ok(Json(s.store.media_list().await?))
}

/// One recording's record
#[utoipa::path(
    get,
    path = "/api/v1/media/{sha256}",
    tag = "media",
    operation_id = "getMedia",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("sha256" = String, Path, pattern = "^[0-9a-f]{64}$",
            description = "The file's SHA-256, lowercase hex.")),
    responses((status = 200, description = "The record.", body = MediaRow), (status = 404))
)]
async fn one(
    State(s): State<AppState>,
    Path(sha): Path<String>,
) -> Result<Json<MediaRow>, ApiError> {
    Ok(Json(s.store.media(&sha).await?))
}

/// Listen to a recording
///
/// The stored file for staff to hear in the browser (an upload, or what a relay sent the
/// villages), with its audio type; one range may be asked for, as for nodes.
#[utoipa::path(
    get,
    path = "/api/v1/media/{sha256}/audio",
    tag = "media",
    operation_id = "listenMedia",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("sha256" = String, Path, pattern = "^[0-9a-f]{64}$",
            description = "The file's SHA-256, lowercase hex.")),
    responses(
        (status = 200, description = "The file, typed by its codec (also `audio/mp4` for AAC, \
          `audio/flac`).",
         content((String = "audio/mpeg"), (String = "audio/ogg"), (String = "audio/wav"))),
        (status = 206, description = "The range asked for.", body = String,
         content_type = "audio/mpeg"),
        (status = 404, description = "No such media."),
    )
)]
async fn listen(
    State(s): State<AppState>,
    Path(sha): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = s.store.media(&sha).await?;
    let content_type = match m.codec.as_str() {
        "mp3" => "audio/mpeg",
        "opus" | "vorbis" => "audio/ogg",
        "aac" => "audio/mp4",
        "flac" => "audio/flac",
        c if c.starts_with("pcm") => "audio/wav",
        _ => "application/octet-stream",
    };
    serve(&s, &m.sha256, &headers, content_type).await
}

/// Whether `sha` is the media of a part in `node`'s current plan.
async fn in_plan(s: &AppState, node: &str, sha: &str) -> Result<bool, ApiError> {
    let Some(sealed) = s.store.sealed_plan(node).await? else {
        return Ok(false);
    };
    let plan: loa_protocol::Plan = loa_protocol::envelope::peek(&sealed)
        .map_err(|e| ApiError::internal(format!("node {node}'s stored plan: {e}")))?;
    Ok(plan
        .items
        .iter()
        .flat_map(|i| i.parts.iter())
        .any(|p| p.media.sha256 == sha))
}

/// A media file, for nodes
///
/// Serves a media file to a node holding a valid media token, with `Range: bytes=N-[M]`.
/// A node gets only the media of its own current plan: a token taken from one village's
/// node does not open every recording. The handler checks the node's media token itself,
/// which goes only in the header, `Authorization: Bearer <media token>`, so it stays out of
/// logs.
#[utoipa::path(
    get,
    path = "/media/{sha256}",
    tag = "media",
    operation_id = "downloadMedia",
    extensions(("x-loa-role" = json!("public"))),
    params(
        ("sha256" = String, Path, pattern = "^[0-9a-f]{64}$",
            description = "The file's SHA-256, lowercase hex."),
        ("Range" = Option<String>, Header,
         description = "One range: `bytes=N-`, `bytes=N-M` or `bytes=-K`."),
    ),
    responses(
        (status = 200, description = "The whole file.", body = String,
         content_type = "application/octet-stream",
         headers(("ETag" = String, description = "The SHA-256 in quotes."),
                 ("Accept-Ranges" = String, description = "`bytes`."))),
        (status = 206, description = "The range asked for.", body = String,
         content_type = "application/octet-stream",
         headers(("ETag" = String, description = "The SHA-256 in quotes."),
                 ("Content-Range" = String, description = "`bytes 1024-4095/4096`."))),
        (status = 401, description = "No media token (`media.token_missing`)."),
        (status = 403, description = "A media token that is not valid (`media.token_invalid`)."),
        (status = 404, description = "No such file, or not in the node's plan (`media.not_in_plan`)."),
        (status = 416, description = "The range lies past the end of the file; no body.",
         headers(("Content-Range" = String, description = "`bytes */4096`."))),
    )
)]
async fn download(
    State(s): State<AppState>,
    Path(sha): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let node = node_of(&s, &headers).await?;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such media",
        ));
    }
    if !in_plan(&s, &node, &sha).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "media.not_in_plan",
            "no such media in this node's plan",
        ));
    }
    serve(&s, &sha, &headers, "application/octet-stream").await
}

/// The stored file `sha`, whole or the one range `headers` asks for, as `content_type`.
async fn serve(
    s: &AppState,
    sha: &str,
    headers: &HeaderMap,
    content_type: &str,
) -> Result<Response, ApiError> {
    let path = s.media.path_of(sha);
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such media",
        ));
    };
    serve_file(file, sha, headers, content_type).await
}

/// A content-addressed file (`sha`, its SHA-256, is its ETag), whole or the one range
/// `headers` asks for (a node resuming a download over a link that dropped), as
/// `content_type`: media, and node release binaries.
pub(super) async fn serve_file(
    mut file: tokio::fs::File,
    sha: &str,
    headers: &HeaderMap,
    content_type: &str,
) -> Result<Response, ApiError> {
    let len = file.metadata().await.map_err(MediaError::from)?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (start, end) = match range.map(|r| parse_range(r, len)) {
        None => (0, len.saturating_sub(1)),
        Some(Some(r)) => r,
        Some(None) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response())
        }
    };
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(MediaError::from)?;
    let count = if len == 0 { 0 } else { end - start + 1 };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(count)));
    let mut resp = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, count)
        .header(header::ETAG, format!("\"{sha}\""));
    if range.is_some() {
        resp = resp
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    Ok(resp.body(body).expect("valid response"))
}

/// The node whose media token the request carries, for media and streams alike. The token
/// goes only in the header, `Authorization: Bearer <media token>`: in the URL it would end up
/// in access logs.
pub(super) async fn node_of(s: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(token) = token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "media.token_missing",
            "a node media token is required",
        ));
    };
    s.store
        .node_by_media_token(&hash_secret(&token))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "media.token_invalid",
                "this media token is not valid",
            )
        })
}

/// `bytes=N-`, `bytes=N-M` or `bytes=-K` within a file of `len` bytes; `None` if unsatisfiable.
fn parse_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let r = spec.trim().strip_prefix("bytes=")?;
    if r.contains(',') {
        return None;
    }
    let (a, b) = r.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", k) => {
            let k: u64 = k.parse().ok()?;
            (len.checked_sub(k.min(len))?, len.checked_sub(1)?)
        }
        (n, "") => (n.parse().ok()?, len.checked_sub(1)?),
        (n, m) => (
            n.parse().ok()?,
            m.parse::<u64>().ok()?.min(len.checked_sub(1)?),
        ),
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(parse_range("bytes=4-", 10), Some((4, 9)));
        assert_eq!(parse_range("bytes=2-5", 10), Some((2, 5)));
        assert_eq!(parse_range("bytes=2-50", 10), Some((2, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=5-2", 10), None);
        assert_eq!(parse_range("bytes=0-1,4-5", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
    }
}
