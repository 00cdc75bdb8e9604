//! `/ui/announcements` (operators): the announcements with their language recordings, and
//! the two ways to make one. Both run in the browser against the REST API, so nothing is done
//! twice: a recording per language is uploaded with a progress bar (`POST /api/v1/media`)
//! and the announcement made from them (`POST /api/v1/announcements`); or a text is heard
//! first (`POST /api/v1/tts/preview`) and then saved (`POST /api/v1/tts/announcements`).

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::render::Ctx;
use crate::http::AppState;
use crate::limits::{megabytes, ANNOUNCEMENT_TITLE};
use crate::media::MediaError;
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/announcements", get(page))
}

/// The languages offered in the pickers (others can be typed): Vietnamese and the languages
/// of the northern mountain communes.
const LANGUAGES: &[&str] = &["vi", "hmn", "tai", "dao", "muong", "en"];

async fn page(ctx: Ctx) -> Response {
    let r = async {
        ctx.require(Role::Operator)?;
        let announcements = ctx.s.store.announcements().await?;
        let max = ctx.s.cfg.max_upload_bytes;
        // The script refuses a file over the limit before sending it: a browser cut off
        // mid-upload would only see a network error.
        let too_large = ctx.error_text(&MediaError::TooLarge { limit: max }.into());
        Ok(ctx.render(
            "announcements.html",
            json!({"announcements": announcements, "languages": LANGUAGES,
                   "max_upload_bytes": max, "max_upload": megabytes(max),
                   "too_large": too_large, "title_max": ANNOUNCEMENT_TITLE.max}),
        ))
    }
    .await;
    ctx.respond(r)
}
