//! The MQTT side: everything that crosses the broker.
//!
//! - [`broker`]: the embedded MQTT broker (rumqttd) and its accounts.
//! - [`link`]: the controller's MQTT session, with backoff; the only place that publishes.
//! - [`mosquitto`]: Mosquitto's password and ACL files from the node registry.
//! - [`revoke`]: a revoked node's account closed and its live connection cut, on either broker.
//! - [`planner`]: per-node signed plans, stored and queued; [`plan_build`] builds one, purely,
//!   from the node, its items and the [`item_parts::Catalogue`] (chime, then the zone's
//!   languages).
//! - [`outbox`]: what the planner and ingest send, in order, for the link to publish.
//! - [`ingest`]: node state and events in (only when the node signed them), deliveries moved,
//!   acks out; refusals kept as security reports.

pub mod broker;
pub mod ingest;
pub mod item_parts;
pub mod link;
pub mod mosquitto;
pub mod outbox;
pub mod plan_build;
pub mod planner;
pub mod revoke;
