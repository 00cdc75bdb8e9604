//! loa's wire contract, shared by the controller and the nodes. No I/O lives here.
//!
//! A tour:
//! - [`topics`]: the MQTT topic tree under `loa/v1/{site}` and how to parse a topic back.
//! - [`vocab`]: the words both sides use: priorities and the delivery stages.
//! - [`envelope`]: Ed25519 signing and verification over exactly the bytes sent; plans and
//!   acks are signed by the controller, events and states by the node's own key.
//! - [`item_id`]: how a plan item's id names the occurrence it airs (`o{id}`).
//! - [`node_file`]: `node.toml`, written by the controller at provisioning, read by the node.
//! - [`plan`]: the per-node plan (the node's whole desired state) and its validation.
//! - [`release`]: node releases over the air: the signed manifest, the bundle, the plan's
//!   reference and the node's progress.
//! - [`state`]: the retained node state, including the `offline` last will.
//! - [`event`]: the node's numbered events and the controller's signed acknowledgement.
//! - [`error`]: the typed rejections every decoder returns.
//! - [`backoff`]: reconnect pacing (exponential, jittered), shared by both sides.
//! - [`limits`]: the packet limit every MQTT client and broker in loa is set to.

pub mod backoff;
pub mod envelope;
pub mod error;
pub mod event;
pub mod item_id;
pub mod limits;
pub mod node_file;
pub mod plan;
pub mod release;
pub mod state;
pub mod topics;
pub mod vocab;

pub use backoff::Backoff;
pub use envelope::{
    generate_key, public_key_b64, signing_key_from_b64, verifying_key_b64, verifying_key_from_b64,
};
pub use error::ProtocolError;
pub use event::{Ack, Event, EventBatch, EventBody};
pub use item_id::{item_id, occurrence_of};
pub use limits::{MAX_PACKET_BYTES, NODE_KEEP_ALIVE_SECS};
pub use node_file::{MqttSection, NodeFile, UpdateSection};
pub use plan::{
    check_language, AfterPreempt, MediaRef, Part, PartKind, Plan, PlanItem, StreamRef, MAX_PARTS,
    PART_GAP_MS,
};
pub use release::{ReleaseManifest, ReleaseRef, SignedManifest, UpdateProgress, UpdateStatus};
pub use state::{Location, NodeState, Presence, SpeakerCheck};
pub use topics::{Channel, Topics};
pub use vocab::{Priority, Stage};
