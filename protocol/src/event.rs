//! The node's events and the controller's acknowledgement of them.
//!
//! Every event carries the node's own sequence number, contiguous from 1. The node keeps each
//! event in its on-disk spool until the controller's retained, signed [`Ack`] covers it: a
//! broker's PUBACK is not enough, since brokers drop queued messages under load.
//!
//! A batch is signed with the node's own key, made at provisioning, so the controller trusts
//! it only when that node signed it, whatever the broker lets through.

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::envelope;
use crate::error::{check_id, ProtocolError};
use crate::limits::{MAX_EVENTS_PER_BATCH, MAX_PACKET_BYTES};
use crate::vocab::Stage;

/// One message on a node's events topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    pub node: String,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The node's sequence number: 1, 2, 3… never reused.
    pub seq: u64,
    /// When it happened, by the node's clock.
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A delivery moved on the node.
    Item {
        item: String,
        stage: Stage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// For `playing`: the first frame's time minus the planned instant, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_error_ms: Option<i64>,
    },
    /// One part of an item (the chime, or the recording in one language) played to its end.
    /// The item's own `played` follows its last part.
    PartPlayed {
        item: String,
        /// The part's index in the plan item, from 0.
        part: u32,
        /// `chime`, or the recording's language.
        label: String,
    },
    /// A stream item was off air for a while: its stream stalled or dropped, or the node's
    /// link did, and the node played silence until it had audio again.
    StreamGap {
        item: String,
        /// When the silence began, by the node's clock.
        from: DateTime<Utc>,
        /// How long it lasted, in milliseconds.
        ms: u64,
        /// Why, in plain words (`stream stalled`, `connection refused`…).
        cause: String,
    },
    /// The node verified and applied a plan.
    PlanApplied { version: u64 },
    /// The node refused a plan; the reason says why.
    PlanRejected {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
        reason: String,
    },
}

impl EventBatch {
    /// Signs the batch with the node's key: the bytes to publish.
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(self, key)
    }

    /// Verifies a batch that arrived on `topic_node`'s events topic against that node's key,
    /// then checks it.
    pub fn open(bytes: &[u8], key: &VerifyingKey, topic_node: &str) -> Result<Self, ProtocolError> {
        let batch: EventBatch = envelope::open(bytes, key, MAX_PACKET_BYTES)?;
        batch.validate(topic_node)?;
        Ok(batch)
    }

    /// The checks on a batch's content: its node, its size, sequence numbers and ids.
    pub fn validate(&self, topic_node: &str) -> Result<(), ProtocolError> {
        check_id("node", &self.node)?;
        if self.node != topic_node {
            return Err(ProtocolError::OtherNode {
                expected: topic_node.to_string(),
                got: self.node.clone(),
            });
        }
        if self.events.len() > MAX_EVENTS_PER_BATCH {
            return Err(ProtocolError::Malformed(format!(
                "{} events in one message; at most {MAX_EVENTS_PER_BATCH}",
                self.events.len()
            )));
        }
        for ev in &self.events {
            if ev.seq == 0 {
                return Err(ProtocolError::Malformed(
                    "event sequence starts at 1".into(),
                ));
            }
            match &ev.body {
                EventBody::Item { item, .. } => check_id("item id", item)?,
                EventBody::PartPlayed { item, label, .. } => {
                    check_id("item id", item)?;
                    check_id("part label", label)?;
                }
                EventBody::StreamGap { item, cause, .. } => {
                    check_id("item id", item)?;
                    if cause.len() > 200 {
                        return Err(ProtocolError::Malformed(
                            "a stream gap's cause is over 200 bytes".into(),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The controller's word that it has stored every event of `node` up to `seq` inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub node: String,
    pub seq: u64,
}

impl Ack {
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(self, key)
    }

    /// Verifies an ack against the controller keys the node trusts.
    pub fn open(bytes: &[u8], keys: &[VerifyingKey], node: &str) -> Result<Ack, ProtocolError> {
        let (ack, _): (Ack, usize) = envelope::open_with_any(bytes, keys, MAX_PACKET_BYTES)?;
        if ack.node != node {
            return Err(ProtocolError::OtherNode {
                expected: node.to_string(),
                got: ack.node,
            });
        }
        Ok(ack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::generate_key;

    fn batch(node: &str) -> EventBatch {
        EventBatch {
            node: node.into(),
            events: vec![
                Event {
                    seq: 1,
                    at: Utc::now(),
                    body: EventBody::PlanApplied { version: 4 },
                },
                Event {
                    seq: 2,
                    at: Utc::now(),
                    body: EventBody::Item {
                        item: "b1".into(),
                        stage: Stage::Playing,
                        reason: None,
                        start_error_ms: Some(3),
                    },
                },
                Event {
                    seq: 3,
                    at: Utc::now(),
                    body: EventBody::Item {
                        item: "b1".into(),
                        stage: Stage::Failed,
                        reason: Some("media: connection refused".into()),
                        start_error_ms: None,
                    },
                },
                Event {
                    seq: 4,
                    at: Utc::now(),
                    body: EventBody::PartPlayed {
                        item: "b1".into(),
                        part: 1,
                        label: "hmn".into(),
                    },
                },
            ],
        }
    }

    #[test]
    fn events_round_trip_under_the_nodes_key() {
        let key = generate_key();
        let b = batch("n1");
        assert_eq!(
            EventBatch::open(&b.seal(&key), &key.verifying_key(), "n1").unwrap(),
            b
        );
    }

    #[test]
    fn events_signed_by_another_key_or_unsigned_are_refused() {
        let (a, b) = (generate_key(), generate_key());
        let sealed_by_a = batch("n2").seal(&a);
        assert_eq!(
            EventBatch::open(&sealed_by_a, &b.verifying_key(), "n2"),
            Err(ProtocolError::BadSignature)
        );
        let unsigned = serde_json::to_vec(&batch("n2")).unwrap();
        assert!(matches!(
            EventBatch::open(&unsigned, &b.verifying_key(), "n2"),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn events_are_refused_on_another_nodes_topic_or_when_malformed() {
        let key = generate_key();
        let open = |b: &EventBatch, topic: &str| {
            EventBatch::open(&b.seal(&key), &key.verifying_key(), topic)
        };
        let b = batch("n1");
        assert!(matches!(
            open(&b, "n2"),
            Err(ProtocolError::OtherNode { .. })
        ));
        let mut zero = batch("n1");
        zero.events[0].seq = 0;
        assert!(matches!(
            open(&zero, "n1"),
            Err(ProtocolError::Malformed(_))
        ));
        let body = envelope::seal(&serde_json::json!({"node":"n1","events":[{"seq":1}]}), &key);
        assert!(matches!(
            EventBatch::open(&body, &key.verifying_key(), "n1"),
            Err(ProtocolError::Malformed(_))
        ));
        let mut label = batch("n1");
        label.events[3].body = EventBody::PartPlayed {
            item: "b1".into(),
            part: 0,
            label: "a b".into(),
        };
        assert!(matches!(
            open(&label, "n1"),
            Err(ProtocolError::Malformed(_))
        ));
        let mut many = batch("n1");
        many.events = (1..=MAX_EVENTS_PER_BATCH as u64 + 1)
            .map(|seq| Event {
                seq,
                at: Utc::now(),
                body: EventBody::PlanApplied { version: 1 },
            })
            .collect();
        assert!(open(&many, "n1").is_err());
    }

    #[test]
    fn ack_is_signed_and_bound_to_its_node() {
        let key = generate_key();
        let ack = Ack {
            node: "n1".into(),
            seq: 42,
        };
        let bytes = ack.seal(&key);
        let keys = [key.verifying_key()];
        assert_eq!(Ack::open(&bytes, &keys, "n1").unwrap(), ack);
        assert!(matches!(
            Ack::open(&bytes, &keys, "n2"),
            Err(ProtocolError::OtherNode { .. })
        ));
        assert_eq!(
            Ack::open(&bytes, &[generate_key().verifying_key()], "n1"),
            Err(ProtocolError::BadSignature)
        );
    }
}
