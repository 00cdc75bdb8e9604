//! The planner: turns a node's open deliveries into its signed, versioned plan and publishes it
//! retained on the node's plan topic.
//!
//! Every plan is valid for a while (`plan_validity_secs`, 72 h by default); a node refuses one
//! past that, so a captured plan cannot be replayed later. The planner issues a fresh plan to
//! each node well before its last one ages out ([`Planner::refresh_aging`]). During a key
//! rotation every plan announces the next key.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{item_id, occurrence_of, Plan, PlanItem, Topics, MAX_PACKET_BYTES};
use rumqttc::{AsyncClient, QoS};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::keys::Keys;
use crate::metrics::Counters;
use crate::mqtt::item_parts::PartsBuilder;
use crate::store::nodes::{NewPlan, NodeRow};
use crate::store::occurrences::PlanItemRow;
use crate::store::{Store, StoreError};

/// Most items in one plan. A plan holding more would near the MQTT packet limit; the rest
/// follow in later plans as the first ones are settled.
pub const MAX_PLAN_ITEMS: usize = 400;

/// Plans written in one transaction when many nodes get new plans at once (a broadcast to
/// every village): fewer commits, and fewer turns for other writers to wait for.
pub const PLANS_PER_TRANSACTION: usize = 64;

/// Signs the plan, dropping its latest items until it fits in an MQTT packet (items come in
/// start order: the soonest are kept).
fn seal_fitting(plan: &mut Plan, key: &ed25519_dalek::SigningKey) -> Result<Vec<u8>, PlanError> {
    let mut sealed = plan.seal(key);
    while sealed.len() > MAX_PACKET_BYTES && plan.items.len() > 1 {
        let keep = plan.items.len() * MAX_PACKET_BYTES / sealed.len();
        plan.items.truncate(keep.clamp(1, plan.items.len() - 1));
        sealed = plan.seal(key);
    }
    if sealed.len() > MAX_PACKET_BYTES {
        return Err(PlanError::TooLarge {
            node: plan.node.clone(),
            size: sealed.len(),
            limit: MAX_PACKET_BYTES,
        });
    }
    Ok(sealed)
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the plan for node {node} would be {size} bytes, over the {limit}-byte MQTT limit")]
    TooLarge {
        node: String,
        size: usize,
        limit: usize,
    },
    #[error("cannot publish the plan: {0}")]
    Publish(#[from] rumqttc::ClientError),
}

pub struct Planner {
    store: Store,
    keys: Arc<Keys>,
    topics: Topics,
    site: String,
    public_url: String,
    /// How long a plan stays acceptable to a node after it is issued.
    validity: Duration,
    client: AsyncClient,
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
        client: AsyncClient,
        counters: Arc<Counters>,
    ) -> Self {
        Planner {
            store,
            keys,
            topics: Topics::for_site(&cfg.site),
            site: cfg.site.clone(),
            public_url: cfg.public_url(),
            validity: Duration::seconds(cfg.plan_validity_secs),
            client,
            counters,
            serial: Mutex::new(()),
            truncated: std::sync::Mutex::new(HashSet::new()),
        }
    }

    /// Builds, signs, stores and publishes a new plan for `node_id`; returns its version.
    pub async fn publish(&self, node_id: &str) -> Result<u64, PlanError> {
        let mut builder = PartsBuilder::for_site(&self.store, &self.public_url).await?;
        let versions = self
            .publish_chunk(&mut builder, std::slice::from_ref(&node_id.to_string()))
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
        let mut builder = match PartsBuilder::for_site(&self.store, &self.public_url).await {
            Ok(b) => b,
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
            if chunk.len() > 1 && self.publish_chunk(&mut builder, chunk).await.is_ok() {
                continue;
            }
            for n in chunk {
                if let Err(e) = self
                    .publish_chunk(&mut builder, std::slice::from_ref(n))
                    .await
                {
                    tracing::error!(node = %n, error = %e, "cannot publish plan");
                }
            }
        }
    }

    /// Builds and signs a plan for each node, stores them all in one transaction, then
    /// publishes them; returns their versions. The nodes and their items are read in one
    /// query each, whatever their number.
    async fn publish_chunk(
        &self,
        builder: &mut PartsBuilder,
        node_ids: &[String],
    ) -> Result<Vec<u64>, PlanError> {
        let _turn = self.serial.lock().await;
        let now = Utc::now();
        let mut nodes: HashMap<String, NodeRow> = self
            .store
            .nodes_by_ids(node_ids)
            .await?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let mut items = self.store.plan_items_for(node_ids, now).await?;
        let key = self.keys.current();
        let mut built = Vec::with_capacity(node_ids.len());
        for id in node_ids {
            let node = nodes
                .remove(id)
                .ok_or_else(|| StoreError::NotFound(format!("node {id}")))?;
            builder.set_node(node.zone_id, node.chime).await?;
            let rows = items.remove(id).unwrap_or_default();
            let wanted = rows.len();
            let mut plan = self.build(builder, &node, rows, now).await?;
            plan.version = node.plan_version + 1;
            let sealed = seal_fitting(&mut plan, &key)?;
            built.push((node.plan_version, plan, wanted, sealed));
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
            self.client
                .publish(self.topics.plan(&plan.node), QoS::AtLeastOnce, true, sealed)
                .await?;
            Counters::bump(&self.counters.plans_published);
            tracing::info!(node = %plan.node, version = plan.version, items = plan.items.len(), "plan published");
            versions.push(plan.version);
        }
        Ok(versions)
    }

    /// A node's plan of `rows` as of `now`, not yet versioned or signed.
    async fn build(
        &self,
        builder: &mut PartsBuilder,
        node: &NodeRow,
        rows: Vec<PlanItemRow>,
        now: DateTime<Utc>,
    ) -> Result<Plan, PlanError> {
        let mut items = Vec::with_capacity(rows.len().min(MAX_PLAN_ITEMS));
        for r in rows.into_iter().take(MAX_PLAN_ITEMS) {
            let parts = builder.parts(&r).await?;
            if parts.is_empty() {
                tracing::error!(node = %node.id, occurrence = r.occurrence_id, "announcement without a recording left out of the plan");
                continue;
            }
            items.push(PlanItem {
                id: item_id(r.occurrence_id),
                title: r.title,
                parts,
                start_at: r.start_at,
                expires_at: r.expires_at,
                priority: r.priority,
                volume: r.volume,
            });
        }
        Ok(Plan {
            version: 0,
            site: self.site.clone(),
            node: node.id.clone(),
            issued_at: now,
            valid_until: now + self.validity,
            next_key: self.keys.next_public(),
            volume: node.volume,
            after_preempt: builder.after_preempt,
            items,
        })
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
            self.client
                .publish(
                    self.topics.plan(node),
                    QoS::AtLeastOnce,
                    true,
                    sealed.clone(),
                )
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
            self.client
                .publish(topic, QoS::AtLeastOnce, true, Vec::new())
                .await?;
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
