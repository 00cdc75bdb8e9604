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
use rumqttc::{AsyncClient, Publish, QoS};
use std::sync::Arc;

use crate::metrics::Counters;
use crate::planner::{occurrence_of, Planner};
use crate::store::events::{advance_ack, insert_event};
use crate::store::occurrences::{load_delivery, save_delivery};
use crate::store::parts::part_played;
use crate::store::{Store, StoreError};

pub struct Ingest {
    pub store: Store,
    pub topics: Topics,
    pub client: AsyncClient,
    pub planner: Arc<Planner>,
    pub counters: Arc<Counters>,
}

impl Ingest {
    /// Handles one incoming message; errors are logged and counted, never fatal.
    pub async fn handle(&self, p: Publish) {
        self.handle_at(p, Utc::now()).await
    }

    /// [`Ingest::handle`] for a message received at `received_at` by the controller's clock:
    /// the time a node's presence is recorded at (its own clock is not trusted for that).
    pub async fn handle_at(&self, p: Publish, received_at: DateTime<Utc>) {
        let Some((node, channel)) = self.topics.parse(&p.topic) else {
            Counters::bump(&self.counters.malformed_messages);
            tracing::warn!(topic = %p.topic, "message on an unknown topic ignored");
            return;
        };
        let node = node.to_string();
        let trust = match self.store.node_trust(&node).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                Counters::bump(&self.counters.unknown_node_messages);
                tracing::warn!(node = %node, topic = %p.topic, "message from a node the registry does not know ignored");
                return;
            }
            Err(e) => {
                tracing::error!(node = %node, error = %e, "cannot look the node up; its message will come again");
                return;
            }
        };
        if matches!(channel, Channel::Plan | Channel::Ack) {
            return;
        }
        let key = trust
            .public_key
            .as_deref()
            .and_then(|k| verifying_key_from_b64(k).ok());
        let result = match (channel, key) {
            (_, None) => Err(IngestError::Refused {
                kind: "no_key",
                detail: "the node has no key (provisioned before nodes signed): give it new \
                         credentials"
                    .into(),
            }),
            (Channel::State, Some(key)) => {
                self.state(&node, &key, trust.last_stamp, &p.payload, received_at)
                    .await
            }
            (_, Some(key)) => self.events(&node, &key, &p.payload, received_at).await,
        };
        match result {
            Ok(()) => {}
            Err(IngestError::Refused { kind, detail }) => {
                self.refuse(&node, kind, &detail, received_at).await;
            }
            Err(IngestError::Store(e)) if e.is_disk_full() => {
                tracing::error!(node = %node, channel = %channel, error = %e, "disk full: cannot store what a node sent; not acknowledged, so the node keeps it and sends it again")
            }
            Err(IngestError::Store(e)) => {
                tracing::error!(node = %node, channel = %channel, error = %e, "cannot store what a node sent; it will resend")
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

    async fn state(
        &self,
        node: &str,
        key: &VerifyingKey,
        last: Option<(u64, u64)>,
        payload: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<(), IngestError> {
        let state = NodeState::open(payload, key, node, MAX_PACKET_BYTES)
            .map_err(|e| IngestError::refused("state_refused", e))?;
        let stamp = (state.session, state.serial);
        if last == Some(stamp) {
            // The retained copy again (after a reconnect) or a QoS 1 duplicate.
            return Ok(());
        }
        if !state.supersedes(last) {
            let (session, serial) = last.unwrap_or_default();
            return Err(IngestError::Refused {
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
        let text = serde_json::to_string(&state).expect("state serialises");
        self.store
            .record_node_state(node, presence, &text, state.stamp_after(last), received_at)
            .await?;
        tracing::debug!(node = %node, presence, "node state");
        Ok(())
    }

    async fn events(
        &self,
        node: &str,
        key: &VerifyingKey,
        payload: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<(), IngestError> {
        let batch = EventBatch::open(payload, key, node)
            .map_err(|e| IngestError::refused("events_refused", e))?;
        let mut settled_any = false;
        // What the node itself refused, kept once the events are stored.
        let mut refused_plans = Vec::new();
        let mut tx = self.store.pool.begin().await.map_err(StoreError::from)?;
        for ev in &batch.events {
            if !insert_event(&mut tx, node, ev).await? {
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
                    let Some((mut d, mut err_ms)) = load_delivery(&mut tx, occ, node).await? else {
                        tracing::warn!(node = %node, item = %item, "event for a delivery this node does not have");
                        continue;
                    };
                    let outcome = d.apply(*stage, ev.seq, ev.at, reason.clone());
                    settled_any |= outcome == crate::delivery::Outcome::Moved && d.stage.is_final();
                    if outcome != crate::delivery::Outcome::Ignored {
                        if start_error_ms.is_some() {
                            err_ms = *start_error_ms;
                        }
                        save_delivery(&mut tx, occ, node, &d, err_ms).await?;
                    }
                    tracing::info!(node = %node, item = %item, stage = %stage, now = %d.stage, reason = reason.as_deref().unwrap_or(""), "delivery event");
                }
                EventBody::PartPlayed { item, part, label } => {
                    let Some(occ) = occurrence_of(item) else {
                        tracing::warn!(node = %node, item = %item, "part played for an item id loa never planned");
                        continue;
                    };
                    if load_delivery(&mut tx, occ, node).await?.is_none() {
                        tracing::warn!(node = %node, item = %item, "part played for a delivery this node does not have");
                        continue;
                    }
                    part_played(&mut tx, occ, node, *part, label, ev.at).await?;
                    tracing::info!(node = %node, item = %item, part, label = %label, "part played");
                }
                EventBody::PlanApplied { version } => {
                    tracing::debug!(node = %node, version, "node applied plan");
                }
                EventBody::PlanRejected { version, reason } => {
                    Counters::bump(&self.counters.plans_rejected_by_nodes);
                    tracing::warn!(node = %node, version = ?version, reason = %reason, "node refused a plan");
                    refused_plans.push(reason.clone());
                }
            }
        }
        let acked = advance_ack(&mut tx, node).await?;
        tx.commit().await.map_err(StoreError::from)?;
        for reason in refused_plans {
            self.store
                .report_security(node, "plan_refused_by_node", &reason, received_at)
                .await?;
        }
        if settled_any && self.planner.is_truncated(node) {
            // Its plan was cut short: settled items make room for the next ones.
            if let Err(e) = self.planner.publish(node).await {
                tracing::error!(node = %node, error = %e, "cannot send the rest of a cut plan");
            }
        }
        // Acknowledge even when nothing was new: the node resends until it sees this.
        let ack = Ack {
            node: node.to_string(),
            seq: acked,
        };
        if let Err(e) = self
            .client
            .publish(
                self.topics.ack(node),
                QoS::AtLeastOnce,
                true,
                ack.seal(&self.planner.keys().current()),
            )
            .await
        {
            tracing::error!(node = %node, error = %e, "cannot publish ack; the node will resend");
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum IngestError {
    /// Not taken: not signed by the node, malformed, another node's, or replayed.
    #[error("{kind}: {detail}")]
    Refused { kind: &'static str, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    fn refused(kind: &'static str, e: loa_protocol::ProtocolError) -> Self {
        IngestError::Refused {
            kind,
            detail: e.to_string(),
        }
    }
}
