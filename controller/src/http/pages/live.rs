//! `/ui/broadcasts/live` (operators): *Phát trực tiếp*, speaking to chosen villages from the
//! microphone of the centre's PC or a phone. The page picks the zones and the priority; its
//! script (`static/live.js`, with the microphone read by `static/live-worklet.js`) starts
//! the session through the API, sends the microphone on the session's WebSocket, shows the
//! input level, the countdown until the villages are on air and each village's state, and
//! stops it; or, where the controller's machine has a sound card for it, speaks from that
//! (the page then only starts, follows and stops). The rules are the API's own ([`crate::ops::live`]).

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::emergency::zone_choices;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::live::{DEFAULT_MINUTES, MAX_MINUTES, SPEAKER_GONE};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/broadcasts/live", get(page))
}

/// The texts the script writes, in the page's language.
const SCRIPT_TEXTS: &[&str] = &[
    "live.no_zone",
    "live.no_microphone",
    "live.asking_microphone",
    "live.starting",
    "live.countdown",
    "live.on_air",
    "live.ended",
    "live.reconnecting",
    "live.socket_lost",
    "error.network",
];

async fn page(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        let mut texts = serde_json::Map::new();
        for key in SCRIPT_TEXTS {
            texts.insert(key.to_string(), json!(ctx.t(key)));
        }
        for stage in loa_protocol::Stage::ALL {
            let key = format!("stage.{}", stage.as_str());
            texts.insert(key.clone(), json!(ctx.t(&key)));
        }
        Ok::<_, ApiError>(ctx.render(
            "live.html",
            json!({
                "zones": zone_choices(&ctx, actor).await?,
                "minutes": DEFAULT_MINUTES,
                "max_minutes": MAX_MINUTES,
                "gone_secs": SPEAKER_GONE.as_secs(),
                "sound_card": ctx.s.cfg.live.capture_device,
                "texts": texts,
            }),
        ))
    }
    .await;
    ctx.respond(r)
}
