//! The node's retained state: presence, versions, what plays, cache use.
//!
//! The node sets its last will to [`NodeState::offline`] on the same topic, so the broker
//! publishes `offline` for it when its link dies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{check_id, check_size, ProtocolError};

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
}

impl NodeState {
    /// The last will: published by the broker when the node's link dies.
    pub fn offline(node: &str) -> Self {
        NodeState {
            node: node.to_string(),
            presence: Presence::Offline,
            at: None,
            software: None,
            plan_version: None,
            playing: None,
            volume: None,
            cache_bytes: None,
            unacked_events: None,
            device_error: None,
            clock_offset_ms: None,
            uptime_secs: None,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("state always serialises")
    }

    /// Decodes a state message that arrived on `topic_node`'s state topic.
    pub fn decode(bytes: &[u8], topic_node: &str, limit: usize) -> Result<Self, ProtocolError> {
        check_size(bytes, limit)?;
        let state: NodeState = serde_json::from_slice(bytes)?;
        check_id("node", &state.node)?;
        if state.node != topic_node {
            return Err(ProtocolError::OtherNode {
                expected: topic_node.to_string(),
                got: state.node,
            });
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_will_round_trips_and_says_offline() {
        let will = NodeState::offline("n1");
        let back = NodeState::decode(&will.to_bytes(), "n1", 4096).unwrap();
        assert_eq!(back.presence, Presence::Offline);
        assert_eq!(back, will);
    }

    #[test]
    fn state_on_another_nodes_topic_is_refused() {
        let s = NodeState::offline("n1");
        assert!(matches!(
            NodeState::decode(&s.to_bytes(), "n2", 4096),
            Err(ProtocolError::OtherNode { .. })
        ));
        assert!(matches!(
            NodeState::decode(b"nope", "n1", 4096),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            NodeState::decode(&s.to_bytes(), "n1", 3),
            Err(ProtocolError::Oversize { .. })
        ));
    }
}
