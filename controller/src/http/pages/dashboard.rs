//! `/ui/`: the day at a glance — first what needs a person (emergencies not played, red, by
//! village; then each station's faults, linked to its page); the loudspeakers of each village,
//! online or not and when last seen; what is on air now; today's programme (in the commune's time zone); the recent
//! deliveries, those that failed or were missed first. An account limited to some villages
//! sees only theirs.

use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::store::accounts::Role;

/// How far back the list of recent deliveries reaches.
const RECENT_HOURS: i64 = 48;
/// How many recent deliveries are listed.
const RECENT_LIMIT: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/", get(page))
        // `/ui` as typed in an address bar.
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
}

async fn page(ctx: Ctx) -> Response {
    let r = build(&ctx).await;
    ctx.respond(r.map(|data| ctx.render("dashboard.html", data)))
}

async fn build(ctx: &Ctx) -> Result<Value, ApiError> {
    let actor = ctx.require(Role::Viewer)?;
    let s = &ctx.s;
    let mut paths = ZonePaths::default();
    let (emergencies, faults) = fault_groups(crate::ops::faults::current(s, actor).await?);

    // Loudspeakers per village, and what they play now.
    let mut villages: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut on_air = Vec::new();
    let mut titles: HashMap<i64, String> = HashMap::new();
    for n in s.store.nodes().await? {
        if !actor.sees_zone(&s.store, n.zone_id).await? {
            continue;
        }
        let zone = paths.get(ctx, n.zone_id).await?;
        let playing = n
            .state
            .as_ref()
            .and_then(|st| st.get("playing"))
            .and_then(Value::as_str)
            .filter(|_| n.presence == "online")
            .and_then(loa_protocol::occurrence_of);
        if let Some(occ) = playing {
            let title = match titles.get(&occ) {
                Some(t) => t.clone(),
                None => {
                    let t = s
                        .store
                        .occurrence(occ)
                        .await
                        .map(|o| o.title)
                        .unwrap_or_default();
                    titles.insert(occ, t.clone());
                    t
                }
            };
            on_air.push(json!({"node": n.name, "node_id": n.id, "zone": zone,
                               "broadcast": occ, "title": title}));
        }
        villages.entry(zone).or_default().push(json!({
            "id": n.id, "name": n.name, "presence": n.presence,
            "last_seen": n.last_seen, "playing": playing.is_some(),
        }));
    }
    let villages: Vec<Value> = villages
        .into_iter()
        .map(|(zone, nodes)| {
            let online = nodes.iter().filter(|n| n["presence"] == "online").count();
            json!({"zone": zone, "online": online, "total": nodes.len(), "nodes": nodes})
        })
        .collect();

    // Today's programme, midnight to midnight in the commune's time zone.
    let now = s.clock.now();
    let today = now.with_timezone(&s.tz).date_naive();
    let start =
        s.tz.from_local_datetime(&today.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
    let mut programme = Vec::new();
    for o in s
        .store
        .occurrences_between(start, start + Duration::days(1))
        .await?
    {
        if actor.concerns(&s.store, &o.zone_ids).await? {
            let mut zones = Vec::new();
            for z in &o.zone_ids {
                zones.push(paths.get(ctx, *z).await?);
            }
            programme.push(json!({"occurrence": o, "zones": zones, "past": o.start_at < now}));
        }
    }

    // Recent deliveries, problems first.
    let mut recent = Vec::new();
    for d in s
        .store
        .recent_deliveries(now - Duration::hours(RECENT_HOURS), now, RECENT_LIMIT)
        .await?
    {
        if !actor.sees_zone(&s.store, d.zone_id).await? {
            continue;
        }
        let zone = paths.get(ctx, d.zone_id).await?;
        recent.push(json!({"d": d, "zone": zone}));
    }

    Ok(json!({
        "emergencies": emergencies,
        "faults": faults,
        "villages": villages,
        "on_air": on_air,
        "programme": programme,
        "recent": recent,
        "today": today.format("%d/%m/%Y").to_string(),
    }))
}

/// The faults as the dashboard lists them: each emergency not played with the villages (and
/// their nodes) that have not played it, then the other faults in order.
fn fault_groups(all: Vec<crate::faults::Fault>) -> (Vec<Value>, Vec<crate::faults::Fault>) {
    use crate::faults::FaultKind;
    // (occurrence, title, since) → village → nodes, in the order met (most urgent first).
    let mut emergencies: Vec<(i64, Value, BTreeMap<String, Vec<Value>>)> = Vec::new();
    let mut rest = Vec::new();
    for f in all {
        let Some(occ) = f
            .occurrence_id
            .filter(|_| f.kind == FaultKind::EmergencyNotPlayed)
        else {
            rest.push(f);
            continue;
        };
        let i = match emergencies.iter().position(|(o, _, _)| *o == occ) {
            Some(i) => i,
            None => {
                let head = json!({"occurrence_id": occ, "title": f.title, "since": f.since});
                emergencies.push((occ, head, BTreeMap::new()));
                emergencies.len() - 1
            }
        };
        emergencies[i].2.entry(f.zone.clone()).or_default().push(
            json!({"id": f.node_id, "name": f.node_name, "stage": f.stage, "detail": f.detail}),
        );
    }
    let emergencies = emergencies
        .into_iter()
        .map(|(_, mut head, villages)| {
            head["villages"] = villages
                .into_iter()
                .map(|(zone, nodes)| json!({"zone": zone, "nodes": nodes}))
                .collect();
            head
        })
        .collect();
    (emergencies, rest)
}

/// Zone paths (`Xã … / Thôn …`), each read once per page.
#[derive(Default)]
pub struct ZonePaths(HashMap<i64, String>);

impl ZonePaths {
    pub async fn get(&mut self, ctx: &Ctx, zone: i64) -> Result<String, ApiError> {
        if let Some(p) = self.0.get(&zone) {
            return Ok(p.clone());
        }
        let p = ctx.s.store.zone_path(zone).await?;
        self.0.insert(zone, p.clone());
        Ok(p)
    }
}
