//! What loa's fuzz targets run: one function per target, each taking the fuzzer's bytes,
//! feeding them to the real decoder or parser and checking what it can about the answer.
//! None may panic, whatever the bytes; a panic is a finding.
//!
//! The same functions serve twice: `fuzz/fuzz_targets/*.rs` (cargo-fuzz, nightly) call them
//! with libFuzzer's inputs, and `tests/corpus.rs` replays the seed corpora and the kept
//! crashers (`fuzz/corpus/`, `fuzz/regressions/`) through them in the normal test suite.
//!
//! A tour:
//! - [`protocol`]: signed plans, event batches, node states and acks, both through the whole
//!   `open` path and body first (parse, validate, seal with a test key, open again).
//! - [`schedule`]: time rules (cron, RRULE, once, repeats, validity), RRULE text with its
//!   start, and the programme files (`schedules/*.toml`).
//! - [`media`]: the controller's upload probe and the node's decoder probe.
//! - [`cap`]: CAP 1.2 alerts through the reader and the decision, and feeds.

pub mod cap;
pub mod media;
pub mod protocol;
pub mod schedule;

pub use cap::cap_alert;
pub use media::media_probe;
pub use protocol::{ack, event_batch, node_state, plan};
pub use schedule::{rrule, schedule_file, schedule_rule};

/// A target: takes any bytes, panics only on a finding.
pub type Target = fn(&[u8]);

/// Every target by name: the name of its `fuzz/fuzz_targets/<name>.rs` and of its corpus
/// folders, and the function it runs.
pub const TARGETS: &[(&str, Target)] = &[
    ("plan", plan),
    ("event_batch", event_batch),
    ("node_state", node_state),
    ("ack", ack),
    ("schedule_rule", schedule_rule),
    ("rrule", rrule),
    ("schedule_file", schedule_file),
    ("media_probe", media_probe),
    ("cap_alert", cap_alert),
];
