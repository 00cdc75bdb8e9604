//! Building one node's plan, as a pure function: the node, its open items and the
//! [`Catalogue`] in; the unsigned plan out, with what was left out and why. Sealing cuts the
//! latest items until the signed plan fits in one MQTT packet. No store, no broker, no clock:
//! the caller passes `now`. The planner ([`super::planner`]) does the reading and the writing.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{item_id, Plan, PlanItem, MAX_PACKET_BYTES};

use super::item_parts::Catalogue;
use crate::store::nodes::NodeRow;
use crate::store::occurrences::PlanItemRow;

/// Most items in one plan. A plan holding more would near the MQTT packet limit; the rest
/// follow in later plans as the first ones are settled.
pub const MAX_PLAN_ITEMS: usize = 400;

/// What every plan of one batch shares.
#[derive(Debug, Clone)]
pub struct PlanContext {
    pub site: String,
    /// When the plans are issued.
    pub now: DateTime<Utc>,
    /// How long a plan stays acceptable to a node after it is issued.
    pub validity: Duration,
    /// The next signing key, announced while a rotation is under way.
    pub next_key: Option<String>,
}

/// A node's plan, built but not yet sealed.
#[derive(Debug, Clone)]
pub struct Built {
    /// Versioned: the node's last version plus one.
    pub plan: Plan,
    /// How many items the node has open (the plan may carry fewer).
    pub wanted: usize,
    /// Occurrences left out because their announcement has no recording.
    pub without_recording: Vec<i64>,
}

/// The plan of `node` holding `rows` (in start order), as of `ctx.now`.
pub fn build_plan(
    ctx: &PlanContext,
    node: &NodeRow,
    rows: Vec<PlanItemRow>,
    cat: &Catalogue,
) -> Built {
    let wanted = rows.len();
    let mut items = Vec::with_capacity(rows.len().min(MAX_PLAN_ITEMS));
    let mut without_recording = Vec::new();
    for r in rows.into_iter().take(MAX_PLAN_ITEMS) {
        let parts = cat.parts(&r, node.zone_id, node.chime);
        let stream = cat.stream(&r);
        if parts.is_empty() && stream.is_none() {
            without_recording.push(r.occurrence_id);
            continue;
        }
        items.push(PlanItem {
            id: item_id(r.occurrence_id),
            title: r.title,
            parts,
            start_at: r.start_at,
            expires_at: r.expires_at,
            priority: r.priority,
            volume: r.volume,
            stream,
        });
    }
    Built {
        plan: Plan {
            version: node.plan_version + 1,
            site: ctx.site.clone(),
            node: node.id.clone(),
            issued_at: ctx.now,
            valid_until: ctx.now + ctx.validity,
            next_key: ctx.next_key.clone(),
            volume: node.volume,
            after_preempt: cat.after_preempt,
            speaker_check: node.speaker_check_requested_at,
            release: None,
            items,
        },
        wanted,
        without_recording,
    }
}

/// The plan is too large to send even with one item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plan for node {node} would be {size} bytes, over the {limit}-byte MQTT limit")]
pub struct TooLarge {
    pub node: String,
    pub size: usize,
    pub limit: usize,
}

/// Signs the plan, dropping its latest items until it fits in an MQTT packet (items come in
/// start order: the soonest are kept).
pub fn seal_fitting(plan: &mut Plan, key: &ed25519_dalek::SigningKey) -> Result<Vec<u8>, TooLarge> {
    let mut sealed = plan.seal(key);
    while sealed.len() > MAX_PACKET_BYTES && plan.items.len() > 1 {
        let keep = plan.items.len() * MAX_PACKET_BYTES / sealed.len();
        plan.items.truncate(keep.clamp(1, plan.items.len() - 1));
        sealed = plan.seal(key);
    }
    if sealed.len() > MAX_PACKET_BYTES {
        return Err(TooLarge {
            node: plan.node.clone(),
            size: sealed.len(),
            limit: MAX_PACKET_BYTES,
        });
    }
    Ok(sealed)
}

#[cfg(test)]
#[path = "plan_build_tests.rs"]
mod tests;
