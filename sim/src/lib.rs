//! loa-sim: a province on one machine.
//!
//! - [`fleet`]: many real nodes in one process, each with its own MQTT session, plan
//!   verification, media cache, event spool and ledger, playing to a sink that keeps real time
//!   without a sound card.
//! - [`floor`]: the broker's own round-trip floor (publish to N subscribers, wait for N
//!   answers), the peer loa's fan-out is measured against.
//!
//! The `loa-sim` binary runs either from the command line; the benchmarks (`bench/`) and the
//! chaos suite (`tests/tests/chaos.rs`) start it as a process of its own.

pub mod fleet;
pub mod floor;
