//! `DATA/releases/state.json`: the version that runs (none: the packaged binary), the one on
//! trial, and the last rollback with its reason. The transitions are plain methods, tested
//! below; [`Releases::load`] and [`Releases::save`] are the only I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Releases {
    /// The confirmed version that runs; `None`: the packaged binary.
    #[serde(default)]
    pub active: Option<String>,
    /// A new version started and not yet confirmed.
    #[serde(default)]
    pub trial: Option<Trial>,
    /// The last version that was tried and abandoned, and why.
    #[serde(default)]
    pub last_rollback: Option<Rollback>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trial {
    pub version: String,
    /// What ran before (`None`: the packaged binary): what a rollback goes back to.
    pub previous: Option<String>,
    pub started: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    pub version: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What the keeper runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToRun {
    /// The packaged binary, in the keeper's own process.
    Packaged,
    /// A confirmed release, as a child.
    Release(String),
    /// A release on trial, as a watched child.
    Trial(String),
}

impl Releases {
    pub fn path(releases_dir: &Path) -> PathBuf {
        releases_dir.join("state.json")
    }

    /// Reads the state; a missing file is the packaged binary with nothing tried. A file that
    /// does not parse is logged and taken as that too: the packaged binary is the safe choice.
    pub fn load(releases_dir: &Path) -> Releases {
        let path = Releases::path(releases_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::error!(file = %path.display(), error = %e, "unreadable release state; running the packaged version");
                Releases::default()
            }),
            Err(_) => Releases::default(),
        }
    }

    pub fn save(&self, releases_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).expect("release state serialises");
        crate::disk::write_atomic(&Releases::path(releases_dir), &bytes)
    }

    pub fn to_run(&self) -> ToRun {
        match (&self.trial, &self.active) {
            (Some(t), _) => ToRun::Trial(t.version.clone()),
            (None, Some(v)) => ToRun::Release(v.clone()),
            (None, None) => ToRun::Packaged,
        }
    }

    /// What runs now hands over to `version`, tried at the next start; `previous` is what
    /// runs now, what a rollback returns to (`None`: the packaged binary).
    pub fn begin_trial(&mut self, version: &str, previous: Option<&str>, now: DateTime<Utc>) {
        self.trial = Some(Trial {
            version: version.to_string(),
            previous: previous.map(str::to_owned),
            started: now,
        });
    }

    /// The trial connected and took a plan: it becomes the version that runs.
    pub fn confirm(&mut self) -> Option<String> {
        let t = self.trial.take()?;
        self.active = Some(t.version.clone());
        if self
            .last_rollback
            .as_ref()
            .is_some_and(|r| r.version != t.version)
        {
            self.last_rollback = None;
        }
        Some(t.version)
    }

    /// The trial failed: back to what ran before it, and why is kept for the node's state.
    pub fn roll_back(&mut self, reason: &str, now: DateTime<Utc>) -> Option<Rollback> {
        let t = self.trial.take()?;
        self.active = t.previous;
        let r = Rollback {
            version: t.version,
            reason: reason.to_string(),
            at: now,
        };
        self.last_rollback = Some(r.clone());
        Some(r)
    }

    /// The binary of a release.
    pub fn binary(releases_dir: &Path, version: &str) -> PathBuf {
        releases_dir.join(version).join("loa-node")
    }

    /// The mark a trial child writes once it is connected and has taken a plan.
    pub fn mark(releases_dir: &Path, version: &str) -> PathBuf {
        releases_dir.join(version).join("confirmed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-12-07T06:00:00Z".parse().unwrap()
    }

    #[test]
    fn transitions_from_packaged_to_release_and_back() {
        // (steps, what runs after them, the active version, the last rollback's version)
        type Step = fn(&mut Releases);
        type Case = (
            &'static str,
            Vec<Step>,
            ToRun,
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("fresh", vec![], ToRun::Packaged, None, None),
            (
                "packaged starts a trial",
                vec![|r| r.begin_trial("2", None, t0())],
                ToRun::Trial("2".into()),
                None,
                None,
            ),
            (
                "the trial confirms",
                vec![|r| r.begin_trial("2", None, t0()), |r| drop(r.confirm())],
                ToRun::Release("2".into()),
                Some("2"),
                None,
            ),
            (
                "the trial fails: back to the packaged binary",
                vec![|r| r.begin_trial("2", None, t0()), |r| {
                    drop(r.roll_back("crashed", t0()))
                }],
                ToRun::Packaged,
                None,
                Some("2"),
            ),
            (
                "release 2 tries 3, which fails: back to 2",
                vec![
                    |r| r.begin_trial("2", None, t0()),
                    |r| drop(r.confirm()),
                    |r| r.begin_trial("3", Some("2"), t0()),
                    |r| drop(r.roll_back("crashed", t0())),
                ],
                ToRun::Release("2".into()),
                Some("2"),
                Some("3"),
            ),
            (
                "a later release that confirms clears an older rollback",
                vec![
                    |r| r.begin_trial("3", None, t0()),
                    |r| drop(r.roll_back("crashed", t0())),
                    |r| r.begin_trial("4", None, t0()),
                    |r| drop(r.confirm()),
                ],
                ToRun::Release("4".into()),
                Some("4"),
                None,
            ),
            (
                "the packaged binary tries 3 (an old active 2 notwithstanding): back to packaged",
                vec![
                    |r| r.active = Some("2".into()),
                    |r| r.begin_trial("3", None, t0()),
                    |r| drop(r.roll_back("timeout", t0())),
                ],
                ToRun::Packaged,
                None,
                Some("3"),
            ),
        ];
        for (name, steps, run, active, rolled) in cases {
            let mut r = Releases::default();
            for s in steps {
                s(&mut r);
            }
            assert_eq!(r.to_run(), run, "{name}");
            assert_eq!(r.active.as_deref(), active, "{name}");
            assert_eq!(
                r.last_rollback.as_ref().map(|x| x.version.as_str()),
                rolled,
                "{name}"
            );
        }
    }

    #[test]
    fn confirm_and_roll_back_without_a_trial_change_nothing() {
        let mut r = Releases::default();
        assert_eq!(r.confirm(), None);
        assert_eq!(r.roll_back("x", t0()), None);
        assert_eq!(r, Releases::default());
    }

    #[test]
    fn state_survives_a_save_and_an_unreadable_file_means_packaged() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Releases::default();
        r.begin_trial("2", None, t0());
        r.save(dir.path()).unwrap();
        assert_eq!(Releases::load(dir.path()), r);
        std::fs::write(Releases::path(dir.path()), b"{not json").unwrap();
        assert_eq!(Releases::load(dir.path()).to_run(), ToRun::Packaged);
    }
}
