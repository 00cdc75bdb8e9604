//! Counters the controller keeps about its inputs, served on `/metrics` (Prometheus text).

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    /// Messages refused: bad topic, undecodable, another node's, over the limit.
    pub malformed_messages: AtomicU64,
    /// Well-formed messages from ids the registry does not know.
    pub unknown_node_messages: AtomicU64,
    pub events_stored: AtomicU64,
    /// QoS 1 duplicates and resends, dropped by (node, seq).
    pub events_duplicate: AtomicU64,
    pub plans_published: AtomicU64,
    /// Plans the nodes reported refusing.
    pub plans_rejected_by_nodes: AtomicU64,
    /// Whether the controller's MQTT link is up.
    pub mqtt_connected: AtomicBool,
}

impl Counters {
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let rows = [
            ("loa_malformed_messages_total", &self.malformed_messages),
            (
                "loa_unknown_node_messages_total",
                &self.unknown_node_messages,
            ),
            ("loa_events_stored_total", &self.events_stored),
            ("loa_events_duplicate_total", &self.events_duplicate),
            ("loa_plans_published_total", &self.plans_published),
            (
                "loa_plans_rejected_by_nodes_total",
                &self.plans_rejected_by_nodes,
            ),
        ];
        for (name, c) in rows {
            let _ = writeln!(
                out,
                "# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let up = self.mqtt_connected.load(Ordering::Relaxed) as u8;
        let _ = writeln!(
            out,
            "# TYPE loa_mqtt_connected gauge\nloa_mqtt_connected {up}"
        );
        out
    }
}
