//! `relay-node --secs 600`: what a village node spends playing a relay, side by side with the
//! reference players. A real Icecast fed by ffmpeg in real time with the demo announcement on
//! a loop (MP3, 96 kbit/s), a real controller relaying it, and one real node playing the relay
//! through the real ALSA library to a `plug` (48 kHz stereo) → `null` pcm, held to real time
//! (`pace`); over the same `secs`, on the same pcm:
//!
//! - `ffplay -nodisp` playing the same Ogg Opus stream from the controller, with the node's
//!   token (what the node plays, by ffmpeg's decoder and SDL's ALSA output);
//! - `mpg123` playing the station's MP3 straight from Icecast (the usual player of a radio
//!   stream, on the format stations send).
//!
//! Each one's CPU (user + system) over the window and its peak memory (max RSS).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use loa_e2e::icecast::{Codec, Feeder, Icecast};
use loa_e2e::procs::{Broker, Controller};
use serde_json::json;

use crate::stats;
use crate::village::{self, Village};

const MOUNT: &str = "/vov1";
const PCM: &str = "loa_bench";

pub const HEADER: &str =
    "| player | what it plays | CPU (share of a core) | peak memory |\n|---|---|---:|---:|";

pub struct Measured {
    pub player: &'static str,
    pub plays: &'static str,
    pub cores: f64,
    pub peak_mib: f64,
}

impl Measured {
    pub fn markdown(&self) -> String {
        format!(
            "| {} | {} | {:.3} | {:.1} MiB |",
            self.player, self.plays, self.cores, self.peak_mib
        )
    }
}

fn asoundrc(home: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(home)?;
    std::fs::write(
        home.join(".asoundrc"),
        format!(
            "pcm.{PCM} {{\n    type plug\n    slave {{\n        pcm \"null\"\n        rate 48000\n        \
             channels 2\n        format S16_LE\n    }}\n    hint {{\n        show on\n        \
             description \"loa benchmark: 48 kHz stereo into ALSA's null\"\n    }}\n}}\n"
        ),
    )?;
    Ok(())
}

/// Runs `cmd` under GNU time for at most `secs`; its CPU a second and its peak memory.
fn timed(cmd: Command, secs: u64) -> anyhow::Result<(f64, f64)> {
    let report = tempfile::NamedTempFile::new()?;
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(report.path())
        .arg("timeout")
        .arg("-s")
        .arg("INT")
        .arg(secs.to_string())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    timed
        .status()
        .context("/usr/bin/time (Debian package: time)")?;
    let text = std::fs::read_to_string(report.path())?;
    let last = text.lines().last().unwrap_or_default();
    let v: Vec<f64> = last
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    anyhow::ensure!(v.len() == 3, "GNU time said: {text}");
    Ok(((v[0] + v[1]) / secs as f64, v[2] / 1024.0))
}

pub async fn bench(dir: &Path, secs: u64) -> anyhow::Result<Vec<Measured>> {
    let root = dir.join("relay-node");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let home = root.join("home");
    asoundrc(&home)?;
    let ice = Icecast::start(&root.join("icecast")).await?;
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/thong-bao-mau.mp3");
    let _feeder = Feeder::start(&ice, MOUNT, &demo, Codec::Mp3, &root.join("ffmpeg.log"))?;
    let controller =
        Controller::start_with(&root.join("controller"), Broker::embedded(), &[]).await?;
    let api = controller.api();
    let source = api.source("VOV1", &ice.url(MOUNT)).await?;
    let zone = api.zone("Thôn Nà Sài", None).await?;
    let mut audio = toml::Table::new();
    audio.insert("device".into(), PCM.into());
    audio.insert("pace".into(), true.into());
    let Village { node, config } =
        Village::start(&api, &root.join("na-sai-1"), zone, audio, &home).await?;
    let token = village::media_token(&config)?;
    let pid = node.pid().context("the node's pid")?;
    let relay = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Tiếp sóng VOV1", "relay": {"source_id": source, "seconds": secs + 60}}),
        )
        .await?;
    let broadcast = api
        .broadcast(json!({"announcement_id": relay["id"], "zones": [zone]}))
        .await?;
    api.wait_stage(broadcast, "playing", Duration::from_secs(60))
        .await
        .with_context(|| node.log_tail())?;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let stream = format!("{}/streams/{source}", controller.url);
    let mut ffplay = Command::new("ffplay");
    ffplay
        .args(["-nodisp", "-autoexit", "-loglevel", "error", "-headers"])
        .arg(format!("Authorization: Bearer {token}\r\n"))
        .arg(&stream)
        .env("SDL_AUDIODRIVER", "alsa")
        .env("AUDIODEV", PCM)
        .env("HOME", &home);
    let mut mpg123 = Command::new("mpg123");
    mpg123
        .args(["-q", "-o", "alsa", "-a", PCM])
        .arg(ice.url(MOUNT))
        .env("HOME", &home);
    let cpu0 = stats::cpu_secs(pid)?;
    let t0 = std::time::Instant::now();
    let (ff, mp) = tokio::task::spawn_blocking(move || {
        let ff = std::thread::spawn(move || timed(ffplay, secs));
        let mp = timed(mpg123, secs);
        (ff.join().expect("the ffplay thread"), mp)
    })
    .await?;
    let node_cores = (stats::cpu_secs(pid)? - cpu0) / t0.elapsed().as_secs_f64();
    let (_, node_peak) = stats::memory_mib(pid)?;
    let (ff_cores, ff_peak) = ff?;
    let (mp_cores, mp_peak) = mp?;
    Ok(vec![
        Measured {
            player: "loa-node",
            plays: "the relay (Ogg Opus 32 kbit/s from the controller)",
            cores: node_cores,
            peak_mib: node_peak,
        },
        Measured {
            player: "ffplay -nodisp",
            plays: "the same stream",
            cores: ff_cores,
            peak_mib: ff_peak,
        },
        Measured {
            player: "mpg123",
            plays: "the station's MP3 (96 kbit/s) from Icecast",
            cores: mp_cores,
            peak_mib: mp_peak,
        },
    ])
}
