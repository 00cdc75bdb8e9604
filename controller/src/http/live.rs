//! `/api/v1/live`: live sessions. Start one (zones, priority), follow it (each village's
//! delivery), stop it; and the speaker's WebSocket, `/api/v1/live/{id}/audio`, on which the
//! browser sends its microphone as 16-bit PCM (see [`crate::ops::live`] for the rules).

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use std::time::Duration;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::live::{self, LiveView, NewLive};
use crate::opus::resample::ToOpusRate;
use crate::relay::feed::Feed;
use crate::store::live::LiveSession;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(one))
        .routes(routes!(stop))
        .routes(routes!(audio))
}

/// Start a live session
///
/// Broadcasts the speaker now to every loudspeaker under `zones` (those in quiet hours left
/// out, unless `priority` is `emergency`), the chime first when the commune uses one. The
/// villages are on air from `on_air_at`. The speaker then sends the microphone on
/// `/api/v1/live/{id}/audio`; the session ends when stopped, after 5 s with nothing from the
/// speaker, or after `minutes`.
#[utoipa::path(
    post,
    path = "/api/v1/live",
    tag = "live",
    operation_id = "startLive",
    extensions(("x-loa-role" = json!("operator"))),
    request_body = NewLive,
    responses(
        (status = 201, description = "The session, on its way to the villages.", body = LiveSession),
        (status = 422, description = "No zone, no loudspeaker in them, all in quiet hours, or a length out of range (`live.length`)."),
    )
)]
async fn start(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Json(new): Json<NewLive>,
) -> Result<(StatusCode, Json<LiveSession>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(live::start(&s, &actor, &new).await?),
    ))
}

/// A live session
///
/// With its broadcast: each village's delivery (`playing` while on air, then `played`), and
/// the recording of what the villages were sent once it has ended.
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}",
    tag = "live",
    operation_id = "getLive",
    extensions(("x-loa-role" = json!("viewer"))),
    params(("id" = i64, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session.", body = LiveView),
        (status = 404, description = "No such session."),
    )
)]
async fn one(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<LiveView>, ApiError> {
    Ok(Json(live::view(&s, &actor, id).await?))
}

/// Stop a live session
///
/// The villages fade out; each delivery ends `played`. Stopping a session that has already
/// ended changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/stop",
    tag = "live",
    operation_id = "stopLive",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session, ended.", body = LiveSession),
        (status = 404, description = "No such session."),
    )
)]
async fn stop(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<LiveSession>, ApiError> {
    Ok(Json(live::stop_by(&s, &actor, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Rate {
    /// The sample rate of what the speaker sends, 8000 to 96000; 48000 when absent.
    rate: Option<u32>,
}

/// The speaker's microphone (WebSocket)
///
/// A WebSocket on which the speaker's browser sends binary messages of 16-bit little-endian
/// mono PCM at `rate`, 20 ms or so each. Only the account that started the session (or an
/// admin) speaks, from a page of this controller (the `Origin` must be this host). The
/// controller closes the socket when the session ends. A speaker that reconnects goes on;
/// one silent for 5 s ends the session.
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}/audio",
    tag = "live",
    operation_id = "liveAudio",
    extensions(("x-loa-role" = json!("operator"))),
    params(("id" = i64, Path, description = "The session's id."), Rate),
    responses(
        (status = 101, description = "The socket is open: send the microphone."),
        (status = 403, description = "Another account's session (`live.not_yours`), or a page of another site."),
        (status = 409, description = "The session has ended (`live.ended`)."),
        (status = 422, description = "Not a WebSocket request, or a rate out of range."),
    )
)]
async fn audio(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    Query(q): Query<Rate>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let session = live::speaker_session(&s, &actor, id).await?;
    let rate = q.rate.unwrap_or(48_000);
    if !(8_000..=96_000).contains(&rate) {
        return Err(ApiError::invalid("rate is 8000 to 96000"));
    }
    let ws = ws.map_err(|e| ApiError::invalid(format!("a WebSocket is needed here: {e}")))?;
    let resample = ToOpusRate::new(rate, 1).map_err(ApiError::internal)?;
    let feed = s.hub.feed(session.source_id);
    feed.restart();
    tracing::info!(session = id, user = %actor.user.username, rate, "the speaker is connected");
    Ok(ws.on_upgrade(move |socket| speak(s, session, feed, resample, socket)))
}

/// A browser may open the socket only from this controller's own pages: WebSockets carry the
/// session cookie across sites, so the `Origin` must name the host the request came to.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser (an API client with a token).
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    if host.is_some() && origin_host == host {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "live.other_site",
            "the microphone may be sent only from this controller's pages",
        ))
    }
}

/// Feeds the session from the socket until it closes or the session ends.
async fn speak(
    s: AppState,
    session: LiveSession,
    feed: std::sync::Arc<Feed>,
    mut resample: ToOpusRate,
    mut socket: WebSocket,
) {
    let (mut pcm, mut mono) = (Vec::new(), Vec::new());
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        let msg = tokio::select! {
            m = socket.recv() => m,
            _ = check.tick() => {
                match s.store.live_session(session.id).await {
                    Ok(now) if now.ended_at.is_some() => {
                        let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                            code: 1000,
                            reason: "live.ended".into(),
                        }))).await;
                        break;
                    }
                    _ => continue,
                }
            }
        };
        match msg {
            Some(Ok(Message::Binary(b))) => {
                pcm.clear();
                pcm.extend(
                    b.chunks_exact(2)
                        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0),
                );
                mono.clear();
                if let Err(e) = resample.process(&pcm, &mut mono) {
                    tracing::error!(session = session.id, error = %e, "the speaker's sound cannot be resampled");
                    break;
                }
                feed.push(&mono);
            }
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(session = session.id, error = %e, "the speaker's socket broke");
                break;
            }
        }
    }
    tracing::info!(session = session.id, "the speaker is disconnected");
}
