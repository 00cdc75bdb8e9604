//! `live --bursts N --jitter "300 150" [--browser]`: a live session's delay, mouth to
//! loudspeaker. A real controller and one real village node playing through the real ALSA
//! library (cpal → `plug` → the `file` plugin, appending to a raw file, over `null`), held to
//! real time. The speaker says a 100 ms 1 kHz burst every 2 s, silence between:
//!
//! - by default the bench is the speaker's browser: it opens the session's WebSocket and sends
//!   20 ms of 16-bit PCM every 20 ms, as the page does, noting when each burst left;
//! - with `--browser`, Chromium is: a WAV of the bursts is its fake microphone, the clerk's
//!   page starts the session, and the bursts' times count from when the microphone opened
//!   (Chromium's fake device plays its file from its start, in a loop).
//!
//! When the session ends, each burst is found in what the node played (its onset, by its
//! envelope) and timed: the node's first frame (the delivery's planned start plus its
//! measured start error) plus the onset's place in the capture, less when it was said. The
//! node holds its writes at most 300 ms ahead of the wall clock, as a sound card's buffer does,
//! so this is when a card with a 300 ms buffer plays it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::SinkExt as _;
use loa_e2e::alsa::{write_stream_asoundrc, CAPTURE_PCM, STREAM_CHANNELS, STREAM_RATE};
use loa_e2e::browser::Browser;
use loa_e2e::procs::{Broker, Controller};

use crate::village::Village;
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

pub const HEADER: &str = "| speaker | node's jitter buffer | bursts heard | p50 | p95 | max |\n|---|---:|---:|---:|---:|---:|";

pub struct Row {
    pub browser: bool,
    pub jitter_ms: u64,
    pub heard: usize,
    pub sent: usize,
    pub delays_ms: Vec<f64>,
}

impl Row {
    pub fn markdown(&self) -> String {
        format!(
            "| {} | {} ms | {} of {} | {:.0} ms | {:.0} ms | {:.0} ms |",
            if self.browser {
                "Chromium, fake microphone, the page"
            } else {
                "a WebSocket client"
            },
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

/// The bursts as a WAV file, one 2 s period (Chromium loops it).
fn microphone_wav(path: &Path) -> anyhow::Result<()> {
    let samples: Vec<i16> = (0..EVERY)
        .flat_map(chunk)
        .collect::<Vec<u8>>()
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    loa_e2e::station::write_wav(path, &samples)
}

pub async fn bench(
    dir: &Path,
    jitter_ms: u64,
    bursts: usize,
    browser: bool,
) -> anyhow::Result<Row> {
    let root = dir.join(format!(
        "live-{jitter_ms}{}",
        if browser { "-browser" } else { "" }
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let controller =
        Controller::start_with(&root.join("controller"), Broker::embedded(), &[]).await?;
    let api = controller.api();
    let zone = api.zone("Thôn Nà Sài", None).await?;
    let node_dir = root.join("na-sai-1");
    let home = node_dir.join("home");
    let capture = node_dir.join("capture.raw");
    write_stream_asoundrc(&home, &capture)?;
    let mut audio = toml::Table::new();
    audio.insert("device".into(), CAPTURE_PCM.into());
    audio.insert("pace".into(), true.into());
    audio.insert("jitter_ms".into(), (jitter_ms as i64).into());
    let Village { node, .. } = Village::start(&api, &node_dir, zone, audio, &home).await?;

    let (session, said) = if browser {
        speak_in_browser(&root, &controller, zone, bursts).await?
    } else {
        speak_on_socket(&controller, zone, bursts).await?
    };
    let id = session["id"].as_i64().context("a session id")?;
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
    let pcm = loa_e2e::pcm::read_raw(&capture, STREAM_RATE, STREAM_CHANNELS)?;
    let left: Vec<i16> = pcm
        .samples
        .iter()
        .step_by(usize::from(STREAM_CHANNELS))
        .copied()
        .collect();
    let mut delays = Vec::new();
    for onset in onsets(&left) {
        let heard = first_frame + chrono::Duration::microseconds((onset * 1_000_000 / RATE) as i64);
        // The burst it is: the last one said before it was heard.
        if let Some(t) = said.iter().rev().find(|t| **t <= heard) {
            delays.push((heard - *t).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    anyhow::ensure!(
        !delays.is_empty(),
        "no burst heard in {}",
        capture.display()
    );
    drop(node);
    let sent = said
        .iter()
        .filter(|t| **t >= start)
        .count()
        .max(delays.len());
    Ok(Row {
        browser,
        jitter_ms,
        heard: delays.len(),
        sent,
        delays_ms: delays,
    })
}

/// The bench as the page: the session started through the API, the bursts sent on its socket.
async fn speak_on_socket(
    controller: &Controller,
    zone: i64,
    bursts: usize,
) -> anyhow::Result<(serde_json::Value, Vec<DateTime<Utc>>)> {
    let session = controller
        .api()
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
    let mut said: Vec<DateTime<Utc>> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        tick.tick().await;
        if n % EVERY == 0 {
            said.push(Utc::now());
        }
        ws.send(Message::Binary(chunk(n).into())).await?;
    }
    Ok((session, said))
}

/// Chromium as the speaker: its fake microphone says the bursts from when it opens; the clerk's
/// page starts the session; the bench notes when the page got the microphone.
async fn speak_in_browser(
    root: &Path,
    controller: &Controller,
    zone: i64,
    bursts: usize,
) -> anyhow::Result<(serde_json::Value, Vec<DateTime<Utc>>)> {
    let api = controller.api();
    api.account("can-bo", "operator").await?;
    let wav = root.join("microphone.wav");
    microphone_wav(&wav)?;
    let b = Browser::with_microphone(&wav).await?;
    b.sign_in(&controller.url, "can-bo").await?;
    b.goto(&format!("{}/ui/broadcasts/live", controller.url))
        .await?;
    // When the page gets the microphone, by the wall clock (the bench's own hook, not the
    // page's).
    b.client
        .execute(
            "const get = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
             navigator.mediaDevices.getUserMedia = c => get(c).then(s => { window.loaMicAt = Date.now(); return s; });",
            vec![],
        )
        .await?;
    b.click(&format!("[data-test=zone-choice][value=\"{zone}\"]"))
        .await?;
    b.click("#live-start").await?;
    b.wait_js(
        "the page on air",
        "document.querySelector('#live-panel').dataset.state === 'on-air'",
    )
    .await?;
    let id = b
        .find("#live-panel")
        .await?
        .attr("data-session")
        .await?
        .context("the panel names its session")?;
    let at = b.client.execute("return window.loaMicAt;", vec![]).await?;
    let opened = DateTime::<Utc>::from_timestamp_millis(at.as_i64().context("loaMicAt")?)
        .context("a time")?;
    tokio::time::sleep(Duration::from_secs(2 * (bursts as u64 + 1))).await;
    let said: Vec<DateTime<Utc>> = (0..bursts + 3)
        .map(|n| opened + chrono::Duration::seconds(2 * n as i64))
        .collect();
    let session = api.get(&format!("/api/v1/live/{id}")).await?;
    drop(b);
    Ok((session, said))
}
