//! A relay as staff make one: a relay announcement ("Tiếp sóng Đài tỉnh", 14 s) broadcast to
//! one village, on real parts: a real Icecast fed by ffmpeg with a known recording, a real
//! controller pulling it once, and two real village nodes writing what they play to WAV
//! files. The village in the broadcast plays the station from the controller's stream and
//! reports `played` at the relay's end; the other village plays nothing. A file emergency in
//! the middle of the relay interrupts it; the relay comes back on air after it (live: nothing
//! to replay) and both are reported. When the relay stops, what it sent is kept and linked to
//! the broadcast, and staff can play it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{fixture, heard, is_of, relay_secs, wav_files, wav_node, TONE};
use loa_e2e::icecast::{Codec, Feeder, Icecast};
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::station::{correlation_with_recording, write_recording, RATE};
use loa_e2e::wait;
use serde_json::json;

const MOUNT: &str = "/dai-tinh";
const RELAY_SECS: u64 = 14;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_broadcast_plays_the_station_in_its_village_and_resumes_after_an_emergency() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let recording = root.join("dai-tinh.wav");
    write_recording(&recording).unwrap();
    let ice = Icecast::start(&root.join("icecast")).await.unwrap();
    let _feeder = Feeder::start(
        &ice,
        MOUNT,
        &recording,
        Codec::Mp3,
        &root.join("ffmpeg.log"),
    )
    .unwrap();

    // The relay stops (and keeps its recording) 2 s after the last village left, not 30.
    let controller = Controller::start_with(
        &root.join("controller"),
        Broker::embedded(),
        &[("LOA_RELAY_LINGER_SECS", "2")],
    )
    .await
    .unwrap();
    let api = controller.api();
    let source = api.source("Đài tỉnh", &ice.url(MOUNT)).await.unwrap();
    let (na_sai, phieng) = (
        api.zone("Thôn Nà Sài", None).await.unwrap(),
        api.zone("Bản Phiêng", None).await.unwrap(),
    );
    let a = wav_node(&api, root, "na-sai-1", na_sai).await;
    let b = wav_node(&api, root, "phieng-1", phieng).await;
    for id in ["na-sai-1", "phieng-1"] {
        common::wait_presence(&api, id, "online").await.unwrap();
    }

    // Out of range and contradictory relays are refused, with the reason.
    let short = api
        .post(
            "/api/v1/announcements",
            json!({"title": "x", "relay": {"source_id": source, "seconds": 5}}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(short.contains("announcement.relay_length"), "{short}");

    let relay = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Tiếp sóng Đài tỉnh", "relay": {"source_id": source, "seconds": RELAY_SECS}}),
        )
        .await
        .unwrap();
    assert_eq!(relay["relay"]["source_id"], source);
    assert!(relay["media_sha256"].is_null(), "{relay}");
    // Its slot 8 s ahead: the controller connects to the station 5 s before it.
    let slot = chrono::Utc::now() + chrono::Duration::seconds(8);
    let broadcast = api
        .broadcast(
            json!({"announcement_id": relay["id"], "zones": [na_sai], "at": slot.to_rfc3339()}),
        )
        .await
        .unwrap();
    let item = format!("o{broadcast}");
    let status = api.broadcast_status(broadcast).await.unwrap();
    let nodes: Vec<&str> = status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["na-sai-1"], "only the chosen village");

    // 3 s of the station on air, then a file emergency.
    wait::until(
        "3 s of the relay in Nà Sài",
        Duration::from_secs(30),
        || {
            let s = relay_secs(&a, &item);
            async move { Ok((s >= 3.0).then_some(())) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", a.log_tail()));
    // The station is on air within 5 s of the slot (the target): the first loud sample of
    // the village's playback, placed by the node's own first frame (slot + start error).
    let playing = api.broadcast_status(broadcast).await.unwrap();
    let start_error = playing["deliveries"][0]["start_error_ms"]
        .as_i64()
        .expect("the node measured its start");
    let first = wav_files(&a).into_iter().find(|p| is_of(p, &item)).unwrap();
    let loud = heard(&first)
        .iter()
        .position(|s| s.abs() > 0.05)
        .expect("the station in the first playback");
    let slot_to_sound = start_error as f64 / 1000.0 + loud as f64 / RATE as f64;
    eprintln!("slot to first sound: {slot_to_sound:.3} s (start error {start_error} ms)");
    assert!(
        (0.0..5.0).contains(&slot_to_sound),
        "the station came {slot_to_sound} s after the slot"
    );
    let flood = api.announcement("Báo lũ", &fixture(TONE)).await.unwrap();
    let emergency = api
        .broadcast(json!({"announcement_id": flood, "zones": [na_sai], "priority": "emergency"}))
        .await
        .unwrap();
    api.wait_stage(emergency, "played", Duration::from_secs(30))
        .await
        .unwrap();
    let d = api
        .wait_stage(broadcast, "played", Duration::from_secs(RELAY_SECS + 30))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", a.log_tail()));
    assert_eq!(d["node_id"], "na-sai-1");

    // The relay's playbacks: one cut by the emergency, one after it; both carry the station.
    let relays: Vec<PathBuf> = wav_files(&a)
        .into_iter()
        .filter(|p| is_of(p, &item))
        .collect();
    assert_eq!(
        relays.len(),
        2,
        "the relay before and after the emergency: {relays:?}"
    );
    for p in &relays {
        let pcm = heard(p);
        assert!(pcm.len() > RATE, "{p:?} holds {} samples", pcm.len());
        let end = pcm.len() - RATE / 2;
        let c = correlation_with_recording(&pcm[end - RATE / 2..end]);
        assert!(c > 0.8, "{p:?}: correlation with the station is {c}");
    }
    let total = relay_secs(&a, &item);
    assert!(
        total > RELAY_SECS as f64 - 6.0 && total < RELAY_SECS as f64 + 1.0,
        "{total} s of relay for a {RELAY_SECS} s slot with a 2 s emergency in it"
    );
    assert_eq!(
        wav_files(&a)
            .iter()
            .filter(|p| is_of(p, &format!("o{emergency}")))
            .count(),
        1,
        "the emergency played once"
    );
    // What the villages were sent is kept and linked to the broadcast, for officials to hear.
    let kept = common::kept_recording(&api, &controller, broadcast).await;
    let sha = kept["media_sha256"].as_str().unwrap();
    let media = api.get(&format!("/api/v1/media/{sha}")).await.unwrap();
    assert_eq!(media["codec"], "opus");
    assert!(
        media["duration_ms"].as_f64().unwrap() / 1000.0 >= RELAY_SECS as f64 - 4.0,
        "the recording covers the relay: {media}"
    );
    let audio = reqwest::Client::new()
        .get(format!("{}/api/v1/media/{sha}/audio", controller.url))
        .bearer_auth(&controller.token)
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/ogg");

    // One listener at the station for the whole commune; the other village heard nothing.
    assert!(wav_files(&b).is_empty(), "{:?}", wav_files(&b));
    assert!(
        ice.listeners(MOUNT).await.unwrap().unwrap_or(0) <= 1,
        "the station sees at most the controller"
    );
}
