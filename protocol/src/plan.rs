//! The per-node plan: everything a node should play in the coming horizon, plus its settings.
//!
//! Desired state, not commands: every change ("play now" and emergencies included) is a new
//! plan with a higher version, published retained, so a node that reconnects or reboots
//! converges from the last plan alone.
//!
//! A plan is refused when it is not newer than the one held, when its validity has passed (an
//! old plan replayed), or when no trusted key signed it. It may announce the controller's next
//! key, which the node then trusts too: that is how the key is rotated without a site visit.
//!
//! Just over 500 lines, about 200 of them the tests of the plan's checks, kept beside them.
//!
//! Just over 500 lines with its tests (the last 200), which read the plan's rules beside them.

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
    /// A node refuses the plan once this has passed by its clock, so a plan captured and
    /// replayed later is stale. The controller issues a new one well before.
    pub valid_until: DateTime<Utc>,
    /// The controller's next signing key (base64), announced under the current one: the node
    /// trusts it from now on and moves to it when a plan signed by it arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key: Option<String>,
    /// The node's volume, 0–100.
    pub volume: u8,
    /// What an item interrupted by an emergency does afterwards. Absent in older plans: replay.
    #[serde(default)]
    pub after_preempt: AfterPreempt,
    /// Staff asked for a speaker check at this instant (the station page): a node with a
    /// microphone runs one when this is later than its last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_check: Option<DateTime<Utc>>,
    pub items: Vec<PlanItem>,
    /// The node release this node should run (an over-the-air update); absent, it stays on
    /// what it runs. Checked by the node against its own release key, not the plan key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<crate::release::ReleaseRef>,
}

/// What an interrupted item does once the emergency has played.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AfterPreempt {
    /// Plays again from the start (the chime included), if it has not expired.
    #[default]
    Replay,
    /// Goes on from where it was cut (the part and the position in it).
    Resume,
}

/// One thing to play: a delivery of an announcement occurrence on this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    /// Unique within the site; the delivery's key together with the node id.
    pub id: String,
    /// A human title, for logs and the node's state.
    pub title: String,
    /// What plays, in order, as one item: a chime if there is one, then the recording in each
    /// of the zone's languages. At least one, at most [`MAX_PARTS`].
    pub parts: Vec<Part>,
    /// The planned instant of the first frame.
    pub start_at: DateTime<Utc>,
    /// After this the item is not played any more and is reported `missed`.
    pub expires_at: DateTime<Utc>,
    pub priority: Priority,
    /// The item's volume, 0–100, applied on top of the node's.
    pub volume: u8,
    /// A relayed or live stream the item plays after its parts (the chime, if any), from
    /// `start_at` until the stream's `until`; absent for an announcement made of recordings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamRef>,
}

/// A live or relayed stream, served by the controller (DESIGN.md, "Live and relayed audio").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRef {
    /// `GET` this with the node's media token: Ogg Opus, open-ended, reconnectable.
    pub url: String,
    /// The codec of what `url` serves; `opus` (in Ogg) is the only one today.
    pub codec: String,
    /// When the relay or session ends by plan: the node fades out and reports `played`.
    /// A live session may end earlier, when its stream ends.
    pub until: DateTime<Utc>,
}

/// Most parts in one item: a chime and up to seven languages.
pub const MAX_PARTS: usize = 8;

/// One recording inside an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub kind: PartKind,
    /// The recording's language (`vi`, `hmn`, `tai`…); absent for a chime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub media: MediaRef,
    /// Loudness normalisation, in dB, measured by the controller (EBU R128): applied before the
    /// volumes so every recording plays at the same level.
    #[serde(default)]
    pub gain_db: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// The attention signal before an announcement.
    Chime,
    /// The announcement itself, in one language.
    Recording,
}

impl Part {
    /// How the delivery record names this part: `chime`, or the language.
    pub fn label(&self) -> &str {
        match (self.kind, &self.language) {
            (PartKind::Chime, _) => "chime",
            (PartKind::Recording, Some(l)) => l,
            (PartKind::Recording, None) => "recording",
        }
    }
}

impl PlanItem {
    /// How long all parts last together, gaps between them included.
    pub fn duration_ms(&self) -> u64 {
        let gaps = PART_GAP_MS * self.parts.len().saturating_sub(1) as u64;
        self.parts.iter().map(|p| p.media.duration_ms).sum::<u64>() + gaps
    }

    /// Every media file the item needs, each once.
    pub fn media(&self) -> impl Iterator<Item = &MediaRef> {
        let mut seen = HashSet::new();
        self.parts
            .iter()
            .map(|p| &p.media)
            .filter(move |m| seen.insert(m.sha256.as_str()))
    }
}

/// The silence between two parts of an item, so languages do not run into each other.
pub const PART_GAP_MS: u64 = 400;

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

    /// Verifies and validates a plan for `node`, which holds `current` (if any), at `now` by
    /// the node's clock. `keys` are the controller keys the node trusts. Returns the plan and
    /// the index of the key that signed it.
    ///
    /// Refuses, in this order: oversize, not an envelope, a bad signature, a malformed body,
    /// another node's plan, a version not newer than `current`, a plan past its validity.
    pub fn open(
        bytes: &[u8],
        keys: &[VerifyingKey],
        node: &str,
        current: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(Plan, usize), ProtocolError> {
        let (plan, signer) = Plan::verify(bytes, keys, node)?;
        if let Some(current) = current {
            if plan.version <= current {
                return Err(ProtocolError::OlderVersion {
                    got: plan.version,
                    current,
                });
            }
        }
        if now > plan.valid_until {
            return Err(ProtocolError::Stale {
                valid_until: plan.valid_until,
            });
        }
        Ok((plan, signer))
    }

    /// The signature, shape and node checks alone: for a plan the node already accepted and
    /// kept on disk, whose version and validity were checked when it arrived.
    pub fn verify(
        bytes: &[u8],
        keys: &[VerifyingKey],
        node: &str,
    ) -> Result<(Plan, usize), ProtocolError> {
        let (plan, signer): (Plan, usize) = envelope::open_with_any(bytes, keys, MAX_PACKET_BYTES)?;
        plan.check_shape()?;
        if plan.node != node {
            return Err(ProtocolError::OtherNode {
                expected: node.to_string(),
                got: plan.node,
            });
        }
        Ok((plan, signer))
    }

    /// The checks that do not depend on who reads the plan.
    pub fn check_shape(&self) -> Result<(), ProtocolError> {
        check_id("site", &self.site)?;
        check_id("node", &self.node)?;
        check_volume(self.volume)?;
        if self.valid_until <= self.issued_at {
            return Err(ProtocolError::Malformed(
                "the plan is valid until before it was issued".into(),
            ));
        }
        if let Some(k) = &self.next_key {
            crate::envelope::verifying_key_from_b64(k)?;
        }
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
            if item.expires_at <= item.start_at {
                return Err(ProtocolError::Malformed(format!(
                    "item {:?} expires before it starts",
                    item.id
                )));
            }
            let least = if item.stream.is_some() { 0 } else { 1 };
            if item.parts.len() < least || item.parts.len() > MAX_PARTS {
                return Err(ProtocolError::Malformed(format!(
                    "item {:?} has {} parts; {least} to {MAX_PARTS}",
                    item.id,
                    item.parts.len()
                )));
            }
            if let Some(stream) = &item.stream {
                if stream.until <= item.start_at {
                    return Err(ProtocolError::Malformed(format!(
                        "item {:?}: its stream ends before it starts",
                        item.id
                    )));
                }
                if stream.codec != "opus" {
                    return Err(ProtocolError::Malformed(format!(
                        "item {:?}: stream codec {:?}; only \"opus\" is known",
                        item.id, stream.codec
                    )));
                }
            }
            for part in &item.parts {
                check_part(&item.id, part)?;
            }
        }
        Ok(())
    }
}

fn check_part(item: &str, part: &Part) -> Result<(), ProtocolError> {
    if !(part.gain_db.is_finite() && (-40.0..=20.0).contains(&part.gain_db)) {
        return Err(ProtocolError::Malformed(format!(
            "item {item:?}: gain_db {} is outside -40 to 20",
            part.gain_db
        )));
    }
    if let Some(lang) = &part.language {
        check_language(lang)?;
    }
    let sha = &part.media.sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ProtocolError::Malformed(format!(
            "item {item:?}: sha256 must be 64 lower-case hex digits"
        )));
    }
    Ok(())
}

/// A language code as loa uses it: 1 to 16 letters, digits or `-` (`vi`, `hmn`, `tai-dam`).
pub fn check_language(code: &str) -> Result<(), ProtocolError> {
    let ok = (1..=16).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::Malformed(format!(
            "language {code:?} must be 1 to 16 letters, digits or '-' (e.g. vi, hmn)"
        )))
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
        let t0 = t0();
        Plan {
            version,
            site: "xa-demo".into(),
            node: node.into(),
            issued_at: t0,
            valid_until: t0 + chrono::Duration::hours(72),
            next_key: None,
            volume: 80,
            after_preempt: AfterPreempt::Resume,
            speaker_check: None,
            release: None,
            items: vec![PlanItem {
                id: "b1".into(),
                title: "Bản tin sáng".into(),
                parts: vec![
                    part(PartKind::Chime, None, "cd", 1500),
                    part(PartKind::Recording, Some("vi"), "ab", 5000),
                    part(PartKind::Recording, Some("hmn"), "ef", 6000),
                ],
                start_at: t0,
                expires_at: t0 + chrono::Duration::hours(1),
                priority: Priority::Normal,
                volume: 100,
                stream: None,
            }],
        }
    }

    fn part(kind: PartKind, language: Option<&str>, sha: &str, duration_ms: u64) -> Part {
        Part {
            kind,
            language: language.map(str::to_owned),
            media: MediaRef {
                sha256: sha.repeat(32),
                size: 1234,
                url: format!("http://c/media/{sha}"),
                duration_ms,
            },
            gain_db: -3.5,
        }
    }

    #[test]
    fn an_item_lasts_as_long_as_its_parts_and_the_gaps() {
        let item = &sample(1, "n1").items[0];
        assert_eq!(item.duration_ms(), 1500 + 5000 + 6000 + 2 * PART_GAP_MS);
        let labels: Vec<&str> = item.parts.iter().map(Part::label).collect();
        assert_eq!(labels, ["chime", "vi", "hmn"]);
        let mut twice = item.clone();
        twice.parts.push(item.parts[1].clone());
        assert_eq!(twice.media().count(), 3, "each file once");
    }

    #[test]
    fn a_plan_without_a_policy_replays() {
        let mut v = serde_json::to_value(sample(1, "n1")).unwrap();
        v.as_object_mut().unwrap().remove("after_preempt");
        let plan: Plan = serde_json::from_value(v).unwrap();
        assert_eq!(plan.after_preempt, AfterPreempt::Replay);
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap()
    }

    /// `Plan::open` with one key, at the sample's issue time.
    fn open1(
        bytes: &[u8],
        key: &VerifyingKey,
        node: &str,
        current: Option<u64>,
    ) -> Result<Plan, ProtocolError> {
        Plan::open(bytes, std::slice::from_ref(key), node, current, t0()).map(|(p, _)| p)
    }

    #[test]
    fn plan_round_trips_through_seal_and_open() {
        let key = generate_key();
        let plan = sample(3, "n1");
        let back = open1(&plan.seal(&key), &key.verifying_key(), "n1", Some(2)).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn a_plan_past_its_validity_is_stale_but_still_verifies_from_disk() {
        let key = generate_key();
        let plan = sample(3, "n1");
        let bytes = plan.seal(&key);
        let keys = [key.verifying_key()];
        let late = plan.valid_until + chrono::Duration::seconds(1);
        assert_eq!(
            Plan::open(&bytes, &keys, "n1", None, late),
            Err(ProtocolError::Stale {
                valid_until: plan.valid_until
            })
        );
        assert!(Plan::open(&bytes, &keys, "n1", None, plan.valid_until).is_ok());
        assert_eq!(Plan::verify(&bytes, &keys, "n1").unwrap().0, plan);
    }

    #[test]
    fn the_next_key_signs_too_and_must_be_a_key() {
        let (old, new) = (generate_key(), generate_key());
        let keys = [old.verifying_key(), new.verifying_key()];
        let mut plan = sample(3, "n1");
        plan.next_key = Some(crate::envelope::public_key_b64(&new));
        let (back, signer) = Plan::open(&plan.seal(&old), &keys, "n1", None, t0()).unwrap();
        assert_eq!((back.next_key, signer), (plan.next_key.clone(), 0));
        let (_, signer) = Plan::open(&sample(4, "n1").seal(&new), &keys, "n1", None, t0()).unwrap();
        assert_eq!(signer, 1);
        plan.next_key = Some("not a key".into());
        assert!(matches!(
            Plan::open(&plan.seal(&old), &keys, "n1", None, t0()),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn each_rejection_is_typed() {
        let key = generate_key();
        let vk = key.verifying_key();
        let good = sample(3, "n1").seal(&key);

        let forged = sample(3, "n1").seal(&generate_key());
        assert_eq!(
            open1(&forged, &vk, "n1", None),
            Err(ProtocolError::BadSignature)
        );
        assert_eq!(
            open1(&good, &vk, "n1", Some(3)),
            Err(ProtocolError::OlderVersion { got: 3, current: 3 })
        );
        assert_eq!(
            open1(&good, &vk, "n1", Some(9)),
            Err(ProtocolError::OlderVersion { got: 3, current: 9 })
        );
        assert_eq!(
            open1(&good, &vk, "n2", None),
            Err(ProtocolError::OtherNode {
                expected: "n2".into(),
                got: "n1".into()
            })
        );
        let big = vec![b' '; MAX_PACKET_BYTES + 1];
        assert!(matches!(
            open1(&big, &vk, "n1", None),
            Err(ProtocolError::Oversize { .. })
        ));
        assert!(matches!(
            open1(b"{}", &vk, "n1", None),
            Err(ProtocolError::Malformed(_))
        ));
        let not_a_plan = envelope::seal(&serde_json::json!({"version": "x"}), &key);
        assert!(matches!(
            open1(&not_a_plan, &vk, "n1", None),
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
            open1(&p.seal(&key), &vk, "n1", None),
            Err(ProtocolError::Malformed(m)) if m.contains("twice")
        ));
        let mut p = sample(1, "n1");
        p.items[0].parts[1].media.sha256 = "XYZ".into();
        assert!(matches!(
            open1(&p.seal(&key), &vk, "n1", None),
            Err(ProtocolError::Malformed(m)) if m.contains("sha256")
        ));
        let mut p = sample(1, "n1");
        p.items[0].expires_at = p.items[0].start_at;
        assert!(open1(&p.seal(&key), &vk, "n1", None).is_err());
        let mut p = sample(1, "n1");
        p.items[0].parts.clear();
        assert!(matches!(
            open1(&p.seal(&key), &vk, "n1", None),
            Err(ProtocolError::Malformed(m)) if m.contains("parts")
        ));
        let mut p = sample(1, "n1");
        p.items[0].parts[2].language = Some("../x".into());
        assert!(open1(&p.seal(&key), &vk, "n1", None).is_err());
        let mut p = sample(1, "n1/../x");
        p.volume = 50;
        assert!(open1(&p.seal(&key), &vk, "n1/../x", None).is_err());
    }
}
