//! A live session as a clerk makes one, on real parts: Chromium with a WAV file as its
//! microphone (the station's five-tone recording stands in for a voice), the "Phát trực tiếp"
//! page, a real controller, and three real village nodes writing what they play to WAV files.
//!
//! The clerk speaks to two villages of three: both play the microphone (matched by
//! cross-correlation), the third plays nothing; the page shows each village's state; stop ends
//! it everywhere and each delivery ends `played`; what the villages were sent is kept, linked
//! to the broadcast, and matches the microphone. A second session's tab is closed mid-session:
//! the controller ends it within its timeout (5 s without sound), and the village stops.
//!
//! A session from the controller's own sound card: ALSA's `file` plugin reads the recording as
//! the centre's mixer input (held to real time by `[live] capture_pace`: the plugin has no
//! clock), and the village plays it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{heard, is_of, relay_secs, wav_files, wav_node};
use loa_e2e::browser::Browser;
use loa_e2e::procs::{Broker, Controller, Node};
use loa_e2e::station::{correlation_with_recording, decode_ogg_opus, write_recording, RATE};
use loa_e2e::{api::Api, wait};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(40);

/// Starts a session on the page for the zones, at `priority`; returns the session.
async fn start_on_page(b: &Browser, api: &Api, base: &str, zones: &[i64], priority: &str) -> Value {
    b.goto(&format!("{base}/ui/broadcasts/live")).await.unwrap();
    for z in zones {
        b.click(&format!("[data-test=zone-choice][value=\"{z}\"]"))
            .await
            .unwrap();
    }
    b.select("#live-priority", priority).await.unwrap();
    b.click("#live-start").await.unwrap();
    b.wait_js(
        "the page on air",
        "document.querySelector('#live-panel').dataset.state === 'on-air'",
    )
    .await
    .unwrap();
    let id = b
        .find("#live-panel")
        .await
        .unwrap()
        .attr("data-session")
        .await
        .unwrap()
        .expect("the panel names its session");
    api.get(&format!("/api/v1/live/{id}")).await.unwrap()
}

/// Waits until `node` has played `secs` of `item`.
async fn wait_played(node: &Node, item: &str, secs: f64) {
    wait::until(&format!("{secs} s of {item} on {}", node.id), WAIT, || {
        let s = relay_secs(node, item);
        async move { Ok((s >= secs).then_some(())) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", node.log_tail()));
}

/// The correlation with the microphone of the last second of `node`'s playback of `item`,
/// leaving out its last 300 ms (the fade).
fn match_of(node: &Node, item: &str) -> f32 {
    let files: Vec<_> = wav_files(node)
        .into_iter()
        .filter(|p| is_of(p, item))
        .collect();
    assert_eq!(files.len(), 1, "one playback of {item}: {files:?}");
    let pcm = heard(&files[0]);
    assert!(
        pcm.len() > 2 * RATE,
        "{:?}: {} samples",
        files[0],
        pcm.len()
    );
    let end = pcm.len() - RATE * 3 / 10;
    correlation_with_recording(&pcm[end - RATE..end])
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_speaks_live_from_the_page_to_two_villages_of_three() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let microphone = root.join("microphone.wav");
    write_recording(&microphone).unwrap();
    let controller = Controller::start_with(
        &root.join("controller"),
        Broker::embedded(),
        &[("LOA_RELAY_LINGER_SECS", "2")],
    )
    .await
    .unwrap();
    let api = controller.api();
    let zones = [
        api.zone("Thôn Nà Sài", None).await.unwrap(),
        api.zone("Bản Phiêng", None).await.unwrap(),
        api.zone("Bản Mới", None).await.unwrap(),
    ];
    let mut nodes = Vec::new();
    for (id, zone) in ["na-sai-1", "phieng-1", "ban-moi-1"].iter().zip(zones) {
        nodes.push(wav_node(&api, root, id, zone).await);
    }
    for n in &nodes {
        common::wait_presence(&api, &n.id, "online").await.unwrap();
    }
    api.account("can-bo", "operator").await.unwrap();
    let b = Browser::with_microphone(&microphone).await.unwrap();
    b.sign_in(&controller.url, "can-bo").await.unwrap();

    // The broadcasts page leads to it.
    b.goto(&format!("{}/ui/broadcasts", controller.url))
        .await
        .unwrap();
    b.find("#open-live").await.unwrap();

    let session = start_on_page(&b, &api, &controller.url, &zones[..2], "priority").await;
    let item = format!("o{}", session["broadcast_id"]);
    assert_eq!(session["started_by"], "can-bo");
    assert_eq!(session["broadcast"]["priority"], "priority");
    for n in &nodes[..2] {
        wait_played(n, &item, 4.0).await;
    }
    // The page shows both villages on air, and the microphone's level.
    b.wait_js(
        "both villages playing on the page",
        "document.querySelectorAll('[data-test=live-village][data-stage=playing]').length === 2",
    )
    .await
    .unwrap();
    b.wait_js(
        "the microphone's level",
        "document.querySelector('#live-level').value > 0.2",
    )
    .await
    .unwrap();
    b.screenshot("live-on-air").await.unwrap();

    b.click("#live-stop").await.unwrap();
    b.wait_js(
        "the page says it ended",
        "document.querySelector('#live-panel').dataset.state === 'ended'",
    )
    .await
    .unwrap();
    let id = session["id"].as_i64().unwrap();
    let broadcast = session["broadcast_id"].as_i64().unwrap();
    let ended = wait::until("both deliveries played", WAIT, || async {
        let v = api.get(&format!("/api/v1/live/{id}")).await?;
        let played = v["broadcast"]["deliveries"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|d| d["stage"] == "played").count());
        Ok((played == 2).then_some(v))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", controller.log_tail()));
    assert_eq!(ended["end_reason"], "stopped by can-bo");
    for n in &nodes[..2] {
        let c = match_of(n, &item);
        assert!(c > 0.8, "{}: correlation with the microphone is {c}", n.id);
    }
    assert!(
        wav_files(&nodes[2]).is_empty(),
        "Bản Mới was not chosen: {:?}",
        wav_files(&nodes[2])
    );

    // What the villages were sent is kept with the broadcast, and is the microphone.
    let kept = common::kept_recording(&api, &controller, broadcast).await;
    let sha = kept["media_sha256"].as_str().unwrap();
    let ogg = reqwest::Client::new()
        .get(format!("{}/api/v1/media/{sha}/audio", controller.url))
        .bearer_auth(&controller.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let sent = decode_ogg_opus(&ogg);
    let (kept_secs, played) = (
        sent.len() as f64 / RATE as f64,
        relay_secs(&nodes[0], &item),
    );
    assert!(
        kept_secs > played - 1.0,
        "{kept_secs} s kept, {played} s played in Nà Sài"
    );
    let end = sent.len() - RATE / 2;
    let c = correlation_with_recording(&sent[end - RATE..end]);
    assert!(
        c > 0.8,
        "the kept recording's correlation with the microphone is {c}"
    );

    // A second session whose tab is closed: ended within the timeout, the village stops.
    let second = start_on_page(&b, &api, &controller.url, &zones[..1], "normal").await;
    let item2 = format!("o{}", second["broadcast_id"]);
    wait_played(&nodes[0], &item2, 2.0).await;
    b.close().await.unwrap();
    let gone = Instant::now();
    let id2 = second["id"].as_i64().unwrap();
    let over = wait::until("the second session to end", WAIT, || async {
        let v = api.get(&format!("/api/v1/live/{id2}")).await?;
        Ok((!v["ended_at"].is_null()).then_some(v))
    })
    .await
    .unwrap();
    let took = gone.elapsed();
    assert!(
        took < Duration::from_secs(9),
        "ended {took:?} after the tab closed"
    );
    let why = over["end_reason"].as_str().unwrap();
    assert!(why.contains("sent nothing for 5 s"), "{why}");
    let d = wait::until("the second delivery to end", WAIT, || async {
        let v = api
            .broadcast_status(second["broadcast_id"].as_i64().unwrap())
            .await?;
        let d = v["deliveries"][0].clone();
        Ok((d["stage"] == "played" || d["stage"] == "cancelled").then_some(d))
    })
    .await
    .unwrap();
    assert_eq!(d["stage"], "played", "{d}");
    let file = wav_files(&nodes[0])
        .into_iter()
        .find(|p| is_of(p, &item2))
        .unwrap();
    let before = size(&file);
    // Nothing more comes: that takes a wait with no event to wait for.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(size(&file), before, "the village stopped playing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_the_controllers_sound_card_reaches_the_village() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A minute of the recording as the mixer's input, 16-bit mono at 48 kHz.
    let raw = root.join("mixer.raw");
    let cycle = loa_e2e::station::cycle();
    let bytes: Vec<u8> = (0..15)
        .flat_map(|_| cycle.iter())
        .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
        .collect();
    std::fs::write(&raw, bytes).unwrap();
    let home = root.join("controller-home");
    loa_e2e::alsa::write_input_asoundrc(&home, "loa_mixer", &raw).unwrap();
    let controller = Controller::start_with(
        &root.join("controller"),
        Broker::embedded(),
        &[
            ("HOME", home.to_str().unwrap()),
            ("LOA_LIVE_CAPTURE_DEVICE", "loa_mixer"),
            ("LOA_LIVE_CAPTURE_PACE", "true"),
            ("LOA_RELAY_LINGER_SECS", "2"),
        ],
    )
    .await
    .unwrap();
    let api = controller.api();
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let node = wav_node(&api, root, "na-sai-1", zone).await;
    common::wait_presence(&api, "na-sai-1", "online")
        .await
        .unwrap();

    let session = api
        .post(
            "/api/v1/live",
            serde_json::json!({"zones": [zone], "input": "sound_card", "priority": "priority"}),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", controller.log_tail()));
    let item = format!("o{}", session["broadcast_id"]);
    wait_played(&node, &item, 4.0).await;
    api.post(
        &format!("/api/v1/live/{}/stop", session["id"]),
        serde_json::json!(null),
    )
    .await
    .unwrap();
    api.wait_stage(session["broadcast_id"].as_i64().unwrap(), "played", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", node.log_tail()));
    let c = match_of(&node, &item);
    assert!(c > 0.8, "correlation with the mixer's input is {c}");
}
