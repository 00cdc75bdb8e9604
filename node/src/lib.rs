//! loa-node: the village side of loa. A tour of the rooms:
//!
//! - [`config`]: `node.toml`, as the controller writes it at provisioning.
//! - [`link`]: the MQTT session (persistent, last will `offline`, backoff with jitter).
//! - [`intake`]: plan verification against the pinned key; the last valid plan kept on disk.
//! - [`agenda`]: what is due now (report, fetch, play), as a pure function.
//! - [`ledger`]: what was already reported per item, kept on disk.
//! - [`spool`]: every event on disk until the controller acknowledges it; [`sender`] sends them.
//! - [`fetch`]: media download with resume and SHA-256 check.
//! - [`audio`]: decode → resample → sink (`cpal`, `wav`, `null`), and the installer tools.
//! - [`runner`]: the main loop tying them together; [`run`] is its entry point.
//! - [`disk`]: atomic writes for the small files above.

pub mod agenda;
pub mod audio;
pub mod config;
pub mod disk;
pub mod fetch;
pub mod intake;
pub mod ledger;
pub mod link;
pub mod runner;
pub mod sender;
pub mod spool;

pub use runner::run;
