//! What needs a person, as an account sees it: the commune's faults now (its villages only),
//! and one station's page: its state, last contact, software, clock, disk, faults with their
//! history, and what it played today. Shared by the API and the dashboard and station pages.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;
use std::collections::HashMap;

use super::{App, OpError};
use crate::auth::Actor;
use crate::faults::Fault;
use crate::store::faults::{FaultRecord, StationDelivery};
use crate::store::nodes::NodeRow;

/// How many past faults a station's page lists.
pub const HISTORY_LIMIT: i64 = 50;

/// The faults now in the villages `actor` may see, most urgent first (emergencies not played
/// first, by village), each with its zone's path and since when.
pub async fn current(s: &App, actor: &Actor) -> Result<Vec<Fault>, OpError> {
    let all = s.store.faults_now(s.clock.now(), s.tz).await?;
    let starts = s.store.open_fault_starts().await?;
    let mut paths: HashMap<i64, String> = HashMap::new();
    let mut out = Vec::new();
    for mut f in all {
        if !actor.sees_zone(&s.store, f.zone_id).await? {
            continue;
        }
        f.zone = match paths.get(&f.zone_id) {
            Some(p) => p.clone(),
            None => {
                let p = s.store.zone_path(f.zone_id).await?;
                paths.insert(f.zone_id, p.clone());
                p
            }
        };
        if f.since.is_none() {
            let key = (f.node_id.clone(), f.kind.as_str().to_string(), f.subject());
            f.since = starts.get(&key).copied();
        }
        out.push(f);
    }
    crate::faults::sort(&mut out);
    Ok(out)
}

/// One station as its page shows it.
#[derive(utoipa::ToSchema, Serialize)]
pub struct Station {
    pub node: NodeRow,
    /// Its zone's path, `Xã … / Thôn …`.
    pub zone: String,
    /// The node software's version, as its last state said.
    pub software: Option<String>,
    /// The controller's clock minus the node's, in ms, as its last state said.
    pub clock_offset_ms: Option<i64>,
    /// Bytes free for its data, as its last state said (absent from older nodes).
    pub disk_free_bytes: Option<u64>,
    /// Bytes of media in its cache.
    pub cache_bytes: Option<u64>,
    /// Its faults now.
    pub faults: Vec<Fault>,
    /// Its faults as they began and ended, the latest first.
    pub history: Vec<FaultRecord>,
    /// Its deliveries of what starts today in the commune's time zone, by start.
    pub today: Vec<StationDelivery>,
}

/// Station `id`, if `actor` may see its village.
pub async fn station(s: &App, actor: &Actor, id: &str) -> Result<Station, OpError> {
    let node = s.store.node(id).await?;
    actor.check_zones(&s.store, &[node.zone_id]).await?;
    let zone = s.store.zone_path(node.zone_id).await?;
    let faults = current(s, actor)
        .await?
        .into_iter()
        .filter(|f| f.node_id == node.id)
        .collect();
    let history = s.store.fault_history(&node.id, HISTORY_LIMIT).await?;
    let (from, to) = today(s.clock.now(), s.tz);
    let today = s.store.station_deliveries(&node.id, from, to).await?;
    let st = node.state.as_ref();
    let field = |name: &str| st.and_then(|v| v.get(name)).cloned();
    Ok(Station {
        software: field("software").and_then(|v| v.as_str().map(str::to_owned)),
        clock_offset_ms: field("clock_offset_ms").and_then(|v| v.as_i64()),
        disk_free_bytes: field("disk_free_bytes").and_then(|v| v.as_u64()),
        cache_bytes: field("cache_bytes").and_then(|v| v.as_u64()),
        node,
        zone,
        faults,
        history,
        today,
    })
}

/// Today, midnight to midnight in `tz`, around `now`.
pub fn today(now: DateTime<Utc>, tz: chrono_tz::Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = now.with_timezone(&tz).date_naive();
    let start = tz
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    (start, start + Duration::days(1))
}
