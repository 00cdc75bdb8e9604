//! The operations: one function for each thing staff do (make a broadcast, save a schedule,
//! provision a node, rotate the keys, add a user, …), over the application's parts in [`App`].
//!
//! No HTTP lives here: the API, the pages and the CLI (`crate::http`, `main`) each call these
//! and map an [`OpError`] to their own terms at the edge. Below this layer are the store, the
//! planner, the materialiser and the media store; nothing here imports `crate::http`.
//!
//! - [`announcements`]: categories, search and the archive.
//! - [`broadcasts`]: one-off broadcasts: check, make, view, withdraw.
//! - [`schedules`]: check, save, edit, approve, pause; the next airings of a rule.
//! - [`nodes`]: provisioning, new credentials, sound settings, moving to another zone,
//!   decommissioning.
//! - [`locations`]: where a loudspeaker stands, set by staff or at provisioning.
//! - [`map`]: the station map's data: each station's place, state, day and faults.
//! - [`zones`]: removing an empty zone.
//! - [`keys`]: the controller's signing keys and their rotation.
//! - [`settings`]: the commune's settings, languages and quiet hours.
//! - [`users`]: staff accounts and API tokens.
//! - [`sessions`]: signing in and out.
//! - [`reports`]: the delivery report per village over the villages an account may see.
//! - [`sources`]: relay sources (a station's stream): register, list, remove.
//! - [`live`]: live sessions: staff speak to villages from the browser's microphone.
//! - [`releases`]: node releases over the air: upload, rollout, each node's progress.
//! - [`media`]: keeping audio as media (probe, content address, record).
//! - [`cap`]: CAP 1.2 alerts taken in: checked, decided, stored, played or refused, audited;
//!   [`cap_feed`]: the feed polled; [`cap_fetch`]: fetching from the feed's own host.
//! - [`faults`]: what needs a person now, and each station's state, faults and day.

pub mod announcements;
pub mod broadcasts;
pub mod cap;
pub mod cap_feed;
pub mod cap_fetch;
mod error;
pub mod faults;
pub mod keys;
pub mod live;
pub mod locations;
pub mod map;
pub mod media;
pub mod nodes;
pub mod releases;
pub mod reports;
pub mod schedules;
pub mod sessions;
pub mod settings;
pub mod sources;
pub mod users;
pub mod zones;

pub use error::{Kind, OpError, DISK_FULL};

use std::sync::Arc;

use crate::auth::throttle::Throttle;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::media::MediaStore;
use crate::metrics::Counters;
use crate::mqtt::broker::Credentials;
use crate::mqtt::planner::Planner;
use crate::schedule::materializer::Materializer;
use crate::store::Store;
use crate::tts::Tts;

/// The parts every operation can reach; cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub media: MediaStore,
    pub planner: Arc<Planner>,
    pub counters: Arc<Counters>,
    pub cfg: Arc<Config>,
    /// The embedded broker's accounts (unused with an external broker).
    pub broker_accounts: Credentials,
    /// The commune's time zone, for times staff enter and read.
    pub tz: chrono_tz::Tz,
    pub materializer: Arc<Materializer>,
    /// Failed sign-ins, per user name and per address.
    pub throttle: Arc<Throttle>,
    /// Text-to-speech: the engine and its cache of rendered texts.
    pub tts: Arc<Tts>,
    /// What time it is, for every operation (the planner's clock too).
    pub clock: SharedClock,
    /// The running relays of stations' streams.
    pub hub: Arc<crate::relay::Hub>,
}
