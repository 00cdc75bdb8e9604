//! One real village node, for the benchmarks that need a single one (`live`, `relay-node`):
//! provisioned in a zone, its `[audio]` as given, ALSA's configuration read from `home`, and
//! online before they measure.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use loa_e2e::api::Api;
use loa_e2e::procs::{with_audio, Node};

pub struct Village {
    pub node: Node,
    /// The config file it was provisioned with.
    pub config: String,
}

impl Village {
    /// Provisions `na-sai-1` in `zone` under `dir`, starts it, and waits until it is online.
    pub async fn start(
        api: &Api,
        dir: &Path,
        zone: i64,
        audio: toml::Table,
        home: &Path,
    ) -> anyhow::Result<Village> {
        let config = api
            .provision("na-sai-1", "Cụm loa Nà Sài", zone, &dir.join("data"))
            .await?;
        let node = Node::start("na-sai-1", dir, &with_audio(&config, audio)?, Some(home))?;
        loa_e2e::wait::until("the node online", Duration::from_secs(60), || async {
            let n = api.get("/api/v1/nodes/na-sai-1").await?;
            Ok((n["presence"] == "online").then_some(()))
        })
        .await
        .with_context(|| node.log_tail())?;
        Ok(Village { node, config })
    }
}

/// The media token in a provisioned node's config.
pub fn media_token(config: &str) -> anyhow::Result<String> {
    let v: toml::Value = toml::from_str(config)?;
    v.get("media_token")
        .or_else(|| v.get("http").and_then(|h| h.get("media_token")))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .context("no media_token in the node's config")
}
