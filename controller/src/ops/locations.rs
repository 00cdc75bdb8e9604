//! Setting where a loudspeaker stands: at provisioning, by staff (the API, the zones page),
//! and, through the node's state, by the installer (`loa-node check --location`, taken in
//! `mqtt::ingest`). The latest set wins (`store::locations`). Shared by the API and the
//! zones page.

use loa_protocol::Location;

use super::{App, OpError};
use crate::auth::Actor;
use crate::store::locations::{LocationSource, NodeLocation};
use crate::store::nodes::NodeRow;

/// The code of a location out of range, or half of one.
pub const BAD_LOCATION: &str = "node.bad_location";

/// Checks a latitude and longitude given together (or neither); the pair, if given.
pub fn pair(latitude: Option<f64>, longitude: Option<f64>) -> Result<Option<(f64, f64)>, OpError> {
    match (latitude, longitude) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon)) if Location::in_range(lat, lon) => Ok(Some((lat, lon))),
        (Some(lat), Some(lon)) => Err(OpError::new(
            super::Kind::Invalid,
            BAD_LOCATION,
            format!(
                "{lat}, {lon} is not a place: latitude is -90 to 90 and longitude -180 to 180 \
                 (decimal degrees, e.g. 21.0285, 105.8542)"
            ),
        )),
        _ => Err(OpError::new(
            super::Kind::Invalid,
            BAD_LOCATION,
            "give both latitude and longitude, or neither",
        )),
    }
}

/// Records `(latitude, longitude)` for node `id`, set now by `source`. Refused (409
/// `node.location_newer`) when the place kept was set later than now, which only a clock
/// moved back makes possible: the later one stays, as the rule says.
pub async fn record(
    s: &App,
    id: &str,
    (latitude, longitude): (f64, f64),
    source: LocationSource,
) -> Result<NodeRow, OpError> {
    let at = NodeLocation {
        latitude,
        longitude,
        set_at: s.clock.now(),
        source,
    };
    if !s.store.set_node_location(id, &at).await? {
        return Err(OpError::conflict(
            "node.location_newer",
            format!("node {id} has a location set later than now; it is kept"),
        ));
    }
    tracing::info!(node = %id, latitude, longitude, source = source.as_str(), "node location set");
    Ok(s.store.node(id).await?)
}

/// Staff set where node `id` stands, in a village `actor` may see.
pub async fn set_location(
    s: &App,
    actor: &Actor,
    id: &str,
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Result<NodeRow, OpError> {
    let node = s.store.node(id).await?;
    actor.check_zones(&s.store, &[node.zone_id]).await?;
    let Some(place) = pair(latitude, longitude)? else {
        return Err(OpError::new(
            super::Kind::Invalid,
            BAD_LOCATION,
            "give both latitude and longitude",
        ));
    };
    record(s, id, place, LocationSource::Centre).await
}

/// Staff forget where node `id` stands (it shows as without a place until set again).
pub async fn clear_location(s: &App, actor: &Actor, id: &str) -> Result<NodeRow, OpError> {
    let node = s.store.node(id).await?;
    actor.check_zones(&s.store, &[node.zone_id]).await?;
    s.store.clear_node_location(id).await?;
    tracing::info!(node = %id, "node location cleared");
    Ok(s.store.node(id).await?)
}
