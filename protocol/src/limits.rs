//! Size limits shared by every side of the wire.
//!
//! rumqttc's default packet limit is 10 KiB, and a message over a client's limit makes the
//! broker redeliver it forever. Every client and broker in loa is set to this one number, and
//! the controller refuses to publish a plan larger than it.

/// The MQTT packet limit for every client and broker of loa (256 KiB).
pub const MAX_PACKET_BYTES: usize = 256 * 1024;

/// The most events a node puts in one message.
pub const MAX_EVENTS_PER_BATCH: usize = 64;

/// The longest id (site, node, item) the protocol accepts.
pub const MAX_ID_LEN: usize = 64;
