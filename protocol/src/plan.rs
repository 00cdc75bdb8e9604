//! The per-node plan: everything a node should play in the coming horizon, plus its settings.
//!
//! Desired state, not commands: every change ("play now" and emergencies included) is a new
//! plan with a higher version, published retained, so a node that reconnects or reboots
//! converges from the last plan alone.

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use crate::envelope;
use crate::error::{check_id, ProtocolError};
use crate::limits::MAX_PACKET_BYTES;
use crate::vocab::Priority;

/// A node's whole desired state, signed by the controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Monotonic per node; a node applies only a version newer than the one it holds.
    pub version: u64,
    /// The site (commune) id.
    pub site: String,
    /// The node this plan is for.
    pub node: String,
    pub issued_at: DateTime<Utc>,
    /// The node's volume, 0–100.
    pub volume: u8,
    pub items: Vec<PlanItem>,
}

/// One thing to play: a delivery of an announcement occurrence on this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    /// Unique within the site; the delivery's key together with the node id.
    pub id: String,
    /// A human title, for logs and the node's state.
    pub title: String,
    pub media: MediaRef,
    /// The planned instant of the first frame.
    pub start_at: DateTime<Utc>,
    /// After this the item is not played any more and is reported `missed`.
    pub expires_at: DateTime<Utc>,
    pub priority: Priority,
    /// The item's volume, 0–100, applied on top of the node's.
    pub volume: u8,
    /// Loudness normalisation, in dB, measured by the controller (EBU R128): applied before the
    /// volumes so every announcement plays at the same level. Absent in older plans: 0.
    #[serde(default)]
    pub gain_db: f32,
}

/// Where and what the audio is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// Lower-case hex SHA-256 of the file; the node verifies it after download.
    pub sha256: String,
    pub size: u64,
    /// `GET` this with the node's media token.
    pub url: String,
    pub duration_ms: u64,
}

impl Plan {
    /// Signs the plan: the bytes to publish retained on the node's plan topic.
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(self, key)
    }

    /// Verifies and validates a plan for `node`, which holds `current` (if any).
    ///
    /// Refuses, in this order: oversize, not an envelope, a bad signature, a malformed body,
    /// another node's plan, a version not newer than `current`.
    pub fn open(
        bytes: &[u8],
        key: &VerifyingKey,
        node: &str,
        current: Option<u64>,
    ) -> Result<Plan, ProtocolError> {
        let plan: Plan = envelope::open(bytes, key, MAX_PACKET_BYTES)?;
        plan.check_shape()?;
        if plan.node != node {
            return Err(ProtocolError::OtherNode {
                expected: node.to_string(),
                got: plan.node,
            });
        }
        if let Some(current) = current {
            if plan.version <= current {
                return Err(ProtocolError::OlderVersion {
                    got: plan.version,
                    current,
                });
            }
        }
        Ok(plan)
    }

    /// The checks that do not depend on who reads the plan.
    pub fn check_shape(&self) -> Result<(), ProtocolError> {
        check_id("site", &self.site)?;
        check_id("node", &self.node)?;
        check_volume(self.volume)?;
        let mut ids = HashSet::new();
        for item in &self.items {
            check_id("item id", &item.id)?;
            if !ids.insert(item.id.as_str()) {
                return Err(ProtocolError::Malformed(format!(
                    "item id {:?} appears twice",
                    item.id
                )));
            }
            check_volume(item.volume)?;
            if !(item.gain_db.is_finite() && (-40.0..=20.0).contains(&item.gain_db)) {
                return Err(ProtocolError::Malformed(format!(
                    "item {:?}: gain_db {} is outside -40 to 20",
                    item.id, item.gain_db
                )));
            }
            if item.expires_at <= item.start_at {
                return Err(ProtocolError::Malformed(format!(
                    "item {:?} expires before it starts",
                    item.id
                )));
            }
            let sha = &item.media.sha256;
            if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(ProtocolError::Malformed(format!(
                    "item {:?}: sha256 must be 64 lower-case hex digits",
                    item.id
                )));
            }
        }
        Ok(())
    }
}

fn check_volume(v: u8) -> Result<(), ProtocolError> {
    if v > 100 {
        return Err(ProtocolError::Malformed(format!("volume {v} is over 100")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::generate_key;
    use chrono::TimeZone;

    fn sample(version: u64, node: &str) -> Plan {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap();
        Plan {
            version,
            site: "xa-demo".into(),
            node: node.into(),
            issued_at: t0,
            volume: 80,
            items: vec![PlanItem {
                id: "b1".into(),
                title: "Bản tin sáng".into(),
                media: MediaRef {
                    sha256: "ab".repeat(32),
                    size: 1234,
                    url: "http://c/media/abab".into(),
                    duration_ms: 5000,
                },
                start_at: t0,
                expires_at: t0 + chrono::Duration::hours(1),
                priority: Priority::Normal,
                volume: 100,
                gain_db: 0.0,
            }],
        }
    }

    #[test]
    fn plan_round_trips_through_seal_and_open() {
        let key = generate_key();
        let plan = sample(3, "n1");
        let back = Plan::open(&plan.seal(&key), &key.verifying_key(), "n1", Some(2)).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn each_rejection_is_typed() {
        let key = generate_key();
        let vk = key.verifying_key();
        let good = sample(3, "n1").seal(&key);

        let forged = sample(3, "n1").seal(&generate_key());
        assert_eq!(
            Plan::open(&forged, &vk, "n1", None),
            Err(ProtocolError::BadSignature)
        );
        assert_eq!(
            Plan::open(&good, &vk, "n1", Some(3)),
            Err(ProtocolError::OlderVersion { got: 3, current: 3 })
        );
        assert_eq!(
            Plan::open(&good, &vk, "n1", Some(9)),
            Err(ProtocolError::OlderVersion { got: 3, current: 9 })
        );
        assert_eq!(
            Plan::open(&good, &vk, "n2", None),
            Err(ProtocolError::OtherNode {
                expected: "n2".into(),
                got: "n1".into()
            })
        );
        let big = vec![b' '; MAX_PACKET_BYTES + 1];
        assert!(matches!(
            Plan::open(&big, &vk, "n1", None),
            Err(ProtocolError::Oversize { .. })
        ));
        assert!(matches!(
            Plan::open(b"{}", &vk, "n1", None),
            Err(ProtocolError::Malformed(_))
        ));
        let not_a_plan = envelope::seal(&serde_json::json!({"version": "x"}), &key);
        assert!(matches!(
            Plan::open(&not_a_plan, &vk, "n1", None),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn shape_checks_catch_what_a_signature_cannot() {
        let key = generate_key();
        let vk = key.verifying_key();
        let mut p = sample(1, "n1");
        p.items.push(p.items[0].clone());
        assert!(matches!(
            Plan::open(&p.seal(&key), &vk, "n1", None),
            Err(ProtocolError::Malformed(m)) if m.contains("twice")
        ));
        let mut p = sample(1, "n1");
        p.items[0].media.sha256 = "XYZ".into();
        assert!(matches!(
            Plan::open(&p.seal(&key), &vk, "n1", None),
            Err(ProtocolError::Malformed(m)) if m.contains("sha256")
        ));
        let mut p = sample(1, "n1");
        p.items[0].expires_at = p.items[0].start_at;
        assert!(Plan::open(&p.seal(&key), &vk, "n1", None).is_err());
        let mut p = sample(1, "n1/../x");
        p.volume = 50;
        assert!(Plan::open(&p.seal(&key), &vk, "n1/../x", None).is_err());
    }
}
