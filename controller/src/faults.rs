//! Faults in sight: what needs a person, as pure rules over what the controller already
//! knows. The store gathers the facts and applies these ([`crate::store::faults`]); the sweep
//! ([`crate::sweep`]) writes their history; the operations ([`crate::ops::faults`]) show them
//! to an account, its villages only.
//!
//! The kinds, most urgent first:
//! - `emergency_not_played` (red): an emergency broadcast that began at least
//!   [`Thresholds::emergency_after_secs`] ago and is not `played` on a node (nor withdrawn),
//!   for a day after it began; one fault per node, shown grouped by village;
//! - `offline`: the node's presence is `offline` (see [`crate::presence`]);
//! - `device_error`: an online node says its audio device or relay fails now;
//! - `plan_refused`: an online node refused a plan since its current plan was issued, and does
//!   not hold the current one;
//! - `clock_offset`: an online node's clock is off by more than
//!   [`Thresholds::clock_offset_ms`];
//! - `low_disk`: an online node has less than [`Thresholds::low_disk_bytes`] free;
//! - `speaker_silent`: an online node's last speaker check did not hear its loudspeaker
//!   (*loa không phát ra tiếng*: amplifier, horn, cable or microphone).
//!
//! Only an online node's state speaks for now: an `unknown` node has no fault yet (the grace
//! decides), and an offline node's only fault is that it is offline.
//!
//! Just over 500 lines, about 180 of them the table tests of the rules above, kept beside them.

use chrono::{DateTime, Utc};
use loa_protocol::Stage;
use serde::Serialize;

/// How long an emergency stays in the list of faults after it began, when it is not played.
pub const EMERGENCY_WATCH_HOURS: i64 = 24;

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    EmergencyNotPlayed,
    Offline,
    DeviceError,
    SpeakerSilent,
    PlanRefused,
    ClockOffset,
    LowDisk,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::EmergencyNotPlayed,
        FaultKind::Offline,
        FaultKind::DeviceError,
        FaultKind::SpeakerSilent,
        FaultKind::PlanRefused,
        FaultKind::ClockOffset,
        FaultKind::LowDisk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::EmergencyNotPlayed => "emergency_not_played",
            FaultKind::Offline => "offline",
            FaultKind::DeviceError => "device_error",
            FaultKind::PlanRefused => "plan_refused",
            FaultKind::ClockOffset => "clock_offset",
            FaultKind::LowDisk => "low_disk",
            FaultKind::SpeakerSilent => "speaker_silent",
        }
    }

    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn severity(self) -> Severity {
        match self {
            FaultKind::EmergencyNotPlayed => Severity::Emergency,
            FaultKind::Offline
            | FaultKind::DeviceError
            | FaultKind::SpeakerSilent
            | FaultKind::PlanRefused => Severity::Warning,
            FaultKind::ClockOffset | FaultKind::LowDisk => Severity::Notice,
        }
    }
}

/// How urgent: an emergency not heard (red) before a station that cannot play (warning)
/// before one that will soon have trouble (notice).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Emergency,
    Warning,
    Notice,
}

/// The commune's thresholds (settings `fault_emergency_after_secs`, `fault_clock_offset_ms`,
/// `fault_low_disk_bytes`).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// Seconds after an emergency began before a node that has not played it is a fault.
    pub emergency_after_secs: i64,
    /// A node clock off by more than this many milliseconds (either way) is a fault.
    pub clock_offset_ms: i64,
    /// A node with less than this many bytes free for its data is a fault.
    pub low_disk_bytes: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            emergency_after_secs: 60,
            clock_offset_ms: 2_000,
            low_disk_bytes: 100 * 1024 * 1024,
        }
    }
}

/// One fault now.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub kind: FaultKind,
    pub severity: Severity,
    pub node_id: String,
    pub node_name: String,
    /// The node's village (its zone).
    pub zone_id: i64,
    /// The zone's path, `Xã … / Thôn …`.
    pub zone: String,
    /// When it began: by the evidence (offline since, the emergency's deadline, a refusal),
    /// else when the controller first saw it.
    pub since: Option<DateTime<Utc>>,
    /// What is wrong, in plain words.
    pub detail: String,
    /// The emergency broadcast not played (`emergency_not_played` only).
    pub occurrence_id: Option<i64>,
    /// Its title (`emergency_not_played` only).
    pub title: Option<String>,
    /// Where its delivery stands (`emergency_not_played` only).
    pub stage: Option<Stage>,
    /// The number behind the fault: the clock offset in ms, the free disk in bytes.
    pub value: Option<i64>,
}

impl Fault {
    /// What tells this fault apart from others of its kind on its node, in the history.
    pub fn subject(&self) -> String {
        self.occurrence_id
            .map(|o| o.to_string())
            .unwrap_or_default()
    }
}

/// What the rules read of one live node.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    pub id: String,
    pub name: String,
    pub zone_id: i64,
    /// `online`, `offline`, `unknown`.
    pub presence: String,
    pub last_seen: Option<DateTime<Utc>>,
    /// When its presence last turned `offline`, by the presence history.
    pub offline_since: Option<DateTime<Utc>>,
    /// Its last state as it sent it.
    pub state: Option<serde_json::Value>,
    /// The version of the plan the controller last issued it, and when.
    pub plan_version: u64,
    pub plan_issued_at: Option<DateTime<Utc>>,
    /// Its last refusal of a plan, and why.
    pub refused_at: Option<DateTime<Utc>>,
    pub refused_detail: Option<String>,
}

/// One delivery of an emergency, overdue and not played.
#[derive(Debug, Clone)]
pub struct EmergencyGap {
    pub occurrence_id: i64,
    pub title: String,
    pub start_at: DateTime<Utc>,
    pub node_id: String,
    pub node_name: String,
    pub zone_id: i64,
    pub stage: Stage,
    pub reason: Option<String>,
}

fn fault(kind: FaultKind, n: &NodeFacts, since: Option<DateTime<Utc>>, detail: String) -> Fault {
    Fault {
        kind,
        severity: kind.severity(),
        node_id: n.id.clone(),
        node_name: n.name.clone(),
        zone_id: n.zone_id,
        zone: String::new(),
        since,
        detail,
        occurrence_id: None,
        title: None,
        stage: None,
        value: None,
    }
}

/// A time in the commune's zone, as the details say it.
fn local(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The faults of one node, by its presence and (when online) its last state.
pub fn node_faults(n: &NodeFacts, th: &Thresholds, tz: chrono_tz::Tz) -> Vec<Fault> {
    let mut out = Vec::new();
    match n.presence.as_str() {
        "offline" => {
            let since = n.offline_since.or(n.last_seen);
            let detail = match n.last_seen {
                Some(t) => format!("offline; last heard from at {}", local(t, tz)),
                None => "offline; never heard from".to_string(),
            };
            out.push(fault(FaultKind::Offline, n, since, detail));
            return out;
        }
        "online" => {}
        _ => return out,
    }
    let st = n.state.as_ref();
    let field = |name: &str| st.and_then(|s| s.get(name));
    if let Some(e) = field("device_error").and_then(|v| v.as_str()) {
        out.push(fault(
            FaultKind::DeviceError,
            n,
            None,
            format!("audio device error: {e}"),
        ));
    }
    if let Some(check) = field("speaker_check") {
        if check.get("passed").and_then(|v| v.as_bool()) == Some(false) {
            let since = check
                .get("at")
                .and_then(|v| v.as_str())
                .and_then(|t| t.parse().ok());
            let said = check.get("detail").and_then(|v| v.as_str()).unwrap_or("");
            out.push(fault(
                FaultKind::SpeakerSilent,
                n,
                since,
                format!("speaker check failed: {said}"),
            ));
        }
    }
    if let Some(at) = n.refused_at {
        let since_issue = n.plan_issued_at.is_none_or(|i| at >= i);
        let holds = field("plan_version").and_then(|v| v.as_u64()) == Some(n.plan_version);
        if since_issue && !holds {
            let why = n.refused_detail.as_deref().unwrap_or("no reason given");
            out.push(fault(
                FaultKind::PlanRefused,
                n,
                Some(at),
                format!("refused its plan: {why}"),
            ));
        }
    }
    if let Some(ms) = field("clock_offset_ms").and_then(|v| v.as_i64()) {
        if ms.abs() > th.clock_offset_ms {
            let mut f = fault(
                FaultKind::ClockOffset,
                n,
                None,
                format!(
                    "clock {:.1} s {} the controller's",
                    ms.abs() as f64 / 1000.0,
                    // The offset is the controller's clock minus the node's.
                    if ms > 0 { "behind" } else { "ahead of" }
                ),
            );
            f.value = Some(ms);
            out.push(f);
        }
    }
    if let Some(free) = field("disk_free_bytes").and_then(|v| v.as_u64()) {
        if free < th.low_disk_bytes {
            let mut f = fault(
                FaultKind::LowDisk,
                n,
                None,
                format!("{:.1} MB free on its disk", free as f64 / 1e6),
            );
            f.value = Some(free.min(i64::MAX as u64) as i64);
            out.push(f);
        }
    }
    out
}

/// The faults of emergencies overdue and not played, one per node.
pub fn emergency_faults(gaps: &[EmergencyGap], th: &Thresholds, tz: chrono_tz::Tz) -> Vec<Fault> {
    gaps.iter()
        .map(|g| {
            let kind = FaultKind::EmergencyNotPlayed;
            let mut detail = format!(
                "emergency \u{201c}{}\u{201d} began at {}, not played ({})",
                g.title,
                local(g.start_at, tz),
                g.stage.as_str()
            );
            if let Some(r) = &g.reason {
                detail.push_str(": ");
                detail.push_str(r);
            }
            Fault {
                kind,
                severity: kind.severity(),
                node_id: g.node_id.clone(),
                node_name: g.node_name.clone(),
                zone_id: g.zone_id,
                zone: String::new(),
                since: Some(g.start_at + chrono::Duration::seconds(th.emergency_after_secs)),
                detail,
                occurrence_id: Some(g.occurrence_id),
                title: Some(g.title.clone()),
                stage: Some(g.stage),
                value: None,
            }
        })
        .collect()
}

/// Most urgent first, then by village and node.
pub fn sort(faults: &mut [Fault]) {
    faults.sort_by(|a, b| {
        (
            a.severity,
            &a.zone,
            a.zone_id,
            &a.node_id,
            a.kind,
            a.occurrence_id,
        )
            .cmp(&(
                b.severity,
                &b.zone,
                b.zone_id,
                &b.node_id,
                b.kind,
                b.occurrence_id,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn node(presence: &str, state: serde_json::Value) -> NodeFacts {
        NodeFacts {
            id: "n1".into(),
            name: "Loa 1".into(),
            zone_id: 2,
            presence: presence.into(),
            last_seen: Some(t(100)),
            offline_since: Some(t(160)),
            state: Some(state),
            plan_version: 7,
            plan_issued_at: Some(t(50)),
            ..NodeFacts::default()
        }
    }

    fn kinds(n: &NodeFacts) -> Vec<FaultKind> {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        node_faults(n, &Thresholds::default(), tz)
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn a_nodes_faults_follow_its_presence_and_state() {
        use FaultKind::*;
        let refused = |mut n: NodeFacts, at: i64| {
            n.refused_at = Some(t(at));
            n.refused_detail = Some("bad signature".into());
            n
        };
        // (case, facts, faults)
        let cases = [
            (
                "a healthy node",
                node(
                    "online",
                    json!({"plan_version": 7, "clock_offset_ms": 300, "disk_free_bytes": 5_000_000_000u64}),
                ),
                vec![],
            ),
            (
                "offline: that alone, whatever its old state said",
                node("offline", json!({"device_error": "gone"})),
                vec![Offline],
            ),
            (
                "unknown: nothing yet, the grace decides",
                node("unknown", json!({"device_error": "gone"})),
                vec![],
            ),
            (
                "a device error",
                node("online", json!({"device_error": "no device loa_usb"})),
                vec![DeviceError],
            ),
            (
                "a clock 2.5 s behind",
                node("online", json!({"clock_offset_ms": 2500})),
                vec![ClockOffset],
            ),
            (
                "a clock 2.5 s ahead",
                node("online", json!({"clock_offset_ms": -2500})),
                vec![ClockOffset],
            ),
            (
                "a clock exactly at the threshold",
                node("online", json!({"clock_offset_ms": 2000})),
                vec![],
            ),
            (
                "50 MB free",
                node("online", json!({"disk_free_bytes": 50_000_000})),
                vec![LowDisk],
            ),
            (
                "an old node that does not say its free disk",
                node("online", json!({})),
                vec![],
            ),
            (
                "refused since its plan was issued, holds an older one",
                refused(node("online", json!({"plan_version": 6})), 60),
                vec![PlanRefused],
            ),
            (
                "refused before its current plan, which it holds",
                refused(node("online", json!({"plan_version": 7})), 40),
                vec![],
            ),
            (
                "refused before its current plan was issued",
                refused(node("online", json!({"plan_version": 6})), 40),
                vec![],
            ),
            (
                "everything at once, in order",
                refused(
                    node(
                        "online",
                        json!({"device_error": "x", "clock_offset_ms": 9000, "disk_free_bytes": 1,
                               "speaker_check": {"at": "2026-12-07T03:30:00Z", "passed": false, "detail": "not heard"}}),
                    ),
                    60,
                ),
                vec![
                    DeviceError,
                    SpeakerSilent,
                    PlanRefused,
                    ClockOffset,
                    LowDisk,
                ],
            ),
            (
                "a speaker check that passed is no fault",
                node(
                    "online",
                    json!({"speaker_check": {"at": "2026-12-07T03:30:00Z", "passed": true, "level_db": -30.0, "detail": "heard"}}),
                ),
                vec![],
            ),
        ];
        for (name, facts, want) in cases {
            assert_eq!(kinds(&facts), want, "{name}");
        }
    }

    #[test]
    fn an_offline_fault_dates_from_the_presence_history_and_names_the_last_contact() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let f = &node_faults(&node("offline", json!({})), &Thresholds::default(), tz)[0];
        assert_eq!(f.since, Some(t(160)));
        assert_eq!(f.detail, "offline; last heard from at 2026-12-05 07:01:40");
        assert_eq!(f.severity, Severity::Warning);
    }

    #[test]
    fn an_overdue_emergency_is_red_from_its_deadline_and_sorts_first() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let gap = EmergencyGap {
            occurrence_id: 9,
            title: "Lũ quét".into(),
            start_at: t(0),
            node_id: "n2".into(),
            node_name: "Loa 2".into(),
            zone_id: 3,
            stage: Stage::Missed,
            reason: Some("node offline since …".into()),
        };
        let th = Thresholds::default();
        let mut all = node_faults(&node("offline", json!({})), &th, tz);
        all.extend(emergency_faults(&[gap], &th, tz));
        sort(&mut all);
        assert_eq!(all[0].kind, FaultKind::EmergencyNotPlayed);
        assert_eq!(all[0].severity, Severity::Emergency);
        assert_eq!(all[0].since, Some(t(60)));
        assert_eq!(all[0].subject(), "9");
        assert_eq!(
            all[0].detail,
            "emergency \u{201c}Lũ quét\u{201d} began at 2026-12-05 07:00:00, not played (missed): node offline since …"
        );
        assert_eq!(all[1].kind, FaultKind::Offline);
    }

    #[test]
    fn kinds_read_back_from_their_names() {
        for k in FaultKind::ALL {
            assert_eq!(FaultKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FaultKind::parse("nonsense"), None);
    }
}
