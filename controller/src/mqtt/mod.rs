//! The MQTT side: everything that crosses the broker.
//!
//! - [`broker`]: the embedded MQTT broker (rumqttd) and its accounts.
//! - [`link`]: the controller's MQTT session, with backoff; the only place that publishes.
//! - [`mosquitto`]: Mosquitto's password and ACL files from the node registry.
//! - [`planner`]: per-node signed plans; [`item_parts`] decides what an item holds on a node
//!   (chime, then the zone's languages).
//! - [`ingest`]: node state and events in (only when the node signed them), deliveries moved,
//!   acks out; refusals kept as security reports.

pub mod broker;
pub mod ingest;
pub mod item_parts;
pub mod link;
pub mod mosquitto;
pub mod planner;
