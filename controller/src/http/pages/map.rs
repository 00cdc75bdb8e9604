//! `/ui/map`: every station on a map (*bản đồ cụm loa*), coloured by state, each with its name
//! and a card (state, last seen, version, what it played today, its faults, a link to its
//! page). The script (`static/map.js`, on the vendored Leaflet) draws from
//! `GET /api/v1/map/stations`; the page itself lists the stations without a location, with a
//! link to set one, so it says that much without the script. An account limited to some
//! villages sees only theirs.

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::map::stations;
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/map", get(page))
}

/// The texts the script writes on the map and the cards, in the page's language.
const SCRIPT_TEXTS: &[&str] = &[
    "map.state_word",
    "map.last_seen",
    "map.never_seen",
    "map.version",
    "map.on_air",
    "map.today",
    "map.nothing_today",
    "map.faults",
    "map.no_faults",
    "map.open_station",
    "map.tiles_failed",
    "map.load_failed",
    "station.not_said",
];

async fn page(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let map = stations(&ctx.s, actor).await?;
        let unlocated: Vec<_> = map
            .stations
            .iter()
            .filter(|st| st.location.is_none())
            .map(|st| json!({"id": st.id, "name": st.name, "zone": st.zone, "state": st.state}))
            .collect();
        let mut texts = serde_json::Map::new();
        for key in SCRIPT_TEXTS {
            texts.insert(key.to_string(), json!(ctx.t(key)));
        }
        // The names of states, fault kinds and stages the cards show.
        for state in ["online", "playing", "offline", "fault", "unknown"] {
            let key = format!("map.state.{state}");
            texts.insert(key.clone(), json!(ctx.t(&key)));
        }
        for kind in crate::faults::FaultKind::ALL {
            let key = format!("fault.kind.{}", kind.as_str());
            texts.insert(key.clone(), json!(ctx.t(&key)));
        }
        for stage in loa_protocol::Stage::ALL {
            let key = format!("stage.{}", stage.as_str());
            texts.insert(key.clone(), json!(ctx.t(&key)));
        }
        Ok::<_, ApiError>(ctx.render(
            "map.html",
            json!({
                "total": map.stations.len(),
                "unlocated": unlocated,
                "states": ["online", "playing", "fault", "offline", "unknown"],
                "texts": texts,
                "may_set": actor.require(Role::Operator).is_ok(),
                "tz": ctx.s.tz.name(),
            }),
        ))
    }
    .await;
    ctx.respond(r)
}
