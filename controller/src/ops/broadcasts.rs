//! One-off broadcasts: "play announcement A on zones Z at time T (or now) with priority P",
//! checked first like a schedule (what it overlaps, which loudspeakers are in quiet hours then;
//! an emergency is exempt from both), the view of one with each targeted node's delivery, and
//! withdrawing one.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use loa_protocol::{Priority, Stage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use super::{App, OpError};
use crate::auth::Actor;
use crate::schedule::conflicts::{self, Conflict};
use crate::schedule::materializer::quiet_nodes;
use crate::schedule::rule::{Recurrence, TimeRule};
use crate::store::occurrences::{DeliveryView, NewOccurrence, OccurrenceRow};
use crate::store::schedules::ScheduleSpec;

/// "Play announcement A on zones Z at T with priority P": the API's body, and what the
/// pages fill in.
#[derive(utoipa::ToSchema, Deserialize)]
pub struct NewBroadcast {
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
#[derive(utoipa::ToSchema, Serialize)]
pub struct BroadcastView {
    #[serde(flatten)]
    pub occurrence: OccurrenceRow,
    pub summary: BTreeMap<Stage, usize>,
    pub deliveries: Vec<DeliveryLine>,
    /// For a relay: the recordings of what it sent the villages, once the relay has stopped.
    pub recordings: Vec<crate::store::recordings::AiredRecording>,
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct DeliveryLine {
    /// The village (zone path) the node stands in.
    pub zone: String,
    #[serde(flatten)]
    pub delivery: DeliveryView,
}

/// What a broadcast would meet, before it is made: the other schedules and broadcasts it
/// overlaps on the same loudspeakers, and the loudspeakers in quiet hours then (left out when
/// it is made). An emergency meets neither: it interrupts and plays in quiet hours.
#[derive(utoipa::ToSchema, Serialize)]
pub struct BroadcastCheck {
    pub conflicts: Vec<Conflict>,
    /// The villages (zone paths) of the loudspeakers in quiet hours at that time.
    pub quiet_zones: Vec<String>,
    /// How many loudspeakers it would reach (those in quiet hours not counted).
    pub nodes: usize,
}

/// The checked parts of a new broadcast: its start, its expiry, and the nodes it reaches
/// with those in quiet hours apart.
struct Checked {
    start: DateTime<Utc>,
    expires: DateTime<Utc>,
    nodes: Vec<String>,
    quiet: Vec<String>,
}

/// Checks a broadcast as [`create_broadcast`] would and says what it would overlap and which
/// loudspeakers are in quiet hours then; nothing is made. Shared by the API's dry run and the
/// broadcast page.
pub async fn check_broadcast(
    s: &App,
    actor: &Actor,
    b: &NewBroadcast,
) -> Result<BroadcastCheck, OpError> {
    let c = checked(s, actor, b).await?;
    let mut quiet_zones = Vec::new();
    for n in &c.quiet {
        let path = s.store.zone_path(s.store.node(n).await?.zone_id).await?;
        if !quiet_zones.contains(&path) {
            quiet_zones.push(path);
        }
    }
    let conflicts = if b.priority == Priority::Emergency {
        Vec::new()
    } else {
        // The broadcast as a one-time schedule, so it is compared exactly as schedules are.
        let spec = ScheduleSpec {
            name: String::new(),
            announcement_id: b.announcement_id,
            priority: b.priority,
            recurrence: Recurrence {
                rule: TimeRule::Once {
                    at: c.start.with_timezone(&s.tz).naive_local(),
                },
                repeat: None,
                valid_from: None,
                valid_until: None,
            },
            expires_in_minutes: (c.expires - c.start).num_minutes(),
            zone_ids: b.zones.clone(),
        };
        conflicts::find(
            &s.store,
            s.tz,
            &spec,
            None,
            s.clock.now() - Duration::minutes(1),
        )
        .await?
    };
    Ok(BroadcastCheck {
        conflicts,
        quiet_zones,
        nodes: c.nodes.len(),
    })
}

async fn checked(s: &App, actor: &Actor, b: &NewBroadcast) -> Result<Checked, OpError> {
    if b.zones.is_empty() {
        return Err(OpError::invalid("choose at least one zone"));
    }
    actor.check_zones(&s.store, &b.zones).await?;
    s.store.announcement(b.announcement_id).await?;
    let now = s.clock.now();
    let start = b.at.map(|t| t.with_timezone(&Utc)).unwrap_or(now);
    let minutes = b.expires_in_minutes.unwrap_or(s.cfg.default_expiry_minutes);
    if !(1..=7 * 24 * 60).contains(&minutes) {
        return Err(OpError::invalid(
            "expires_in_minutes is 1 to 10080 (a week)",
        ));
    }
    let expires = start + Duration::minutes(minutes);
    if expires <= now {
        return Err(OpError::invalid(
            "that time is already past its expiry; choose a later time",
        ));
    }
    let all = s.store.nodes_under(&b.zones).await?;
    if all.is_empty() {
        return Err(OpError::invalid(
            "there are no loudspeaker nodes in the chosen zones",
        ));
    }
    let quiet = quiet_nodes(&s.store, &all, b.priority, start, s.tz).await?;
    let nodes: Vec<String> = all.into_iter().filter(|n| !quiet.contains(n)).collect();
    if nodes.is_empty() {
        return Err(OpError::new(
            super::Kind::Invalid,
            "broadcast.all_quiet",
            "every chosen loudspeaker is in quiet hours at that time; choose another time \
             (only emergencies play in quiet hours)",
        ));
    }
    Ok(Checked {
        start,
        expires,
        nodes,
        quiet,
    })
}

/// Makes a broadcast: checks the zones (and the account's scope), the announcement and the
/// times, writes the occurrence with a `planned` delivery per node (but those in quiet hours,
/// unless it is an emergency) and sends the nodes their new plans. Shared by the API and the
/// pages (the emergency page among them).
pub async fn create_broadcast(
    s: &App,
    actor: &Actor,
    b: &NewBroadcast,
) -> Result<OccurrenceRow, OpError> {
    let Checked {
        start,
        expires,
        nodes,
        quiet,
    } = checked(s, actor, b).await?;
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
    tracing::info!(broadcast = occ.id, nodes = nodes.len(), quiet = quiet.len(), priority = %b.priority, start = %start, "broadcast created");
    s.planner.publish_all(&nodes).await;
    Ok(occ)
}

/// The broadcast with the deliveries the account may see (its zones' nodes).
pub async fn view(
    s: &App,
    actor: &Actor,
    occurrence: OccurrenceRow,
) -> Result<BroadcastView, OpError> {
    let mut deliveries = Vec::new();
    for d in s.store.deliveries_of(occurrence.id).await? {
        if actor.sees_zone(&s.store, d.zone_id).await? {
            deliveries.push(d);
        }
    }
    let relay = s
        .store
        .announcement(occurrence.announcement_id)
        .await?
        .relay
        .is_some();
    let item = loa_protocol::item_id::item_id(occurrence.id);
    let mut summary = BTreeMap::new();
    let mut paths: HashMap<i64, String> = HashMap::new();
    let mut lines = Vec::with_capacity(deliveries.len());
    for mut d in deliveries {
        *summary.entry(d.stage).or_insert(0) += 1;
        if relay {
            d.on_air = on_air(s, &d, &item).await?;
        }
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
        recordings: s.store.aired_recordings(occurrence.id).await?,
        occurrence,
        summary,
        deliveries: lines,
    })
}

/// How long `d`'s village had the stream on air: from its `playing` to its end (or now), less
/// the gaps its node reported. An emergency in the middle counts as on air (the node keeps
/// one start and one end per delivery). None before it played.
async fn on_air(
    s: &App,
    d: &DeliveryView,
    item: &str,
) -> Result<Option<crate::store::events::OnAir>, OpError> {
    let Some(start) = d.times.get(&Stage::Playing) else {
        return Ok(None);
    };
    let end = [
        Stage::Played,
        Stage::Failed,
        Stage::Cancelled,
        Stage::Missed,
    ]
    .iter()
    .filter_map(|st| d.times.get(st))
    .filter(|t| *t >= start)
    .min()
    .copied()
    .unwrap_or_else(|| s.clock.now());
    let gaps = s.store.stream_gaps(&d.node_id, item).await?;
    let silent: u64 = gaps.iter().map(|g| g.ms).sum();
    let span = (end - *start).num_milliseconds().max(0) as u64;
    Ok(Some(crate::store::events::OnAir {
        ms: span.saturating_sub(silent),
        gaps,
    }))
}

/// Withdraws a broadcast (within the account's zones): every delivery not yet ended becomes
/// `cancelled` and the nodes get new plans. Shared by the API and the delivery page.
pub async fn cancel_broadcast(
    s: &App,
    actor: &Actor,
    id: i64,
    reason: Option<String>,
) -> Result<OccurrenceRow, OpError> {
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
