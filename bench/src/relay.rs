//! `relay --listeners N`: what one relayed station costs. A real Icecast (Debian's `icecast2`)
//! fed in real time by ffmpeg with the demo announcement on a loop (speech, MP3 at 96 kbit/s),
//! registered as a source on a real controller; N village nodes' worth of listeners on
//! `GET /streams/{id}`, each with its own node's media token, reading the Ogg Opus as fast as
//! it comes. Over `secs` seconds of steady relay (after a 5 s warm-up) it measures the bytes
//! each listener received (what a village's link carries, HTTP framing aside), the
//! controller's CPU (user + system, from /proc) and its resident memory, and the station's
//! listener count (one, however many villages).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use loa_e2e::icecast::{Codec, Feeder, Icecast};

use crate::site::Site;
use crate::stats;

const MOUNT: &str = "/vov1";

/// One measured run at `listeners`.
pub struct Row {
    pub listeners: usize,
    pub kb_per_min_per_node: f64,
    pub controller_cores: f64,
    pub controller_mib: f64,
    pub station_listeners: u64,
}

pub const HEADER: &str = "| villages listening | bytes a minute per village | controller CPU (cores) | controller CPU per village | controller memory | station's listeners |\n|---:|---:|---:|---:|---:|---:|";

impl Row {
    pub fn markdown(&self) -> String {
        format!(
            "| {} | {:.0} KB | {:.3} | {:.4} | {:.0} MiB | {} |",
            self.listeners,
            self.kb_per_min_per_node,
            self.controller_cores,
            self.controller_cores / self.listeners as f64,
            self.controller_mib,
            self.station_listeners
        )
    }
}

/// The media token in a provisioned node's config.
fn token_of(config: &Path) -> anyhow::Result<String> {
    crate::village::media_token(&std::fs::read_to_string(config)?)
        .with_context(|| format!("in {}", config.display()))
}

pub async fn bench(dir: &Path, listeners: usize, secs: u64) -> anyhow::Result<Row> {
    let site =
        Site::start_without_fleet(&dir.join(format!("relay-{listeners}")), listeners).await?;
    let ice = Icecast::start(&site.dir.join("icecast")).await?;
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/thong-bao-mau.mp3");
    let _feeder = Feeder::start(&ice, MOUNT, &demo, Codec::Mp3, &site.dir.join("ffmpeg.log"))?;
    let source = site.api.source("VOV1", &ice.url(MOUNT)).await?;
    // The villages may listen only to what their plans relay: a long relay, to every village.
    let relay = site
        .api
        .post(
            "/api/v1/announcements",
            serde_json::json!({"title": "Tiếp sóng VOV1", "relay": {"source_id": source, "seconds": 43_200}}),
        )
        .await?;
    site.api
        .broadcast(serde_json::json!({"announcement_id": relay["id"], "zones": [site.root_zone]}))
        .await?;
    let url = format!("{}/streams/{source}", site.controller.url);
    let mut tokens = Vec::new();
    for entry in std::fs::read_dir(site.dir.join("configs"))? {
        tokens.push(token_of(&entry?.path())?);
    }
    let received = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for token in tokens {
        let (client, url, received) = (client.clone(), url.clone(), received.clone());
        tasks.push(tokio::spawn(async move {
            let mut resp = client.get(&url).bearer_auth(token).send().await?;
            anyhow::ensure!(resp.status() == 200, "{url}: {}", resp.status());
            while let Some(chunk) = resp.chunk().await? {
                received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = site.controller_pid()?;
    let (cpu0, bytes0, t0) = (
        stats::cpu_secs(pid)?,
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = stats::cpu_secs(pid)? - cpu0;
    let bytes = received.load(Ordering::Relaxed) - bytes0;
    let station_listeners = ice.listeners(MOUNT).await?.unwrap_or(0);
    let row = Row {
        listeners,
        kb_per_min_per_node: bytes as f64 / listeners as f64 / elapsed * 60.0 / 1000.0,
        controller_cores: cpu / elapsed,
        controller_mib: stats::memory_mib(pid)?.0,
        station_listeners,
    };
    for t in tasks {
        t.abort();
    }
    Ok(row)
}
