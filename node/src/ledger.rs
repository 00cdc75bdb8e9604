//! The ledger: what this node has already reported for each item, kept on disk so that a
//! reboot neither replays a played item nor reports a step twice. When the disk is full the
//! ledger lives on in memory and [`Ledger::unsaved`] says it is still to be written.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::Stage;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::audio::Position;
use crate::disk::write_atomic;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The furthest progress step reported (`received`, `ready`, `playing`).
    pub reported: Stage,
    /// Nothing more will happen to this item on this node.
    pub done: bool,
    pub expires_at: DateTime<Utc>,
    /// The last failure, quoted when the item is finally reported `missed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// Where an emergency cut the item, when the plan says interrupted items resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<Position>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Ledger {
    items: BTreeMap<String, Entry>,
    /// Changed since the last successful save.
    #[serde(skip)]
    unsaved: bool,
}

/// How long a finished item is remembered after its expiry.
const KEEP_AFTER_EXPIRY_HOURS: i64 = 72;

impl Ledger {
    /// Reads the ledger; a missing file is an empty ledger, a damaged one is reported and
    /// replaced (the controller's dedup by sequence number still guards the records).
    pub fn load(path: &Path) -> Ledger {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::error!(file = %path.display(), error = %e, "ledger unreadable; starting a new one");
                Ledger::default()
            }),
            Err(_) => Ledger::default(),
        }
    }

    pub fn save(&mut self, path: &Path) -> std::io::Result<()> {
        write_atomic(path, &serde_json::to_vec(self).expect("ledger serialises"))?;
        self.unsaved = false;
        Ok(())
    }

    /// Changed since it was last saved (a save failed: the disk was full).
    pub fn unsaved(&self) -> bool {
        self.unsaved
    }

    pub fn get(&self, item: &str) -> Option<&Entry> {
        self.items.get(item)
    }

    pub fn is_done(&self, item: &str) -> bool {
        self.items.get(item).is_some_and(|e| e.done)
    }

    /// Records that `stage` was reported for `item`.
    pub fn record(
        &mut self,
        item: &str,
        stage: Stage,
        expires_at: DateTime<Utc>,
        reason: Option<&str>,
    ) {
        self.unsaved = true;
        let e = self.items.entry(item.to_string()).or_insert(Entry {
            reported: Stage::Received,
            done: false,
            expires_at,
            last_failure: None,
            resume_from: None,
        });
        match stage {
            Stage::Received | Stage::Ready | Stage::Playing => {
                if stage > e.reported {
                    e.reported = stage;
                }
            }
            Stage::Failed => e.last_failure = reason.map(str::to_string),
            Stage::Played | Stage::Missed | Stage::Cancelled => e.done = true,
            Stage::Preempted | Stage::Planned => {}
        }
    }

    /// Remembers where an interrupted item goes on from (`None`: from the start).
    pub fn set_resume(&mut self, item: &str, at: Option<Position>) {
        if let Some(e) = self.items.get_mut(item) {
            e.resume_from = at;
            self.unsaved = true;
        }
    }

    /// Marks an item finished without reporting anything more (e.g. a file that cannot decode).
    pub fn finish(&mut self, item: &str) {
        if let Some(e) = self.items.get_mut(item) {
            e.done = true;
            self.unsaved = true;
        }
    }

    /// Forgets items long expired that the plan no longer lists.
    pub fn prune(&mut self, now: DateTime<Utc>, in_plan: &HashSet<&str>) {
        let horizon = now - Duration::hours(KEEP_AFTER_EXPIRY_HOURS);
        let before = self.items.len();
        self.items
            .retain(|id, e| in_plan.contains(id.as_str()) || e.expires_at > horizon);
        self.unsaved |= self.items.len() != before;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_only_grows_and_final_steps_finish_the_item() {
        let t = Utc::now();
        let mut l = Ledger::default();
        l.record("o1", Stage::Ready, t, None);
        l.record("o1", Stage::Received, t, None);
        assert_eq!(l.get("o1").unwrap().reported, Stage::Ready);
        l.record("o1", Stage::Failed, t, Some("device busy"));
        assert_eq!(
            l.get("o1").unwrap().last_failure.as_deref(),
            Some("device busy")
        );
        assert!(!l.is_done("o1"));
        l.record("o1", Stage::Played, t, None);
        assert!(l.is_done("o1"));
    }

    #[test]
    fn ledger_survives_a_restart_and_prunes_old_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let now = Utc::now();
        let mut l = Ledger::default();
        l.record("old", Stage::Played, now - Duration::days(10), None);
        l.record("new", Stage::Playing, now, None);
        let cut = Position { part: 2, ms: 1234 };
        l.set_resume("new", Some(cut));
        l.save(&path).unwrap();
        let mut back = Ledger::load(&path);
        assert!(back.is_done("old"));
        back.prune(now, &HashSet::new());
        assert!(back.get("old").is_none());
        assert_eq!(back.get("new").unwrap().reported, Stage::Playing);
        assert_eq!(back.get("new").unwrap().resume_from, Some(cut));
    }
}
