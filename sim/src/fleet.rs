//! A fleet: many real nodes in one process. Each is the node's own [`loa_node::run`] with its
//! own config, MQTT session, plan verification, media cache, event spool and ledger in a data
//! directory of its own; only the output is changed, to a sink that needs no sound card
//! (`null`, or `wav` when a test must hear what was played), held to real time.

use anyhow::Context as _;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use loa_node::audio::SinkKind;
use loa_node::config::NodeConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// Where the fleet's nodes play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Discarded, but paced to real time: a playback lasts as long as its audio.
    Null,
    /// One WAV file per playback in `DATA/{node}/played/`, paced to real time.
    Wav,
}

/// How the fleet is set up; see `loa-sim run --help`.
#[derive(Debug, Clone)]
pub struct Options {
    /// A directory of `node.toml` files as the controller wrote them (any `*.toml`).
    pub configs: PathBuf,
    /// Each node's data directory is `data/{node_id}`.
    pub data: PathBuf,
    pub output: Output,
    /// Replaces `[mqtt] address` in every config (a fault proxy, another broker).
    pub broker: Option<String>,
    /// Replaces `controller_url` in every config.
    pub controller: Option<String>,
    /// Nodes started per second, so that thousands do not knock on the broker at once.
    pub start_rate: u32,
    /// Run only share `k` of `n` (every n-th config from the k-th): a province split over
    /// processes, each within its open-file limit (a node holds two or three sockets).
    pub shard: (usize, usize),
}

/// Reads every `*.toml` in `opts.configs`, in name order, and points it at the fleet's data
/// directory, output, broker and controller.
pub fn load(opts: &Options) -> anyhow::Result<Vec<NodeConfig>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&opts.configs)
        .with_context(|| format!("cannot read {}", opts.configs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let (k, n) = opts.shard;
    anyhow::ensure!(k < n, "shard {k} of {n}: the first is 0");
    let paths: Vec<PathBuf> = paths.into_iter().skip(k).step_by(n).collect();
    anyhow::ensure!(
        !paths.is_empty(),
        "{} holds no node config (*.toml)",
        opts.configs.display()
    );
    paths.iter().map(|p| adapt(p, opts)).collect()
}

fn adapt(path: &Path, opts: &Options) -> anyhow::Result<NodeConfig> {
    let mut cfg = NodeConfig::load(path)?;
    cfg.data_dir = opts.data.join(&cfg.node_id);
    cfg.audio.sink = match opts.output {
        Output::Null => SinkKind::Null,
        Output::Wav => SinkKind::Wav,
    };
    cfg.audio.wav_dir = Some(cfg.data_dir.join("played"));
    cfg.audio.pace = true;
    cfg.relay = None;
    if let Some(b) = &opts.broker {
        cfg.mqtt.address.clone_from(b);
    }
    if let Some(c) = &opts.controller {
        cfg.controller_url.clone_from(c);
    }
    Ok(cfg)
}

/// Runs every node until `shutdown` is cancelled; a node that stops with an error is logged
/// and the others go on. Calls `started` once all are running.
pub async fn run(
    configs: Vec<NodeConfig>,
    start_rate: u32,
    shutdown: CancellationToken,
    started: impl FnOnce(usize),
) {
    let gap = Duration::from_secs_f64(1.0 / f64::from(start_rate.max(1)));
    let count = configs.len();
    let mut nodes = FuturesUnordered::new();
    for cfg in configs {
        let id = cfg.node_id.clone();
        let span = tracing::info_span!("node", id = %id);
        let token = shutdown.child_token();
        nodes.push(tokio::spawn(
            async move { (id, loa_node::run(cfg, token).await) }.instrument(span),
        ));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(gap) => {}
        }
    }
    started(count);
    while let Some(done) = nodes.next().await {
        match done {
            Ok((_, Ok(()))) => {}
            Ok((id, Err(e))) => tracing::error!(node = %id, error = %e, "node stopped"),
            Err(e) => tracing::error!(error = %e, "a node's task panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
node_id = "thon-a"
site = "xa-mau"
controller_url = "http://127.0.0.1:8080"
controller_public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
node_key = "XLbU0qJVJXkTUmtMEdvrTs6hJ0Rna3r7wiOyZWTGgMI="
media_token = "t"
data_dir = "/var/lib/loa-node"
[mqtt]
address = "127.0.0.1:1883"
username = "thon-a"
password = "p"
[relay]
chip = "/dev/gpiochip0"
line = 17
"#;

    #[test]
    fn configs_are_pointed_at_the_fleet_and_a_clockless_paced_sink() {
        let dir = tempfile::tempdir().unwrap();
        let configs = dir.path().join("configs");
        std::fs::create_dir_all(&configs).unwrap();
        std::fs::write(configs.join("b.toml"), CONFIG).unwrap();
        std::fs::write(configs.join("a.toml"), CONFIG.replace("thon-a", "thon-b")).unwrap();
        std::fs::write(configs.join("notes.txt"), "not a config").unwrap();
        let opts = Options {
            configs,
            data: dir.path().join("data"),
            output: Output::Wav,
            broker: Some("127.0.0.1:9999".into()),
            controller: None,
            start_rate: 100,
            shard: (0, 1),
        };
        let fleet = load(&opts).unwrap();
        let ids: Vec<_> = fleet.iter().map(|c| c.node_id.as_str()).collect();
        assert_eq!(ids, ["thon-b", "thon-a"], "in file name order");
        let a = &fleet[1];
        assert_eq!(a.data_dir, dir.path().join("data/thon-a"));
        assert_eq!(a.audio.sink, SinkKind::Wav);
        assert!(a.audio.pace);
        assert_eq!(a.audio.wav_dir, Some(dir.path().join("data/thon-a/played")));
        assert!(a.relay.is_none(), "no GPIO in a simulator");
        assert_eq!(a.mqtt.address, "127.0.0.1:9999");
        assert_eq!(a.controller_url, "http://127.0.0.1:8080");
        let second = load(&Options {
            shard: (1, 2),
            ..opts
        })
        .unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].node_id, "thon-a", "the second of two shards");
    }

    #[test]
    fn an_empty_directory_is_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            configs: dir.path().to_path_buf(),
            data: dir.path().join("data"),
            output: Output::Null,
            broker: None,
            controller: None,
            start_rate: 100,
            shard: (0, 1),
        };
        let e = load(&opts).unwrap_err().to_string();
        assert!(e.contains("holds no node config"), "{e}");
    }
}
