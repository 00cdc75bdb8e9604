//! Node releases over the air: an admin uploads a bundle signed by the release key (held
//! offline, not the plan key), rolls it out to nodes, zones or everyone, and reads each node's
//! progress, failures first. Shared by the API and the releases page.
//!
//! Progress is read from each node's own state: `software` equal to the release's version is
//! `running`; an `update` naming the version gives its status (and the reason of a failure or
//! a rollback); otherwise the node has not started on it (`pending`).

use loa_protocol::{ReleaseManifest, UpdateStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

use super::{App, Kind, OpError};
use crate::store::nodes::NodeRow;
use crate::store::releases::Release;

/// Whom a rollout reaches: some nodes, the nodes under some zones, or every node.
#[derive(utoipa::ToSchema, Debug, Clone, Default, Deserialize)]
pub struct Rollout {
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub zones: Vec<i64>,
    #[serde(default)]
    pub all: bool,
    /// Nodes whose link is marked metered download it too.
    #[serde(default)]
    pub allow_metered: bool,
}

/// One node's progress with a release.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct NodeProgress {
    pub node: String,
    pub name: String,
    pub status: UpdateStatus,
    /// Why it failed or was rolled back.
    pub reason: Option<String>,
    /// The version the node runs, as its last state said.
    pub software: Option<String>,
    /// The node's architecture, as its last state said.
    pub arch: Option<String>,
}

/// A release and the progress of every node its rollouts named, failures first.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct ReleaseProgress {
    pub release: Release,
    pub nodes: Vec<NodeProgress>,
}

/// Where a release's binary is kept: `data_dir/releases/{sha256}`.
pub fn binary_path(s: &App, sha256: &str) -> PathBuf {
    s.cfg.data_dir.join("releases").join(sha256)
}

/// Checks a bundle against the configured release key and keeps it.
pub async fn upload(s: &App, bundle: &[u8]) -> Result<Release, OpError> {
    let Some(key) = s.cfg.release_key.as_deref() else {
        return Err(OpError::conflict(
            "release.no_key",
            "no release key is configured (release_key in the controller's config): \
             releases cannot be checked, so none is taken",
        ));
    };
    let key = loa_protocol::verifying_key_from_b64(key)
        .map_err(|e| OpError::internal(format!("the configured release_key: {e}")))?;
    let (signed, binary) = loa_protocol::release::read_bundle(bundle)
        .map_err(|e| OpError::new(Kind::Invalid, "release.malformed", e.to_string()))?;
    let manifest: ReleaseManifest = signed.manifest;
    manifest.verify(&signed.signature, &key).map_err(|_| {
        OpError::new(
            Kind::Invalid,
            "release.bad_signature",
            "the release is not signed by the configured release key",
        )
    })?;
    let sha = hex::encode(Sha256::digest(binary));
    if sha != manifest.sha256 {
        return Err(OpError::new(
            Kind::Invalid,
            "release.hash_mismatch",
            format!(
                "the binary's SHA-256 is {sha}, the signed manifest says {}",
                manifest.sha256
            ),
        ));
    }
    let path = binary_path(s, &sha);
    write(&path, binary).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::StorageFull {
            OpError::disk_full(e)
        } else {
            OpError::internal(e)
        }
    })?;
    Ok(s.store.create_release(&manifest, &signed.signature).await?)
}

async fn write(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("a release file has a directory");
    tokio::fs::create_dir_all(dir).await?;
    let tmp = path.with_extension("part");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

pub async fn list(s: &App) -> Result<Vec<Release>, OpError> {
    Ok(s.store.releases().await?)
}

/// Names the nodes of `r` in a rollout of release `id`, and sends them new plans.
pub async fn rollout(s: &App, id: i64, r: &Rollout) -> Result<ReleaseProgress, OpError> {
    let release = s.store.release(id).await?;
    let mut nodes: Vec<String> = if r.all {
        s.store.nodes().await?.into_iter().map(|n| n.id).collect()
    } else {
        let mut ids = r.nodes.clone();
        let known = s.store.nodes_by_ids(&r.nodes).await?;
        if let Some(missing) = r.nodes.iter().find(|n| !known.iter().any(|k| &k.id == *n)) {
            return Err(OpError::not_found(
                "not_found",
                format!("node {missing} not found"),
            ));
        }
        if !r.zones.is_empty() {
            ids.extend(s.store.nodes_under(&r.zones).await?);
        }
        ids
    };
    nodes.sort();
    nodes.dedup();
    if nodes.is_empty() {
        return Err(OpError::invalid(
            "a rollout names nodes, zones (with nodes in them) or all",
        ));
    }
    s.store
        .add_release_targets(release.id, &nodes, r.allow_metered)
        .await?;
    tracing::info!(release = %release.version, arch = %release.arch, nodes = nodes.len(), "release rolled out");
    s.planner.publish_all(&nodes).await;
    progress(s, id).await
}

/// The release and each named node's progress, failures first.
pub async fn progress(s: &App, id: i64) -> Result<ReleaseProgress, OpError> {
    let release = s.store.release(id).await?;
    let targets: Vec<String> = s
        .store
        .release_targets(id)
        .await?
        .into_iter()
        .map(|t| t.node_id)
        .collect();
    let mut nodes: Vec<NodeProgress> = s
        .store
        .nodes_by_ids(&targets)
        .await?
        .iter()
        .map(|n| node_progress(&release, n))
        .collect();
    nodes.sort_by_key(|p| (rank(p.status), p.node.clone()));
    Ok(ReleaseProgress { release, nodes })
}

/// Failures first, then what is under way, then what is done.
fn rank(s: UpdateStatus) -> u8 {
    match s {
        UpdateStatus::RolledBack | UpdateStatus::Failed => 0,
        UpdateStatus::Pending => 1,
        UpdateStatus::Downloading | UpdateStatus::Installed => 2,
        UpdateStatus::Running => 3,
    }
}

/// What a node's last state says of `release`.
pub fn node_progress(release: &Release, n: &NodeRow) -> NodeProgress {
    let field = |k: &str| {
        n.state
            .as_ref()
            .and_then(|st| st.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let software = field("software");
    let update: Option<loa_protocol::UpdateProgress> = n
        .state
        .as_ref()
        .and_then(|st| st.get("update"))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let (status, reason) = match update {
        Some(u) if u.version == release.version && u.status != UpdateStatus::Running => {
            (u.status, u.reason)
        }
        _ if software.as_deref() == Some(release.version.as_str()) => (UpdateStatus::Running, None),
        _ => (UpdateStatus::Pending, None),
    };
    NodeProgress {
        node: n.id.clone(),
        name: n.name.clone(),
        status,
        reason,
        software,
        arch: field("arch"),
    }
}
