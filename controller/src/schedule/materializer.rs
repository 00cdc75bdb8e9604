//! The materialiser: keeps every active schedule's occurrences written up to the plan horizon
//! (default 48 h), so each node's plan carries its programme for the next two days and a node
//! cut off from the controller keeps playing it.
//!
//! A pass is idempotent (see [`crate::store::schedules`]). A firing that fell while the
//! controller was down is still written: within the grace window it plays late; past it, its
//! deliveries are recorded `missed` with the reason. Quiet hours keep normal and priority items
//! off a zone's nodes; emergencies ignore them.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use loa_protocol::Priority;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::mqtt::planner::Planner;
use crate::schedule::rule::QuietHours;
use crate::store::schedules::{effective_quiet, Firing, ScheduleRow, Status, ZoneQuiet};
use crate::store::{Store, StoreError};

/// Most firings written per schedule in one pass; the next pass carries on.
const MAX_FIRINGS_PER_PASS: usize = 2000;

pub struct Materializer {
    pub store: Store,
    pub planner: Arc<Planner>,
    pub tz: Tz,
    /// How far ahead occurrences are written (and so how far plans reach).
    pub horizon: Duration,
    /// How late a firing missed during downtime may still play.
    pub grace: Duration,
    /// Wakes the loop at once (a schedule was created or changed).
    pub wake: Notify,
}

impl Materializer {
    /// A materialiser with the horizon and grace window of `cfg`.
    pub fn new(store: Store, planner: Arc<Planner>, tz: Tz, cfg: &crate::config::Config) -> Self {
        Materializer {
            store,
            planner,
            tz,
            horizon: Duration::seconds(cfg.plan_horizon_secs),
            grace: Duration::seconds(cfg.late_grace_secs),
            wake: Notify::new(),
        }
    }

    /// Runs passes until shutdown: at start, whenever woken, and often enough to keep the
    /// horizon ahead.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let tick = (self.horizon / 4).clamp(Duration::seconds(1), Duration::seconds(60));
        let tick = tick.to_std().expect("positive tick");
        loop {
            match self.pass(self.planner.clock().now()).await {
                Ok(touched) => self.planner.publish_all(&touched).await,
                Err(e) => tracing::error!(error = %e, "materialising schedules failed; will retry"),
            }
            // Plans age out after a while; nodes without changes get a fresh one before.
            if let Err(e) = self.planner.refresh_aging(self.planner.clock().now()).await {
                tracing::error!(error = %e, "cannot refresh aging plans; will retry");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// Writes every active schedule's firings up to `now + horizon`; returns the nodes whose
    /// plans must change.
    pub async fn pass(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let schedules = self.store.schedules().await?;
        let quiet = QuietMap::load(&self.store).await?;
        let mut touched: Vec<String> = Vec::new();
        for s in schedules.iter().filter(|s| s.status == Status::Active) {
            for n in self.materialize_one(s, now, &quiet).await? {
                if !touched.contains(&n) {
                    touched.push(n);
                }
            }
        }
        Ok(touched)
    }

    async fn materialize_one(
        &self,
        s: &ScheduleRow,
        now: DateTime<Utc>,
        quiet: &QuietMap,
    ) -> Result<Vec<String>, StoreError> {
        let from = s.materialized_until.unwrap_or(s.created_at);
        let to = now + self.horizon;
        if from >= to {
            return Ok(Vec::new());
        }
        let fires = s
            .recurrence
            .fires_between(self.tz, from, to, MAX_FIRINGS_PER_PASS)
            .map_err(|e| StoreError::Invalid(format!("schedule {} ({}): {e}", s.id, s.name)))?;
        // When the cap cut the list, carry on from just after the last one next time.
        let until = match fires.last() {
            Some(last) if fires.len() == MAX_FIRINGS_PER_PASS => *last + Duration::milliseconds(1),
            _ => to,
        };
        let nodes = self.store.nodes_under(&s.zone_ids).await?;
        let firings: Vec<Firing> = fires
            .into_iter()
            .map(|t| Firing {
                start_at: t,
                expires_at: t + Duration::minutes(s.expires_in_minutes),
                nodes: nodes
                    .iter()
                    .filter(|n| quiet.allows(n, s.priority, t, self.tz))
                    .cloned()
                    .collect(),
                missed: (t + self.grace < now).then(|| {
                    format!(
                        "the controller was not running at {} and the {}-minute grace window had passed",
                        t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S"),
                        self.grace.num_minutes()
                    )
                }),
            })
            .collect();
        let n = firings.len();
        let touched = self.store.materialize(s, &firings, until).await?;
        if n > 0 {
            tracing::info!(schedule = s.id, name = %s.name, firings = n, until = %until, "schedule materialised");
        }
        Ok(touched)
    }

    /// A node added after its zone's schedules were materialised gets their future occurrences.
    pub async fn attach_node(&self, node_id: &str) -> Result<usize, StoreError> {
        let quiet = QuietMap::load(&self.store).await?;
        let ancestors = quiet.ancestors_of_node(node_id);
        let now = self.planner.clock().now();
        let mut added = 0;
        for (occ, start, priority) in self
            .store
            .future_schedule_occurrences(&ancestors, now)
            .await?
        {
            if quiet.allows(node_id, priority, start, self.tz) {
                self.store.add_delivery(occ, node_id).await?;
                added += 1;
            }
        }
        Ok(added)
    }
}

/// Of `nodes`, those in quiet hours at `at` for an item of `priority` (none for an emergency):
/// a one-off broadcast leaves them out, as a schedule's firing does.
pub async fn quiet_nodes(
    store: &Store,
    nodes: &[String],
    priority: Priority,
    at: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<String>, StoreError> {
    if priority == Priority::Emergency {
        return Ok(Vec::new());
    }
    let quiet = QuietMap::load(store).await?;
    Ok(nodes
        .iter()
        .filter(|n| !quiet.allows(n, priority, at, tz))
        .cloned()
        .collect())
}

/// Each node's zone and each zone's own quiet hours, to work out a node's effective ones: its
/// zone's, or the nearest zone above that has some.
struct QuietMap {
    zones: HashMap<i64, ZoneQuiet>,
    node_zone: HashMap<String, i64>,
}

impl QuietMap {
    async fn load(store: &Store) -> Result<QuietMap, StoreError> {
        Ok(QuietMap {
            zones: store
                .zones_quiet()
                .await?
                .into_iter()
                .map(|z| (z.id, z))
                .collect(),
            node_zone: store.node_zones().await?.into_iter().collect(),
        })
    }

    /// The node's zone and every zone above it.
    fn ancestors_of_node(&self, node: &str) -> Vec<i64> {
        let mut out = Vec::new();
        let mut cur = self.node_zone.get(node).copied();
        while let Some(z) = cur {
            if out.contains(&z) {
                break;
            }
            out.push(z);
            cur = self.zones.get(&z).and_then(|z| z.parent_id);
        }
        out
    }

    fn quiet_hours(&self, node: &str) -> Option<QuietHours> {
        let zone = *self.node_zone.get(node)?;
        effective_quiet(&self.zones, zone).map(|(_, q)| q)
    }

    /// May an item of `priority` be placed on `node` at `at`?
    fn allows(&self, node: &str, priority: Priority, at: DateTime<Utc>, tz: Tz) -> bool {
        priority == Priority::Emergency
            || !self
                .quiet_hours(node)
                .is_some_and(|q| q.contains_instant(at, tz))
    }
}
