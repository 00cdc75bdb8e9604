//! The words both sides of the wire use: priorities and delivery stages.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The three priority levels of Thông tư 39/2020/TT-BTTTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// thông thường
    Normal,
    /// ưu tiên: first in the programme
    Priority,
    /// khẩn cấp: immediately, interrupting whatever plays
    Emergency,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Priority => "priority",
            Priority::Emergency => "emergency",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Priority::Normal),
            "priority" => Ok(Priority::Priority),
            "emergency" => Ok(Priority::Emergency),
            other => Err(format!(
                "unknown priority {other:?}: use normal, priority or emergency"
            )),
        }
    }
}

/// A step of a delivery: one announcement occurrence on one node.
///
/// `planned → received → ready → playing → played`, or one of `failed`, `missed`,
/// `preempted`, `cancelled`, each with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The controller put the item in the node's plan.
    Planned,
    /// The node accepted a plan containing the item.
    Received,
    /// The media is cached on the node and its SHA-256 verified.
    Ready,
    /// The first frame went to the audio device.
    Playing,
    /// The last frame went to the audio device.
    Played,
    /// Something went wrong; the reason says what. The node may still retry until expiry.
    Failed,
    /// The item expired before it could play (offline, no media).
    Missed,
    /// An emergency cut the item.
    Preempted,
    /// Staff withdrew the item.
    Cancelled,
}

impl Stage {
    /// Every stage, in the order a delivery meets them (the timelines list them so).
    pub const ALL: [Stage; 9] = [
        Stage::Planned,
        Stage::Received,
        Stage::Ready,
        Stage::Playing,
        Stage::Played,
        Stage::Failed,
        Stage::Missed,
        Stage::Preempted,
        Stage::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Planned => "planned",
            Stage::Received => "received",
            Stage::Ready => "ready",
            Stage::Playing => "playing",
            Stage::Played => "played",
            Stage::Failed => "failed",
            Stage::Missed => "missed",
            Stage::Preempted => "preempted",
            Stage::Cancelled => "cancelled",
        }
    }

    /// `played`, `missed` and `cancelled` end a delivery for good.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Played | Stage::Missed | Stage::Cancelled)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_through_their_names() {
        for st in Stage::ALL {
            assert_eq!(st.as_str().parse::<Stage>(), Ok(st));
            assert_eq!(
                serde_json::to_string(&st).unwrap(),
                format!("\"{}\"", st.as_str())
            );
        }
    }

    #[test]
    fn priorities_order_from_normal_to_emergency() {
        assert!(Priority::Normal < Priority::Priority);
        assert!(Priority::Priority < Priority::Emergency);
        assert!("urgent".parse::<Priority>().is_err());
    }
}
