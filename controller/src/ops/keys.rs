//! The controller's signing key and its rotation, without visiting villages.
//!
//! [`begin_rotation`] makes the next key, and every node's next plan announces it; each node's
//! state then lists it. [`commit_rotation`] switches to it once every live node has seen it (or
//! when told to go on anyway: a node that missed the announcement needs a new config file).
//! Shared by the API and the security page.

use serde::Serialize;

use super::{App, OpError};
use crate::keys::KeyError;

#[derive(utoipa::ToSchema, Serialize)]
pub struct KeyStatus {
    /// The key plans are signed with now (base64 public half).
    pub current: String,
    /// The announced next key, while a rotation is under way.
    pub next: Option<String>,
    /// Per live node: the keys its last state says it accepts.
    pub nodes: Vec<NodeKeys>,
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct NodeKeys {
    pub id: String,
    pub name: String,
    pub accepts: Vec<String>,
    /// It accepts the next key (false when no rotation is under way).
    pub knows_next: bool,
}

/// The keys and what each node accepts. Shared with the security page.
pub async fn status(s: &App) -> Result<KeyStatus, OpError> {
    let keys = s.planner.keys();
    let (current, next) = (keys.public(), keys.next_public());
    let nodes = s
        .store
        .nodes()
        .await?
        .into_iter()
        .map(|n| {
            let accepts: Vec<String> = n
                .state
                .as_ref()
                .and_then(|st| st.get("controller_keys"))
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            NodeKeys {
                knows_next: next.as_ref().is_some_and(|k| accepts.contains(k)),
                id: n.id,
                name: n.name,
                accepts,
            }
        })
        .collect();
    Ok(KeyStatus {
        current,
        next,
        nodes,
    })
}

/// Begins a rotation (or repeats the announcement of one under way): every node's next plan
/// announces the next key. Shared with the security page.
pub async fn begin_rotation(s: &App) -> Result<(), OpError> {
    s.planner.keys().begin().map_err(OpError::internal)?;
    let sent = replan_everyone(s).await?;
    tracing::warn!(
        nodes = sent,
        "key rotation begun: every plan announces the next key"
    );
    Ok(())
}

/// Switches to the next key; refused while a live node has not seen it, unless `force`.
/// Shared with the security page.
pub async fn commit_rotation(s: &App, force: bool) -> Result<(), OpError> {
    let before = status(s).await?;
    if before.next.is_none() {
        return Err(no_rotation());
    }
    let behind: Vec<&str> = before
        .nodes
        .iter()
        .filter(|n| !n.knows_next)
        .map(|n| n.id.as_str())
        .collect();
    if !behind.is_empty() && !force {
        return Err(OpError::conflict(
            "keys.not_seen",
            format!(
                "these nodes have not yet seen the next key: {}; wait until they are online, \
                 or commit with force (they will then need a new config file)",
                behind.join(", ")
            ),
        ));
    }
    match s.planner.keys().commit() {
        Ok(_) => {}
        Err(KeyError::NoRotation) => return Err(no_rotation()),
        Err(e) => return Err(OpError::internal(e)),
    }
    let sent = replan_everyone(s).await?;
    tracing::warn!(
        nodes = sent,
        behind = behind.len(),
        "the next key took over: plans are now signed with it"
    );
    Ok(())
}

/// Every live node gets a new plan (announcing or signed by the new key); how many.
async fn replan_everyone(s: &App) -> Result<usize, OpError> {
    s.planner
        .publish_everyone()
        .await
        .map_err(OpError::internal)
}

/// A commit with no rotation under way.
fn no_rotation() -> OpError {
    OpError::conflict(
        "keys.no_rotation",
        "no key rotation has begun: rotate first",
    )
}
