//! Announcements as staff keep them: a category to file each under, a search by title or
//! category, and an archive that takes old ones out of the pickers without losing them or the
//! record of where they played; and relays, made from a source and a length. Shared by the API
//! and the announcements page.

use serde::Deserialize;

use super::{App, OpError};
use crate::limits::ANNOUNCEMENT_CATEGORY;
use crate::store::media::{Announcement, RelayContent, MAX_RELAY_SECS};

/// Which announcements to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct Search {
    /// Words the title or the category contains (any case).
    pub q: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// `true`: only archived ones; `false` or absent: only those in use.
    #[serde(default)]
    pub archived: bool,
}

/// A relay to make: `source_id` passed on to the villages for `seconds` (the pages ask for
/// minutes).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
pub struct NewRelay {
    pub source_id: i64,
    /// 10 to 43,200 (12 hours). "Relay now until stopped" is a broadcast of a long relay,
    /// cancelled when staff stop it.
    pub seconds: u32,
}

/// The shortest relay.
pub const MIN_RELAY_SECS: u32 = 10;

/// Makes a relay announcement, which schedules and broadcasts then use like any other.
pub async fn create_relay(s: &App, title: &str, r: &NewRelay) -> Result<Announcement, OpError> {
    if !(MIN_RELAY_SECS..=MAX_RELAY_SECS).contains(&r.seconds) {
        return Err(OpError::new(
            super::Kind::Invalid,
            "announcement.relay_length",
            format!(
                "a relay lasts {MIN_RELAY_SECS} seconds to {} hours",
                MAX_RELAY_SECS / 3600
            ),
        ));
    }
    let relay = RelayContent {
        source_id: r.source_id,
        secs: r.seconds,
    };
    let a = s.store.create_relay_announcement(title, relay).await?;
    tracing::info!(
        announcement = a.id,
        source = r.source_id,
        seconds = r.seconds,
        "relay announcement made"
    );
    Ok(a)
}

/// The announcements that match, newest first.
pub async fn search(s: &App, f: &Search) -> Result<Vec<Announcement>, OpError> {
    let words: Vec<String> =
        f.q.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    let category = f
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    Ok(s.store
        .announcements()
        .await?
        .into_iter()
        .filter(|a| a.archived_at.is_some() == f.archived)
        .filter(|a| category.is_none_or(|c| a.category.as_deref() == Some(c)))
        .filter(|a| {
            let text = format!(
                "{} {}",
                a.title.to_lowercase(),
                a.category.as_deref().unwrap_or("").to_lowercase()
            );
            words.iter().all(|w| text.contains(w))
        })
        .collect())
}

/// What staff change on an announcement; fields left out stay.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AnnouncementChange {
    /// The category; an empty text removes it.
    pub category: Option<String>,
    /// `true` archives it, `false` takes it out of the archive.
    pub archived: Option<bool>,
}

/// Files an announcement under a category and/or archives it (or brings it back).
pub async fn change(s: &App, id: i64, c: &AnnouncementChange) -> Result<Announcement, OpError> {
    s.store.announcement(id).await?;
    if let Some(cat) = &c.category {
        let cat = cat.trim();
        let cat = if cat.is_empty() {
            None
        } else {
            Some(ANNOUNCEMENT_CATEGORY.check(cat)?)
        };
        s.store.set_announcement_category(id, cat).await?;
    }
    if let Some(archived) = c.archived {
        let at = archived.then(|| s.clock.now());
        s.store.set_announcement_archived(id, at).await?;
        tracing::info!(announcement = id, archived, "announcement archive changed");
    }
    Ok(s.store.announcement(id).await?)
}
