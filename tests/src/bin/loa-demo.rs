//! `loa-demo`: the whole path on one machine, on embedded defaults. A controller (with its
//! embedded MQTT broker) starts with the shipped standing programme (`schedules/`), so its week
//! view is full; three village nodes start; a sample announcement is uploaded and broadcast
//! first to one village, then to the whole commune; each village's delivery status is printed
//! as it moves to `played`. The nodes play in real time: to WAV files held to the audio's own
//! pace, or on this machine's sound card with `--speaker`. Then the controller and the nodes
//! keep running, with the web address and a demo account printed, until Ctrl-C; `--once` (or
//! `LOA_DEMO_ONCE=1`, for scripts and CI) ends the demo after the broadcasts instead.

use clap::Parser;
use loa_e2e::api::Api;
use loa_e2e::procs::{with_audio, Broker, Controller, Node};
use rand::Rng;
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
    /// The standing programme the controller loads (its zones are the demo's villages).
    #[arg(long, default_value = "schedules")]
    schedules: PathBuf,
    /// End after the broadcasts instead of running until Ctrl-C.
    #[arg(long, env = "LOA_DEMO_ONCE", value_parser = clap::builder::FalseyValueParser::new())]
    once: bool,
}

/// The demo's staff account: an admin, so every page can be tried.
const DEMO_USER: &str = "demo";

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
    let schedules = std::fs::canonicalize(&args.schedules)
        .map_err(|e| anyhow::anyhow!("the standing programme {}: {e}", args.schedules.display()))?;
    let mut controller = Controller::start(&dir.join("controller"), Broker::embedded()).await?;
    let api = controller.api();
    // The programme names the commune's zones, so they exist before the controller loads it
    // (at start, as at a real commune): made first, then the controller starts again with it.
    let commune = api.zone("Xã Demo", None).await?;
    let mut zones = Vec::new();
    for (_, village) in VILLAGES {
        zones.push(api.zone(village, Some(commune)).await?);
    }
    controller
        .env
        .push(("LOA_SCHEDULES_DIR".into(), schedules.display().to_string()));
    controller.restart().await?;
    println!(
        "controller   {} (embedded MQTT broker, SQLite in {})",
        controller.url,
        controller.data_dir.display()
    );
    let programme = api.get("/api/v1/schedules").await?;
    let programme = programme.as_array().cloned().unwrap_or_default();
    println!(
        "programme    {} standing programmes from {}",
        programme.len(),
        schedules.display()
    );
    for p in &programme {
        println!("             · {}", p["name"].as_str().unwrap_or("?"));
    }
    let mut nodes = Vec::new();
    for ((id, village), &zone) in VILLAGES.into_iter().zip(&zones) {
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
            // As long as the announcement lasts, as on a loudspeaker.
            audio.insert("pace".into(), true.into());
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
    if args.once {
        return Ok(());
    }

    let password = demo_password();
    api.post(
        "/api/v1/users",
        json!({"username": DEMO_USER, "password": password, "role": "admin"}),
    )
    .await?;
    println!("\nloa is running: the controller and three village nodes. Look around:");
    println!("  web          {}/ui/", controller.url);
    println!("  week view    {}/ui/schedules/week", controller.url);
    println!("  sign in as   {DEMO_USER} / {password}");
    println!("Ctrl-C stops them all.");
    shutdown_signal().await;
    println!("\nstopping the controller and the nodes");
    drop(nodes);
    drop(controller);
    Ok(())
}

/// A fresh password for the demo account, printed once.
fn demo_password() -> String {
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[rng.gen_range(0..31)]))
        .collect()
}

/// Ctrl-C, or SIGTERM (what `kill` and systemd send).
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
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
