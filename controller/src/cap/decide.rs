//! What the commune does with a checked alert, decided without I/O: a world goes in (the time,
//! the stations with their places, whether the alert was seen, what its references made), one
//! [`Decision`] comes out with the reason a person reads in the audit log.
//!
//! | the alert | decision |
//! |---|---|
//! | same `identifier` and `sender` as one taken before | refused as a duplicate; nothing twice |
//! | `status` Exercise, System, Test or Draft | recorded, not played |
//! | `msgType` Ack or Error | recorded, not played |
//! | `msgType` Cancel | the referenced alerts' deliveries not yet played are cancelled |
//! | `expires` already past | recorded, not played |
//! | no `<area>` with a polygon or circle, or no station inside | refused: no station inside |
//! | `msgType` Alert | played on the stations inside the area |
//! | `msgType` Update | played there, and the referenced alerts' deliveries not yet played are cancelled |
//!
//! The info block read is the first in Vietnamese (`vi`, `vi-VN`), else the first. Its
//! severity and urgency choose the priority ([`priority_of`]).

use chrono::{DateTime, Duration, Utc};
use loa_protocol::Priority;
use serde::Serialize;

use super::model::{Alert, Info, MsgType, Severity, Status, Urgency};

/// A loudspeaker station and where it stands.
#[derive(Debug, Clone)]
pub struct Station {
    pub node_id: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// What the decision may look at.
pub struct World<'a> {
    pub now: DateTime<Utc>,
    /// The stations that have a location (the others cannot be placed in an area).
    pub stations: &'a [Station],
    /// Whether an alert with the same identifier and sender was taken before.
    pub duplicate: bool,
    /// The broadcasts made for the alerts this one references (for Update and Cancel).
    pub referenced: Vec<i64>,
    /// How long an alert without `expires` may still play.
    pub default_expiry: Duration,
}

/// What to do with an alert, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Play it now on `nodes` until `expires`; cancel `replaces` (an Update's earlier alerts).
    Play {
        /// The `<info>` read (0-based).
        info: usize,
        priority: Priority,
        nodes: Vec<String>,
        expires: DateTime<Utc>,
        replaces: Vec<i64>,
        why: String,
    },
    /// Cancel what is not yet played of these broadcasts.
    Cancel { occurrences: Vec<i64>, why: String },
    /// Kept in the records, not played.
    Record { why: String },
    /// Not taken.
    Refuse { duplicate: bool, why: String },
}

impl Decision {
    /// One word for the records: played, cancelled, recorded or refused.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Play { .. } => "played",
            Decision::Cancel { .. } => "cancelled",
            Decision::Record { .. } => "recorded",
            Decision::Refuse { .. } => "refused",
        }
    }

    pub fn why(&self) -> &str {
        match self {
            Decision::Play { why, .. }
            | Decision::Cancel { why, .. }
            | Decision::Record { why }
            | Decision::Refuse { why, .. } => why,
        }
    }
}

/// The priority table: Extreme or Severe, with Immediate or Expected urgency, is an emergency
/// (khẩn cấp: interrupts whatever plays, and plays in quiet hours); every other alert is
/// priority (ưu tiên: first in the programme). An alert of Minor or Unknown severity, or of
/// Future or Past urgency, is played too (as priority): the commune hears what the authority
/// sent, and the decision's reason says the priority was lowered.
pub fn priority_of(severity: Severity, urgency: Urgency) -> Priority {
    match (severity, urgency) {
        (Severity::Extreme | Severity::Severe, Urgency::Immediate | Urgency::Expected) => {
            Priority::Emergency
        }
        _ => Priority::Priority,
    }
}

/// The info block to read: the first in Vietnamese, else the first.
pub fn chosen_info(alert: &Alert) -> Option<(usize, &Info)> {
    alert
        .info
        .iter()
        .enumerate()
        .find(|(_, i)| {
            let l = i.language.to_ascii_lowercase();
            l == "vi" || l.starts_with("vi-")
        })
        .or_else(|| alert.info.iter().enumerate().next())
}

pub fn decide(alert: &Alert, w: &World) -> Decision {
    if w.duplicate {
        return Decision::Refuse {
            duplicate: true,
            why: format!(
                "duplicate: alert {} from {} was already taken",
                alert.identifier, alert.sender
            ),
        };
    }
    if alert.status != Status::Actual {
        return Decision::Record {
            why: format!(
                "status {}: not played (only Actual alerts are played)",
                alert.status.as_str()
            ),
        };
    }
    match alert.msg_type {
        MsgType::Ack | MsgType::Error => {
            return Decision::Record {
                why: format!("msgType {}: recorded only", alert.msg_type.as_str()),
            }
        }
        MsgType::Cancel if w.referenced.is_empty() => {
            return Decision::Record {
                why: "Cancel: none of the alerts it references was played here".into(),
            }
        }
        MsgType::Cancel => {
            return Decision::Cancel {
                occurrences: w.referenced.clone(),
                why: format!(
                    "Cancel: the deliveries not yet played of broadcast(s) {} are cancelled",
                    ids(&w.referenced)
                ),
            }
        }
        MsgType::Alert | MsgType::Update => {}
    }
    let Some((index, info)) = chosen_info(alert) else {
        return Decision::Refuse {
            duplicate: false,
            why: "the alert has no <info>: nothing to play".into(),
        };
    };
    if let Some(expires) = info.expires {
        if expires.with_timezone(&Utc) <= w.now {
            return Decision::Record {
                why: format!("expired at {}: not played", expires.to_rfc3339()),
            };
        }
    }
    let shapes: Vec<_> = info.areas.iter().flat_map(|a| &a.shapes).collect();
    if shapes.is_empty() {
        return Decision::Refuse {
            duplicate: false,
            why: "no station inside the area: the alert's <area> has no polygon or circle to \
                  place stations in"
                .into(),
        };
    }
    let nodes: Vec<String> = w
        .stations
        .iter()
        .filter(|s| shapes.iter().any(|sh| sh.contains(s.latitude, s.longitude)))
        .map(|s| s.node_id.clone())
        .collect();
    if nodes.is_empty() {
        let areas: Vec<&str> = info.areas.iter().map(|a| a.desc.as_str()).collect();
        return Decision::Refuse {
            duplicate: false,
            why: format!("no station inside the area ({})", areas.join("; ")),
        };
    }
    let priority = priority_of(info.severity, info.urgency);
    let mut why = format!(
        "{} {}, {}: {} on {} station(s)",
        info.severity.as_str(),
        info.urgency.as_str(),
        info.event,
        priority.as_str(),
        nodes.len()
    );
    if priority != Priority::Emergency {
        why.push_str(
            " (not Extreme/Severe with Immediate/Expected urgency, so priority, not emergency)",
        );
    }
    let replaces = if alert.msg_type == MsgType::Update {
        if !w.referenced.is_empty() {
            why.push_str(&format!("; replaces broadcast(s) {}", ids(&w.referenced)));
        }
        w.referenced.clone()
    } else {
        Vec::new()
    };
    Decision::Play {
        info: index,
        priority,
        nodes,
        expires: info
            .expires
            .map(|e| e.with_timezone(&Utc))
            .unwrap_or(w.now + w.default_expiry),
        replaces,
        why,
    }
}

fn ids(v: &[i64]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
