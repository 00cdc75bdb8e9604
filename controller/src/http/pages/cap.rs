//! `/ui/cap` (*bản tin cảnh báo*): the CAP alerts taken in, newest first, each with who sent
//! it, what it was, the decision and why, and a link to the broadcast made for it, so an
//! official sees what the warning services sent and what the villages were given. The list is
//! the API's own (`GET /api/v1/cap`, [`crate::store::Store::cap_alerts`]).

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::render::Ctx;
use crate::http::AppState;
use crate::store::accounts::Role;

/// As many as the API lists.
const SHOWN: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/cap", get(page))
}

async fn page(ctx: Ctx) -> Response {
    let r = async {
        ctx.require(Role::Viewer)?;
        let alerts = ctx.s.store.cap_alerts(SHOWN).await?;
        Ok(ctx.render(
            "cap.html",
            json!({
                "alerts": alerts,
                "feed": ctx.s.cfg.cap.feed_url,
            }),
        ))
    }
    .await;
    ctx.respond(r)
}
