//! Fan-out: a new broadcast to every node, from the API call until the controller has stored
//! every node's `received`, against the broker's own round-trip floor measured on the same
//! broker in the same run (`loa-sim floor`). Also the controller's CPU and memory meanwhile.

use anyhow::Context as _;
use chrono::Utc;
use loa_e2e::procs::bin;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::site::Site;
use crate::stats::{cpu_secs, median, memory_mib};

pub struct FanOut {
    pub nodes: usize,
    pub floor_ms: Vec<f64>,
    pub loa_ms: Vec<f64>,
    /// From the API call until it returned: every plan built, signed, stored and handed to
    /// the MQTT client.
    pub plans_out_ms: Vec<f64>,
    /// Controller CPU seconds per round, over the round's wall time (cores busy).
    pub controller_cores: Vec<f64>,
    /// The same for the simulated nodes (every `loa-sim` process).
    pub fleet_cores: Vec<f64>,
    pub controller_peak_mib: f64,
}

impl FanOut {
    pub fn markdown_row(&self) -> String {
        let (f, l) = (median(&self.floor_ms), median(&self.loa_ms));
        format!(
            "| {} | {:.0} | {:.0} | {:.2} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} |",
            self.nodes,
            f,
            l,
            l / f,
            list(&self.floor_ms),
            list(&self.loa_ms),
            median(&self.plans_out_ms),
            median(&self.controller_cores),
            median(&self.fleet_cores),
            self.controller_peak_mib
        )
    }
}

pub const HEADER: &str = "| nodes | floor ms | loa ms | loa / floor | floor runs | loa runs | plans out ms | controller cores | fleet cores | controller peak MiB |\n|---:|---:|---:|---:|---|---|---:|---:|---:|---:|";

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The broker floor with `loa-sim floor`, on the site's broker.
pub fn floor(site: &Site, rounds: usize) -> anyhow::Result<Vec<f64>> {
    let out = Command::new(bin("loa-sim")?)
        .args(["floor", "--broker"])
        .arg(format!("127.0.0.1:{}", site.mosquitto.port))
        .arg("--subscribers")
        .arg(site.nodes.to_string())
        .arg("--rounds")
        .arg(rounds.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "loa-sim floor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)?
        .lines()
        .map(|l| l.trim().parse::<f64>().context("a floor time in ms"))
        .collect()
}

/// `rounds` broadcasts to every node, each measured from the API call to the last `received`
/// stored. Each is set two hours ahead, so no download or playback overlaps the measurement
/// (the media is cached by `warm_up`), and cancelled after.
pub async fn loa(site: &Site, announcement: i64, rounds: usize) -> anyhow::Result<FanOut> {
    let pid = site.controller_pid()?;
    let mut r = FanOut {
        nodes: site.nodes,
        floor_ms: Vec::new(),
        loa_ms: Vec::new(),
        plans_out_ms: Vec::new(),
        controller_cores: Vec::new(),
        fleet_cores: Vec::new(),
        controller_peak_mib: 0.0,
    };
    for round in 0..rounds {
        site.settle(Duration::from_secs(300)).await?;
        let at = (Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let cpu0 = cpu_secs(pid)?;
        let fleet0 = site.fleet_cpu_secs();
        let (t0, w0) = (Utc::now(), Instant::now());
        let id = site
            .api
            .broadcast(
                json!({"announcement_id": announcement, "zones": [site.root_zone], "at": at}),
            )
            .await?;
        r.plans_out_ms.push(w0.elapsed().as_secs_f64() * 1000.0);
        wait_count(
            site,
            id,
            "received_at",
            site.nodes,
            Duration::from_secs(300),
        )
        .await?;
        let wall = w0.elapsed().as_secs_f64();
        let cores = (cpu_secs(pid)? - cpu0) / wall;
        r.fleet_cores.push((site.fleet_cpu_secs() - fleet0) / wall);
        let last = site.db.last_stored(&format!("o{id}"), "received").await?;
        let ms = (last - t0).num_microseconds().unwrap_or(0) as f64 / 1e3;
        eprintln!(
            "fan-out {} nodes, round {}: {ms:.0} ms",
            site.nodes,
            round + 1
        );
        r.loa_ms.push(ms);
        r.controller_cores.push(cores);
        site.api
            .post(&format!("/api/v1/broadcasts/{id}/cancel"), json!({}))
            .await?;
    }
    r.controller_peak_mib = memory_mib(pid)?.1;
    Ok(r)
}

/// Plays one broadcast to every node now, so every node has its media cached; returns once
/// every delivery is played.
pub async fn warm_up(site: &Site, announcement: i64) -> anyhow::Result<()> {
    let id = site
        .api
        .broadcast(json!({"announcement_id": announcement, "zones": [site.root_zone]}))
        .await?;
    wait_count(site, id, "played_at", site.nodes, Duration::from_secs(600)).await
}

/// Waits until `n` of the broadcast's deliveries have `column` set, polling every 20 ms.
pub async fn wait_count(
    site: &Site,
    broadcast: i64,
    column: &str,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        let got = site.db.count_reached(broadcast, column).await?;
        if got >= n {
            return Ok(());
        }
        anyhow::ensure!(
            t.elapsed() < timeout,
            "only {got} of {n} deliveries of broadcast {broadcast} have {column} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
