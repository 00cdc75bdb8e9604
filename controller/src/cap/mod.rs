//! CAP 1.2 alerts (OASIS Common Alerting Protocol, namespace
//! `urn:oasis:names:tc:emergency:cap:1.2`), without I/O: what a commune (and, later, the
//! province) takes in and what it does with one.
//!
//! - [`model`]: the alert as checked: its enumerations as Rust enums, times parsed, areas as
//!   shapes.
//! - [`parse`]: XML text to a checked [`Alert`], or a [`CapError`] naming the element at fault.
//!   No XSD validator is kept for Rust, so the schema's rules are written out in code there.
//! - [`geo`]: polygons (ray casting) and circles (haversine): which stations stand inside.
//! - [`decide`]: what to do with a checked alert: play it (where, at which priority, until
//!   when), cancel or replace an earlier one, record it without playing, or refuse it; and why.
//!
//! Storing the alert, making the broadcast and the audit log are `ops::cap`'s.

pub mod decide;
pub mod geo;
pub mod model;
pub mod parse;

#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod parse_tests;

pub use decide::{decide, priority_of, Decision, Station, World};
pub use model::{Alert, Area, Info, MsgType, Resource, Severity, Status, Urgency};
pub use parse::{parse, CapError};
