//! Shared setup for the node's tests against a real controller: one village, one node writing
//! WAV files, started from the workspace's built binaries (`cargo build --workspace --bins`).

#![allow(dead_code)]

use loa_e2e::api::Api;
use loa_e2e::procs::{with_audio, Broker, Controller, Node};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const LONG: Duration = Duration::from_secs(60);

/// The tones `scripts/make-fixtures.sh` made, in every format the node plays: (file, rate,
/// channels, seconds). A 440 Hz sine at half scale (660 Hz on the right of stereo files),
/// audible from the first sample to the last.
pub const FIXTURES: &[(&str, u32, u16, f64)] = &[
    ("tone-44100-stereo.mp3", 44_100, 2, 2.0),
    ("tone-44100-stereo.m4a", 44_100, 2, 2.0),
    ("tone-32000-mono.mp2", 32_000, 1, 1.0),
    ("tone-22050-mono.ogg", 22_050, 1, 2.0),
    ("tone-48000-stereo.flac", 48_000, 2, 1.0),
    ("tone-48000-stereo.opus", 48_000, 2, 1.0),
    ("tone-8000-mono.wav", 8_000, 1, 2.0),
    ("tone-22050-stereo.wav", 22_050, 2, 1.0),
    ("tone-44100-mono.wav", 44_100, 1, 1.0),
    ("tone-48000-mono.wav", 48_000, 1, 1.0),
];

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A controller on its built-in broker, with one village and its node.
pub struct Village {
    pub controller: Controller,
    pub api: Api,
    pub zone: i64,
    pub node: Node,
    /// Where the node's wav sink writes each playback.
    pub wav_dir: PathBuf,
}

impl Village {
    /// Starts it all; `extra` is TOML appended to the node's config (e.g. a `[relay]` table).
    pub async fn start(dir: &Path, node_id: &str, extra: &str) -> Village {
        let controller = Controller::start(&dir.join("controller"), Broker::embedded())
            .await
            .unwrap();
        let api = controller.api();
        let zone = api.zone("Bản Phiêng", None).await.unwrap();
        let node_dir = dir.join(node_id);
        let wav_dir = node_dir.join("wav");
        let cfg = api
            .provision(node_id, "Loa bản", zone, &node_dir.join("data"))
            .await
            .unwrap();
        let mut audio = toml::toml! { sink = "wav" };
        audio.insert("wav_dir".into(), wav_dir.display().to_string().into());
        let cfg = format!("{}\n{extra}", with_audio(&cfg, audio).unwrap());
        let node = Node::start(node_id, &node_dir, &cfg, None).unwrap();
        Village {
            controller,
            api,
            zone,
            node,
            wav_dir,
        }
    }

    /// The WAV files the node has written, one per playback.
    pub fn wavs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.wav_dir)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }

    /// Waits until the broadcast's only delivery is at `stage`; returns it.
    pub async fn wait_stage(&self, broadcast: i64, stage: &str) -> Value {
        self.api
            .wait_stage(broadcast, stage, LONG)
            .await
            .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", self.node.log_tail()))
    }
}

/// Seconds of audible sound in a WAV file the node wrote.
pub fn audible_secs(path: &Path) -> f64 {
    loa_e2e::alsa::wav_stats(path).unwrap().audible_secs()
}
