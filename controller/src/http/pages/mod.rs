//! The staff web application under `/ui/`: server-rendered pages, Vietnamese first, light on
//! script, that use the same store functions and shared handler logic as the REST API.
//!
//! - [`render`]: the templates, the [`render::Ctx`] every handler starts from (account,
//!   language, commune), the navigation by role.
//! - [`i18n`]: the texts in `controller/i18n/{vi,en}.toml`, API error codes to messages.
//! - [`form`]: posted forms, with the `_csrf` field every page form carries.
//! - [`assets`]: the stylesheet and the script.
//! - [`login`]: sign in and out; [`dashboard`]: the day at a glance; [`emergency`]: the
//!   emergency broadcast with its confirmation; [`broadcasts`]: each broadcast's delivery per
//!   village and node; [`broadcast_form`]: a one-off broadcast, checked like a schedule; [`announcements`]: recordings, language variants, text-to-speech,
//!   categories, search and the archive;
//!   [`schedules`]: schedules with their conflicts before saving, and the week view, their
//!   time rules in words ([`schedule_rule`]) and their approval ([`approvals`]);
//!   [`users`]: staff accounts and the audit log; [`accounts`]: one account's role, zones,
//!   password and API tokens; [`zones`]: the zone tree, quiet hours, languages and each
//!   loudspeaker's sound; [`zone_changes`]: removing an empty zone, moving a loudspeaker;
//!   [`nodes`]: provisioning a loudspeaker and its config file, kept for
//!   download by [`downloads`], and taking one out of service; [`settings`]: the commune's
//!   settings; [`security`]: the security reports and the commune's signing key with its
//!   rotation; [`reports`]: the delivery report per village, its CSV and its printable page;
//!   [`station`]: one station's state, faults with their history, and what it played today;
//!   [`live`]: speaking live to villages from the microphone;
//!   [`map`]: every station on a map (Leaflet, served from [`assets`]); [`locations`]:
//!   setting where a loudspeaker stands; [`releases`]: node releases and their rollout;
//!   [`cap`]: the CAP alerts taken in.
//!
//! The guard (`crate::http::guard::guard`) has already checked that a signed-in account asks
//! (the login page and the static files excepted); each handler asks for the role its page
//! needs and checks the form's CSRF token.

mod accounts;
mod announcements;
mod approvals;
mod assets;
mod broadcast_form;
mod broadcasts;
mod cap;
mod dashboard;
pub mod downloads;
mod emergency;
pub mod form;
pub mod i18n;
mod live;
mod locations;
mod login;
mod map;
mod nodes;
mod releases;
pub mod render;
mod reports;
mod schedule_rule;
mod schedules;
mod security;
mod settings;
mod station;
mod users;
mod zone_changes;
mod zones;

use axum::Router;

use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(assets::router())
        .merge(login::router())
        .merge(dashboard::router())
        .merge(emergency::router())
        .merge(broadcasts::router())
        .merge(broadcast_form::router())
        .merge(live::router())
        .merge(announcements::router())
        .merge(schedules::router())
        .merge(approvals::router())
        .merge(users::router())
        .merge(reports::router())
        .merge(accounts::router())
        .merge(zones::router())
        .merge(zone_changes::router())
        .merge(nodes::router())
        .merge(settings::router())
        .merge(releases::router())
        .merge(cap::router())
        .merge(security::router())
        .merge(station::router())
        .merge(map::router())
        .merge(locations::router())
}
