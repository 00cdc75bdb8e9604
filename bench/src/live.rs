//! `live --bursts N --jitter "300 150"`: a live session's delay, mouth to loudspeaker. A real
//! controller and one real village node (its output a paced WAV file, 48 kHz mono); the bench
//! is the speaker's browser: it opens the session's WebSocket and sends 20 ms of 16-bit PCM
//! every 20 ms, as the page does, silence but for a 100 ms 1 kHz burst every 2 s, noting when
//! each burst left. When the session ends, each burst is found in what the node played (its
//! onset, by its envelope) and timed: the node's first frame (the delivery's planned start plus
//! its measured start error) plus the onset's place in the file, less when it was sent. The
//! node holds its writes at most 300 ms ahead of the wall clock, as a sound card's buffer
//! does, so this is when a card with a 300 ms buffer plays it.
//!
//! Left out: the browser's own capture (an AudioWorklet hands 20 ms at a time; Chromium's
//! capture adds a few ms), and a real card's buffer beyond that 300 ms.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::SinkExt as _;
use loa_e2e::procs::{with_audio, Broker, Controller, Node};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::percentile;

const RATE: usize = 48_000;
/// 20 ms, what the page sends at a time.
const CHUNK: usize = RATE / 50;
/// A burst every this many chunks (2 s); each lasts 5 chunks (100 ms).
const EVERY: usize = 100;
const BURST: usize = 5;

pub const HEADER: &str =
    "| node's jitter buffer | bursts heard | p50 | p95 | max |\n|---:|---:|---:|---:|---:|";

pub struct Row {
    pub jitter_ms: u64,
    pub heard: usize,
    pub sent: usize,
    pub delays_ms: Vec<f64>,
}

impl Row {
    pub fn markdown(&self) -> String {
        format!(
            "| {} ms | {} of {} | {:.0} ms | {:.0} ms | {:.0} ms |",
            self.jitter_ms,
            self.heard,
            self.sent,
            percentile(&self.delays_ms, 50.0),
            percentile(&self.delays_ms, 95.0),
            self.delays_ms.iter().cloned().fold(0.0, f64::max),
        )
    }
}

/// 20 ms of the speaker: the burst (1 kHz at half scale) or silence.
fn chunk(n: usize) -> Vec<u8> {
    let loud = n % EVERY < BURST;
    (0..CHUNK)
        .flat_map(|i| {
            let s = if loud {
                let t = (n * CHUNK + i) as f64 / RATE as f64;
                (2.0 * std::f64::consts::PI * 1000.0 * t).sin() * 0.5
            } else {
                0.0
            };
            ((s * 32767.0) as i16).to_le_bytes()
        })
        .collect()
}

/// Where each burst begins in `pcm`: the first sample of each loud stretch after at least
/// half a second of quiet.
fn onsets(pcm: &[i16]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut quiet = RATE;
    for (i, s) in pcm.iter().enumerate() {
        if s.unsigned_abs() > 3_000 {
            if quiet >= RATE / 2 {
                out.push(i);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    out
}

pub async fn bench(dir: &Path, jitter_ms: u64, bursts: usize) -> anyhow::Result<Row> {
    let root = dir.join(format!("live-{jitter_ms}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let controller =
        Controller::start_with(&root.join("controller"), Broker::embedded(), &[]).await?;
    let api = controller.api();
    let zone = api.zone("Thôn Nà Sài", None).await?;
    let node_dir = root.join("na-sai-1");
    let cfg = api
        .provision("na-sai-1", "Cụm loa Nà Sài", zone, &node_dir.join("data"))
        .await?;
    let mut audio = toml::Table::new();
    audio.insert("sink".into(), "wav".into());
    audio.insert("rate".into(), (RATE as i64).into());
    audio.insert("channels".into(), 1.into());
    audio.insert("jitter_ms".into(), (jitter_ms as i64).into());
    let wav_dir = node_dir.join("wav");
    audio.insert("wav_dir".into(), wav_dir.display().to_string().into());
    let node = Node::start("na-sai-1", &node_dir, &with_audio(&cfg, audio)?, None)?;
    loa_e2e::wait::until("the node online", Duration::from_secs(60), || async {
        let n = api.get("/api/v1/nodes/na-sai-1").await?;
        Ok((n["presence"] == "online").then_some(()))
    })
    .await?;

    let session = api
        .post("/api/v1/live", json!({"zones": [zone], "chime": false}))
        .await?;
    let id = session["id"].as_i64().context("a session id")?;
    let base = controller.url.replacen("http", "ws", 1);
    let mut req = format!("{base}/api/v1/live/{id}/audio?rate={RATE}").into_client_request()?;
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", controller.token).parse()?,
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    // One burst more than asked: the first goes out before the node is on air.
    let total = (bursts + 1) * EVERY;
    let mut sent: Vec<DateTime<Utc>> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        tick.tick().await;
        if n % EVERY == 0 {
            sent.push(Utc::now());
        }
        ws.send(Message::Binary(chunk(n).into())).await?;
    }
    api.post(&format!("/api/v1/live/{id}/stop"), json!(null))
        .await?;
    let broadcast = session["broadcast_id"].as_i64().context("a broadcast")?;
    let delivery = loa_e2e::wait::until(
        "the node's delivery played",
        Duration::from_secs(30),
        || async {
            let v = api.broadcast_status(broadcast).await?;
            let d = v["deliveries"][0].clone();
            Ok((d["stage"] == "played").then_some(d))
        },
    )
    .await
    .with_context(|| node.log_tail())?;
    let start: DateTime<Utc> = session["started_at"]
        .as_str()
        .context("started_at")?
        .parse()?;
    let first_frame =
        start + chrono::Duration::milliseconds(delivery["start_error_ms"].as_i64().unwrap_or(0));
    let wav = std::fs::read_dir(&wav_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .next()
        .context("no playback written")?;
    let pcm = loa_e2e::pcm::read(&wav)?;
    let mut delays = Vec::new();
    for onset in onsets(&pcm.samples) {
        let heard = first_frame + chrono::Duration::microseconds((onset * 1_000_000 / RATE) as i64);
        // The burst it is: the last one sent before it was heard.
        if let Some(t) = sent.iter().rev().find(|t| **t <= heard) {
            delays.push((heard - *t).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    anyhow::ensure!(!delays.is_empty(), "no burst heard in {}", wav.display());
    drop(node);
    Ok(Row {
        jitter_ms,
        heard: delays.len(),
        sent: sent.len(),
        delays_ms: delays,
    })
}
