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
        Ok(ctx.render(
            "announcements.html",
            json!({"announcements": announcements, "languages": LANGUAGES}),
        ))
    }
    .await;
    ctx.respond(r)
}
