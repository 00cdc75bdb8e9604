//! `/api/v1/announcements` and `/api/v1/broadcasts`: "play announcement A on zones Z at time T
//! (or now) with priority P", and each targeted node's delivery record.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use loa_protocol::{Priority, Stage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use super::{ApiError, AppState};
use crate::auth::Actor;
use crate::store::media::Announcement;
use crate::store::occurrences::{DeliveryView, NewOccurrence, OccurrenceRow};
use crate::store::parts::{Recording, DEFAULT_LANGUAGES};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/announcements",
            get(list_announcements).post(create_announcement),
        )
        .route("/api/v1/broadcasts", get(list).post(create))
        .route("/api/v1/broadcasts/{id}", get(one))
        .route("/api/v1/broadcasts/{id}/cancel", post(cancel))
}

/// A new announcement: one recording (`media_sha256`, in Vietnamese unless `language` says
/// otherwise), or several, one per language, the main one first.
#[derive(Deserialize)]
struct NewAnnouncement {
    title: String,
    media_sha256: Option<String>,
    language: Option<String>,
    #[serde(default)]
    recordings: Vec<Recording>,
}

async fn create_announcement(
    State(s): State<AppState>,
    Json(a): Json<NewAnnouncement>,
) -> Result<(StatusCode, Json<Announcement>), ApiError> {
    let recordings = match (a.media_sha256, a.recordings.is_empty()) {
        (Some(sha), true) => vec![Recording {
            language: a
                .language
                .unwrap_or_else(|| DEFAULT_LANGUAGES[0].to_owned()),
            media_sha256: sha,
        }],
        (None, false) => a.recordings,
        _ => {
            return Err(ApiError::invalid(
                "give either media_sha256 (one recording) or recordings (one per language)",
            ))
        }
    };
    let a = s.store.create_announcement(&a.title, &recordings).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn list_announcements(
    State(s): State<AppState>,
) -> Result<Json<Vec<Announcement>>, ApiError> {
    Ok(Json(s.store.announcements().await?))
}

/// "Play announcement A on zones Z at T with priority P": the API's body, and what the
/// pages fill in.
#[derive(Deserialize)]
pub(crate) struct NewBroadcast {
    pub announcement_id: i64,
    /// Zone ids; every node under each is targeted.
    pub zones: Vec<i64>,
    /// When to play, RFC 3339 with an offset (`2026-11-24T06:00:00+07:00`); now when absent.
    pub at: Option<DateTime<FixedOffset>>,
    #[serde(default = "normal")]
    pub priority: Priority,
    /// How long after its start the item may still play; the controller's default when absent.
    pub expires_in_minutes: Option<i64>,
    /// With the commune's chime first (`true`), without (`false`), or as each node is set.
    pub chime: Option<bool>,
    /// 0–100, on top of each node's volume; 100 when absent.
    pub volume: Option<u8>,
}

fn normal() -> Priority {
    Priority::Normal
}

/// A broadcast with every targeted node's delivery, and a count per stage.
#[derive(Serialize)]
pub(crate) struct BroadcastView {
    #[serde(flatten)]
    pub occurrence: OccurrenceRow,
    pub summary: BTreeMap<Stage, usize>,
    pub deliveries: Vec<DeliveryLine>,
}

#[derive(Serialize)]
pub(crate) struct DeliveryLine {
    /// The village (zone path) the node stands in.
    pub zone: String,
    #[serde(flatten)]
    pub delivery: DeliveryView,
}

async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Json(b): Json<NewBroadcast>,
) -> Result<(StatusCode, Json<BroadcastView>), ApiError> {
    let occ = create_broadcast(&s, &actor, &b).await?;
    Ok((StatusCode::CREATED, Json(view(&s, &actor, occ).await?)))
}

/// Makes a broadcast: checks the zones (and the account's scope), the announcement and the
/// times, writes the occurrence with a `planned` delivery per node and sends the nodes their
/// new plans. Shared by the API and the pages (the emergency page among them).
pub(crate) async fn create_broadcast(
    s: &AppState,
    actor: &Actor,
    b: &NewBroadcast,
) -> Result<OccurrenceRow, ApiError> {
    if b.zones.is_empty() {
        return Err(ApiError::invalid("choose at least one zone"));
    }
    actor.check_zones(&s.store, &b.zones).await?;
    s.store.announcement(b.announcement_id).await?;
    let now = Utc::now();
    let start = b.at.map(|t| t.with_timezone(&Utc)).unwrap_or(now);
    let minutes = b.expires_in_minutes.unwrap_or(s.cfg.default_expiry_minutes);
    if !(1..=7 * 24 * 60).contains(&minutes) {
        return Err(ApiError::invalid(
            "expires_in_minutes is 1 to 10080 (a week)",
        ));
    }
    let expires = start + Duration::minutes(minutes);
    if expires <= now {
        return Err(ApiError::invalid(
            "that time is already past its expiry; choose a later time",
        ));
    }
    let nodes = s.store.nodes_under(&b.zones).await?;
    if nodes.is_empty() {
        return Err(ApiError::invalid(
            "there are no loudspeaker nodes in the chosen zones",
        ));
    }
    let occ = s
        .store
        .create_occurrence(
            &NewOccurrence {
                announcement_id: b.announcement_id,
                priority: b.priority,
                start_at: start,
                expires_at: expires,
                chime: b.chime,
                volume: b.volume,
            },
            &b.zones,
            &nodes,
        )
        .await?;
    tracing::info!(broadcast = occ.id, nodes = nodes.len(), priority = %b.priority, start = %start, "broadcast created");
    s.planner.publish_all(&nodes).await;
    Ok(occ)
}

/// The broadcast with the deliveries the account may see (its zones' nodes).
pub(crate) async fn view(
    s: &AppState,
    actor: &Actor,
    occurrence: OccurrenceRow,
) -> Result<BroadcastView, ApiError> {
    let mut deliveries = Vec::new();
    for d in s.store.deliveries_of(occurrence.id).await? {
        if actor.sees_zone(&s.store, d.zone_id).await? {
            deliveries.push(d);
        }
    }
    let mut summary = BTreeMap::new();
    let mut paths: HashMap<i64, String> = HashMap::new();
    let mut lines = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        *summary.entry(d.stage).or_insert(0) += 1;
        let zone = match paths.get(&d.zone_id) {
            Some(p) => p.clone(),
            None => {
                let p = s.store.zone_path(d.zone_id).await?;
                paths.insert(d.zone_id, p.clone());
                p
            }
        };
        lines.push(DeliveryLine { zone, delivery: d });
    }
    Ok(BroadcastView {
        occurrence,
        summary,
        deliveries: lines,
    })
}

async fn one(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<BroadcastView>, ApiError> {
    let occ = s.store.occurrence(id).await?;
    actor.check_concerns(&s.store, &occ.zone_ids).await?;
    Ok(Json(view(&s, &actor, occ).await?))
}

async fn list(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Vec<OccurrenceRow>>, ApiError> {
    let mut out = Vec::new();
    for o in s.store.occurrences(200).await? {
        if actor.concerns(&s.store, &o.zone_ids).await? {
            out.push(o);
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
struct CancelRequest {
    reason: Option<String>,
}

async fn cancel(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    body: Option<Json<CancelRequest>>,
) -> Result<Json<BroadcastView>, ApiError> {
    let reason = body.and_then(|Json(r)| r.reason);
    let occ = cancel_broadcast(&s, &actor, id, reason).await?;
    Ok(Json(view(&s, &actor, occ).await?))
}

/// Withdraws a broadcast (within the account's zones): every delivery not yet ended becomes
/// `cancelled` and the nodes get new plans. Shared by the API and the delivery page.
pub(crate) async fn cancel_broadcast(
    s: &AppState,
    actor: &Actor,
    id: i64,
    reason: Option<String>,
) -> Result<OccurrenceRow, ApiError> {
    if let Some(r) = &reason {
        crate::limits::CANCEL_REASON.check_max(r)?;
    }
    let occ = s.store.occurrence(id).await?;
    actor.check_zones(&s.store, &occ.zone_ids).await?;
    let reason = reason.unwrap_or_else(|| "withdrawn by staff".into());
    let touched = s.store.cancel_occurrence(id, &reason).await?;
    s.planner.publish_all(&touched).await;
    Ok(s.store.occurrence(id).await?)
}
