//! Ingest: what nodes send. State updates the node's record; events are stored once per
//! (node, seq), move the deliveries along, and are acknowledged with a signed, retained ack
//! once stored without a gap.
//!
//! Nothing a node's topic carries is taken unless that node's own key signed it, and a state
//! only when it is newer than the last one taken: the broker need not be trusted (rumqttd has
//! no topic ACL). Every refusal is logged, counted and kept in the node's security reports.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use loa_protocol::{
    verifying_key_from_b64, Ack, Channel, EventBatch, EventBody, NodeState, Presence, Topics,
    MAX_PACKET_BYTES,
};
use rumqttc::Publish;
use sqlx::SqliteConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::outbox::Outbox;
use crate::metrics::Counters;
use crate::mqtt::planner::Planner;
use crate::presence::events_show_presence;
use crate::store::events::{advance_ack, insert_event};
use crate::store::locations::{write_location, LocationSource, NodeLocation};
use crate::store::nodes::record_node_state;
use crate::store::occurrences::{load_delivery, save_delivery};
use crate::store::parts::part_played;
use crate::store::presence::node_seen;
use crate::store::security::NodeTrust;
use crate::store::{Store, StoreError};
use loa_protocol::occurrence_of;

pub struct Ingest {
    pub store: Store,
    pub topics: Topics,
    /// Where acks go; the link publishes them.
    pub outbox: Outbox,
    pub planner: Arc<Planner>,
    pub counters: Arc<Counters>,
}

/// Most messages stored in one transaction. A burst (every node of a broadcast reporting at
/// once) is taken in a few transactions, not one per message, so the planner's writes are not
/// starved of the database; a batch of this size still commits in milliseconds.
pub const MAX_BATCH: usize = 256;

/// What one message asks of the store, once its signature and stamp are checked.
enum Work {
    State {
        node: String,
        presence: &'static str,
        text: String,
        stamp: (u64, u64),
        /// Where the installer said the node stands, if the state says.
        location: Option<loa_protocol::Location>,
    },
    Events {
        node: String,
        batch: EventBatch,
    },
}

impl Work {
    /// The node that sent it, and on which channel.
    fn source(&self) -> (&str, Channel) {
        match self {
            Work::State { node, .. } => (node, Channel::State),
            Work::Events { node, .. } => (node, Channel::Events),
        }
    }
}

/// What follows a batch: refusals to keep, acks to send, plans to send on.
#[derive(Default)]
struct After {
    refusals: Vec<(String, &'static str, String)>,
    /// Node → its acknowledged sequence number, once the batch is committed.
    acks: BTreeMap<String, u64>,
    /// Nodes with a delivery settled by this batch.
    settled: BTreeSet<String>,
    /// Plans a node itself refused: (node, reason).
    refused_plans: Vec<(String, String)>,
}

impl Ingest {
    /// Handles one message received at `received_at` by the controller's clock: the time a
    /// node's presence is recorded at (its own clock is not trusted for that). Errors are
    /// logged and counted, never fatal.
    pub async fn handle_at(&self, p: Publish, received_at: DateTime<Utc>) {
        self.handle_many(vec![p], received_at).await
    }

    /// Handles messages received together (at most [`MAX_BATCH`]): each is checked on its
    /// own, what is taken is stored in one transaction, and only then acknowledged. If the
    /// transaction fails, nothing in it is acknowledged and the nodes send it again.
    pub async fn handle_many(&self, msgs: Vec<Publish>, received_at: DateTime<Utc>) {
        let mut after = After::default();
        let mut work = Vec::with_capacity(msgs.len());
        // The last stamp taken per node, moved on by states earlier in the same batch.
        let mut stamps: HashMap<String, Option<(u64, u64)>> = HashMap::new();
        let ids: BTreeSet<String> = msgs
            .iter()
            .filter_map(|p| self.topics.parse(&p.topic))
            .map(|(node, _)| node.to_string())
            .collect();
        let trusts = match self
            .store
            .node_trusts(&ids.into_iter().collect::<Vec<_>>())
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(messages = msgs.len(), error = %e, "cannot look the nodes up; their events will come again");
                return;
            }
        };
        for p in msgs {
            match self.check(&p, &trusts, &mut stamps) {
                Ok(Some(w)) => work.push(w),
                Ok(None) => {}
                Err((node, Refused { kind, detail })) => after.refusals.push((node, kind, detail)),
            }
        }
        if !work.is_empty() {
            if let Err(e) = self.store_all(&work, received_at, &mut after).await {
                for w in &work {
                    let (node, channel) = w.source();
                    if e.is_disk_full() {
                        tracing::error!(node = %node, channel = %channel, error = %e, "disk full: cannot store what a node sent; not acknowledged, so the node keeps it and sends it again");
                    } else {
                        tracing::error!(node = %node, channel = %channel, error = %e, "cannot store what a node sent; it will resend");
                    }
                }
                after.acks.clear();
                after.settled.clear();
                after.refused_plans.clear();
            }
        }
        self.follow_up(after, received_at).await;
    }

    /// Checks one message: its topic, its node, its signature and, for a state, its stamp.
    fn check(
        &self,
        p: &Publish,
        trusts: &HashMap<String, NodeTrust>,
        stamps: &mut HashMap<String, Option<(u64, u64)>>,
    ) -> Result<Option<Work>, (String, Refused)> {
        let Some((node, channel)) = self.topics.parse(&p.topic) else {
            Counters::bump(&self.counters.malformed_messages);
            tracing::warn!(topic = %p.topic, "message on an unknown topic ignored");
            return Ok(None);
        };
        let node = node.to_string();
        let Some(trust) = trusts.get(&node) else {
            Counters::bump(&self.counters.unknown_node_messages);
            tracing::warn!(node = %node, topic = %p.topic, "message from a node the registry does not know ignored");
            return Ok(None);
        };
        if matches!(channel, Channel::Plan | Channel::Ack) {
            return Ok(None);
        }
        let Some(key) = trust
            .public_key
            .as_deref()
            .and_then(|k| verifying_key_from_b64(k).ok())
        else {
            let detail = "the node has no key (provisioned before nodes signed): give it new \
                          credentials";
            return Err((node, Refused::because("no_key", detail)));
        };
        let last = *stamps.entry(node.clone()).or_insert(trust.last_stamp);
        let work = match channel {
            Channel::State => state(&node, &key, last, &p.payload),
            _ => EventBatch::open(&p.payload, &key, &node)
                .map(|batch| {
                    Some(Work::Events {
                        node: node.clone(),
                        batch,
                    })
                })
                .map_err(|e| Refused::protocol("events_refused", e)),
        };
        match work {
            Ok(Some(Work::State {
                node,
                presence,
                text,
                stamp,
                location,
            })) => {
                stamps.insert(node.clone(), Some(stamp));
                Ok(Some(Work::State {
                    node,
                    presence,
                    text,
                    stamp,
                    location,
                }))
            }
            Ok(w) => Ok(w),
            Err(e) => Err((node, e)),
        }
    }

    /// Stores every checked message in one transaction.
    async fn store_all(
        &self,
        work: &[Work],
        received_at: DateTime<Utc>,
        after: &mut After,
    ) -> Result<(), StoreError> {
        let _turn = self.store.bulk_write_turn().await;
        let mut tx = self.store.write_tx().await?;
        for w in work {
            match w {
                Work::State {
                    node,
                    presence,
                    text,
                    stamp,
                    location,
                } => {
                    record_node_state(&mut tx, node, presence, text, *stamp, received_at).await?;
                    if let Some(l) = location {
                        take_installer_location(&mut tx, node, l, received_at).await?;
                    }
                    tracing::debug!(node = %node, presence, "node state");
                }
                Work::Events { node, batch } => {
                    self.events(&mut tx, node, batch, after).await?;
                    // Fresh events show the node connected now (crate::presence).
                    let newest = batch.events.iter().map(|e| e.at).max();
                    if newest.is_some_and(|n| events_show_presence(n, received_at)) {
                        node_seen(&mut tx, node, received_at).await?;
                    }
                    let acked = advance_ack(&mut tx, node).await?;
                    after.acks.insert(node.clone(), acked);
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a node's events and moves its deliveries along.
    async fn events(
        &self,
        tx: &mut SqliteConnection,
        node: &str,
        batch: &EventBatch,
        after: &mut After,
    ) -> Result<(), StoreError> {
        for ev in &batch.events {
            if !insert_event(tx, node, ev).await? {
                Counters::bump(&self.counters.events_duplicate);
                continue;
            }
            Counters::bump(&self.counters.events_stored);
            match &ev.body {
                EventBody::Item {
                    item,
                    stage,
                    reason,
                    start_error_ms,
                } => {
                    let Some(occ) = occurrence_of(item) else {
                        tracing::warn!(node = %node, item = %item, "event for an item id loa never planned");
                        continue;
                    };
                    let Some((mut d, mut err_ms)) = load_delivery(tx, occ, node).await? else {
                        tracing::warn!(node = %node, item = %item, "event for a delivery this node does not have");
                        continue;
                    };
                    let outcome = d.apply(*stage, ev.seq, ev.at, reason.clone());
                    if outcome == crate::delivery::Outcome::Moved && d.stage.is_final() {
                        after.settled.insert(node.to_string());
                    }
                    if outcome != crate::delivery::Outcome::Ignored {
                        if start_error_ms.is_some() {
                            err_ms = *start_error_ms;
                        }
                        save_delivery(tx, occ, node, &d, err_ms).await?;
                    }
                    tracing::info!(node = %node, item = %item, stage = %stage, now = %d.stage, reason = reason.as_deref().unwrap_or(""), "delivery event");
                }
                EventBody::PartPlayed { item, part, label } => {
                    let Some(occ) = occurrence_of(item) else {
                        tracing::warn!(node = %node, item = %item, "part played for an item id loa never planned");
                        continue;
                    };
                    if load_delivery(tx, occ, node).await?.is_none() {
                        tracing::warn!(node = %node, item = %item, "part played for a delivery this node does not have");
                        continue;
                    }
                    part_played(tx, occ, node, *part, label, ev.at).await?;
                    tracing::info!(node = %node, item = %item, part, label = %label, "part played");
                }
                EventBody::StreamGap {
                    item,
                    from,
                    ms,
                    cause,
                } => {
                    // Kept in the event log like every event; the delivery's on-air
                    // seconds and gaps are read from there.
                    tracing::info!(node = %node, item = %item, from = %from, ms, cause = %cause, "stream gap");
                }
                EventBody::PlanApplied { version } => {
                    tracing::debug!(node = %node, version, "node applied plan");
                }
                EventBody::PlanRejected { version, reason } => {
                    Counters::bump(&self.counters.plans_rejected_by_nodes);
                    tracing::warn!(node = %node, version = ?version, reason = %reason, "node refused a plan");
                    after.refused_plans.push((node.to_string(), reason.clone()));
                }
            }
        }
        Ok(())
    }

    /// After the batch: keeps the refusals, sends the rest of cut plans, acknowledges.
    async fn follow_up(&self, after: After, received_at: DateTime<Utc>) {
        for (node, kind, detail) in &after.refusals {
            self.refuse(node, kind, detail, received_at).await;
        }
        for (node, reason) in &after.refused_plans {
            if let Err(e) = self
                .store
                .report_security(node, "plan_refused_by_node", reason, received_at)
                .await
            {
                tracing::error!(node = %node, error = %e, "cannot keep a security report");
            }
        }
        for node in &after.settled {
            if self.planner.is_truncated(node) {
                // Its plan was cut short: settled items make room for the next ones.
                if let Err(e) = self.planner.publish(node).await {
                    tracing::error!(node = %node, error = %e, "cannot send the rest of a cut plan");
                }
            }
        }
        // Acknowledge even when nothing was new: the node resends until it sees this.
        let key = self.planner.keys().current();
        for (node, seq) in after.acks {
            let ack = Ack {
                seq,
                node: node.clone(),
            };
            if let Err(e) = self
                .outbox
                .retained(self.topics.ack(&node), ack.seal(&key))
                .await
            {
                tracing::error!(node = %node, error = %e, "cannot publish ack; the node will resend");
            }
        }
    }

    /// Logs, counts and keeps a refusal of something on `node`'s topics.
    async fn refuse(&self, node: &str, kind: &str, detail: &str, at: DateTime<Utc>) {
        Counters::bump(&self.counters.malformed_messages);
        tracing::warn!(node = %node, kind, reason = %detail, "message refused");
        if let Err(e) = self.store.report_security(node, kind, detail, at).await {
            tracing::error!(node = %node, error = %e, "cannot keep a security report");
        }
    }
}

/// Opens a node's state and checks its stamp against the last one taken: `None` for the same
/// state again (the retained copy after a reconnect, or a QoS 1 duplicate).
fn state(
    node: &str,
    key: &VerifyingKey,
    last: Option<(u64, u64)>,
    payload: &[u8],
) -> Result<Option<Work>, Refused> {
    let state = NodeState::open(payload, key, node, MAX_PACKET_BYTES)
        .map_err(|e| Refused::protocol("state_refused", e))?;
    let stamp = (state.session, state.serial);
    if last == Some(stamp) {
        return Ok(None);
    }
    if !state.supersedes(last) {
        let (session, serial) = last.unwrap_or_default();
        return Err(Refused {
            kind: "state_replayed",
            detail: format!(
                "state of session {} serial {} is older than the one already taken \
                 (session {session} serial {serial})",
                state.session, state.serial
            ),
        });
    }
    let presence = match state.presence {
        Presence::Online => "online",
        Presence::Offline => "offline",
    };
    Ok(Some(Work::State {
        node: node.to_string(),
        presence,
        text: serde_json::to_string(&state).expect("state serialises"),
        stamp: state.stamp_after(last),
        location: state.location,
    }))
}

/// Keeps the installer's location from a node's state when it was set after the one kept. A
/// node whose clock runs ahead cannot claim the future: its time counts as no later than
/// when the state arrived.
async fn take_installer_location(
    conn: &mut sqlx::SqliteConnection,
    node: &str,
    l: &loa_protocol::Location,
    received_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = NodeLocation {
        latitude: l.latitude,
        longitude: l.longitude,
        set_at: l.set_at.min(received_at),
        source: LocationSource::Installer,
    };
    if write_location(conn, node, &at).await? {
        tracing::debug!(node = %node, latitude = l.latitude, longitude = l.longitude, "location from the installer kept");
    }
    Ok(())
}

/// A message not taken: not signed by the node, malformed, another node's, or replayed.
#[derive(Debug)]
struct Refused {
    kind: &'static str,
    detail: String,
}

impl Refused {
    fn because(kind: &'static str, detail: &str) -> Self {
        Refused {
            kind,
            detail: detail.to_string(),
        }
    }

    fn protocol(kind: &'static str, e: loa_protocol::ProtocolError) -> Self {
        Refused {
            kind,
            detail: e.to_string(),
        }
    }
}
