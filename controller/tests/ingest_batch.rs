//! Messages that arrive together are stored in one transaction: each is still checked on its
//! own (a forged or replayed one is refused and reported, the others are taken), and states of
//! one node in the same batch are taken in order.

mod common;

use chrono::Utc;
use common::Harness;
use loa_protocol::{Event, EventBatch, EventBody, NodeState, Presence, Stage};
use rumqttc::{Publish, QoS};
use serde_json::Value;

fn received(item: &str, seq: u64) -> Event {
    Event {
        seq,
        at: Utc::now(),
        body: EventBody::Item {
            item: item.into(),
            stage: Stage::Received,
            reason: None,
            start_error_ms: None,
        },
    }
}

fn publish(topic: String, payload: Vec<u8>) -> Publish {
    Publish::new(topic, QoS::AtLeastOnce, payload)
}

#[tokio::test]
async fn a_batch_takes_what_is_true_and_refuses_the_rest_one_by_one() {
    let h = Harness::new().await;
    let village = h.zone("Bản Lướt", None).await;
    h.node("luot-1", village).await;
    h.node("luot-2", village).await;
    let a = h.announcement("Tiêm phòng").await;
    let id = h.broadcast(&Value::from(a), &[village], None).await;
    let item = loa_protocol::item_id(id);
    let (key1, key2) = (h.node_key("luot-1").await, h.node_key("luot-2").await);
    let topics = h.topics();
    let batch = |node: &str, key, seq| {
        EventBatch {
            node: node.into(),
            events: vec![received(&item, seq)],
        }
        .seal(key)
    };
    let state = |serial: u64, presence: Presence| {
        let mut s = NodeState::offline("luot-1", 7);
        s.presence = presence;
        s.serial = serial;
        s.seal(&key1)
    };

    let ingest = h.ingest_side();
    ingest
        .handle_many(
            vec![
                publish(topics.events("luot-1"), batch("luot-1", &key1, 1)),
                // luot-1 speaking for luot-2: refused, luot-2's own batch still taken.
                publish(topics.events("luot-2"), batch("luot-2", &key1, 1)),
                publish(topics.events("luot-2"), batch("luot-2", &key2, 1)),
                // Two states in order, then the first again: the replay is refused.
                publish(topics.state("luot-1"), state(1, Presence::Offline)),
                publish(topics.state("luot-1"), state(2, Presence::Online)),
                publish(topics.state("luot-1"), state(1, Presence::Offline)),
            ],
            Utc::now(),
        )
        .await;

    let b = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(b["summary"], serde_json::json!({ "received": 2 }), "{b}");
    let node = h.get("/api/v1/nodes/luot-1").await.json();
    assert_eq!(node["presence"], "online", "{node}");
    let reports = h.get("/api/v1/security/reports").await.json();
    let mut kinds: Vec<(String, String, u64)> = reports
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| {
            (
                r["node_id"].as_str().unwrap_or_default().to_string(),
                r["kind"].as_str().unwrap_or_default().to_string(),
                r["count"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("luot-1".to_string(), "state_replayed".to_string(), 1),
            ("luot-2".to_string(), "events_refused".to_string(), 1),
        ],
        "{reports}"
    );
}

#[tokio::test]
async fn stored_events_are_acknowledged_signed_and_retained_only_up_to_the_first_gap() {
    let h = Harness::new().await;
    let village = h.zone("Bản Lướt", None).await;
    h.node("luot-1", village).await;
    let a = h.announcement("Tiêm phòng").await;
    let id = h.broadcast(&Value::from(a), &[village], None).await;
    let item = loa_protocol::item_id(id);
    let key = h.node_key("luot-1").await;
    let topics = h.topics();
    let batch = |seqs: &[u64]| {
        EventBatch {
            node: "luot-1".into(),
            events: seqs.iter().map(|&s| received(&item, s)).collect(),
        }
        .seal(&key)
    };
    let acks = |sent: Vec<loa_controller::mqtt::outbox::Message>| -> Vec<u64> {
        let controller = h.state.planner.keys().current().verifying_key();
        sent.iter()
            .filter(|m| m.topic == topics.ack("luot-1"))
            .map(|m| {
                assert!(m.retain, "acks are retained");
                loa_protocol::Ack::open(&m.payload, &[controller], "luot-1")
                    .expect("an ack signed by the controller")
                    .seq
            })
            .collect()
    };
    let ingest = h.ingest_side();
    // 1 and 3 arrive; 2 is missing: the ack covers 1 only.
    ingest
        .handle_many(
            vec![publish(topics.events("luot-1"), batch(&[1, 3]))],
            Utc::now(),
        )
        .await;
    assert_eq!(acks(h.published().await), [1]);
    // 2 fills the gap: the ack moves to 3.
    ingest
        .handle_many(
            vec![publish(topics.events("luot-1"), batch(&[2]))],
            Utc::now(),
        )
        .await;
    assert_eq!(acks(h.published().await), [1, 3]);
}
