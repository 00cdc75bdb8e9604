//! A whole commune (or province) on this machine for a benchmark: a Mosquitto with the
//! production queue limits, a controller on it, N nodes provisioned through the API in zones
//! of 50, and a `loa-sim` process running them all. Everything is built in release mode and
//! lives in one working directory, kept after the run for its logs.

use anyhow::Context as _;
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use loa_e2e::api::Api;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{bin, Broker, Controller};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::db::Db;

/// Nodes per village zone.
const ZONE_SIZE: usize = 50;

/// Nodes per `loa-sim` process: 20,000 open files is this machine's hard limit.
const NODES_PER_PROCESS: usize = 4_000;

/// The production Mosquitto settings that matter here (`deploy/mosquitto/loa.conf`): with
/// the defaults (1000 queued per client) a burst of plans is partly dropped.
const MOSQUITTO_LIMITS: &str = "max_queued_messages 100000\nmax_inflight_messages 1000\n";

pub struct Site {
    pub dir: PathBuf,
    pub mosquitto: Mosquitto,
    pub controller: Controller,
    pub api: Api,
    pub db: Db,
    /// The zone above every village: a broadcast to it reaches every node.
    pub root_zone: i64,
    pub nodes: usize,
    fleet: Vec<Child>,
}

impl Site {
    /// Starts the broker and the controller, provisions `nodes` nodes, starts the fleet and
    /// waits until every node is online with its first plan applied.
    pub async fn start(dir: &Path, nodes: usize) -> anyhow::Result<Site> {
        let mut site = Site::start_without_fleet(dir, nodes).await?;
        site.start_fleet()?;
        site.settle(Duration::from_secs(300)).await?;
        Ok(site)
    }

    /// The broker, the controller and the provisioned configs, no node running.
    pub async fn start_without_fleet(dir: &Path, nodes: usize) -> anyhow::Result<Site> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let mosquitto = Mosquitto::start(&dir.join("mosquitto"), MOSQUITTO_LIMITS).await?;
        let broker = Broker::External {
            url: mosquitto.url(),
            username: None,
            password: None,
        };
        let controller = Controller::start(&dir.join("controller"), broker).await?;
        let api = controller.api();
        let db = Db::open(&controller.data_dir.join("loa.db")).await?;
        let root_zone = api.zone("Tỉnh mô phỏng", None).await?;
        let t = Instant::now();
        provision(&api, root_zone, nodes, &dir.join("configs")).await?;
        eprintln!(
            "provisioned {nodes} nodes in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        Ok(Site {
            dir: dir.to_path_buf(),
            mosquitto,
            controller,
            api,
            db,
            root_zone,
            nodes,
            fleet: Vec::new(),
        })
    }

    /// Starts `loa-sim run` on the provisioned configs: one process per [`NODES_PER_PROCESS`]
    /// nodes, each within the open-file limit (a node holds its MQTT socket and, for a while
    /// after each clock check, an HTTP one).
    pub fn start_fleet(&mut self) -> anyhow::Result<()> {
        let shards = self.nodes.div_ceil(NODES_PER_PROCESS);
        for k in 0..shards {
            let log = std::fs::File::create(self.dir.join(format!("fleet-{k}.log")))?;
            let child = Command::new(bin("loa-sim")?)
                .arg("run")
                .arg("--configs")
                .arg(self.dir.join("configs"))
                .arg("--data")
                .arg(self.node_data())
                .args(["--output", "null", "--start-rate", "1000"])
                .arg("--shard")
                .arg(format!("{k}/{shards}"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting loa-sim")?;
            self.fleet.push(child);
        }
        Ok(())
    }

    /// CPU seconds the fleet's processes have used so far.
    pub fn fleet_cpu_secs(&self) -> f64 {
        self.fleet
            .iter()
            .filter_map(|c| crate::stats::cpu_secs(c.id()).ok())
            .sum()
    }

    /// Waits until the controller has written nothing for `quiet`: whatever the nodes sent
    /// is stored, and no backlog is left to count as idle load.
    pub async fn drained(&self, quiet: Duration, timeout: Duration) -> anyhow::Result<()> {
        let t = Instant::now();
        loop {
            let last = self.db.last_write().await?;
            let age = (chrono::Utc::now() - last).to_std().unwrap_or_default();
            if age >= quiet {
                return Ok(());
            }
            anyhow::ensure!(
                t.elapsed() < timeout,
                "the controller was still storing what nodes sent after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops the fleet (SIGKILL: a power cut); their files stay for the next start.
    pub fn stop_fleet(&mut self) {
        for mut c in self.fleet.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Where the fleet's nodes keep their files: in memory (`/dev/shm`). A village board
    /// has its own SD card; ten thousand nodes writing and syncing their small files on this
    /// machine's one disk would measure that disk's sync queue, not loa.
    pub fn node_data(&self) -> PathBuf {
        let name = self.dir.file_name().unwrap_or_default().to_string_lossy();
        Path::new("/dev/shm/loa-bench").join(name.as_ref())
    }

    /// Waits until every node is online and has applied the last plan published to it.
    pub async fn settle(&self, timeout: Duration) -> anyhow::Result<()> {
        let t = Instant::now();
        loop {
            let ready = self.db.nodes_settled().await?;
            if ready == self.nodes {
                return Ok(());
            }
            anyhow::ensure!(
                t.elapsed() < timeout,
                "only {ready} of {} nodes online with their last plan after {timeout:?}; see {}",
                self.nodes,
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The controller's process id, for its memory and CPU.
    pub fn controller_pid(&self) -> anyhow::Result<u32> {
        self.controller
            .pid()
            .context("the controller is not running")
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop_fleet();
        let _ = std::fs::remove_dir_all(self.node_data());
    }
}

/// Provisions `n` nodes `sim-00001`… in village zones of [`ZONE_SIZE`] under `root`, and
/// writes each one's config file into `out`.
async fn provision(api: &Api, root: i64, n: usize, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut zones = Vec::new();
    for z in 0..n.div_ceil(ZONE_SIZE) {
        zones.push(api.zone(&format!("Thôn {z:04}"), Some(root)).await?);
    }
    stream::iter(0..n)
        .map(|i| {
            let zone = zones[i / ZONE_SIZE];
            async move {
                let id = format!("sim-{i:05}");
                let text = api
                    .provision(&id, &id, zone, Path::new("/unused"))
                    .await
                    .with_context(|| format!("provisioning {id}"))?;
                std::fs::write(out.join(format!("{id}.toml")), text)?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
}
