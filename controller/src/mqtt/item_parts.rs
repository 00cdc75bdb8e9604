//! What a node plays for one item: the commune's chime (if the item and the node want it),
//! then the announcement's recording in each of the node's zone languages, in the zone's order
//! — or, for a relay, the source's stream from the controller's hub until the relay's end.
//!
//! [`choose`] is the pure rule; [`Catalogue`] holds what a batch of plans needs, loaded once,
//! and turns the choice into the plan's [`Part`]s, each with its media reference and loudness
//! gain.

use chrono::Duration;
use loa_protocol::{AfterPreempt, MediaRef, Part, PartKind, StreamRef};
use std::collections::HashMap;

use crate::media::normalising_gain_db;
use crate::store::media::{MediaRow, RelayContent};
use crate::store::occurrences::PlanItemRow;
use crate::store::parts::Recording;
use crate::store::{Result, Store};

/// The recordings a zone hearing `languages` (in order) plays: the one in each language, in
/// the zone's order. An announcement with none of them plays its main recording, so nobody
/// hears nothing.
pub fn choose<'a>(recordings: &'a [Recording], languages: &[String]) -> Vec<&'a Recording> {
    let chosen: Vec<&Recording> = languages
        .iter()
        .filter_map(|l| recordings.iter().find(|r| &r.language == l))
        .collect();
    if chosen.is_empty() {
        recordings.first().into_iter().collect()
    } else {
        chosen
    }
}

/// Everything that shapes the items of a batch of plans, loaded before any plan is built: the
/// commune's chime and policy, and the recordings, media and zone languages the batch's items
/// and nodes need, each read once (a broadcast to thousands of nodes reads its one
/// announcement once). Building from it is pure: [`Catalogue::parts`].
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub public_url: String,
    pub chime: Option<MediaRow>,
    pub after_preempt: AfterPreempt,
    /// Announcement → its recordings, main one first.
    pub recordings: HashMap<i64, Vec<Recording>>,
    /// SHA-256 → the media's record.
    pub media: HashMap<String, MediaRow>,
    /// Zone → the languages it hears, in order, inheritance applied.
    pub zone_languages: HashMap<i64, Vec<String>>,
    /// Relay announcement → what it relays.
    pub relays: HashMap<i64, RelayContent>,
    /// The sources of those relays that are live sessions (always pulled from here).
    pub live_sources: std::collections::HashSet<i64>,
    /// When the stations' relays are handed to Icecast: its address as the villages reach it,
    /// and the site (the mounts are `relay::icecast::mount`).
    pub handoff: Option<(String, String)>,
}

impl Catalogue {
    /// Loads the commune's chime and policy; [`Catalogue::add`] loads what the items need.
    pub async fn for_site(store: &Store, public_url: &str) -> Result<Self> {
        let chime = match store.chime_media().await? {
            Some(sha) => match store.media(&sha).await {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(sha256 = %sha, error = %e, "the chime's recording is gone; items play without it");
                    None
                }
            },
            None => None,
        };
        Ok(Catalogue {
            public_url: public_url.to_owned(),
            chime,
            after_preempt: store.after_preempt().await?,
            ..Catalogue::default()
        })
    }

    /// Loads what plans for nodes in `zones` holding items of `announcements` need and the
    /// catalogue does not hold yet (a batch of plans reads each only once).
    pub async fn add(&mut self, store: &Store, zones: &[i64], announcements: &[i64]) -> Result<()> {
        let cat = self;
        for &zone in zones {
            if let std::collections::hash_map::Entry::Vacant(e) = cat.zone_languages.entry(zone) {
                e.insert(store.zone_languages(zone).await?);
            }
        }
        for &a in announcements {
            if cat.recordings.contains_key(&a) {
                continue;
            }
            let recordings = store.recordings(a).await?;
            if recordings.is_empty() {
                if let Some(relay) = store.announcement(a).await?.relay {
                    if store.source(relay.source_id).await?.live {
                        cat.live_sources.insert(relay.source_id);
                    }
                    cat.relays.insert(a, relay);
                }
            }
            for r in &recordings {
                if !cat.media.contains_key(&r.media_sha256) {
                    let m = store.media(&r.media_sha256).await?;
                    cat.media.insert(r.media_sha256.clone(), m);
                }
            }
            cat.recordings.insert(a, recordings);
        }
        Ok(())
    }

    /// The parts of `item` on a node in `zone` whose own chime setting is `node_chime`, in
    /// playing order: the chime if wanted, then a recording per language the zone hears (none
    /// for a relay: its stream follows the chime). Empty when the announcement has no
    /// recording the catalogue knows and is not a relay.
    pub fn parts(&self, item: &PlanItemRow, zone: i64, node_chime: bool) -> Vec<Part> {
        let mut parts = Vec::new();
        let recordings = self
            .recordings
            .get(&item.announcement_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let languages = self
            .zone_languages
            .get(&zone)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let chosen: Vec<(&Recording, &MediaRow)> = choose(recordings, languages)
            .into_iter()
            .filter_map(|r| Some((r, self.media.get(&r.media_sha256)?)))
            .collect();
        if chosen.is_empty() && !self.relays.contains_key(&item.announcement_id) {
            return parts;
        }
        if let Some(chime) = self
            .chime
            .as_ref()
            .filter(|_| item.chime.unwrap_or(node_chime))
        {
            parts.push(self.part(PartKind::Chime, None, chime));
        }
        for (r, m) in chosen {
            parts.push(self.part(PartKind::Recording, Some(r.language.clone()), m));
        }
        parts
    }

    /// The stream of a relay item: the source's relay on this controller (or its Icecast
    /// mount, when stations are handed to one), from the item's start for the relay's
    /// length. `None` for an announcement of recordings.
    pub fn stream(&self, item: &PlanItemRow) -> Option<StreamRef> {
        let relay = self.relays.get(&item.announcement_id)?;
        let url = match &self.handoff {
            Some((base, site)) if !self.live_sources.contains(&relay.source_id) => {
                format!(
                    "{base}{}",
                    crate::relay::icecast::mount(site, relay.source_id)
                )
            }
            _ => format!("{}/streams/{}", self.public_url, relay.source_id),
        };
        Some(StreamRef {
            url,
            codec: "opus".to_owned(),
            until: item.start_at + Duration::seconds(i64::from(relay.secs)),
        })
    }

    fn part(&self, kind: PartKind, language: Option<String>, m: &MediaRow) -> Part {
        Part {
            kind,
            language,
            media: MediaRef {
                url: format!("{}/media/{}", self.public_url, m.sha256),
                sha256: m.sha256.clone(),
                size: m.size,
                duration_ms: m.duration_ms,
            },
            gain_db: normalising_gain_db(m.loudness_lufs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(lang: &str) -> Recording {
        Recording {
            language: lang.into(),
            media_sha256: format!("{lang}-sha"),
        }
    }

    fn langs(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_zone_hears_its_languages_in_its_order() {
        let all = [rec("vi"), rec("hmn"), rec("tai")];
        let cases: &[(&[&str], &[&str])] = &[
            (&["vi"], &["vi"]),
            (&["vi", "hmn"], &["vi", "hmn"]),
            (&["hmn", "vi"], &["hmn", "vi"]),
            (&["tai", "hmn", "vi"], &["tai", "hmn", "vi"]),
            // A language the announcement lacks is skipped…
            (&["vi", "dao", "tai"], &["vi", "tai"]),
            // …and with none of the zone's languages the main recording plays.
            (&["dao"], &["vi"]),
        ];
        for (zone, want) in cases {
            let got: Vec<&str> = choose(&all, &langs(zone))
                .iter()
                .map(|r| r.language.as_str())
                .collect();
            assert_eq!(&got, want, "zone {zone:?}");
        }
        assert!(choose(&[], &langs(&["vi"])).is_empty());
    }
}
