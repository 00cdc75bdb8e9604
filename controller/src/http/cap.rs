//! CAP 1.2 alerts over HTTP: `POST /api/v1/cap` takes one alert from an authorised sender (an
//! operator, or an API token's owner) and answers what was decided; `GET /api/v1/cap` lists
//! the alerts taken in, newest first. The work is `ops::cap`'s.

use axum::extract::rejection::StringRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::cap::{take, Taken, Via};
use crate::store::cap_alerts::CapAlertRow;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        // Above the API's JSON limit: an alert may carry its audio embedded.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::limits::CAP_BODY_BYTES,
        ))
}

/// The content types a CAP message may come as.
const XML_TYPES: &[&str] = &["application/cap+xml", "application/xml", "text/xml"];

/// Hand in a CAP 1.2 alert
///
/// The alert is checked against the CAP 1.2 schema's rules and decided: played at once on the
/// stations inside its area (emergency or priority by its severity and urgency), an earlier
/// alert replaced (Update) or cancelled (Cancel), kept without playing (expired, not Actual,
/// Ack, Error), or refused (no station inside the area). Every alert, taken or refused, is in
/// the audit log with why. See docs/cap.md.
#[utoipa::path(
    post,
    path = "/api/v1/cap",
    tag = "cap",
    operation_id = "takeCapAlert",
    extensions(("x-loa-role" = json!("operator"))),
    request_body(content = String, content_type = "application/cap+xml",
                 description = "One CAP 1.2 `<alert>` (also as `application/xml`)."),
    responses(
        (status = 201, description = "What was decided, and where it plays.", body = Taken),
        (status = 409, description = "The same sender and identifier were taken before (`cap.duplicate`)."),
        (status = 413, description = "Over 16 MiB (`cap.too_large`)."),
        (status = 415, description = "Not an XML content type."),
        (status = 422, description = "Malformed XML (`cap.malformed`) or against the CAP 1.2 \
         schema (`cap.invalid`); the message names the element."),
        (status = 503, description = "The alert's audio could not be made (text-to-speech missing)."),
    )
)]
async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<(StatusCode, Json<Taken>), ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !XML_TYPES.contains(&essence.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "cap.content_type",
            format!(
                "a CAP alert is sent as {}, not {ctype:?}",
                XML_TYPES.join(" or ")
            ),
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "cap.too_large",
                format!(
                    "a CAP alert is at most {} MiB",
                    crate::limits::CAP_BODY_BYTES / (1024 * 1024)
                ),
            )
        } else {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cap.malformed",
                format!("the XML is malformed: {}", e.body_text()),
            )
        }
    })?;
    let taken = take(&s, Via::Api(&actor.user), &body).await?;
    Ok((StatusCode::CREATED, Json(taken)))
}

/// The CAP alerts taken in
///
/// Newest first, at most 200, each with its decision and why.
#[utoipa::path(
    get,
    path = "/api/v1/cap",
    tag = "cap",
    operation_id = "listCapAlerts",
    extensions(("x-loa-role" = json!("viewer"))),
    responses((status = 200, description = "The alerts.", body = Vec<CapAlertRow>))
)]
async fn list(State(s): State<AppState>) -> Result<Json<Vec<CapAlertRow>>, ApiError> {
    Ok(Json(s.store.cap_alerts(200).await?))
}
