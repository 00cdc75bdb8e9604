//! The presence sweep: a task that, every few seconds, keeps the controller's presence and
//! deliveries honest (the rules are in [`crate::presence`]):
//! - marks the controller alive while its broker link is up, so a later start knows from when
//!   nothing was confirmed;
//! - turns every node `unknown` when the link drops;
//! - turns a node still `unknown` after the grace `offline`;
//! - ends `missed` ("node offline since …") each open delivery of an expired item whose node
//!   is offline, through the delivery state machine ([`crate::delivery::Delivery`]);
//! - brings the fault history in line with the faults of now ([`record_faults`], the rules in
//!   [`crate::faults`]).

use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::metrics::Counters;
use crate::presence::{offline_reason, Grace};
use crate::store::{Store, StoreError};

pub struct Sweep {
    pub store: Store,
    pub counters: Arc<Counters>,
    pub grace: Grace,
    pub tz: chrono_tz::Tz,
}

/// When the controller starts: every node is `unknown` from the last instant the controller
/// was alive and in touch (its downtime was not confirmed online), or from now on a first start.
pub async fn on_start(store: &Store, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let from = store.last_alive().await?.unwrap_or(now).min(now);
    let n = store.presence_unknown(now, from).await?;
    tracing::info!(nodes = n, since = %from, "every node unknown until it shows itself");
    Ok(n)
}

/// After every connect to the broker, before the plans go out again (the roll call): nodes
/// not heard from since now are `unknown` until they answer.
pub async fn on_connect(store: &Store, now: DateTime<Utc>) {
    match store.presence_unknown(now, now).await {
        Ok(n) => tracing::info!(nodes = n, "connected: nodes unknown until they answer"),
        Err(e) => tracing::error!(error = %e, "cannot mark nodes unknown after a connect"),
    }
}

/// Computes the faults of `now` and writes their beginnings and ends to the history.
pub async fn record_faults(
    store: &Store,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<(), StoreError> {
    let faults = store.faults_now(now, tz).await?;
    let (opened, closed) = store.log_faults(&faults, now).await?;
    if opened + closed > 0 {
        tracing::info!(opened, closed, now = faults.len(), "faults changed");
    }
    Ok(())
}

impl Sweep {
    /// How often the sweep runs: a quarter of the grace, between 1 and 15 seconds.
    pub fn tick(&self) -> Duration {
        let quarter = self.grace.0.num_milliseconds().max(0) as u64 / 4;
        Duration::from_millis(quarter.clamp(1_000, 15_000))
    }

    pub async fn run(self, shutdown: CancellationToken) {
        // Since when the link has been up, as seen by this task (within a tick).
        let mut link_up_since: Option<DateTime<Utc>> = None;
        // The last tick the link was up: nothing is confirmed after it once it drops.
        let mut last_up: Option<DateTime<Utc>> = None;
        loop {
            let now = Utc::now();
            let up = self.counters.mqtt_connected.load(Ordering::Relaxed);
            if let Err(e) = self.once(now, up, &mut link_up_since, &mut last_up).await {
                tracing::error!(error = %e, "presence sweep failed; trying again");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.tick()) => {}
            }
        }
        // A clean stop: alive until now.
        if self.counters.mqtt_connected.load(Ordering::Relaxed) {
            if let Err(e) = self.store.mark_alive(Utc::now()).await {
                tracing::warn!(error = %e, "cannot mark the controller alive at shutdown");
            }
        }
    }

    async fn once(
        &self,
        now: DateTime<Utc>,
        up: bool,
        link_up_since: &mut Option<DateTime<Utc>>,
        last_up: &mut Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        match (up, *link_up_since) {
            (true, None) => *link_up_since = Some(now),
            (false, Some(_)) => {
                *link_up_since = None;
                let from = last_up.unwrap_or(now);
                let n = self.store.presence_unknown(now, from).await?;
                tracing::warn!(nodes = n, "broker link down: every node unknown");
            }
            _ => {}
        }
        if up {
            *last_up = Some(now);
            self.store.mark_alive(now).await?;
        }
        if let Some(cut) = self.grace.unknown_before(now, *link_up_since) {
            for id in self.store.unknown_to_offline(cut, now).await? {
                tracing::warn!(node = %id, grace_secs = self.grace.0.num_seconds(), "not heard from within the grace: offline");
            }
        }
        let hanging = self.store.hanging_deliveries(now).await?;
        if !hanging.is_empty() {
            let tz = self.tz;
            let moved = self
                .store
                .presume_missed(&hanging, now, |h| offline_reason(h.last_seen, tz))
                .await?;
            for h in &hanging {
                tracing::info!(node = %h.node_id, occurrence = h.occurrence_id, "item expired with its node offline: missed");
            }
            tracing::info!(deliveries = moved, "deliveries presumed missed");
        }
        record_faults(&self.store, now, self.tz).await
    }
}
