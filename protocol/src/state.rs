//! The node's retained state: presence, versions, what plays, cache use.
//!
//! The node sets its last will to [`NodeState::offline`] on the same topic, so the broker
//! publishes `offline` for it when its link dies.
//!
//! States are signed with the node's key. Each carries a stamp, `(session, serial)`: the
//! session counts the node's connections to the broker (kept on its disk), the serial counts
//! states within one, and the last will is serial 0. The controller takes a state only when
//! it [supersedes](NodeState::supersedes) the last one taken, so an old state replayed (an
//! `online` after the node died, a will from an earlier connection) changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::envelope;
use crate::error::{check_id, ProtocolError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub node: String,
    pub presence: Presence,
    /// Which connection of the node to the broker this state belongs to: 1, 2, 3…
    pub session: u64,
    /// The state's number within its session; 0 for the last will.
    pub serial: u64,
    /// When the node wrote this; absent in the last will, which is written at connect time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The node software's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// The plan version the node holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_version: Option<u64>,
    /// The item id on air now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u8>,
    /// Bytes of media in the node's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_bytes: Option<u64>,
    /// Bytes free for the node's data (its cache, spool and plan) on the disk that holds
    /// them; absent from nodes older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_free_bytes: Option<u64>,
    /// Events written to the spool and not yet acknowledged by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unacked_events: Option<u64>,
    /// The last audio device error, if the device is failing now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_error: Option<String>,
    /// The controller's clock minus the node's, in milliseconds, measured over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    /// Seconds since the node started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
    /// The controller keys (base64) the node accepts plans from: the current one, then the
    /// announced next one during a key rotation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controller_keys: Vec<String>,
    /// The last speaker check, for a node with a microphone hearing its loudspeaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_check: Option<SpeakerCheck>,
    /// Where the installer said the node stands (`loa-node check --location`); absent until
    /// then, and from nodes older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The node's architecture by Debian's names (`amd64`, `arm64`, `armhf`): which release
    /// build it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Where the node is with the release its plan names (or the last one it rolled back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<crate::release::UpdateProgress>,
}

/// A place on the map, in degrees (WGS 84), with when it was set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// −90 to 90.
    pub latitude: f64,
    /// −180 to 180.
    pub longitude: f64,
    /// When it was set: the controller keeps the latest set of the installer's and the centre's.
    pub set_at: DateTime<Utc>,
}

impl Location {
    /// Whether both coordinates are finite and in range.
    pub fn in_range(latitude: f64, longitude: f64) -> bool {
        (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)
    }
}

/// A speaker check: the node played a quiet test signal and listened for it through the
/// board's microphone input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerCheck {
    /// When it ran, by the node's clock.
    pub at: DateTime<Utc>,
    pub passed: bool,
    /// The level the signal was heard at, in dBFS; absent when nothing could be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_db: Option<f32>,
    /// What was heard, or what went wrong, in plain words.
    pub detail: String,
}

impl NodeState {
    /// The last will of connection `session`: published by the broker when the link dies.
    pub fn offline(node: &str, session: u64) -> Self {
        NodeState {
            node: node.to_string(),
            presence: Presence::Offline,
            session,
            serial: 0,
            at: None,
            software: None,
            plan_version: None,
            playing: None,
            volume: None,
            cache_bytes: None,
            disk_free_bytes: None,
            unacked_events: None,
            device_error: None,
            clock_offset_ms: None,
            uptime_secs: None,
            controller_keys: Vec::new(),
            speaker_check: None,
            location: None,
            arch: None,
            update: None,
        }
    }

    /// Signs the state with the node's key: the bytes to publish.
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(self, key)
    }

    /// Verifies a state that arrived on `topic_node`'s state topic against that node's key.
    pub fn open(
        bytes: &[u8],
        key: &VerifyingKey,
        topic_node: &str,
        limit: usize,
    ) -> Result<Self, ProtocolError> {
        let state: NodeState = envelope::open(bytes, key, limit)?;
        state.validate(topic_node)?;
        Ok(state)
    }

    /// The checks on a state's content.
    pub fn validate(&self, topic_node: &str) -> Result<(), ProtocolError> {
        check_id("node", &self.node)?;
        if self.node != topic_node {
            return Err(ProtocolError::OtherNode {
                expected: topic_node.to_string(),
                got: self.node.clone(),
            });
        }
        if self.session == 0 {
            return Err(ProtocolError::Malformed("state session starts at 1".into()));
        }
        if let Some(l) = &self.location {
            if !Location::in_range(l.latitude, l.longitude) {
                return Err(ProtocolError::Malformed(
                    "a location is latitude -90..90 and longitude -180..180".into(),
                ));
            }
        }
        if self.controller_keys.len() > 2 {
            return Err(ProtocolError::Malformed(
                "a node names at most two controller keys".into(),
            ));
        }
        Ok(())
    }

    /// Whether this state may replace the last one taken, stamped `last`: a later session, or
    /// a later serial in the same session, or the same session's last will (the link died).
    pub fn supersedes(&self, last: Option<(u64, u64)>) -> bool {
        match last {
            None => true,
            Some((session, serial)) => {
                self.session > session
                    || (self.session == session && (self.serial > serial || self.serial == 0))
            }
        }
    }

    /// The stamp to remember once this state is taken after `last`. A will ends its session:
    /// it counts as one past the session's last state, so that state, replayed afterwards,
    /// is refused.
    pub fn stamp_after(&self, last: Option<(u64, u64)>) -> (u64, u64) {
        match last {
            Some((session, serial)) if session == self.session && self.serial == 0 => {
                (session, serial + 1)
            }
            Some((session, serial)) if session == self.session => {
                (session, serial.max(self.serial))
            }
            _ => (self.session, self.serial),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::generate_key;

    fn state(session: u64, serial: u64) -> NodeState {
        NodeState {
            presence: if serial == 0 {
                Presence::Offline
            } else {
                Presence::Online
            },
            serial,
            ..NodeState::offline("n1", session)
        }
    }

    #[test]
    fn last_will_round_trips_and_says_offline() {
        let key = generate_key();
        let will = NodeState::offline("n1", 3);
        let back = NodeState::open(&will.seal(&key), &key.verifying_key(), "n1", 4096).unwrap();
        assert_eq!(back.presence, Presence::Offline);
        assert_eq!(back, will);
    }

    #[test]
    fn state_on_another_nodes_topic_under_another_key_or_unsigned_is_refused() {
        let key = generate_key();
        let vk = key.verifying_key();
        let s = NodeState::offline("n1", 1);
        assert!(matches!(
            NodeState::open(&s.seal(&key), &vk, "n2", 4096),
            Err(ProtocolError::OtherNode { .. })
        ));
        assert_eq!(
            NodeState::open(&s.seal(&generate_key()), &vk, "n1", 4096),
            Err(ProtocolError::BadSignature)
        );
        let unsigned = serde_json::to_vec(&s).unwrap();
        assert!(matches!(
            NodeState::open(&unsigned, &vk, "n1", 4096),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            NodeState::open(&s.seal(&key), &vk, "n1", 3),
            Err(ProtocolError::Oversize { .. })
        ));
        assert!(matches!(
            NodeState::open(&NodeState::offline("n1", 0).seal(&key), &vk, "n1", 4096),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn a_location_is_optional_and_checked() {
        let key = generate_key();
        let vk = key.verifying_key();
        // A state from a node older than the field parses, without a location.
        let old = br#"{"node":"n1","presence":"online","session":1,"serial":1}"#;
        let parsed: NodeState = serde_json::from_slice(old).unwrap();
        assert_eq!(parsed.location, None);
        // One without a location does not mention it on the wire.
        assert!(!serde_json::to_string(&parsed).unwrap().contains("location"));
        let at = "2026-12-07T06:00:00Z".parse().unwrap();
        let placed = |latitude, longitude| NodeState {
            location: Some(Location {
                latitude,
                longitude,
                set_at: at,
            }),
            ..state(1, 1)
        };
        let s = placed(21.0285, 105.8542);
        assert_eq!(NodeState::open(&s.seal(&key), &vk, "n1", 4096), Ok(s));
        for (lat, lon) in [(90.5, 105.0), (21.0, -180.1), (-91.0, 0.0)] {
            assert!(
                matches!(
                    NodeState::open(&placed(lat, lon).seal(&key), &vk, "n1", 4096),
                    Err(ProtocolError::Malformed(_))
                ),
                "{lat},{lon}"
            );
        }
    }

    #[test]
    fn only_newer_states_and_the_current_sessions_will_supersede() {
        // (state's session, serial), last taken, supersedes?, stamp kept after
        let cases = [
            ((1, 1), None, true, (1, 1)),
            ((1, 2), Some((1, 1)), true, (1, 2)),
            ((1, 2), Some((1, 2)), false, (1, 2)),
            ((1, 1), Some((1, 2)), false, (1, 2)),
            // the link of session 1 died: its will is taken, and counts past serial 2
            ((1, 0), Some((1, 2)), true, (1, 3)),
            // so the session's last online state, replayed, is refused
            ((1, 2), Some((1, 3)), false, (1, 3)),
            // a later connection, even its will
            ((2, 1), Some((1, 5)), true, (2, 1)),
            ((2, 0), Some((1, 5)), true, (2, 0)),
            // an earlier connection's will or state, replayed
            ((1, 0), Some((2, 1)), false, (2, 1)),
            ((1, 9), Some((2, 1)), false, (2, 1)),
        ];
        for ((session, serial), last, ok, kept) in cases {
            let s = state(session, serial);
            assert_eq!(s.supersedes(last), ok, "{session}/{serial} after {last:?}");
            if ok {
                assert_eq!(
                    s.stamp_after(last),
                    kept,
                    "{session}/{serial} after {last:?}"
                );
            }
        }
    }
}
