//! Text-to-speech over HTTP: `POST /api/v1/tts/preview` answers the audio for the browser to
//! play; `POST /api/v1/tts/announcements` keeps it as media (as an upload would be) and makes
//! an announcement of it; `GET /api/v1/tts/voices` lists the voices to choose from.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::store::media::{Announcement, MediaRow};
use crate::store::parts::Recording;
use crate::tts::{Rendered, TtsError, Voice};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(voices))
        .routes(routes!(preview))
        .routes(routes!(create_announcement))
}

impl From<TtsError> for ApiError {
    fn from(e: TtsError) -> Self {
        let status = match &e {
            TtsError::TextEmpty | TtsError::TextTooLong { .. } | TtsError::UnknownVoice { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            // The controller's machine lacks a package: the message says which.
            TtsError::EngineMissing(_) | TtsError::VoiceMissing(_) => {
                tracing::error!(error = %e, "text-to-speech is not available");
                StatusCode::SERVICE_UNAVAILABLE
            }
            TtsError::EngineFailed(_) | TtsError::Io(_) => return ApiError::internal(e),
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The voices
#[utoipa::path(
    get,
    path = "/api/v1/tts/voices",
    tag = "tts",
    operation_id = "listVoices",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The voices to choose from.", body = Vec<Voice>))
)]
async fn voices(State(s): State<AppState>) -> Json<&'static [Voice]> {
    Json(s.tts.voices())
}

#[derive(Deserialize, ToSchema)]
struct PreviewRequest {
    text: String,
    /// `vi` when absent.
    voice: Option<String>,
}

/// Hear a text read out
///
/// The text read out, as `audio/wav`; nothing is kept but the cache.
#[utoipa::path(
    post,
    path = "/api/v1/tts/preview",
    tag = "tts",
    operation_id = "previewSpeech",
    extensions(("x-loa-role" = json!("operator"))),
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The audio.", body = String, content_type = "audio/wav",
         headers(("ETag" = String, description = "The same text and voice give the same audio."))),
        (status = 503),
    )
)]
async fn preview(
    State(s): State<AppState>,
    Json(req): Json<PreviewRequest>,
) -> Result<Response, ApiError> {
    let r = s.tts.render(&req.text, req.voice.as_deref()).await?;
    let bytes = tokio::fs::read(&r.path).await.map_err(TtsError::from)?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_string()),
            // The same text and voice always give the same audio.
            (header::ETAG, format!("\"{}\"", r.key)),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
struct NewTtsAnnouncement {
    title: String,
    text: String,
    /// `vi` when absent.
    voice: Option<String>,
}

/// Make an announcement from a text
///
/// Renders the text (from the cache when it was previewed), keeps it as media and makes an
/// announcement with it as the recording in the voice's language.
#[utoipa::path(
    post,
    path = "/api/v1/tts/announcements",
    tag = "tts",
    operation_id = "createSpeechAnnouncement",
    extensions(("x-loa-role" = json!("operator"))),
    request_body = NewTtsAnnouncement,
    responses(
        (status = 201, description = "The announcement.", body = Announcement),
        (status = 503),
    )
)]
async fn create_announcement(
    State(s): State<AppState>,
    Json(req): Json<NewTtsAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>), ApiError> {
    let r = s.tts.render(&req.text, req.voice.as_deref()).await?;
    let media = keep_as_media(&s, &r).await?;
    let recording = Recording {
        language: r.voice.language.to_owned(),
        media_sha256: media.sha256,
    };
    let a = s
        .store
        .create_announcement(&req.title, &[recording])
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// A copy of the rendered file goes through the same probe and store as an upload.
async fn keep_as_media(s: &AppState, r: &Rendered) -> Result<MediaRow, ApiError> {
    let bytes = tokio::fs::read(&r.path).await.map_err(TtsError::from)?;
    let name = Some(format!("tts-{}.wav", r.voice.id));
    Ok(crate::ops::media::keep_bytes(s, &bytes, name).await?)
}
