//! The node's retained state as the runner publishes it: presence, versions, what plays, the
//! cache, the free disk, unsent events, device errors, the clock offset, the keys it trusts and
//! where it stands.

use chrono::Utc;
use loa_protocol::{NodeState, Presence};
use rumqttc::QoS;

use super::Runner;

impl Runner {
    /// Publishes the retained node state; never blocks the loop (dropped if the queue is full).
    pub(super) fn publish_state(&self) {
        let (session, serial) = self.session.stamp();
        let state = NodeState {
            node: self.cfg.node_id.clone(),
            presence: Presence::Online,
            session,
            serial,
            at: Some(Utc::now()),
            software: Some(crate::update::version().to_string()),
            plan_version: self.plans.version(),
            playing: self.agenda.on_air().map(|p| p.item.clone()),
            volume: self.plans.current().map(|p| p.volume),
            cache_bytes: Some(self.cache.total_bytes()),
            disk_free_bytes: crate::disk::free_bytes(&self.cfg.data_dir),
            unacked_events: self
                .spool
                .lock()
                .ok()
                .and_then(|s| s.pending_count().ok())
                .map(|n| n as u64),
            device_error: self.device_errors(),
            clock_offset_ms: self.clock_offset_ms,
            uptime_secs: Some(self.started.elapsed().as_secs()),
            controller_keys: self.plans.trust().key_names(),
            speaker_check: self.speaker.last.clone(),
            // Read at each state (a small file), so a location the installer's check saves
            // while the service runs goes out with the next one.
            location: crate::location::load(&self.cfg.data_dir),
            arch: Some(loa_protocol::release::this_arch().to_string()),
            update: self.update.report(),
        };
        if let Err(e) = self.client.try_publish(
            self.topics.state(&self.cfg.node_id),
            QoS::AtLeastOnce,
            true,
            state.seal(&self.key),
        ) {
            tracing::debug!(error = %e, "state not queued");
        }
    }

    /// The audio device's and the relay's last errors, for the node state.
    pub(super) fn device_errors(&self) -> Option<String> {
        let errors: Vec<&str> = [self.agenda.device_error(), self.relay.error()]
            .into_iter()
            .flatten()
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }
}
