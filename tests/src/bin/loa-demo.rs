//! `loa-demo`: the whole path on one machine, on embedded defaults. A controller (with its
//! embedded MQTT broker) and three village nodes start; a sample announcement is uploaded and
//! broadcast first to one village, then to the whole commune; each village's delivery status
//! is printed as it moves to `played`. The nodes write what they play to WAV files, or play
//! it on this machine's sound card with `--speaker`.

use clap::Parser;
use loa_e2e::api::Api;
use loa_e2e::procs::{free_port, with_audio, Broker, Controller, Node};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "loa-demo",
    about = "A controller and three village nodes, on this machine"
)]
struct Args {
    /// Play on the sound card (ALSA's default device) instead of writing WAV files.
    #[arg(long)]
    speaker: bool,
    /// Where the demo keeps its data; emptied first.
    #[arg(long, default_value = "demo-run")]
    dir: PathBuf,
    /// The announcement to broadcast.
    #[arg(long, default_value = "demo/thong-bao-mau.mp3")]
    announcement: PathBuf,
}

const VILLAGES: [(&str, &str); 3] = [
    ("thon-na-sai", "Thôn Nà Sài"),
    ("ban-phieng", "Bản Phiêng"),
    ("thon-coc-lay", "Thôn Cốc Lầy"),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let dir = std::fs::canonicalize(&args.dir)?;

    println!("loa demo — một trung tâm điều khiển, ba cụm loa thôn bản / a controller, three village nodes\n");
    let controller = Controller::start(
        &dir.join("controller"),
        Broker::Embedded { port: free_port() },
    )
    .await?;
    println!(
        "controller   {} (embedded MQTT broker, SQLite in {})",
        controller.url,
        controller.data_dir.display()
    );
    let api = controller.api();
    let commune = api.zone("Xã Demo", None).await?;
    let mut nodes = Vec::new();
    let mut zones = Vec::new();
    for (id, village) in VILLAGES {
        let zone = api.zone(village, Some(commune)).await?;
        let node_dir = dir.join(id);
        let config = api
            .provision(
                id,
                &format!("Cụm loa {village}"),
                zone,
                &node_dir.join("data"),
            )
            .await?;
        let mut audio = toml::Table::new();
        if args.speaker {
            audio.insert("sink".into(), "cpal".into());
        } else {
            audio.insert("sink".into(), "wav".into());
            audio.insert(
                "wav_dir".into(),
                node_dir.join("wav").display().to_string().into(),
            );
        }
        let node = Node::start(id, &node_dir, &with_audio(&config, audio)?, None)?;
        println!(
            "node         {id:<13} {village} (config {})",
            node.config.display()
        );
        nodes.push(node);
        zones.push(zone);
    }

    let media = api.upload(&args.announcement).await?;
    println!(
        "\nuploaded     {} — {} ms, {}, sha256 {}…",
        args.announcement.display(),
        media["duration_ms"],
        media["codec"].as_str().unwrap_or("?"),
        &media["sha256"].as_str().unwrap_or("")[..12]
    );
    let a = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Thông báo phòng chống lũ", "media_sha256": media["sha256"]}),
        )
        .await?;

    println!(
        "\n1) phát ngay cho {} / play now in {}",
        VILLAGES[0].1, VILLAGES[0].1
    );
    let first = api
        .broadcast(json!({"announcement_id": a["id"], "zones": [zones[0]]}))
        .await?;
    follow(&api, first).await?;

    println!("\n2) phát ngay cho toàn xã / play now in the whole commune (priority)");
    let second = api
        .broadcast(json!({"announcement_id": a["id"], "zones": [commune], "priority": "priority"}))
        .await?;
    let status = follow(&api, second).await?;

    println!("\nbroadcast {second}: {}", status["summary"]);
    if args.speaker {
        println!("played on this machine's default sound device.");
    } else {
        for n in &nodes {
            for wav in wav_files(&n.dir.join("wav")) {
                println!("heard at {:<13} {}", n.id, wav.display());
            }
        }
    }
    println!(
        "\nlogs, databases and node configs are in {}",
        dir.display()
    );
    Ok(())
}

/// Prints each delivery's steps as they happen, until every one has ended.
async fn follow(api: &Api, broadcast: i64) -> anyhow::Result<Value> {
    let started = Instant::now();
    let mut seen: BTreeMap<(String, String), ()> = BTreeMap::new();
    loop {
        let v = api.broadcast_status(broadcast).await?;
        let deliveries = v["deliveries"].as_array().cloned().unwrap_or_default();
        for d in &deliveries {
            let node = d["node_id"].as_str().unwrap_or("?").to_string();
            let village = d["zone"]
                .as_str()
                .unwrap_or("?")
                .rsplit(" / ")
                .next()
                .unwrap_or("?")
                .to_string();
            let times = d["times"].as_object().cloned().unwrap_or_default();
            let mut steps: Vec<(&String, &Value)> = times.iter().collect();
            steps.sort_by_key(|(_, t)| t.as_str().unwrap_or("").to_string());
            for (step, at) in steps {
                if seen.insert((node.clone(), step.clone()), ()).is_none() {
                    let at = at.as_str().unwrap_or("").get(11..23).unwrap_or("");
                    let extra = match (step.as_str(), &d["start_error_ms"], &d["reason"]) {
                        ("playing", Value::Number(n), _) => format!(" (start error {n} ms)"),
                        ("failed" | "missed", _, Value::String(r)) => format!(" ({r})"),
                        _ => String::new(),
                    };
                    println!(
                        "  {at}  {village:<14} {node:<13} {:<24}{extra}",
                        label(step)
                    );
                }
            }
        }
        let settled = !deliveries.is_empty()
            && deliveries
                .iter()
                .all(|d| matches!(d["stage"].as_str(), Some("played" | "missed" | "cancelled")));
        if settled {
            return Ok(v);
        }
        if started.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("broadcast {broadcast} did not finish in 2 minutes: {v:#}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A step in the words commune staff use, with the English.
fn label(step: &str) -> String {
    let vi = match step {
        "planned" => "đã lên lịch",
        "received" => "đã nhận",
        "ready" => "sẵn sàng",
        "playing" => "đang phát",
        "played" => "đã phát",
        "failed" => "lỗi",
        "missed" => "bỏ lỡ",
        "preempted" => "bị ngắt",
        "cancelled" => "đã hủy",
        other => other,
    };
    format!("{vi} / {step}")
}

fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
