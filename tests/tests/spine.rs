//! The spine, end to end: a clerk's broadcast reaches a village loudspeaker through a real
//! broker and real ALSA, and every step comes back as a delivery record.

mod common;

use common::*;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{Broker, Controller};
use serde_json::json;
use std::time::Duration;

const STEPS: [&str; 5] = ["planned", "received", "ready", "playing", "played"];

/// Three villages, one node each, playing through real ALSA (captured); a broadcast to one
/// village plays there only, one to the commune plays everywhere, every step timestamped.
async fn village_then_commune(broker: Broker, dir: &std::path::Path) -> anyhow::Result<()> {
    let controller = Controller::start(&dir.join("controller"), broker).await?;
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await?;
    let mut nodes = Vec::new();
    for (i, village) in ["Thôn Nà Sài", "Bản Phiêng", "Thôn Cốc Lầy"]
        .iter()
        .enumerate()
    {
        let zone = api.zone(village, Some(commune)).await?;
        nodes.push((
            zone,
            start_node(
                &api,
                dir,
                &format!("thon-{}", i + 1),
                zone,
                Output::AlsaCapture,
            )
            .await?,
        ));
    }
    let announcement = api
        .announcement("Thông báo phòng chống lũ", &fixture(TONE))
        .await?;

    let first = api
        .broadcast(json!({"announcement_id": announcement, "zones": [nodes[0].0]}))
        .await?;
    let status = wait_settled(&api, first, &["played"], Duration::from_secs(60)).await?;
    let deliveries = status["deliveries"].as_array().unwrap();
    assert_eq!(
        deliveries.len(),
        1,
        "only the chosen village is targeted: {status:#}"
    );
    assert_eq!(deliveries[0]["node_id"], "thon-1");
    assert_eq!(deliveries[0]["zone"], "Xã Tả Lùng / Thôn Nà Sài");
    assert_heard_tone(&capture_of(&nodes[0].1));
    for (_, other) in &nodes[1..] {
        assert!(
            !capture_of(other).exists(),
            "{} played a broadcast meant for another village",
            other.id
        );
    }

    let second = api
        .broadcast(
            json!({"announcement_id": announcement, "zones": [commune], "priority": "priority"}),
        )
        .await?;
    let status = wait_settled(&api, second, &["played"], Duration::from_secs(60)).await?;
    let deliveries = status["deliveries"].as_array().unwrap();
    assert_eq!(
        deliveries.len(),
        3,
        "the commune is every village: {status:#}"
    );
    for d in deliveries {
        let times = d["times"].as_object().unwrap();
        for step in STEPS {
            assert!(
                times.contains_key(step),
                "{} has no {step} time: {d:#}",
                d["node_id"]
            );
        }
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(times[s].as_str().unwrap()).unwrap();
        assert!(
            t("playing") <= t("played") && t("planned") <= t("received"),
            "steps out of order: {d:#}"
        );
        assert!(
            d["start_error_ms"].is_i64(),
            "playing carries the start error: {d:#}"
        );
    }
    assert_eq!(status["summary"], json!({"played": 3}));
    for (_, node) in &nodes {
        assert_heard_tone(&capture_of(node));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn broadcast_plays_in_the_chosen_village_then_the_whole_commune_on_the_embedded_broker() {
    let dir = tempfile::tempdir().unwrap();
    village_then_commune(Broker::embedded(), dir.path())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn broadcast_plays_in_the_chosen_village_then_the_whole_commune_through_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start(&dir.path().join("mosquitto"), "")
        .await
        .unwrap();
    let broker = Broker::External {
        url: mosquitto.url(),
        username: None,
        password: None,
    };
    village_then_commune(broker, dir.path()).await.unwrap();
}
