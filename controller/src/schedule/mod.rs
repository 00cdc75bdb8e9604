//! Scheduling: when announcements air, and the standing programme kept as files.
//!
//! - [`rule`]: the time rules (one-shot, cron, RRULE), repeats, validity windows and quiet
//!   hours, as pure functions of the times the caller passes.
//! - [`file`]: `schedules/*.toml`, the commune's standing programme, with errors that name the
//!   file, the line and what is wrong; [`programmes`] loads those files into the store.
//! - [`materializer`]: schedules → occurrences up to the plan horizon, idempotently.
//! - [`conflicts`]: which schedules and broadcasts a new schedule would overlap.

pub mod conflicts;
pub mod file;
pub mod materializer;
pub mod programmes;
pub mod rule;
