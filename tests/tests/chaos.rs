//! The chaos suite: 50 simulated nodes (one `loa-sim` process) reach Mosquitto through a
//! fault proxy and fetch media through another, both throttled to 384 kbit/s, while a seeded
//! schedule delays, black-holes and cuts their links, restarts the broker, `kill -9`s the
//! controller, and `kill -9`s the nodes mid-download and mid-play. A few hundred broadcasts
//! go out meanwhile. When the faults stop and things settle, every delivery must be in a true
//! terminal state, no event lost, no item played twice, every download resumed rather than
//! restarted, and the controller's records must match what the nodes' sinks wrote.
//!
//! The seed is printed with the schedule; `LOA_CHAOS_SEED=N` replays a run. See
//! `docs/chaos.md`.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::fault_proxy::{Exchange, FaultProxy, Faults};
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{bin, tail, with_audio, Broker, Controller};
use loa_e2e::wait;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 20_261_124;
/// The stages a delivery ends in.
const TERMINAL: [&str; 3] = ["played", "missed", "cancelled"];
const ZONES: usize = 5;
const NODES_PER_ZONE: usize = 10;
/// Broadcasts, one zone each: every node gets `BROADCASTS / ZONES` items.
const BROADCASTS: usize = 200;
/// Distinct recordings, so that new downloads start all through the run.
const MEDIA: usize = 20;
/// One broadcast every this long during the chaos.
const BROADCAST_EVERY: Duration = Duration::from_millis(550);
/// Each broadcast plays this far after it is made.
const LEAD_SECS: i64 = 10;
/// A village's link: 384 kbit/s.
const LINK_BYTES_PER_SEC: u64 = 48_000;
/// What the nodes' sinks write: 16 kHz mono, 16-bit.
const OUT_RATE: u32 = 16_000;
/// The recordings: 1 s tones at 48 kHz stereo (192 kB, four seconds on the link).
const TONE_SECS: f64 = 1.0;
/// The most a media response's status line and headers take.
const RESPONSE_HEAD: u64 = 512;

/// One fault of the schedule.
#[derive(Debug, Clone)]
enum Fault {
    /// Add `ms` of latency to the nodes' MQTT for `secs`.
    MqttDelay {
        ms: u64,
        secs: u64,
    },
    /// Black-hole the nodes' MQTT for `secs` (longer than the keep-alive: they reconnect).
    MqttDrop {
        secs: u64,
    },
    /// Close every MQTT connection of the nodes at once.
    MqttCut,
    /// Close every media download at once.
    HttpCut,
    /// Slow the media link further, to `rate` B/s, for `secs`.
    HttpSlow {
        rate: u64,
        secs: u64,
    },
    BrokerRestart,
    /// `kill -9` the controller, restart it after `secs`.
    ControllerKill {
        secs: u64,
    },
    /// `kill -9` the nodes while a download is under way, restart them after `secs`.
    NodesKillMidDownload {
        secs: u64,
    },
    /// `kill -9` the nodes while one plays, restart them after `secs`.
    NodesKillMidPlay {
        secs: u64,
    },
}

/// Each kind once, then `extra` more at random, shuffled; each after a gap of 1–4 s.
fn schedule(rng: &mut StdRng, extra: usize) -> Vec<(Duration, Fault)> {
    let mut kinds: Vec<u8> = (0..9).collect();
    kinds.extend((0..extra).map(|_| rng.gen_range(0..9u8)));
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.gen_range(0..=i));
    }
    kinds
        .into_iter()
        .map(|k| {
            let gap = Duration::from_millis(rng.gen_range(1_000..4_000));
            let f = match k {
                0 => Fault::MqttDelay {
                    ms: rng.gen_range(100..1_500),
                    secs: rng.gen_range(3..10),
                },
                1 => Fault::MqttDrop {
                    secs: rng.gen_range(6..14),
                },
                2 => Fault::MqttCut,
                3 => Fault::HttpCut,
                4 => Fault::HttpSlow {
                    rate: rng.gen_range(8_000..24_000),
                    secs: rng.gen_range(3..8),
                },
                5 => Fault::BrokerRestart,
                6 => Fault::ControllerKill {
                    secs: rng.gen_range(1..5),
                },
                7 => Fault::NodesKillMidDownload {
                    secs: rng.gen_range(1..4),
                },
                _ => Fault::NodesKillMidPlay {
                    secs: rng.gen_range(1..4),
                },
            };
            (gap, f)
        })
        .collect()
}

/// The `loa-sim` process holding every node.
struct Sim {
    child: Option<Child>,
    dir: PathBuf,
    broker: String,
    controller: String,
    /// Times started, to tell this start's "nodes running" line from the last one's.
    starts: usize,
}

impl Sim {
    fn configs(&self) -> PathBuf {
        self.dir.join("configs")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
        };
        let child = Command::new(bin("loa-sim")?)
            .arg("run")
            .arg("--configs")
            .arg(self.configs())
            .arg("--data")
            .arg(self.data())
            .args(["--output", "wav", "--start-rate", "100"])
            .args(["--broker", &self.broker, "--controller", &self.controller])
            .env("RUST_LOG", "info,rumqttc=warn")
            .stdout(Stdio::from(open("sim.out")?))
            .stderr(Stdio::from(open("sim.log")?))
            .spawn()?;
        self.child = Some(child);
        self.starts += 1;
        let (out, starts) = (self.dir.join("sim.out"), self.starts);
        wait::until(
            "loa-sim to start its nodes",
            Duration::from_secs(30),
            || {
                let out = out.clone();
                async move {
                    let text = std::fs::read_to_string(&out).unwrap_or_default();
                    Ok((text.matches("nodes running").count() >= starts).then_some(()))
                }
            },
        )
        .await
    }

    /// A power cut for every node at once.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node's data directory in the fleet.
fn node_data(sim: &Sim, id: &str) -> PathBuf {
    sim.data().join(id)
}

/// Media downloads under way now (`{sha}.part` files) across the fleet.
fn partial_downloads(sim: &Sim) -> usize {
    dirs(&sim.data())
        .iter()
        .map(|d| {
            files(&d.join("cache"))
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "part"))
                .count()
        })
        .sum()
}

/// Is a node writing a playback now (a WAV file with some audio in it but not whole, written
/// to in the last 400 ms)?
fn playing_now(sim: &Sim) -> bool {
    let now = std::time::SystemTime::now();
    dirs(&sim.data()).iter().any(|d| {
        files(&d.join("played")).iter().any(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                m.len() > 4096
                    && m.modified()
                        .ok()
                        .and_then(|t| now.duration_since(t).ok())
                        .is_some_and(|age| age < Duration::from_millis(400))
                    && !whole(p)
            })
        })
    })
}

/// Did the sink finish this playback file with the whole tone in it? The sink writes the
/// data length into the header when it finishes; a file cut by a power cut keeps 0 there.
fn whole(file: &Path) -> bool {
    let Ok(bytes) = std::fs::read(file) else {
        return false;
    };
    let full = TONE_SECS * f64::from(OUT_RATE) * 2.0;
    let header_len = bytes
        .get(40..44)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    header_len as usize == bytes.len().saturating_sub(44) && f64::from(header_len) >= full * 0.95
}

fn dirs(path: &Path) -> Vec<PathBuf> {
    files(path).into_iter().filter(|p| p.is_dir()).collect()
}

fn files(path: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The item id in a playback file's name: `20261124T060000-o42.wav` or `…-o42-2.wav`.
fn item_of(file: &Path) -> Option<String> {
    let stem = file.file_stem()?.to_str()?;
    let (_, rest) = stem.split_once('-')?;
    Some(rest.split('-').next()?.to_string())
}

/// What one node's sink wrote: whole playbacks per item, and the count of cut ones.
#[derive(Default)]
struct Played {
    whole: BTreeMap<String, usize>,
    cut: usize,
}

fn played(sim: &Sim, id: &str) -> Played {
    let mut p = Played::default();
    for f in files(&node_data(sim, id).join("played")) {
        let Some(item) = item_of(&f) else {
            continue;
        };
        if whole(&f) {
            *p.whole.entry(item).or_default() += 1;
        } else {
            p.cut += 1;
        }
    }
    p
}

/// Events the node has numbered, and events still in its spool.
fn spool_of(sim: &Sim, id: &str) -> (u64, usize) {
    let spool = node_data(sim, id).join("spool");
    let numbered = std::fs::read_to_string(spool.join("next_seq"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(0, |n| n - 1);
    let owed = files(&spool)
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .count();
    (numbered, owed)
}

/// Makes broadcasts one after another, retrying through controller restarts; returns their ids.
async fn broadcaster(api: Api, zones: Vec<i64>, announcements: Vec<i64>) -> Vec<i64> {
    let mut ids = Vec::new();
    let started = Instant::now();
    for i in 0..BROADCASTS {
        let due = started + BROADCAST_EVERY * i as u32;
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let zone = zones[i % zones.len()];
        let a = announcements[(i / 10) % announcements.len()];
        let made = wait::until(
            &format!("broadcast {i} to be accepted"),
            Duration::from_secs(60),
            || {
                let api = api.clone();
                async move {
                    let body = json!({
                        "announcement_id": a,
                        "zones": [zone],
                        "at": in_secs(LEAD_SECS),
                        "expires_in_minutes": 2,
                    });
                    // Down (a restart under way): try again.
                    Ok(api.broadcast(body).await.ok())
                }
            },
        )
        .await
        .expect("the controller comes back");
        ids.push(made);
    }
    ids
}

/// Provisions five villages of ten nodes and writes each config as provisioning made it, with
/// a short keep-alive (so a black hole is noticed) and a small WAV format; returns the zones,
/// the node of each media token, and the node ids.
async fn provision(api: &Api, sim: &Sim) -> (Vec<i64>, HashMap<String, String>, Vec<String>) {
    std::fs::create_dir_all(sim.configs()).unwrap();
    let mut zones = Vec::new();
    let mut token_of = HashMap::new();
    let mut nodes = Vec::new();
    for z in 0..ZONES {
        let zone = api.zone(&format!("Thôn {z}"), None).await.unwrap();
        zones.push(zone);
        for n in 0..NODES_PER_ZONE {
            let id = format!("n{z}{n}");
            let cfg = api
                .provision(&id, &format!("Cụm {id}"), zone, &node_data(sim, &id))
                .await
                .unwrap();
            let mut audio = toml::toml! { sink = "wav"
            channels = 1 };
            audio.insert("rate".into(), i64::from(OUT_RATE).into());
            let mut t: toml::Table = toml::from_str(&with_audio(&cfg, audio).unwrap()).unwrap();
            t["mqtt"]
                .as_table_mut()
                .unwrap()
                .insert("keep_alive_secs".into(), 5.into());
            token_of.insert(t["media_token"].as_str().unwrap().to_string(), id.clone());
            std::fs::write(
                sim.configs().join(format!("{id}.toml")),
                toml::to_string(&t).unwrap(),
            )
            .unwrap();
            nodes.push(id);
        }
    }
    (zones, token_of, nodes)
}

/// Uploads the recordings, one announcement each; returns the announcements and each
/// recording's size by SHA-256.
async fn upload_tones(api: &Api, tones: &Path) -> (Vec<i64>, HashMap<String, u64>) {
    std::fs::create_dir_all(tones).unwrap();
    let mut announcements = Vec::new();
    let mut size_of = HashMap::new();
    for m in 0..MEDIA {
        let path = tones.join(format!("tone-{m}.wav"));
        loa_e2e::pcm::write_tone(&path, 300.0 + 37.0 * m as f64, TONE_SECS, 48_000, 2).unwrap();
        let media = api.upload(&path).await.unwrap();
        let sha = media["sha256"].as_str().unwrap().to_string();
        size_of.insert(sha.clone(), media["size"].as_u64().unwrap());
        let a = api
            .post(
                "/api/v1/announcements",
                json!({"title": format!("Tin {m}"), "media_sha256": sha}),
            )
            .await
            .unwrap();
        announcements.push(a["id"].as_i64().unwrap());
    }
    (announcements, size_of)
}

/// Waits until every delivery of `ids` is final; returns the broadcasts as they stand.
async fn settle(api: &Api, ids: &[i64], sim: &Sim) -> Vec<serde_json::Value> {
    let terminal = TERMINAL;
    // Broadcasts found settled, so each poll asks only about the others.
    let done = std::sync::Mutex::new(BTreeMap::<i64, serde_json::Value>::new());
    let done_ref = &done;
    let settled = wait::until(
        "every delivery in a terminal state",
        Duration::from_secs(200),
        || async move {
            for id in ids {
                if done_ref.lock().unwrap().contains_key(id) {
                    continue;
                }
                let v = api.broadcast_status(*id).await?;
                let over = v["deliveries"].as_array().is_some_and(|d| {
                    d.iter()
                        .all(|d| terminal.contains(&d["stage"].as_str().unwrap_or("")))
                });
                if !over {
                    return Ok(None);
                }
                done_ref.lock().unwrap().insert(*id, v);
            }
            Ok(Some(
                done_ref
                    .lock()
                    .unwrap()
                    .values()
                    .cloned()
                    .collect::<Vec<_>>(),
            ))
        },
    )
    .await;
    match settled {
        Ok(s) => s,
        Err(e) => {
            let mut stuck = Vec::new();
            for id in ids {
                for (node, stage) in api.stages(*id).await.unwrap_or_default() {
                    if !terminal.contains(&stage.as_str()) {
                        stuck.push(format!("o{id}@{node}: {stage}"));
                    }
                }
            }
            panic!(
                "{e}\nnot settled ({}): {:?}\nsim log:\n{}",
                stuck.len(),
                &stuck[..stuck.len().min(40)],
                tail(&sim.dir.join("sim.log"), 40)
            );
        }
    }
}

/// Waits until the controller has every event each node numbered, 1..=N without a gap, and
/// each node's spool is empty.
async fn wait_nothing_owed(api: &Api, sim: &Sim, nodes: &[String]) {
    let owing = wait::until(
        "every node's events stored and its spool empty",
        Duration::from_secs(90),
        || async move {
            let mut owing = Vec::new();
            for id in nodes {
                let v = api.get(&format!("/api/v1/nodes/{id}")).await?;
                let acked = v["acked_seq"].as_u64().unwrap_or(0);
                let (numbered, owed) = spool_of(sim, id);
                if numbered == 0 || acked != numbered || owed > 0 {
                    owing.push(format!(
                        "{id}: acked {acked} of {numbered}, {owed} in spool"
                    ));
                }
            }
            if owing.is_empty() {
                Ok(Some(()))
            } else {
                Err(anyhow::anyhow!("{owing:?}"))
            }
        },
    )
    .await;
    if let Err(e) = owing {
        panic!("no event lost: {e}");
    }
}

/// The sinks against the records: at most one whole playback per item, and whole playbacks of
/// exactly the items recorded `played`. Returns the playbacks cut short.
fn check_sinks(
    sim: &Sim,
    nodes: &[String],
    stage_of: &BTreeMap<(String, String), (String, String)>,
    problems: &mut Vec<String>,
) -> usize {
    // The sinks against the records: whole playbacks at most once, and exactly the played ones.
    let mut cut_playbacks = 0;
    for id in nodes {
        let p = played(sim, id);
        cut_playbacks += p.cut;
        for (item, n) in &p.whole {
            if *n > 1 {
                problems.push(format!("{item}@{id} played {n} times"));
            }
        }
        let recorded: BTreeSet<&String> = stage_of
            .iter()
            .filter(|((n, _), (s, _))| n == id && s == "played")
            .map(|((_, i), _)| i)
            .collect();
        let heard: BTreeSet<&String> = p.whole.keys().collect();
        for item in recorded.difference(&heard) {
            problems.push(format!(
                "{item}@{id} recorded played, but its sink has no whole playback"
            ));
        }
        for item in heard.difference(&recorded) {
            let (stage, reason) = stage_of
                .get(&(id.clone(), item.to_string()))
                .cloned()
                .unwrap_or_default();
            problems.push(format!(
                "{item}@{id} played by its sink, but recorded {stage:?} ({reason})"
            ));
        }
    }
    cut_playbacks
}

/// What the media link's requests show.
struct Downloads {
    /// (node, recording) pairs fetched.
    downloads: usize,
    resumed: usize,
    resumed_after_power_cut: usize,
    lost_to_power_cuts: u64,
}

/// Downloads, per (node, media): each attempt asks from where the node's part file ends
/// (`Range: bytes=N-`), so N never goes back; and unless the node lost power during an
/// attempt, it asks next from where the last one's bytes ended: nothing it was sent is
/// thrown away. (At a power cut, what was in flight to it is lost; that is all.)
fn check_downloads(
    exchanges: &[Exchange],
    token_of: &HashMap<String, String>,
    size_of: &HashMap<String, u64>,
    kills: &[Instant],
    problems: &mut Vec<String>,
) -> Downloads {
    let mut attempts: BTreeMap<(String, String), Vec<&Exchange>> = BTreeMap::new();
    for e in exchanges {
        let Some(sha) = e.path().strip_prefix("/media/") else {
            continue;
        };
        let token = e
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        let node = token_of.get(token).cloned().unwrap_or_default();
        attempts.entry((node, sha.to_string())).or_default().push(e);
    }
    let (mut resumed, mut resumed_after_power_cut, mut lost_to_power_cuts) = (0, 0, 0u64);
    for ((node, sha), tries) in &attempts {
        let size = size_of.get(sha).copied().unwrap_or(0);
        for pair in tries.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.header("range").is_some() {
                resumed += 1;
            }
            if b.range_start() < a.range_start() {
                problems.push(format!(
                    "{node} asked for {sha} from {} after asking from {}: its part file went back",
                    b.range_start(),
                    a.range_start()
                ));
            }
            // What came down, less the response's head (a few hundred bytes).
            let reached = a.range_start() + a.down.saturating_sub(RESPONSE_HEAD);
            let power_cut = kills.iter().any(|k| a.at < *k && *k < b.at);
            if power_cut {
                lost_to_power_cuts += reached.saturating_sub(b.range_start());
                if b.range_start() > 0 {
                    resumed_after_power_cut += 1;
                }
            } else if b.range_start() < reached.min(size) {
                problems.push(format!(
                    "{node} asked for {sha} from {} though it had been sent up to {reached}, \
                 with no power cut between",
                    b.range_start()
                ));
            }
        }
    }
    Downloads {
        downloads: attempts.len(),
        resumed,
        resumed_after_power_cut,
        lost_to_power_cuts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_nodes_through_faults_lose_nothing_play_nothing_twice_and_resume_downloads() {
    let seed = std::env::var("LOA_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = schedule(&mut rng, 9);
    println!(
        "chaos seed {seed} (replay: LOA_CHAOS_SEED={seed} cargo test -p loa-e2e --test chaos)"
    );
    for (i, (gap, f)) in plan.iter().enumerate() {
        println!("  fault {i:2}: after {:.1} s, {f:?}", gap.as_secs_f64());
    }
    let run_started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let root_buf = dir.path().to_path_buf();
    let root = root_buf.as_path();
    // `LOA_CHAOS_KEEP=1` keeps the run's directory (logs, data, played files) to look into.
    let _dir = match std::env::var_os("LOA_CHAOS_KEEP") {
        Some(_) => {
            println!("keeping {}", root.display());
            let _ = dir.keep();
            None
        }
        None => Some(dir),
    };

    // The broker as deploy/mosquitto/loa.conf sets it up, anonymous, without persistence.
    let mut mosquitto = Mosquitto::start(
        &root.join("mosquitto"),
        "max_queued_messages 100000\nmax_inflight_messages 1000\n",
    )
    .await
    .unwrap();
    let mut controller = Controller::start(
        &root.join("controller"),
        Broker::External {
            url: mosquitto.url(),
            username: None,
            password: None,
        },
    )
    .await
    .unwrap();
    let api = controller.api();
    let mqtt_proxy = FaultProxy::start(([127, 0, 0, 1], mosquitto.port).into())
        .await
        .unwrap();
    let http_addr = controller
        .url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let http_proxy = FaultProxy::start_http(http_addr).await.unwrap();
    // Plans name the media by the controller's public URL: make that the proxy's.
    controller.env.push((
        "LOA_PUBLIC_URL".into(),
        format!("http://{}", http_proxy.host_port()),
    ));
    controller.restart().await.unwrap();
    let link = Faults {
        rate: Some(LINK_BYTES_PER_SEC),
        ..Faults::default()
    };
    http_proxy.set(link.clone());
    mqtt_proxy.set(link.clone());

    // Five villages of ten nodes, each node's config as provisioning wrote it, with a short
    // keep-alive so that a black hole is noticed, and a small WAV format.
    let mut sim = Sim {
        child: None,
        dir: root.join("sim"),
        broker: mqtt_proxy.host_port(),
        controller: format!("http://{}", http_proxy.host_port()),
        starts: 0,
    };
    std::fs::create_dir_all(sim.configs()).unwrap();
    let (zones, token_of, nodes) = provision(&api, &sim).await;
    let (announcements, size_of) = upload_tones(&api, &root.join("tones")).await;
    sim.start().await.unwrap();
    println!("setup done in {:.0} s", run_started.elapsed().as_secs_f64());

    // The broadcasts go out while the faults land.
    let sending = tokio::spawn(broadcaster(api.clone(), zones.clone(), announcements));
    let (mut mid_download, mut mid_play) = (0, 0);
    // When the nodes lost power.
    let mut kills: Vec<Instant> = Vec::new();
    for (i, (gap, fault)) in plan.iter().enumerate() {
        // The schedule's own pace, not a wait for something to happen.
        tokio::time::sleep(*gap).await;
        println!(
            "t={:5.1} s fault {i}: {fault:?}",
            run_started.elapsed().as_secs_f64()
        );
        match *fault {
            Fault::MqttDelay { ms, secs } => {
                mqtt_proxy.update(|f| f.delay = Duration::from_millis(ms));
                tokio::time::sleep(Duration::from_secs(secs)).await;
                mqtt_proxy.set(link.clone());
            }
            Fault::MqttDrop { secs } => {
                mqtt_proxy.update(|f| f.drop = true);
                tokio::time::sleep(Duration::from_secs(secs)).await;
                mqtt_proxy.set(link.clone());
            }
            Fault::MqttCut => mqtt_proxy.cut(),
            Fault::HttpCut => http_proxy.cut(),
            Fault::HttpSlow { rate, secs } => {
                http_proxy.update(|f| f.rate = Some(rate));
                tokio::time::sleep(Duration::from_secs(secs)).await;
                http_proxy.set(link.clone());
            }
            Fault::BrokerRestart => mosquitto.restart().await.unwrap(),
            Fault::ControllerKill { secs } => {
                controller.kill();
                tokio::time::sleep(Duration::from_secs(secs)).await;
                controller.restart().await.unwrap();
            }
            Fault::NodesKillMidDownload { secs } => {
                let s = &sim;
                wait::until("a download under way", Duration::from_secs(30), || async {
                    Ok((partial_downloads(s) > 0).then_some(()))
                })
                .await
                .unwrap();
                sim.kill();
                kills.push(Instant::now());
                mid_download += 1;
                tokio::time::sleep(Duration::from_secs(secs)).await;
                sim.start().await.unwrap();
            }
            Fault::NodesKillMidPlay { secs } => {
                let s = &sim;
                wait::until("a node playing", Duration::from_secs(30), || async {
                    Ok(playing_now(s).then_some(()))
                })
                .await
                .unwrap();
                sim.kill();
                kills.push(Instant::now());
                mid_play += 1;
                tokio::time::sleep(Duration::from_secs(secs)).await;
                sim.start().await.unwrap();
            }
        }
    }
    mqtt_proxy.set(link.clone());
    http_proxy.set(link.clone());
    println!(
        "faults over at t={:.0} s ({mid_download} kills mid-download, {mid_play} mid-play)",
        run_started.elapsed().as_secs_f64()
    );
    let mut ids = sending.await.unwrap();
    println!(
        "{} broadcasts made by t={:.0} s",
        ids.len(),
        run_started.elapsed().as_secs_f64()
    );

    // Settle: every delivery final, then every node's events stored and acknowledged.
    let mut settled = settle(&api, &ids, &sim).await;
    println!("settled at t={:.0} s", run_started.elapsed().as_secs_f64());
    wait_nothing_owed(&api, &sim, &nodes).await;

    // An item a node played that the broadcaster did not hear back about (its answer was
    // lost to a controller kill) is a broadcast too.
    let mut known: BTreeSet<String> = ids.iter().map(|i| format!("o{i}")).collect();
    for id in &nodes {
        for item in played(&sim, id).whole.keys() {
            if known.insert(item.clone()) {
                let n: i64 = item[1..].parse().unwrap();
                ids.push(n);
                settled.push(api.broadcast_status(n).await.unwrap());
            }
        }
    }

    // What the controller says each node did with each item.
    let mut stage_of: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for b in &settled {
        let item = format!("o{}", b["id"]);
        for d in b["deliveries"].as_array().unwrap() {
            let node = d["node_id"].as_str().unwrap().to_string();
            let stage = d["stage"].as_str().unwrap().to_string();
            let reason = d["reason"].as_str().unwrap_or("").to_string();
            stage_of.insert((node, item.clone()), (stage, reason));
        }
    }
    let mut problems = Vec::new();
    let terminal = TERMINAL;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for ((node, item), (stage, reason)) in &stage_of {
        *counts.entry(stage.clone()).or_default() += 1;
        if !terminal.contains(&stage.as_str()) {
            problems.push(format!("{item}@{node} is {stage}, not terminal"));
        }
        if stage != "played" && reason.is_empty() {
            problems.push(format!("{item}@{node} is {stage} without a reason"));
        }
    }
    let cut_playbacks = check_sinks(&sim, &nodes, &stage_of, &mut problems);

    let exchanges = http_proxy.exchanges();
    let d = check_downloads(&exchanges, &token_of, &size_of, &kills, &mut problems);
    println!(
        "deliveries by stage: {counts:?}; {} downloads in {} requests, {} resumed \
         ({} after a power cut), {} bytes lost in flight to power cuts; {cut_playbacks} \
         playbacks cut by power cuts; {} bytes down the media link",
        d.downloads,
        exchanges.len(),
        d.resumed,
        d.resumed_after_power_cut,
        d.lost_to_power_cuts,
        http_proxy.bytes_down()
    );
    assert!(
        problems.is_empty(),
        "{} problems (seed {seed}):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        stage_of.len() >= BROADCASTS * NODES_PER_ZONE,
        "every broadcast reached its ten nodes: {}",
        stage_of.len()
    );
    assert!(
        counts.get("played").copied().unwrap_or(0) * 10 >= stage_of.len() * 9,
        "nine in ten deliveries or more play despite the faults: {counts:?}"
    );
    assert!(
        d.resumed > 0 && d.resumed_after_power_cut > 0,
        "the run must resume downloads, and at least one after a power cut"
    );
    assert!(
        mid_download > 0 && mid_play > 0 && cut_playbacks > 0,
        "the run must cut the nodes' power mid-download and mid-play"
    );
    println!(
        "chaos run done in {:.0} s",
        run_started.elapsed().as_secs_f64()
    );
}
