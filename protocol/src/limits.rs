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

/// A node's MQTT keep-alive by default, in seconds (see `docs/field.md`, "What a node costs
/// on a SIM"). An idle link costs one ping and its answer per keep-alive: three or four TCP/IP
/// packets, 160–212 bytes of IP traffic (measured by `scripts/bench-link.sh`); the broker
/// publishes a silent node's will 1.5 × keep-alive after its last packet. 360 s keeps an idle
/// node under 60 KB a day on the wire even at four packets a ping, clock checks included, and
/// a dead one seen offline within 9 min 15 s (9 min + the controller's margin; ≤ 10 min). A
/// carrier NAT that forgets an idle TCP mapping sooner than this breaks the link;
/// `docs/field.md` says how to tell and what to set then.
pub const NODE_KEEP_ALIVE_SECS: u64 = 360;
