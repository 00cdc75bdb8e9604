//! `/ui/nodes/{id}`: one station's page — its state, last contact, software version, clock
//! offset and free disk; its last speaker check, with the operators' button to ask for one
//! (`POST /ui/nodes/{id}/speaker-check`); its faults now and their history; what it played
//! today (in the commune's time zone); where it stands, with the operators' form to set it
//! (`POST /ui/nodes/{id}/location`, [`super::locations`]). The facts are the API's own ([`crate::ops::faults::station`]); an
//! account limited to some villages sees only their stations.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::faults::station;
use crate::ops::nodes::request_speaker_check;
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/nodes/{id}", get(page))
        .route("/ui/nodes/{id}/speaker-check", post(ask_speaker_check))
}

/// "Kiểm tra loa": the request goes out in the node's plan; the page says it was asked.
async fn ask_speaker_check(ctx: Ctx, Path(id): Path<String>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let node = ctx.s.store.node(&id).await?;
        actor.check_zones(&ctx.s.store, &[node.zone_id]).await?;
        request_speaker_check(&ctx.s, &id).await?;
        Ok::<_, ApiError>(Redirect::to(&format!("/ui/nodes/{id}?asked=1")).into_response())
    }
    .await;
    ctx.respond(r)
}

/// `?located=1`: the location form was just saved.
#[derive(serde::Deserialize)]
struct After {
    located: Option<String>,
}

async fn page(ctx: Ctx, Path(id): Path<String>, Query(q): Query<After>) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let st = station(&ctx.s, actor, &id).await?;
        let st_json = &st.node.state;
        let device_error = st_json
            .as_ref()
            .and_then(|v| v.get("device_error"))
            .and_then(|v| v.as_str())
            .filter(|_| st.node.presence == "online")
            .map(str::to_owned);
        let speaker_check = st_json
            .as_ref()
            .and_then(|v| v.get("speaker_check"))
            .cloned();
        let data = json!({
            "speaker_check": speaker_check,
            "located": q.located.is_some(),
            "asked": st.node.speaker_check_requested_at,
            "clock_offset": st.clock_offset_ms.map(|ms| format!("{:+.1}", ms as f64 / 1000.0)),
            "disk_free_mb": st.disk_free_bytes.map(mb),
            "cache_mb": st.cache_bytes.map(mb),
            "device_error": device_error,
            "station": st,
        });
        Ok(ctx.render("station.html", data))
    }
    .await;
    ctx.respond(r)
}

/// Bytes as megabytes for the page, rounded.
fn mb(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / 1e6)
}
