//! `/api/v1/reports/villages`: the delivery report per village for a period of local dates,
//! as JSON or as a CSV file for Excel. An account limited to zones gets the rows of its
//! villages only, and a total over those.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::ops::reports::build;
use crate::report::csv::{self, Lang};
use crate::report::Report;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(villages))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// The first local date, `YYYY-MM-DD`; today when absent.
    from: Option<String>,
    /// The last local date, inclusive; `from` when absent.
    to: Option<String>,
    /// `json` (the default) or `csv`.
    format: Option<String>,
    /// The CSV header's language, `vi` or `en`; the account's language when absent.
    lang: Option<String>,
}

/// The delivery report per village
///
/// For a period of local dates, as JSON or as a CSV file for Excel. An account limited to
/// zones gets the rows of its villages only, and a total over those.
#[utoipa::path(
    get,
    path = "/api/v1/reports/villages",
    tag = "reports",
    operation_id = "villageReport",
    extensions(("x-loa-role" = json!("viewer"))),
    params(Params),
    responses(
        (status = 200, description = "The report.",
         content((Report = "application/json"), (String = "text/csv"))),
        (status = 400),
        (status = 422, description = "A bad date or period (`report.*`), or a format other than json or csv (`report.format`)."),
    )
)]
async fn villages(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "report.format",
                format!("format is json or csv, not {other:?}"),
            ))
        }
    };
    let report = build(&s, &actor, q.from.as_deref(), q.to.as_deref()).await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let lang = Lang::from_code(q.lang.as_deref().unwrap_or(&actor.user.language));
    let disposition = format!("attachment; filename=\"{}\"", csv::file_name(&report));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv::render(&report, lang),
    )
        .into_response())
}
