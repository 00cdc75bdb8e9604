//! How an item sounds from a village loudspeaker, heard through real ALSA: a node plays via
//! cpal into ALSA's `file` plugin (standing in for the loudspeaker), held to real time, and
//! every playback is appended to one stream, so the test hears what a villager would, in order.
//!
//! - the chime, then the announcement in each of the village's languages in its order;
//! - an emergency cutting in: the item fades out, the emergency plays, then the item resumes
//!   where it was cut (or replays from the chime), as the commune's policy says;
//! - the start error the node reports, checked against the time the test itself sees the first
//!   frame arrive.
//!
//! Each sound is a tone of its own pitch: chime 1320 Hz, Vietnamese 440 Hz, H'Mông 660 Hz, the
//! emergency 990 Hz.

mod common;

use chrono::{DateTime, Utc};
use common::{in_secs, start_node, stream_of, wait_settled, Output};
use loa_e2e::api::Api;
use loa_e2e::pcm::{write_tone, Run};
use loa_e2e::procs::{Broker, Controller, Node};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

const CHIME: f64 = 1320.0;
const VI: f64 = 440.0;
const HMN: f64 = 660.0;
const EMERGENCY: f64 = 990.0;

struct Village {
    _controller: Controller,
    api: Api,
    zone: i64,
    node: Node,
    /// Vietnamese (2 s) and H'Mông (2 s).
    announcement: i64,
    /// One second, no chime.
    emergency: i64,
}

async fn upload_tone(api: &Api, dir: &Path, name: &str, hz: f64, secs: f64, rate: u32) -> String {
    let path = dir.join(name);
    write_tone(&path, hz, secs, rate, 1).unwrap();
    api.upload(&path).await.unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A controller, a village hearing Vietnamese then H'Mông, its node, the commune's chime, and
/// the commune's policy for interrupted items (`resume` or `replay`).
async fn village(dir: &Path, after_preempt: &str, chime: bool) -> Village {
    let controller = Controller::start(&dir.join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let zone = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    api.put(
        &format!("/api/v1/zones/{zone}/languages"),
        json!({"languages": ["vi", "hmn"]}),
    )
    .await
    .unwrap();
    let tones = dir.join("tones");
    std::fs::create_dir_all(&tones).unwrap();
    let mut settings = json!({"after_preempt": after_preempt});
    if chime {
        settings["chime_media"] = upload_tone(&api, &tones, "chime.wav", CHIME, 0.5, 48_000)
            .await
            .into();
    }
    api.put("/api/v1/settings", settings).await.unwrap();
    let vi = upload_tone(&api, &tones, "vi.wav", VI, 2.0, 22_050).await;
    let hmn = upload_tone(&api, &tones, "hmn.wav", HMN, 2.0, 44_100).await;
    let a = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Thông báo tiêm phòng", "recordings": [
                {"language": "vi", "media_sha256": vi},
                {"language": "hmn", "media_sha256": hmn},
            ]}),
        )
        .await
        .unwrap();
    let e = upload_tone(&api, &tones, "lu.wav", EMERGENCY, 1.0, 48_000).await;
    let emergency = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Cảnh báo lũ", "media_sha256": e}),
        )
        .await
        .unwrap();
    let node = start_node(&api, dir, "na-sai-1", zone, Output::AlsaStream)
        .await
        .unwrap();
    Village {
        _controller: controller,
        api,
        zone,
        node,
        announcement: a["id"].as_i64().unwrap(),
        emergency: emergency["id"].as_i64().unwrap(),
    }
}

/// The delivery of the village's one node.
fn delivery(status: &Value) -> &Value {
    &status["deliveries"][0]
}

/// The sounds heard, in order, silences left out.
fn tones(runs: &[Run]) -> Vec<Run> {
    runs.iter().copied().filter(|r| r.hz > 0.0).collect()
}

#[track_caller]
fn assert_pitches(heard: &[Run], want: &[f64]) {
    let ok = heard.len() == want.len()
        && heard
            .iter()
            .zip(want)
            .all(|(r, hz)| (r.hz - hz).abs() <= hz * 0.06);
    assert!(ok, "heard {heard:?}, expected pitches {want:?}");
}

/// Plays the item, and an emergency one second after it starts; returns what was heard.
async fn cut_by_an_emergency(v: &Village) -> (Vec<Run>, Value) {
    let b = v
        .api
        .broadcast(json!({"announcement_id": v.announcement, "zones": [v.zone], "at": in_secs(4)}))
        .await
        .unwrap();
    v.api.wait_stage(b, "playing", LONG).await.unwrap();
    // Into the Vietnamese part: the chime (0.5 s) and the pause (0.4 s) are over.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let e = v
        .api
        .broadcast(json!({"announcement_id": v.emergency, "zones": [v.zone],
                          "priority": "emergency", "chime": false}))
        .await
        .unwrap();
    let item = wait_settled(&v.api, b, &["played"], LONG).await.unwrap();
    wait_settled(&v.api, e, &["played"], LONG).await.unwrap();
    let heard = tones(&stream_of(&v.node).unwrap().pitch_runs(0.05, 0.08));
    (heard, item)
}

#[tokio::test]
async fn the_chime_then_each_language_then_an_emergency_and_the_item_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let v = village(dir.path(), "resume", true).await;
    let (heard, item) = cut_by_an_emergency(&v).await;

    // Chime, Vietnamese cut short, the emergency, the rest of the Vietnamese, H'Mông.
    assert_pitches(&heard, &[CHIME, VI, EMERGENCY, VI, HMN]);
    assert!((heard[0].secs - 0.5).abs() < 0.05, "chime {heard:?}");
    assert!((heard[2].secs - 1.0).abs() < 0.05, "emergency {heard:?}");
    let vietnamese = heard[1].secs + heard[3].secs;
    assert!(
        (vietnamese - 2.0).abs() < 0.15,
        "resumed, not replayed: {vietnamese:.3} s of Vietnamese in all: {heard:?}"
    );
    assert!((heard[4].secs - 2.0).abs() < 0.05, "H'Mông {heard:?}");

    // The record: played, preempted on the way, each part with its time.
    let d = delivery(&item);
    assert_eq!(d["stage"], "played");
    assert!(d["times"]["preempted"].is_string(), "{d:#}");
    let parts: Vec<(&str, bool)> = d["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["label"].as_str().unwrap(), p["played_at"].is_string()))
        .collect();
    assert_eq!(parts, [("chime", true), ("vi", true), ("hmn", true)]);
}

#[tokio::test]
async fn with_the_replay_policy_the_interrupted_item_starts_again_from_the_chime() {
    let dir = tempfile::tempdir().unwrap();
    let v = village(dir.path(), "replay", true).await;
    let (heard, item) = cut_by_an_emergency(&v).await;
    assert_pitches(&heard, &[CHIME, VI, EMERGENCY, CHIME, VI, HMN]);
    assert!(heard[1].secs < 1.9, "cut short: {heard:?}");
    assert!((heard[4].secs - 2.0).abs() < 0.05, "whole again: {heard:?}");
    assert_eq!(delivery(&item)["stage"], "played");
}

#[tokio::test]
async fn the_reported_start_error_matches_when_the_first_frame_reaches_alsa() {
    let dir = tempfile::tempdir().unwrap();
    let v = village(dir.path(), "replay", false).await;
    let stream = v.node.home.clone().unwrap().join("stream.raw");
    let b = v
        .api
        .broadcast(json!({"announcement_id": v.announcement, "zones": [v.zone], "at": in_secs(4)}))
        .await
        .unwrap();
    let planned: DateTime<Utc> = v.api.broadcast_status(b).await.unwrap()["start_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The test's own clock: when the first byte of audio reaches the capture.
    let first = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if std::fs::metadata(&stream).is_ok_and(|m| m.len() > 0) {
                return Some(Utc::now());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        None
    })
    .await
    .unwrap()
    .expect("audio reached the capture");
    let status = wait_settled(&v.api, b, &["played"], LONG).await.unwrap();
    let reported = delivery(&status)["start_error_ms"].as_i64().unwrap();
    let seen = (first - planned).num_milliseconds();
    println!("start error: reported by the node {reported} ms, seen by the test {seen} ms");
    assert!(
        (seen - reported).abs() <= 100,
        "the node reports {reported} ms; the first frame reached ALSA {seen} ms after the instant"
    );
    assert!(
        (-20..=150).contains(&seen),
        "the first frame reached ALSA {seen} ms after its planned instant"
    );
}
