//! What a node plays for one item: the commune's chime (if the item and the node want it),
//! then the announcement's recording in each of the node's zone languages, in the zone's order.
//!
//! [`choose`] is the pure rule; [`PartsBuilder`] loads what it needs for one node's plan and
//! turns the choice into the plan's [`Part`]s, each with its media reference and loudness gain.

use loa_protocol::{AfterPreempt, MediaRef, Part, PartKind};
use std::collections::HashMap;

use crate::media::normalising_gain_db;
use crate::store::media::MediaRow;
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

/// Everything that shapes a node's items: the commune's chime and policy, loaded once, and
/// the recordings, media and zone languages met so far, so a batch of plans (a broadcast to
/// thousands of nodes) reads each only once. [`PartsBuilder::set_node`] picks the node.
pub struct PartsBuilder {
    store: Store,
    public_url: String,
    languages: Vec<String>,
    node_chime: bool,
    chime: Option<MediaRow>,
    pub after_preempt: AfterPreempt,
    recordings: HashMap<i64, Vec<Recording>>,
    media: HashMap<String, MediaRow>,
    zone_languages: HashMap<i64, Vec<String>>,
}

impl PartsBuilder {
    /// Loads the commune's chime and policy; [`PartsBuilder::set_node`] comes next.
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
        let after_preempt = store.after_preempt().await?;
        Ok(PartsBuilder {
            store: store.clone(),
            public_url: public_url.to_owned(),
            languages: Vec::new(),
            node_chime: true,
            chime,
            after_preempt,
            recordings: HashMap::new(),
            media: HashMap::new(),
            zone_languages: HashMap::new(),
        })
    }

    /// Builds the parts of the node in `zone_id` with its own chime setting from here on.
    pub async fn set_node(&mut self, zone_id: i64, node_chime: bool) -> Result<()> {
        if !self.zone_languages.contains_key(&zone_id) {
            let l = self.store.zone_languages(zone_id).await?;
            self.zone_languages.insert(zone_id, l);
        }
        self.languages.clone_from(&self.zone_languages[&zone_id]);
        self.node_chime = node_chime;
        Ok(())
    }

    /// The parts of one item on this node, in playing order.
    pub async fn parts(&mut self, item: &PlanItemRow) -> Result<Vec<Part>> {
        let mut parts = Vec::new();
        if let Some(chime) = self
            .chime
            .as_ref()
            .filter(|_| item.chime.unwrap_or(self.node_chime))
        {
            parts.push(self.part(PartKind::Chime, None, chime));
        }
        if !self.recordings.contains_key(&item.announcement_id) {
            let r = self.store.recordings(item.announcement_id).await?;
            self.recordings.insert(item.announcement_id, r);
        }
        let recordings = &self.recordings[&item.announcement_id];
        let chosen: Vec<Recording> = choose(recordings, &self.languages)
            .into_iter()
            .cloned()
            .collect();
        for r in chosen {
            if !self.media.contains_key(&r.media_sha256) {
                let m = self.store.media(&r.media_sha256).await?;
                self.media.insert(r.media_sha256.clone(), m);
            }
            let m = &self.media[&r.media_sha256];
            parts.push(self.part(PartKind::Recording, Some(r.language), m));
        }
        Ok(parts)
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
