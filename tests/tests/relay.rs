//! The relay, on real parts: a real Icecast (Debian's `icecast2`) fed by ffmpeg in real time
//! with a known recording, a real controller pulling it, and two nodes' worth of listeners on
//! `GET /streams/{id}` reading the Ogg Opus with a plain HTTP client and decoding it with
//! libopus. The station sees one listener however many nodes listen; what the nodes get
//! carries the recording (cross-correlation); when the station's source client or Icecast
//! itself is killed and restarted, the nodes' streams go on (silence meanwhile) and the gap is
//! bounded; the controller keeps what it sent as evidence.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{config_value, heard, is_of, relay_secs, wav_files, wav_node};
use loa_e2e::hls::{HlsStation, Segments};
use loa_e2e::icecast::{Codec, Feeder, Icecast, SOURCE_PASSWORD};
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::station::{
    correlation_with_recording, decode_ogg_opus, longest_silence, write_recording, RATE,
};
use loa_e2e::wait;
use serde_json::json;

const MOUNT: &str = "/dai-tinh";

/// A node's connection to `/streams/{id}`: every byte received, and whether the stream ended.
struct Listening {
    bytes: Arc<Mutex<Vec<u8>>>,
    ended: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    async fn start(url: String, token: String) -> Listening {
        let resp = reqwest::Client::new()
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the controller answers");
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.headers()["content-type"], "audio/ogg");
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(AtomicBool::new(false));
        let (b, e) = (bytes.clone(), ended.clone());
        let task = tokio::spawn(async move {
            let mut resp = resp;
            while let Ok(Some(chunk)) = resp.chunk().await {
                b.lock().unwrap().extend_from_slice(&chunk);
            }
            e.store(true, Ordering::SeqCst);
        });
        Listening { bytes, ended, task }
    }

    /// What arrived so far, decoded as a node would: 48 kHz mono.
    fn pcm(&self) -> Vec<f32> {
        decode_ogg_opus(&self.bytes.lock().unwrap())
    }

    async fn until_secs(&self, secs: f64, what: &str) {
        wait::until(what, Duration::from_secs(60), || {
            let n = self.pcm().len();
            async move { Ok((n as f64 >= secs * RATE as f64).then_some(())) }
        })
        .await
        .unwrap();
    }
}

/// Half a second of the last second and a half of what `l` heard carries the recording.
fn assert_carries_recording(l: &Listening, who: &str) {
    let pcm = l.pcm();
    let end = pcm.len() - RATE;
    let window = &pcm[end - RATE / 2..end];
    let c = correlation_with_recording(window);
    assert!(c > 0.8, "{who}: correlation with the recording is {c}");
}

async fn station_listeners(ice: &Icecast) -> Option<u64> {
    ice.listeners(MOUNT).await.ok().flatten()
}

async fn wait_station_listeners(ice: &Icecast, n: u64, what: &str) {
    wait::until(what, Duration::from_secs(30), || async {
        Ok((station_listeners(ice).await == Some(n)).then_some(()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}; icecast: {}", ice.log_tail()));
}

/// A station on Icecast, a controller with the source registered and two provisioned nodes'
/// media tokens.
/// A controller with the station at `url` registered as a source and relayed to a village
/// of two nodes for an hour: the controller, the source's id and the nodes' media tokens.
async fn relaying(dir: &Path, url: &str) -> (Controller, i64, Vec<String>) {
    let controller = Controller::start(&dir.join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = controller.api();
    let source = api.source("Đài tỉnh", url).await.unwrap();
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let mut tokens = Vec::new();
    for id in ["na-sai-1", "na-sai-2"] {
        let cfg = api.provision(id, id, zone, &dir.join(id)).await.unwrap();
        tokens.push(config_value(&cfg, &["media_token"]));
    }
    // A node may listen only to what its plan relays: an hour's relay, broadcast to the village.
    let relay = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Tiếp sóng Đài tỉnh", "relay": {"source_id": source, "seconds": 3600}}),
        )
        .await
        .unwrap();
    api.broadcast(json!({"announcement_id": relay["id"], "zones": [zone]}))
        .await
        .unwrap();
    (controller, source, tokens)
}

async fn station_and_controller(
    dir: &Path,
    codec: Codec,
) -> (Icecast, Feeder, Controller, i64, Vec<String>) {
    let recording = dir.join("dai-tinh.wav");
    write_recording(&recording).unwrap();
    let ice = Icecast::start(&dir.join("icecast")).await.unwrap();
    let feeder = Feeder::start(&ice, MOUNT, &recording, codec, &dir.join("ffmpeg.log")).unwrap();
    wait_station_listeners(&ice, 0, "the station's mount to be up").await;

    let (controller, source, tokens) = relaying(dir, &ice.url(MOUNT)).await;
    (ice, feeder, controller, source, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mp3_station_is_pulled_once_relayed_to_two_nodes_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ice, mut feeder, mut controller, source, tokens) =
        station_and_controller(dir.path(), Codec::Mp3).await;
    let url = format!("{}/streams/{source}", controller.url);

    let a = Listening::start(url.clone(), tokens[0].clone()).await;
    let b = Listening::start(url.clone(), tokens[1].clone()).await;
    a.until_secs(6.0, "6 s of the relay at node A").await;
    b.until_secs(6.0, "6 s of the relay at node B").await;

    // One upstream connection for two nodes.
    wait_station_listeners(&ice, 1, "the controller as the station's one listener").await;
    assert_carries_recording(&a, "node A");
    assert_carries_recording(&b, "node B");

    // The station's source client dies for a few seconds, then comes back.
    feeder.kill();
    let at_kill = a.pcm().len() as f64 / RATE as f64;
    a.until_secs(at_kill + 3.0, "3 s of the relay with the station down")
        .await;
    feeder.restart().unwrap();
    wait_station_listeners(&ice, 1, "the controller to reconnect to the station").await;
    a.until_secs(
        a.pcm().len() as f64 / RATE as f64 + 4.0,
        "4 s after the station came back",
    )
    .await;
    assert!(!a.ended.load(Ordering::SeqCst), "node A's stream ended");
    assert!(!b.ended.load(Ordering::SeqCst), "node B's stream ended");
    let after = &a.pcm()[(at_kill * RATE as f64) as usize..];
    let gap = longest_silence(after);
    // The source was away ~3 s; the controller retries within a few seconds of its return.
    assert!((1.0..=12.0).contains(&gap), "the gap lasted {gap} s");
    assert_carries_recording(&a, "node A after the source client's restart");

    // Icecast itself is killed and restarted on the same port.
    ice.restart().await.unwrap();
    feeder.restart().unwrap();
    let at_restart = a.pcm().len() as f64 / RATE as f64;
    wait_station_listeners(
        &ice,
        1,
        "the controller to reconnect to the restarted Icecast",
    )
    .await;
    a.until_secs(
        a.pcm().len() as f64 / RATE as f64 + 4.0,
        "4 s after Icecast came back",
    )
    .await;
    assert!(!a.ended.load(Ordering::SeqCst), "node A's stream ended");
    let gap = longest_silence(&a.pcm()[(at_restart * RATE as f64) as usize..]);
    assert!(gap <= 12.0, "the gap lasted {gap} s");
    assert_carries_recording(&a, "node A after Icecast's restart");
    assert_carries_recording(&b, "node B after Icecast's restart");
    assert_eq!(station_listeners(&ice).await, Some(1));

    // The controller stops (SIGTERM): the streams end, and what it sent is kept as evidence.
    let heard = a.pcm().len() as f64 / RATE as f64;
    let pid = controller.pid().expect("running");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    wait::until("the nodes' streams to end", Duration::from_secs(20), || {
        let done = a.ended.load(Ordering::SeqCst) && b.ended.load(Ordering::SeqCst);
        async move { Ok(done.then_some(())) }
    })
    .await
    .unwrap();
    let log = controller.log.clone();
    wait::until(
        "the relay's recording to be kept",
        Duration::from_secs(20),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            async move { Ok(text.contains("relay recording kept").then_some(())) }
        },
    )
    .await
    .unwrap();
    controller.restart().await.unwrap();
    let media = controller.api().get("/api/v1/media").await.unwrap();
    let kept = media
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["original_name"]
                .as_str()
                .is_some_and(|n| n.starts_with("relay-Đài tỉnh-"))
        })
        .unwrap_or_else(|| panic!("no relay recording in {media:#}"));
    assert_eq!(kept["codec"], "opus");
    let secs = kept["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        secs >= heard - 1.0 && secs <= heard + 5.0,
        "the recording lasts {secs} s; the nodes heard {heard} s"
    );
    a.task.abort();
    b.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aac_station_is_relayed_as_opus() {
    let dir = tempfile::tempdir().unwrap();
    let (ice, _feeder, controller, source, tokens) =
        station_and_controller(dir.path(), Codec::Aac).await;
    let a = Listening::start(
        format!("{}/streams/{source}", controller.url),
        tokens[0].clone(),
    )
    .await;
    a.until_secs(6.0, "6 s of the AAC relay").await;
    wait_station_listeners(&ice, 1, "the controller as the station's listener").await;
    assert_carries_recording(&a, "the node");
    a.task.abort();
}

#[tokio::test]
async fn a_stream_needs_a_node_media_token() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = controller.api();
    let source = api
        .post(
            "/api/v1/sources",
            json!({"name": "VOV1", "url": "http://127.0.0.1:9/vov1.mp3"}),
        )
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let url = format!("{}/streams/{source}", controller.url);
    let none = reqwest::get(&url).await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = reqwest::Client::new()
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_stations_in_ts_and_packed_segments_are_relayed() {
    for kind in [Segments::TsAac, Segments::PackedMp3] {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("dai-tinh.wav");
        write_recording(&recording).unwrap();
        let station = HlsStation::start(&dir.path().join("hls"), &recording, kind)
            .await
            .unwrap();
        let (controller, source, tokens) = relaying(dir.path(), &station.url()).await;
        let url = format!("{}/streams/{source}", controller.url);
        let l = Listening::start(url, tokens[0].clone()).await;
        l.until_secs(6.0, &format!("6 s of the {kind:?} station"))
            .await;
        let pcm = l.pcm();
        let end = pcm.len() - RATE;
        let c = correlation_with_recording(&pcm[end - RATE / 2..end]);
        assert!(
            c > 0.8,
            "{kind:?}: correlation with the recording is {c}\n{}",
            controller.log_tail()
        );
        l.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_handed_to_icecast_reaches_the_village_from_its_mount() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("dai-tinh.wav");
    write_recording(&recording).unwrap();
    let ice = Icecast::start(&dir.path().join("icecast")).await.unwrap();
    let _feeder = Feeder::start(
        &ice,
        MOUNT,
        &recording,
        Codec::Mp3,
        &dir.path().join("ffmpeg.log"),
    )
    .unwrap();
    wait_station_listeners(&ice, 0, "the station's mount to be up").await;
    // The controller hands its relays to an Icecast (here the station's own; in a province,
    // the province's), and the village pulls the relay from there.
    let handoff = format!("http://source:{SOURCE_PASSWORD}@127.0.0.1:{}", ice.port);
    let controller = Controller::start_with(
        &dir.path().join("controller"),
        Broker::embedded(),
        &[("LOA_RELAY_ICECAST_URL", handoff.as_str())],
    )
    .await
    .unwrap();
    let api = controller.api();
    let source = api.source("Đài tỉnh", &ice.url(MOUNT)).await.unwrap();
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let node = wav_node(&api, dir.path(), "na-sai-1", zone).await;
    common::wait_presence(&api, "na-sai-1", "online")
        .await
        .unwrap();
    let relay = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Tiếp sóng Đài tỉnh", "relay": {"source_id": source, "seconds": 60}}),
        )
        .await
        .unwrap();
    let slot = chrono::Utc::now() + chrono::Duration::seconds(4);
    let broadcast = api
        .broadcast(
            json!({"announcement_id": relay["id"], "zones": [zone], "at": slot.to_rfc3339()}),
        )
        .await
        .unwrap();
    let item = format!("o{broadcast}");
    let mount = format!("/loa-xa-demo-{source}.ogg");
    wait::until(
        "4 s of the relay in Nà Sài",
        Duration::from_secs(40),
        || {
            let s = relay_secs(&node, &item);
            async move { Ok((s >= 4.0).then_some(())) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", node.log_tail(), controller.log_tail()));
    // The village listens at Icecast's mount, not at the controller.
    assert_eq!(ice.listeners(&mount).await.unwrap(), Some(1), "{mount}");
    let first = wav_files(&node)
        .into_iter()
        .find(|p| is_of(p, &item))
        .unwrap();
    let pcm = heard(&first);
    let end = pcm.len() - RATE / 2;
    let c = correlation_with_recording(&pcm[end - RATE..end]);
    assert!(c > 0.8, "correlation with the station is {c}");
}
