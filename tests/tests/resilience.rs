//! The field is hostile: nodes offline at broadcast time, power cuts on nodes and controller,
//! brokers that drop queued messages, garbage on the wire, media that cannot be fetched.
//! Nothing a node reports may be lost, and every delivery ends in a true state.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{with_key, Broker, Controller};
use loa_e2e::wait;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

/// A controller on a Mosquitto of its own, with `extra` lines of broker config.
async fn through_mosquitto(dir: &std::path::Path, extra: &str) -> (Mosquitto, Controller, Api) {
    let mosquitto = Mosquitto::start(&dir.join("mosquitto"), extra)
        .await
        .unwrap();
    let broker = Broker::External {
        url: mosquitto.url(),
        username: None,
        password: None,
    };
    let c = Controller::start(&dir.join("controller"), broker)
        .await
        .unwrap();
    let api = c.api();
    (mosquitto, c, api)
}

async fn embedded(dir: &std::path::Path) -> (Controller, Api) {
    let (c, api, _) = embedded_controller(dir).await;
    (c, api)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_node_plays_on_return_before_expiry_and_reports_missed_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, api) = embedded(dir.path()).await;
    let village = api.zone("Bản Mù", None).await.unwrap();
    let node = prepare_node(&api, dir.path(), "ban-mu", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api.announcement("Họp thôn", &fixture(TONE)).await.unwrap();
    // Expires 6 s from now: gone by the time the node is back.
    let late = api
        .broadcast(json!({"announcement_id": a, "zones": [village], "at": in_secs(-54), "expires_in_minutes": 1}))
        .await
        .unwrap();
    let ok = api
        .broadcast(json!({"announcement_id": a, "zones": [village]}))
        .await
        .unwrap();
    let expiry = api.broadcast_status(late).await.unwrap()["expires_at"]
        .as_str()
        .unwrap()
        .to_string();
    let expiry = chrono::DateTime::parse_from_rfc3339(&expiry).unwrap();
    wait::until(
        "the short broadcast to expire",
        Duration::from_secs(20),
        || async move { Ok((chrono::Utc::now() > expiry).then_some(())) },
    )
    .await
    .unwrap();

    let node = node.start().unwrap();
    wait_settled(&api, ok, &["played"], LONG).await.unwrap();
    let status = wait_settled(&api, late, &["missed"], LONG).await.unwrap();
    let reason = status["deliveries"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("expired"), "missed says why: {reason}");
    assert_eq!(wav_files(&node).len(), 1, "only the live broadcast played");
    wait_all_events_stored(&api, &node, LONG).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn no_event_is_lost_when_node_and_controller_lose_power() {
    let dir = tempfile::tempdir().unwrap();
    let (mut controller, api) = embedded(dir.path()).await;
    let village = api.zone("Thôn Phố Mới", None).await.unwrap();
    let mut node = start_node(&api, dir.path(), "pho-moi", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api
        .announcement("Lịch tiêm chủng", &fixture(TONE))
        .await
        .unwrap();
    let b = api
        .broadcast(json!({"announcement_id": a, "zones": [village], "at": in_secs(5)}))
        .await
        .unwrap();
    wait_settled(&api, b, &["ready"], LONG).await.unwrap();

    // The controller (and its embedded broker) dies before the item's instant.
    controller.kill();
    let n = &node;
    // Played to its end: the sink writes the WAV's length into its header when it finishes
    // (the file itself is there from the moment the sink opens, before the item's instant).
    let finished = |n: &loa_e2e::procs::Node| {
        wav_files(n)
            .iter()
            .filter(|p| hound::WavReader::open(p).is_ok_and(|r| r.duration() > 0))
            .count()
    };
    wait::until(
        "the node to play from its stored plan while cut off",
        LONG,
        || async move { Ok((finished(n) == 1).then_some(())) },
    )
    .await
    .unwrap();
    // Then the node loses power too, and comes back while the controller is still down.
    node.kill();
    node.restart().unwrap();
    controller.restart().await.unwrap();

    let status = wait_settled(&api, b, &["played"], LONG).await.unwrap();
    let times = status["deliveries"][0]["times"].as_object().unwrap();
    for step in ["planned", "received", "ready", "playing", "played"] {
        assert!(times.contains_key(step), "{step} was lost: {status:#}");
    }
    wait_all_events_stored(&api, &node, LONG).await.unwrap();
    assert_eq!(
        wav_files(&node).len(),
        1,
        "the reboot must not replay a played item"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_beyond_the_brokers_queue_while_the_controller_is_down_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A broker that queues only 20 messages for an offline client: most of the burst is dropped.
    let (_mosquitto, mut controller, api) =
        through_mosquitto(dir.path(), "max_queued_messages 20").await;
    let village = api.zone("Bản Sáng", None).await.unwrap();
    let node = start_node(&api, dir.path(), "ban-sang", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api
        .announcement("Tin ngắn", &fixture("tone-48000-stereo.flac"))
        .await
        .unwrap();
    // Far enough ahead that the node has everything, and the controller is down, by then.
    let start = chrono::Utc::now() + chrono::Duration::seconds(30);
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(
            api.broadcast(
                json!({"announcement_id": a, "zones": [village], "at": start.to_rfc3339()}),
            )
            .await
            .unwrap(),
        );
    }
    for id in &ids {
        wait_settled(&api, *id, &["ready"], LONG).await.unwrap();
    }
    controller.kill();
    assert!(
        chrono::Utc::now() < start,
        "test precondition: the controller must be down before the items start"
    );
    let n = &node;
    wait::until(
        "the node to play all 40 while the controller is down",
        LONG,
        || async move { Ok((wav_files(n).len() == 40).then_some(())) },
    )
    .await
    .unwrap();
    // The last item's playing and played events follow its file by a moment.
    wait::until(
        "the node to owe its 40 playing and 40 played events",
        LONG,
        || async move { Ok((events_unacked(n) >= 80).then_some(())) },
    )
    .await
    .unwrap();
    controller.restart().await.unwrap();

    for id in &ids {
        wait_settled(&api, *id, &["played"], LONG).await.unwrap();
    }
    let stored = wait_all_events_stored(&api, &node, LONG).await.unwrap();
    assert!(
        stored >= 200,
        "40 × (received, ready, playing, played) and the plans: {stored}"
    );
    let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap();
    assert!(
        log.contains("resending events the controller has not acknowledged"),
        "the broker dropped part of the burst, so the spool had to resend"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_on_any_topic_is_counted_and_ignored_and_a_forged_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mosquitto, controller, api) = through_mosquitto(dir.path(), "").await;
    let village = api.zone("Thôn Tân Lập", None).await.unwrap();
    let node = start_node(&api, dir.path(), "tan-lap", village, Output::WavFiles)
        .await
        .unwrap();
    let media = api.upload(&fixture(TONE)).await.unwrap();

    // An attacker (or a broken device) on the anonymous broker.
    let mut opts = MqttOptions::new("intruder", "127.0.0.1", mosquitto.port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, 32);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let root = "loa/v1/xa-demo/node";
    let other_nodes_batch = json!({"node": "someone-else", "events": []}).to_string();
    let ghost_batch = json!({"node": "ghost", "events": [{"seq": 1, "at": "2026-01-01T00:00:00Z", "kind": "plan_applied", "version": 1}]}).to_string();
    let forged = loa_protocol::Plan {
        version: 1_000_000,
        site: "xa-demo".into(),
        node: "tan-lap".into(),
        issued_at: chrono::Utc::now(),
        valid_until: chrono::Utc::now() + chrono::Duration::hours(1),
        next_key: None,
        volume: 100,
        after_preempt: loa_protocol::AfterPreempt::Replay,
        speaker_check: None,
        release: None,
        items: vec![loa_protocol::PlanItem {
            id: "o999".into(),
            title: "forged".into(),
            parts: vec![loa_protocol::Part {
                kind: loa_protocol::PartKind::Recording,
                language: Some("vi".into()),
                media: loa_protocol::MediaRef {
                    sha256: media["sha256"].as_str().unwrap().into(),
                    size: media["size"].as_u64().unwrap(),
                    url: format!(
                        "{}/media/{}",
                        controller.url,
                        media["sha256"].as_str().unwrap()
                    ),
                    duration_ms: 2000,
                },
                gain_db: 0.0,
            }],
            start_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            priority: loa_protocol::Priority::Emergency,
            volume: 100,
            stream: None,
        }],
    }
    .seal(&loa_protocol::generate_key());
    let messages: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{root}/tan-lap/events"),
            b"\x00\xffgarbage".to_vec(),
        ),
        (format!("{root}/tan-lap/state"), b"{not json".to_vec()),
        (
            format!("{root}/tan-lap/events"),
            other_nodes_batch.into_bytes(),
        ),
        (format!("{root}/ghost/events"), ghost_batch.into_bytes()),
        (format!("{root}/tan-lap/plan"), forged),
    ];
    for (topic, payload) in messages {
        let retain = topic.ends_with("/plan");
        client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .unwrap();
    }
    let url = format!("{}/metrics", controller.url);
    let text = wait::until(
        "the controller to count the garbage and the refused plan",
        LONG,
        || {
            let url = url.clone();
            async move {
                let text = reqwest::get(&url).await?.text().await?;
                let ok = metric(&text, "loa_malformed_messages_total") >= 3
                    && metric(&text, "loa_unknown_node_messages_total") >= 1
                    && metric(&text, "loa_plans_rejected_by_nodes_total") >= 1;
                Ok(ok.then_some(text))
            }
        },
    )
    .await
    .unwrap();
    assert!(metric(&text, "loa_malformed_messages_total") >= 3, "{text}");

    // Still working: a real broadcast plays, the forged emergency never did.
    let a = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Thật", "media_sha256": media["sha256"]}),
        )
        .await
        .unwrap();
    let b = api
        .broadcast(json!({"announcement_id": a["id"], "zones": [village]}))
        .await
        .unwrap();
    wait_settled(&api, b, &["played"], LONG).await.unwrap();
    assert_eq!(
        wav_files(&node).len(),
        1,
        "only the controller's broadcast played"
    );
    let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap();
    assert!(
        log.contains("bad signature"),
        "the node says why it refused the plan"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_cannot_fetch_the_media_reports_failed_retries_and_ends_missed() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, api) = embedded(dir.path()).await;
    let village = api.zone("Bản Khoang", None).await.unwrap();
    let mut prepared = prepare_node(&api, dir.path(), "ban-khoang", village, Output::WavFiles)
        .await
        .unwrap();
    prepared.config = with_key(&prepared.config, "media_token", "not-the-token".into()).unwrap();
    let node = prepared.start().unwrap();
    let a = api.announcement("Thông báo", &fixture(TONE)).await.unwrap();
    let b = api
        .broadcast(json!({"announcement_id": a, "zones": [village], "at": in_secs(-40), "expires_in_minutes": 1}))
        .await
        .unwrap();
    let failed = wait_settled(&api, b, &["failed"], LONG).await.unwrap();
    let reason = failed["deliveries"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("403") && reason.contains("token"),
        "the reason names the cause: {reason}"
    );
    let missed = wait_settled(&api, b, &["missed"], LONG).await.unwrap();
    let reason = missed["deliveries"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("expired") && reason.contains("token"),
        "{reason}"
    );
    let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap();
    let attempts = log.matches("media download failed; will retry").count();
    assert!(
        attempts >= 2,
        "the node retried until expiry ({attempts} attempts)"
    );
    assert!(wav_files(&node).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_registry_shows_a_node_online_then_offline_by_its_last_will_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, api) = embedded(dir.path()).await;
    let village = api.zone("Bản Lìm", None).await.unwrap();
    let mut prepared = prepare_node(&api, dir.path(), "ban-lim", village, Output::WavFiles)
        .await
        .unwrap();
    // A short keep-alive, so the broker notices the dead link in seconds.
    let mut cfg: toml::Table = toml::from_str(&prepared.config).unwrap();
    cfg["mqtt"]
        .as_table_mut()
        .unwrap()
        .insert("keep_alive_secs".into(), 5.into());
    prepared.config = toml::to_string(&cfg).unwrap();
    let mut node = prepared.start().unwrap();

    let presence = |want: &'static str| {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let v = api.get("/api/v1/nodes/ban-lim").await?;
                Ok((v["presence"] == want).then_some(v))
            }
        }
    };
    let online = wait::until("the node to report itself online", LONG, presence("online"))
        .await
        .unwrap();
    assert_eq!(online["state"]["software"], env!("CARGO_PKG_VERSION"));
    assert!(online["last_seen"].is_string());
    // Telemetry: its clock measured against the controller's (same machine here: near 0).
    let api2 = api.clone();
    let state = wait::until("the node to report its clock offset", LONG, || {
        let api = api2.clone();
        async move {
            let v = api.get("/api/v1/nodes/ban-lim").await?;
            Ok(v["state"]["clock_offset_ms"]
                .is_i64()
                .then(|| v["state"].clone()))
        }
    })
    .await
    .unwrap();
    let offset = state["clock_offset_ms"].as_i64().unwrap();
    assert!(
        offset.abs() < 1000,
        "offset {offset} ms between two clocks of one machine"
    );
    assert!(state["uptime_secs"].is_u64(), "{state}");

    node.kill();
    wait::until(
        "the broker to publish the node's last will",
        LONG,
        presence("offline"),
    )
    .await
    .unwrap();
}
