//! `/ui/nodes/{id}`: one station's page — its state, last contact, software version, clock
//! offset and free disk; its faults now and their history; what it played today (in the
//! commune's time zone). The facts are the API's own ([`crate::ops::faults::station`]); an
//! account limited to some villages sees only their stations.

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::render::Ctx;
use crate::http::AppState;
use crate::ops::faults::station;
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/nodes/{id}", get(page))
}

async fn page(ctx: Ctx, Path(id): Path<String>) -> Response {
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
        let data = json!({
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
