//! The station map's data (*bản đồ cụm loa*): every station an account may see, with its
//! place, its state in one word for the marker's colour, and its card (last seen, software
//! version, what it played today, its faults). The page `/ui/map` draws from the API
//! `GET /api/v1/map/stations`, which a province's page can read the same way.
//!
//! A station's state, first that applies: `offline` (its presence), `fault` (any fault now,
//! by the rules in [`crate::faults`]), `playing` (online and on air), `online`, and `unknown`
//! before it first spoke.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

use super::{App, OpError};
use crate::auth::Actor;
use crate::faults::Fault;
use crate::store::faults::StationDelivery;
use crate::store::locations::NodeLocation;

/// A station's state on the map, one colour each.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StationState {
    Online,
    Playing,
    Offline,
    Fault,
    Unknown,
}

/// The state of a station with `presence`, whether it has faults now and whether it plays.
pub fn state_of(presence: &str, has_faults: bool, playing: bool) -> StationState {
    match presence {
        "offline" => StationState::Offline,
        _ if has_faults => StationState::Fault,
        "online" if playing => StationState::Playing,
        "online" => StationState::Online,
        _ => StationState::Unknown,
    }
}

/// One station on the map, with its card.
#[derive(utoipa::ToSchema, Serialize)]
pub struct MapStation {
    pub id: String,
    pub name: String,
    pub zone_id: i64,
    /// Its zone's path, `Xã … / Thôn …`.
    pub zone: String,
    pub state: StationState,
    /// Where it stands; absent until someone sets it (listed beside the map).
    pub location: Option<NodeLocation>,
    pub last_seen: Option<DateTime<Utc>>,
    /// The node software's version, as its last state said.
    pub software: Option<String>,
    /// The title of what it plays now.
    pub on_air: Option<String>,
    /// Its deliveries of what starts today in the commune's time zone, by start.
    pub today: Vec<StationDelivery>,
    /// Its faults now, most urgent first.
    pub faults: Vec<Fault>,
}

/// What the map page needs: the stations and the tiles to draw under them.
#[derive(utoipa::ToSchema, Serialize)]
pub struct StationMap {
    /// The commune's tile URL template (`map_tile_url`; `{z}/{x}/{y}`); empty for a plain
    /// background.
    pub tile_url: String,
    pub stations: Vec<MapStation>,
}

/// Every station `actor` may see, by village and name.
pub async fn stations(s: &App, actor: &Actor) -> Result<StationMap, OpError> {
    let mut faults: HashMap<String, Vec<Fault>> = HashMap::new();
    for f in super::faults::current(s, actor).await? {
        faults.entry(f.node_id.clone()).or_default().push(f);
    }
    let (from, to) = super::faults::today(s.clock.now(), s.tz);
    let mut paths: HashMap<i64, String> = HashMap::new();
    let mut out = Vec::new();
    for n in s.store.nodes().await? {
        if !actor.sees_zone(&s.store, n.zone_id).await? {
            continue;
        }
        let zone = match paths.get(&n.zone_id) {
            Some(p) => p.clone(),
            None => {
                let p = s.store.zone_path(n.zone_id).await?;
                paths.insert(n.zone_id, p.clone());
                p
            }
        };
        let today = s.store.station_deliveries(&n.id, from, to).await?;
        let field = |name: &str| n.state.as_ref().and_then(|v| v.get(name));
        let playing = field("playing")
            .and_then(Value::as_str)
            .filter(|_| n.presence == "online")
            .and_then(loa_protocol::occurrence_of);
        let on_air = match playing {
            None => None,
            Some(occ) => match today.iter().find(|d| d.occurrence_id == occ) {
                Some(d) => Some(d.title.clone()),
                None => Some(s.store.occurrence(occ).await?.title),
            },
        };
        let faults = faults.remove(&n.id).unwrap_or_default();
        out.push(MapStation {
            state: state_of(&n.presence, !faults.is_empty(), playing.is_some()),
            software: field("software").and_then(Value::as_str).map(str::to_owned),
            id: n.id,
            name: n.name,
            zone_id: n.zone_id,
            zone,
            location: n.location,
            last_seen: n.last_seen,
            on_air,
            today,
            faults,
        });
    }
    out.sort_by(|a, b| (&a.zone, &a.name).cmp(&(&b.zone, &b.name)));
    Ok(StationMap {
        tile_url: s.store.map_tile_url().await?,
        stations: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_then_faults_then_playing_decide_the_colour() {
        use StationState::*;
        // presence, has faults, playing → state
        let cases = [
            ("offline", true, false, Offline),
            ("offline", false, false, Offline),
            ("online", true, true, Fault),
            ("online", true, false, Fault),
            ("online", false, true, Playing),
            ("online", false, false, Online),
            ("unknown", false, false, Unknown),
            // an emergency not played is a fault even before the node first spoke
            ("unknown", true, false, Fault),
        ];
        for (presence, faults, playing, want) in cases {
            assert_eq!(
                state_of(presence, faults, playing),
                want,
                "{presence} {faults} {playing}"
            );
        }
    }
}
