//! Shared setup for the end-to-end tests: a commune with villages and capturing nodes.

#![allow(dead_code)]

use loa_e2e::alsa::{self, CAPTURE_PCM};
use loa_e2e::api::Api;
use loa_e2e::procs::{with_audio, Broker, Controller, Node};
use loa_e2e::wait;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository's test audio.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node/tests/fixtures")
        .join(name)
}

/// The tone every broadcast test plays: 2.0 s, 44.1 kHz stereo MP3, audible throughout.
pub const TONE: &str = "tone-44100-stereo.mp3";
pub const TONE_SECS: f64 = 2.0;

/// How a node in a test plays.
pub enum Output {
    /// Real ALSA through cpal, captured by the `file` plugin into `{dir}/home/capture.wav`.
    AlsaCapture,
    /// One WAV file per playback in `{dir}/wav`.
    WavFiles,
    /// Real ALSA through cpal, held to real time (`pace = true`), every playback appended to
    /// `{dir}/home/stream.raw` (see `alsa::write_stream_asoundrc`).
    AlsaStream,
}

/// A provisioned node, not started yet.
pub struct Prepared {
    pub id: String,
    pub dir: PathBuf,
    pub config: String,
    pub home: Option<PathBuf>,
}

impl Prepared {
    pub fn start(&self) -> anyhow::Result<Node> {
        Node::start(&self.id, &self.dir, &self.config, self.home.as_deref())
    }
}

/// Provisions node `id` in `zone` and starts it.
pub async fn start_node(
    api: &Api,
    root: &Path,
    id: &str,
    zone: i64,
    output: Output,
) -> anyhow::Result<Node> {
    prepare_node(api, root, id, zone, output).await?.start()
}

/// Provisions node `id` in `zone` and writes its config for the chosen output.
pub async fn prepare_node(
    api: &Api,
    root: &Path,
    id: &str,
    zone: i64,
    output: Output,
) -> anyhow::Result<Prepared> {
    let dir = root.join(id);
    let cfg = api
        .provision(id, &format!("Cụm loa {id}"), zone, &dir.join("data"))
        .await?;
    let (cfg, home) = match output {
        Output::AlsaCapture => {
            let home = dir.join("home");
            std::fs::create_dir_all(&home)?;
            alsa::write_capture_asoundrc(&home, &home.join("capture.wav"))?;
            let audio = toml::toml! { sink = "cpal" };
            let mut audio = audio;
            audio.insert("device".into(), CAPTURE_PCM.into());
            (with_audio(&cfg, audio)?, Some(home))
        }
        Output::AlsaStream => {
            let home = dir.join("home");
            std::fs::create_dir_all(&home)?;
            alsa::write_stream_asoundrc(&home, &home.join("stream.raw"))?;
            let mut audio = toml::toml! { sink = "cpal"
            pace = true };
            audio.insert("device".into(), CAPTURE_PCM.into());
            (with_audio(&cfg, audio)?, Some(home))
        }
        Output::WavFiles => {
            let mut audio = toml::toml! { sink = "wav" };
            audio.insert(
                "wav_dir".into(),
                dir.join("wav").display().to_string().into(),
            );
            (with_audio(&cfg, audio)?, None)
        }
    };
    Ok(Prepared {
        id: id.to_string(),
        dir,
        config: cfg,
        home,
    })
}

/// Events the node has numbered so far (its spool's next sequence number minus one).
pub fn events_numbered(node: &Node) -> u64 {
    std::fs::read_to_string(node.dir.join("data/spool/next_seq"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(0, |n| n - 1)
}

/// Events still in the node's spool, not yet acknowledged by the controller.
pub fn events_unacked(node: &Node) -> usize {
    std::fs::read_dir(node.dir.join("data/spool"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until the controller has stored every event the node numbered, and the node has
/// emptied its spool: nothing lost, nothing left owing.
pub async fn wait_all_events_stored(
    api: &Api,
    node: &Node,
    timeout: Duration,
) -> anyhow::Result<u64> {
    wait::until(
        &format!("every event of {} stored and acknowledged", node.id),
        timeout,
        || async {
            let v = api.get(&format!("/api/v1/nodes/{}", node.id)).await?;
            let acked = v["acked_seq"].as_u64().unwrap_or(0);
            let numbered = events_numbered(node);
            Ok((numbered > 0 && acked == numbered && events_unacked(node) == 0).then_some(acked))
        },
    )
    .await
}

/// An RFC 3339 instant `secs` from now (negative: in the past).
pub fn in_secs(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

/// The capture file of a node started with [`Output::AlsaCapture`].
pub fn capture_of(node: &Node) -> PathBuf {
    node.home
        .as_ref()
        .expect("an ALSA node")
        .join("capture.wav")
}

/// What a node started with [`Output::AlsaStream`] has played so far, in order.
pub fn stream_of(node: &Node) -> anyhow::Result<loa_e2e::pcm::Pcm> {
    let path = node.home.as_ref().expect("an ALSA node").join("stream.raw");
    loa_e2e::pcm::read_raw(&path, alsa::STREAM_RATE, alsa::STREAM_CHANNELS)
}

/// The WAV files a node started with [`Output::WavFiles`] has written.
pub fn wav_files(node: &Node) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(node.dir.join("wav"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits until every delivery of `broadcast` is in one of `stages`; returns the status.
pub async fn wait_settled(
    api: &Api,
    broadcast: i64,
    stages: &[&str],
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let what = format!("broadcast {broadcast} to reach {stages:?} everywhere");
    let r = wait::until(&what, timeout, || async {
        let v = api.broadcast_status(broadcast).await?;
        let all = v["deliveries"].as_array().is_some_and(|d| {
            !d.is_empty()
                && d.iter()
                    .all(|d| stages.contains(&d["stage"].as_str().unwrap_or("")))
        });
        Ok(all.then_some(v))
    })
    .await;
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            let now = api.broadcast_status(broadcast).await.unwrap_or_default();
            anyhow::bail!("{e}\nstatus now: {now:#}")
        }
    }
}

/// Asserts a captured WAV holds the 2-second tone: audible length within 5 %, not silence.
pub fn assert_heard_tone(path: &Path) {
    let s = alsa::wav_stats(path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    let secs = s.audible_secs();
    assert!(
        (secs - TONE_SECS).abs() <= TONE_SECS * 0.05,
        "{}: heard {secs:.3} s of audio, the announcement is {TONE_SECS} s",
        path.display()
    );
    assert!(s.rms > 0.05, "{}: rms {} is silence", path.display(), s.rms);
}

pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

/// A value in a node's config file: `config_value(cfg, &["mqtt", "password"])`.
pub fn config_value(config_toml: &str, path: &[&str]) -> String {
    let v: toml::Value = toml::from_str(config_toml).expect("the node config parses");
    let mut cur = &v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .expect("a string in the node config")
        .to_string()
}

/// Waits until the controller's security reports hold `count` refusals of `kind` for `node`,
/// the last one's reason containing `says`; returns that reason.
pub async fn wait_security_report(
    api: &Api,
    node: &str,
    kind: &str,
    count: u64,
    says: &str,
) -> anyhow::Result<String> {
    let what = format!("{count} security report(s) {kind} for {node} saying {says:?}");
    let r = wait::until(&what, Duration::from_secs(30), || async {
        let reports = api.get("/api/v1/security/reports").await?;
        let hit = reports.as_array().and_then(|a| {
            a.iter()
                .find(|r| r["node_id"] == node && r["kind"] == kind)
                .cloned()
        });
        Ok(hit.and_then(|r| {
            let detail = r["last_detail"].as_str().unwrap_or("").to_string();
            (r["count"].as_u64() == Some(count) && detail.contains(says)).then_some(detail)
        }))
    })
    .await;
    match r {
        Ok(d) => Ok(d),
        Err(e) => {
            let now = api
                .get("/api/v1/security/reports")
                .await
                .unwrap_or_default();
            anyhow::bail!("{e}\nreports now: {now:#}")
        }
    }
}

/// Waits until the controller records `presence` (`online`, `offline`) for `node`.
pub async fn wait_presence(api: &Api, node: &str, presence: &str) -> anyhow::Result<()> {
    let what = format!("{node} to be {presence}");
    wait::until(&what, Duration::from_secs(30), || async {
        let n = api.get(&format!("/api/v1/nodes/{node}")).await?;
        Ok((n["presence"] == presence).then_some(()))
    })
    .await
}

/// A controller with its embedded broker on a port it chose, its data under
/// `root/controller`: the controller, its API (as the admin) and the broker's port.
pub async fn embedded_controller(root: &Path) -> (Controller, Api, u16) {
    let c = Controller::start(&root.join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = c.api();
    let port = c.mqtt_port();
    (c, api, port)
}

/// Provisions `id` in `zone` and starts it writing each playback to `{dir}/wav` at the
/// station's rate, mono, so what it heard compares sample for sample.
pub async fn wav_node(api: &Api, root: &Path, id: &str, zone: i64) -> Node {
    let dir = root.join(id);
    let cfg = api
        .provision(id, &format!("Cụm loa {id}"), zone, &dir.join("data"))
        .await
        .unwrap();
    let mut audio = toml::toml! { sink = "wav"
    rate = 48000
    channels = 1 };
    audio.insert(
        "wav_dir".into(),
        dir.join("wav").display().to_string().into(),
    );
    Node::start(id, &dir, &with_audio(&cfg, audio).unwrap(), None).unwrap()
}

/// A WAV file's samples as 48 kHz mono floats.
pub fn heard(path: &Path) -> Vec<f32> {
    let pcm = loa_e2e::pcm::read(path).unwrap();
    assert_eq!(
        (pcm.rate, pcm.channels),
        (loa_e2e::station::RATE as u32, 1),
        "{path:?}"
    );
    pcm.samples
        .iter()
        .map(|s| f32::from(*s) / 32768.0)
        .collect()
}

/// Whether the file is a playback of item `item` (`{start}-{item}.wav`, `{start}-{item}-2.wav`).
pub fn is_of(path: &Path, item: &str) -> bool {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    stem.split('-').nth(1) == Some(item)
}

/// The seconds of audio in the relay's playbacks so far.
pub fn relay_secs(node: &Node, item: &str) -> f64 {
    wav_files(node)
        .iter()
        .filter(|p| is_of(p, item))
        .map(|p| {
            std::fs::metadata(p)
                .map_or(0, |m| m.len())
                .saturating_sub(44) as f64
        })
        .sum::<f64>()
        / (2 * loa_e2e::station::RATE) as f64
}

/// Waits (30 s) for the first recording linked to `broadcast`: what a relay or a live session
/// sent the villages, kept once it stopped.
pub async fn kept_recording(
    api: &Api,
    controller: &Controller,
    broadcast: i64,
) -> serde_json::Value {
    wait::until(
        "the recording linked to the broadcast",
        Duration::from_secs(30),
        || async {
            let v = api.broadcast_status(broadcast).await?;
            Ok(v["recordings"]
                .as_array()
                .filter(|r| !r.is_empty())
                .map(|r| r[0].clone()))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", controller.log_tail()))
}
