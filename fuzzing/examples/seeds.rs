//! Writes the protocol seeds of `fuzz/corpus/` (plans, event batches, states, acks), each as
//! a signed envelope under the fuzz targets' test key and as a bare body. Run it again when
//! the wire format changes: `cargo run -p loa-fuzzing --example seeds`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use loa_fuzzing::protocol::test_key;
use loa_protocol::envelope::public_key_b64;
use loa_protocol::{
    Ack, AfterPreempt, Event, EventBatch, EventBody, MediaRef, NodeState, Part, PartKind, Plan,
    PlanItem, Presence, Priority, Stage,
};
use serde::Serialize;
use std::path::{Path, PathBuf};

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let key = test_key();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap();

    let plan = sample_plan(t0);
    let empty = Plan {
        items: Vec::new(),
        next_key: None,
        ..plan.clone()
    };
    write(&corpus, "plan", "sealed", &plan.seal(&key));
    write(&corpus, "plan", "sealed-empty", &empty.seal(&key));
    write(&corpus, "plan", "body", &json(&plan));

    let batch = sample_batch(t0);
    write(&corpus, "event_batch", "sealed", &batch.seal(&key));
    write(&corpus, "event_batch", "body", &json(&batch));

    let online = NodeState {
        presence: Presence::Online,
        serial: 4,
        at: Some(t0),
        software: Some("0.1.0".into()),
        plan_version: Some(12),
        playing: Some("b1".into()),
        volume: Some(80),
        cache_bytes: Some(1 << 20),
        unacked_events: Some(3),
        device_error: Some("ALSA: device busy".into()),
        clock_offset_ms: Some(-42),
        uptime_secs: Some(3600),
        controller_keys: vec![public_key_b64(&key)],
        speaker_check: None,
        arch: None,
        update: None,
        ..NodeState::offline("n1", 2)
    };
    write(&corpus, "node_state", "sealed-online", &online.seal(&key));
    write(
        &corpus,
        "node_state",
        "sealed-will",
        &NodeState::offline("n1", 2).seal(&key),
    );
    write(&corpus, "node_state", "body-online", &json(&online));

    let ack = Ack {
        node: "n1".into(),
        seq: 42,
    };
    write(&corpus, "ack", "sealed", &ack.seal(&key));
    write(&corpus, "ack", "body", &json(&ack));
}

fn sample_plan(t0: DateTime<Utc>) -> Plan {
    let part = |kind, language: Option<&str>, sha: &str, ms| Part {
        kind,
        language: language.map(str::to_owned),
        media: MediaRef {
            sha256: sha.repeat(32),
            size: 1234,
            url: format!("http://controller/media/{sha}"),
            duration_ms: ms,
        },
        gain_db: -3.5,
    };
    // The key the fuzz targets also trust, announced as the next one.
    let next = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    Plan {
        version: 12,
        site: "xa-demo".into(),
        node: "n1".into(),
        issued_at: t0,
        valid_until: t0 + Duration::hours(72),
        next_key: Some(public_key_b64(&next)),
        volume: 80,
        after_preempt: AfterPreempt::Resume,
        speaker_check: None,
        release: None,
        items: vec![
            PlanItem {
                id: "b1".into(),
                title: "Bản tin sáng".into(),
                parts: vec![
                    part(PartKind::Chime, None, "cd", 1500),
                    part(PartKind::Recording, Some("vi"), "ab", 5000),
                    part(PartKind::Recording, Some("hmn"), "ef", 6000),
                ],
                start_at: t0 + Duration::hours(1),
                expires_at: t0 + Duration::hours(2),
                priority: Priority::Normal,
                volume: 100,
                stream: None,
            },
            PlanItem {
                id: "k7".into(),
                title: "Khẩn cấp: lũ".into(),
                parts: vec![part(PartKind::Recording, Some("vi"), "01", 9000)],
                start_at: t0,
                expires_at: t0 + Duration::minutes(30),
                priority: Priority::Emergency,
                volume: 100,
                stream: None,
            },
        ],
    }
}

fn sample_batch(t0: DateTime<Utc>) -> EventBatch {
    let event = |seq, body| Event { seq, at: t0, body };
    EventBatch {
        node: "n1".into(),
        events: vec![
            event(1, EventBody::PlanApplied { version: 12 }),
            event(
                2,
                EventBody::PlanRejected {
                    version: Some(11),
                    reason: "older".into(),
                },
            ),
            event(
                3,
                EventBody::Item {
                    item: "b1".into(),
                    stage: Stage::Playing,
                    reason: None,
                    start_error_ms: Some(-3),
                },
            ),
            event(
                4,
                EventBody::PartPlayed {
                    item: "b1".into(),
                    part: 1,
                    label: "vi".into(),
                },
            ),
            event(
                5,
                EventBody::Item {
                    item: "b1".into(),
                    stage: Stage::Failed,
                    reason: Some("media: connection refused".into()),
                    start_error_ms: None,
                },
            ),
        ],
    }
}

fn json<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(body).expect("a body serialises")
}

fn write(corpus: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir: PathBuf = corpus.join(target);
    std::fs::create_dir_all(&dir).expect("the corpus folder");
    std::fs::write(dir.join(name), bytes).expect("a seed");
}
