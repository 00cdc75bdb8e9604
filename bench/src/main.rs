//! `loa-bench`: loa's scale benchmarks, each on a whole site started on this machine (see
//! [`site`]). `scripts/bench-scale.sh` builds everything in release mode and runs them; each
//! prints Markdown for BENCHMARKS.md on stdout and its progress on stderr.
//!
//! - `scale --nodes N`: fan-out against the broker floor, with the controller's CPU and
//!   memory, its idle load, and the burst of events of a broadcast played by every node.
//! - `commune --nodes 200`: emergency latency (cached, uncached) and start error.
//! - `node`: one node's idle traffic on its MQTT link, and its cold start to plan applied.
//! - `relay --listeners "1 200"`: one relayed station: bytes a minute per village, and the
//!   controller's CPU and memory, per number of villages listening.
//! - `relay-node --secs 600`: a node playing a relay, beside ffplay and mpg123: CPU, memory.
//! - `live --jitter "300 150" [--browser]`: a live session's delay from the speaker (a socket
//!   client, or Chromium's fake microphone on the page) to the node's output, per jitter buffer.
//! - `resampling`: rubato's resamplers on the node's rates: quality against CPU (no site).

mod db;
mod emergency;
mod fanout;
mod ingest;
mod live;
mod node;
mod relay;
mod relay_node;
mod resampling;
mod site;
mod stats;
mod village;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use site::Site;
use stats::median;

#[derive(Parser)]
#[command(name = "loa-bench", about = "loa's scale benchmarks")]
struct Cli {
    /// Working directory: the broker, controller and nodes' files, kept for their logs.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// Measured rounds; the tables give each round and the median.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fan-out against the broker floor, and the controller's load, at N nodes.
    Scale {
        #[arg(long)]
        nodes: usize,
        /// Seconds of idle load to measure.
        #[arg(long, default_value_t = 60)]
        idle_secs: u64,
    },
    /// Emergency latency, cached and uncached, and start error at N nodes.
    Commune {
        #[arg(long, default_value_t = 200)]
        nodes: usize,
    },
    /// A node's idle bytes on its MQTT link, and its cold start.
    Node {
        /// Seconds to watch the idle link (a clock check every 10 minutes is part of idle).
        #[arg(long, default_value_t = 1260)]
        idle_secs: u64,
    },
    /// One relayed station to N villages: bytes a minute per village, the controller's load.
    Relay {
        /// Numbers of villages listening, one run each.
        #[arg(long, default_value = "1 200")]
        listeners: String,
        /// Seconds measured in each run.
        #[arg(long, default_value_t = 60)]
        secs: u64,
    },
    /// A node playing a relay, beside ffplay (the same stream) and mpg123 (the station).
    RelayNode {
        /// Seconds measured.
        #[arg(long, default_value_t = 600)]
        secs: u64,
    },
    /// A live session's delay, speaker to loudspeaker, for each node jitter buffer.
    Live {
        /// The node's `[audio] jitter_ms`, one run each.
        #[arg(long, default_value = "300 150")]
        jitter: String,
        /// Bursts timed in each run (one every 2 s).
        #[arg(long, default_value_t = 30)]
        bursts: usize,
        /// Chromium with a fake microphone speaks, on the page, instead of a socket client.
        #[arg(long)]
        browser: bool,
    },
    /// What a cheaper resampler than the node's would give up: SNR and CPU of each.
    Resampling,
}

/// A short announcement (1 s of noise) for broadcasts to every node.
async fn announcement(site: &Site, seed: u64, bytes: usize) -> anyhow::Result<i64> {
    let media = site
        .api
        .upload_bytes(
            &format!("bench-{seed}.wav"),
            emergency::noise_wav(bytes, seed)?,
        )
        .await?;
    let a = site
        .api
        .post(
            "/api/v1/announcements",
            serde_json::json!({"title": format!("Đo {seed}"), "media_sha256": media["sha256"]}),
        )
        .await?;
    a["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no announcement id in {a}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Scale { nodes, idle_secs } => scale(&cli.dir, nodes, cli.rounds, idle_secs).await,
        Cmd::Commune { nodes } => commune(&cli.dir, nodes, cli.rounds).await,
        Cmd::Node { idle_secs } => node::bench(&cli.dir, cli.rounds, idle_secs).await,
        Cmd::Relay { listeners, secs } => {
            println!("{}", relay::HEADER);
            for n in listeners.split_whitespace() {
                let row = relay::bench(&cli.dir, n.parse()?, secs).await?;
                println!("{}", row.markdown());
            }
            Ok(())
        }
        Cmd::RelayNode { secs } => {
            println!("{}", relay_node::HEADER);
            for row in relay_node::bench(&cli.dir, secs).await? {
                println!("{}", row.markdown());
            }
            Ok(())
        }
        Cmd::Live {
            jitter,
            bursts,
            browser,
        } => {
            println!("{}", live::HEADER);
            for j in jitter.split_whitespace() {
                let row = live::bench(&cli.dir, j.parse()?, bursts, browser).await?;
                println!("{}", row.markdown());
            }
            Ok(())
        }
        Cmd::Resampling => {
            println!("{}", resampling::HEADER);
            for row in resampling::table()? {
                println!("{row}");
            }
            Ok(())
        }
    }
}

async fn scale(
    dir: &std::path::Path,
    nodes: usize,
    rounds: usize,
    idle: u64,
) -> anyhow::Result<()> {
    let mut site = Site::start(&dir.join(format!("scale-{nodes}")), nodes).await?;
    let pid = site.controller_pid()?;
    let a = announcement(&site, 1, 16_044).await?;
    let t0 = chrono::Utc::now();
    let cpu0 = stats::cpu_secs(pid)?;
    fanout::warm_up(&site, a).await?;
    site.settle(std::time::Duration::from_secs(300)).await?;
    site.drained(Duration::from_secs(3), Duration::from_secs(600))
        .await?;
    let burst = ingest::burst(&site, t0, stats::cpu_secs(pid)? - cpu0).await?;
    let cpu0 = stats::cpu_secs(pid)?;
    tokio::time::sleep(std::time::Duration::from_secs(idle)).await;
    let idle_cores = (stats::cpu_secs(pid)? - cpu0) / idle as f64;
    let idle_mib = stats::memory_mib(pid)?.0;
    // The broker holds one socket per client, within its own open-file limit: the fleet
    // steps aside while the floor's N subscribers are connected, and comes back after.
    site.stop_fleet();
    let floor = fanout::floor(&site, rounds)?;
    site.start_fleet()?;
    site.settle(std::time::Duration::from_secs(300)).await?;
    let mut f = fanout::loa(&site, a, rounds).await?;
    f.floor_ms = floor;
    println!("{}\n{}\n", fanout::HEADER, f.markdown_row());
    println!(
        "Controller at {nodes} nodes: idle {:.3} cores over {idle} s, {idle_mib:.0} MiB resident; \
         peak {:.0} MiB.\n",
        idle_cores, f.controller_peak_mib
    );
    println!("{burst}");
    Ok(())
}

async fn commune(dir: &std::path::Path, nodes: usize, rounds: usize) -> anyhow::Result<()> {
    let site = Site::start(&dir.join(format!("commune-{nodes}")), nodes).await?;
    let cached = announcement(&site, 1, 16_044).await?;
    fanout::warm_up(&site, cached).await?;
    let (mut warm, mut cold, mut p50, mut p99) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        warm.push(emergency::emergency(&site, cached).await?);
        let fresh = announcement(&site, 1000 + round as u64, 100_000).await?;
        cold.push(emergency::emergency(&site, fresh).await?);
        let errors =
            emergency::start_errors(&site, cached, std::time::Duration::from_secs(10)).await?;
        let (a, b) = emergency::p50_p99(&errors);
        p50.push(a);
        p99.push(b);
        eprintln!(
            "round {}: emergency cached {:.0} ms, uncached {:.0} ms; start error p50 {a} p99 {b} ms",
            round + 1,
            warm[round],
            cold[round]
        );
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("| measure at {nodes} nodes | median | runs |\n|---|---:|---|");
    println!(
        "| emergency, media cached: API call → first frame at 95 % | {:.0} ms | {} |",
        median(&warm),
        list(&warm)
    );
    println!(
        "| emergency, 100 KB not cached: API call → first frame at 95 % | {:.0} ms | {} |",
        median(&cold),
        list(&cold)
    );
    println!(
        "| start error p50 across nodes | {:.0} ms | {} |",
        median(&p50),
        list(&p50)
    );
    println!(
        "| start error p99 across nodes | {:.0} ms | {} |",
        median(&p99),
        list(&p99)
    );
    Ok(())
}
