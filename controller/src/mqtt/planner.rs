//! The planner: turns a node's open deliveries into its signed, versioned plan, stores it, and
//! puts it in the [`Outbox`] for the link to publish, retained on the node's plan topic.
//! Building one plan is a pure function ([`super::plan_build`]); this is the reading and
//! writing around it.
//!
//! Every plan is valid for a while (`plan_validity_secs`, 72 h by default); a node refuses one
//! past that, so a captured plan cannot be replayed later. The planner issues a fresh plan to
//! each node well before its last one ages out ([`Planner::refresh_aging`]). During a key
//! rotation every plan announces the next key.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{occurrence_of, Topics};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Mutex;

use super::item_parts::Catalogue;
use super::outbox::{Closed, Outbox};
use super::plan_build::{build_plan, seal_fitting, PlanContext, TooLarge};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::Keys;
use crate::metrics::Counters;
use crate::store::nodes::{NewPlan, NodeRow};
use crate::store::{Store, StoreError};

pub use super::plan_build::MAX_PLAN_ITEMS;

/// Plans written in one transaction when many nodes get new plans at once (a broadcast to
/// every village): fewer commits, and fewer turns for other writers to wait for.
pub const PLANS_PER_TRANSACTION: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("cannot publish the plan: {0}")]
    Publish(#[from] Closed),
}

pub struct Planner {
    store: Store,
    keys: Arc<Keys>,
    topics: Topics,
    site: String,
    public_url: String,
    /// Where stations' relays are pulled from when handed to Icecast (see [`Catalogue`]).
    handoff: Option<(String, String)>,
    /// How long a plan stays acceptable to a node after it is issued.
    validity: Duration,
    /// Where plans go; the link publishes them.
    outbox: Outbox,
    /// When plans are issued, and which items are still open.
    clock: SharedClock,
    counters: Arc<Counters>,
    /// Plans are built and published one at a time, so a higher version is never published
    /// before a lower one (the broker retains whichever came last).
    serial: Mutex<()>,
    /// Nodes whose last plan was cut short: they get a new plan as items are settled.
    truncated: std::sync::Mutex<HashSet<String>>,
}

impl Planner {
    /// A planner for the site, public URL and plan validity of `cfg`.
    pub fn new(
        store: Store,
        keys: Arc<Keys>,
        cfg: &Config,
        outbox: Outbox,
        counters: Arc<Counters>,
        clock: SharedClock,
    ) -> Self {
        Planner {
            store,
            keys,
            topics: Topics::for_site(&cfg.site),
            site: cfg.site.clone(),
            public_url: cfg.public_url(),
            handoff: cfg
                .relay
                .handoff_public()
                .map(|base| (base, cfg.site.clone())),
            validity: Duration::seconds(cfg.plan_validity_secs),
            outbox,
            clock,
            counters,
            serial: Mutex::new(()),
            truncated: std::sync::Mutex::new(HashSet::new()),
        }
    }

    /// The commune's catalogue, with where relays are pulled from.
    async fn catalogue(&self) -> crate::store::Result<Catalogue> {
        let mut c = Catalogue::for_site(&self.store, &self.public_url).await?;
        c.handoff = self.handoff.clone();
        Ok(c)
    }

    /// Builds, signs, stores and publishes a new plan for `node_id`; returns its version.
    pub async fn publish(&self, node_id: &str) -> Result<u64, PlanError> {
        let mut catalogue = self.catalogue().await?;
        let versions = self
            .publish_chunk(&mut catalogue, std::slice::from_ref(&node_id.to_string()))
            .await?;
        Ok(versions[0])
    }

    /// Publishes new plans for several nodes, logging (not failing on) each error. They are
    /// written [`PLANS_PER_TRANSACTION`] at a time; a chunk that fails is done again one node
    /// at a time, so one node's trouble holds back no other.
    pub async fn publish_all(&self, node_ids: &[String]) {
        if node_ids.is_empty() {
            return;
        }
        // One catalogue for the whole batch: each recording and zone is read once.
        let mut catalogue = match self.catalogue().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(nodes = node_ids.len(), error = %e, "cannot publish plans");
                return;
            }
        };
        let mut seen = HashSet::new();
        let node_ids: Vec<String> = node_ids
            .iter()
            .filter(|n| seen.insert(n.as_str()))
            .cloned()
            .collect();
        for chunk in node_ids.chunks(PLANS_PER_TRANSACTION) {
            if chunk.len() > 1 && self.publish_chunk(&mut catalogue, chunk).await.is_ok() {
                continue;
            }
            for n in chunk {
                if let Err(e) = self
                    .publish_chunk(&mut catalogue, std::slice::from_ref(n))
                    .await
                {
                    tracing::error!(node = %n, error = %e, "cannot publish plan");
                }
            }
        }
    }

    /// Builds and signs a plan for each node, stores them all in one transaction, then
    /// queues them for the link; returns their versions. The nodes, their items and the
    /// catalogue are read before any plan is built, whatever the nodes' number; building is
    /// pure ([`build_plan`]).
    async fn publish_chunk(
        &self,
        catalogue: &mut Catalogue,
        node_ids: &[String],
    ) -> Result<Vec<u64>, PlanError> {
        let _turn = self.serial.lock().await;
        let now = self.clock.now();
        let mut nodes: HashMap<String, NodeRow> = self
            .store
            .nodes_by_ids(node_ids)
            .await?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let mut items = self.store.plan_items_for(node_ids, now).await?;
        let zones: Vec<i64> = nodes.values().map(|n| n.zone_id).collect();
        let announcements: Vec<i64> = items
            .values()
            .flatten()
            .map(|r| r.announcement_id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        catalogue.add(&self.store, &zones, &announcements).await?;
        let catalogue = &*catalogue;
        let ctx = PlanContext {
            site: self.site.clone(),
            now,
            validity: self.validity,
            next_key: self.keys.next_public(),
        };
        let key = self.keys.current();
        let releases = self.store.latest_releases_for(node_ids).await?;
        let mut built = Vec::with_capacity(node_ids.len());
        for id in node_ids {
            let node = nodes
                .remove(id)
                .ok_or_else(|| StoreError::NotFound(format!("node {id}")))?;
            let rows = items.remove(id).unwrap_or_default();
            let mut b = build_plan(&ctx, &node, rows, catalogue);
            b.plan.release = releases
                .get(id)
                .and_then(|(r, metered)| release_ref(&node, r, *metered, &self.public_url));
            for occurrence in &b.without_recording {
                tracing::error!(node = %node.id, occurrence, "announcement without a recording left out of the plan");
            }
            let sealed = seal_fitting(&mut b.plan, &key)?;
            built.push((node.plan_version, b.plan, b.wanted, sealed));
        }
        let new_plans: Vec<NewPlan> = built
            .iter()
            .map(|(previous, plan, _, sealed)| NewPlan {
                node: &plan.node,
                previous: *previous,
                version: plan.version,
                parts: plan
                    .items
                    .iter()
                    .filter_map(|i| {
                        Some((
                            occurrence_of(&i.id)?,
                            i.parts.iter().map(|p| p.label()).collect(),
                        ))
                    })
                    .collect(),
                sealed,
            })
            .collect();
        let mut writes = self.store.begin_plans().await?;
        writes.record(&new_plans, now).await?;
        writes.commit().await?;
        drop(new_plans);
        let mut versions = Vec::with_capacity(built.len());
        for (_, plan, wanted, sealed) in built {
            self.note_cut(&plan.node, plan.items.len(), wanted);
            self.outbox
                .retained(self.topics.plan(&plan.node), sealed)
                .await?;
            Counters::bump(&self.counters.plans_published);
            tracing::info!(node = %plan.node, version = plan.version, items = plan.items.len(), "plan published");
            versions.push(plan.version);
        }
        Ok(versions)
    }

    /// Remembers whether the node's plan was cut short.
    fn note_cut(&self, node_id: &str, sent: usize, wanted: usize) {
        let mut cut = self.truncated.lock().expect("truncated lock");
        if sent < wanted {
            tracing::warn!(node = %node_id, sent, wanted, "plan cut to its soonest items; the rest follow as these are settled");
            cut.insert(node_id.to_string());
        } else {
            cut.remove(node_id);
        }
    }

    /// After a broker (re)connect: publishes every stored plan again, unchanged. A broker that
    /// restarted without persistence has lost its retained plans; nodes drop the repeats by
    /// version.
    pub async fn republish_stored(&self) -> Result<usize, PlanError> {
        let _turn = self.serial.lock().await;
        let plans = self.store.sealed_plans().await?;
        for (node, sealed) in &plans {
            self.outbox
                .retained(self.topics.plan(node), sealed.clone())
                .await?;
        }
        Ok(plans.len())
    }

    /// Whether the node's last plan was cut short (so settling an item should send more).
    pub fn is_truncated(&self, node_id: &str) -> bool {
        self.truncated
            .lock()
            .expect("truncated lock")
            .contains(node_id)
    }

    /// The clock plans are issued by.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The controller's signing keys (acks are signed with the current one too).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Issues a new plan to every live node whose last one is older than a third of the
    /// validity (or that has none yet), so none ages out while its node waits for a change.
    /// Returns how many were issued.
    pub async fn refresh_aging(&self, now: DateTime<Utc>) -> Result<usize, PlanError> {
        let aging = self
            .store
            .nodes_with_plans_before(now - self.validity / 3)
            .await?;
        self.publish_all(&aging).await;
        Ok(aging.len())
    }

    /// Clears a decommissioned node's retained plan and ack from the broker.
    pub async fn withdraw(&self, node_id: &str) -> Result<(), PlanError> {
        let _turn = self.serial.lock().await;
        for topic in [self.topics.plan(node_id), self.topics.ack(node_id)] {
            // An empty retained message removes the retained one.
            self.outbox.retained(topic, Vec::new()).await?;
        }
        Ok(())
    }

    /// Issues a new plan to every live node (after a key rotation step).
    pub async fn publish_everyone(&self) -> Result<usize, PlanError> {
        let all: Vec<String> = self
            .store
            .nodes()
            .await?
            .into_iter()
            .map(|n| n.id)
            .collect();
        self.publish_all(&all).await;
        Ok(all.len())
    }
}

/// The plan's release for `node`: only a build for the architecture the node reports.
fn release_ref(
    node: &NodeRow,
    r: &crate::store::releases::Release,
    allow_metered: bool,
    public_url: &str,
) -> Option<loa_protocol::ReleaseRef> {
    let arch = node.state.as_ref()?.get("arch")?.as_str()?;
    (arch == r.arch).then(|| loa_protocol::ReleaseRef {
        version: r.version.clone(),
        arch: r.arch.clone(),
        url: format!("{public_url}/releases/{}", r.id),
        sha256: r.sha256.clone(),
        size: r.size as u64,
        signature: r.signature.clone(),
        allow_metered,
    })
}
