//! `node.toml`, the one file an installer copies to a village node: the controller writes it at
//! provisioning and the node reads it at start. Its schema is written here once, for both.
//!
//! The audio and relay sections are the node's business (sink, device, GPIO line), so they are
//! type parameters: the node reads them as its own config types, the controller writes only
//! the defaults it sets (see `loa_controller::provision`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::limits::NODE_KEEP_ALIVE_SECS;

/// Everything a node needs to join the site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile<Audio, Relay> {
    pub node_id: String,
    pub site: String,
    /// The controller's HTTP base URL (media downloads).
    pub controller_url: String,
    /// The controller's Ed25519 public key, base64: plans and acks must be signed by it.
    /// (Defaulted only so that `loa-node check` can say it is missing; loading refuses that.)
    #[serde(default)]
    pub controller_public_key: String,
    /// This node's own Ed25519 secret key, base64, made at provisioning: its events and states
    /// are signed with it, and the controller keeps only the public half.
    /// (Defaulted only so that `loa-node check` can say it is missing; loading refuses that.)
    #[serde(default)]
    pub node_key: String,
    /// Sent as `Authorization: Bearer …` on media downloads.
    pub media_token: String,
    /// Where the plan, the media cache, the event spool and the ledger live.
    pub data_dir: PathBuf,
    /// The commune's CA certificate, PEM text inline (written when the controller has one):
    /// trusted for an `https://` controller_url and for MQTT with `tls = true`, besides the
    /// usual public roots, so this one file is all an installer needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Bytes of media the cache may hold (default 512 MiB).
    #[serde(
        default = "default_cache_budget",
        skip_serializing_if = "is_default_cache_budget"
    )]
    pub cache_budget_bytes: u64,
    /// Seconds between clock checks against the controller (`GET /time`, three exchanges:
    /// about 2 KB on the wire each time, see `docs/field.md`). Default once a day: a board's
    /// clock is kept by NTP, and the check only reports how far it is.
    #[serde(
        default = "default_clock_check",
        skip_serializing_if = "is_default_clock_check"
    )]
    pub clock_check_secs: u64,
    pub mqtt: MqttSection,
    #[serde(default)]
    pub audio: Audio,
    /// The amplifier relay (a GPIO line); absent, no relay is switched.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub relay: Option<Relay>,
    /// Over-the-air updates: the release key and whether the link is metered.
    #[serde(default, skip_serializing_if = "UpdateSection::is_default")]
    pub update: UpdateSection,
}

/// `[update]`: what the node needs to take releases over the air (docs/field.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSection {
    /// The release key's public half, base64: releases must be signed by it. It is not the
    /// plan key. Absent, the node refuses every release (and says so in its state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_key: Option<String>,
    /// The node's link is paid by the byte (a mobile SIM): it downloads a release only when
    /// the rollout allows metered links.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub metered: bool,
    /// Seconds a new version has to connect and take a plan before the node goes back to the
    /// previous one (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_secs: Option<u64>,
}

impl UpdateSection {
    fn is_default(&self) -> bool {
        *self == UpdateSection::default()
    }
}

/// How the node reaches the broker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    /// `host:port` of the broker as the node reaches it.
    pub address: String,
    pub username: String,
    pub password: String,
    /// MQTT keep-alive in seconds (default [`NODE_KEEP_ALIVE_SECS`], 360): an idle link costs
    /// one ping per keep-alive (160–212 bytes on the wire), and the broker publishes the
    /// node's `offline` will 1.5 × keep-alive after its last packet. Shorter: a dead node is
    /// seen sooner, for more data; longer: less data, slower to see, and past a carrier NAT's
    /// idle timeout the link breaks (see `docs/field.md`).
    #[serde(
        default = "default_keep_alive",
        skip_serializing_if = "is_default_keep_alive"
    )]
    pub keep_alive_secs: u64,
    /// MQTT over TLS (usually port 8883), trusting `ca_pem`; written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

/// How often a node checks its clock unless its file says otherwise: once a day, so that an
/// idle node stays under 60 KB a day on the wire with TLS too (BENCHMARKS.md).
pub const DEFAULT_CLOCK_CHECK_SECS: u64 = 24 * 3600;

/// The media cache's budget unless the file says otherwise: 512 MiB.
pub const DEFAULT_CACHE_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

fn default_keep_alive() -> u64 {
    NODE_KEEP_ALIVE_SECS
}

fn is_default_keep_alive(v: &u64) -> bool {
    *v == NODE_KEEP_ALIVE_SECS
}

fn default_clock_check() -> u64 {
    DEFAULT_CLOCK_CHECK_SECS
}

fn is_default_clock_check(v: &u64) -> bool {
    *v == DEFAULT_CLOCK_CHECK_SECS
}

fn default_cache_budget() -> u64 {
    DEFAULT_CACHE_BUDGET_BYTES
}

fn is_default_cache_budget(v: &u64) -> bool {
    *v == DEFAULT_CACHE_BUDGET_BYTES
}

// A function rather than `default`, so that `Relay` need not implement `Default`.
fn none<T>() -> Option<T> {
    None
}
