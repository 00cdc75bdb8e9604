//! The runner's part in over-the-air updates: it looks at the plan's release after each input,
//! downloads and installs it when the node is idle, then writes the trial and stops the node
//! with the switch status; it confirms a trial once connected with a plan taken; and it says
//! where it is in the node's state ([`crate::update`] has the pieces).

use chrono::Utc;
use loa_protocol::{ReleaseRef, UpdateProgress, UpdateStatus};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Runner;
use crate::update::{self, idle, install, trial::Releases};

/// How long a failed download waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// What an install task reports.
pub(super) struct Installed {
    version: String,
    result: Result<(), String>,
    /// A failure that trying again cannot mend (no key, a bad signature).
    lasting: bool,
}

pub(super) struct UpdateState {
    releases: Releases,
    /// Where the node is with the plan's release, when it has started on one.
    progress: Option<UpdateProgress>,
    /// A download is under way.
    busy: bool,
    /// Versions not to try again before this instant (a failed download, a bad signature).
    not_before: HashMap<String, Instant>,
    /// A trial's confirmation was written (or this is no trial).
    confirmed: bool,
    /// The node stopped to switch to a new version.
    pub(super) switching: bool,
    /// Stops the node, to switch.
    stop: CancellationToken,
}

impl UpdateState {
    pub(super) fn load(data: &std::path::Path, stop: CancellationToken) -> UpdateState {
        UpdateState {
            releases: Releases::load(&update::releases_dir(data)),
            progress: None,
            busy: false,
            not_before: HashMap::new(),
            confirmed: false,
            switching: false,
            stop,
        }
    }

    /// What the node's state says about updates: the current attempt, else the last rollback,
    /// else that this release runs.
    pub(super) fn report(&self) -> Option<UpdateProgress> {
        if let Some(p) = &self.progress {
            return Some(p.clone());
        }
        if let Some(r) = &self.releases.last_rollback {
            return Some(UpdateProgress {
                version: r.version.clone(),
                status: UpdateStatus::RolledBack,
                reason: Some(r.reason.clone()),
            });
        }
        let me = update::version();
        let runs = self.releases.active.as_deref() == Some(me)
            || self
                .releases
                .trial
                .as_ref()
                .is_some_and(|t| t.version == me);
        runs.then(|| UpdateProgress {
            version: me.to_string(),
            status: UpdateStatus::Running,
            reason: None,
        })
    }
}

impl Runner {
    /// Connected, with a verified plan (just received, or kept on disk and checked at start):
    /// a trial confirms to its keeper.
    pub(super) fn plan_taken(&mut self) {
        if !self.update.confirmed {
            self.update.confirmed = true;
            if update::confirm() {
                tracing::info!(
                    version = update::version(),
                    "connected with a plan: this version confirmed"
                );
            }
        }
    }

    /// Starts installing the plan's release when it is one to take and the node is idle.
    pub(super) fn consider_release(&mut self, tx: &mpsc::Sender<Installed>, tracker: &TaskTracker) {
        if self.update.busy || self.update.switching {
            return;
        }
        let plan = self.plans.current();
        let release = plan.and_then(|p| p.release.as_ref());
        let Some(release) = idle::wanted(
            release,
            update::version(),
            loa_protocol::release::this_arch(),
            &self.update.releases,
        )
        .cloned() else {
            return;
        };
        if self
            .update
            .not_before
            .get(&release.version)
            .is_some_and(|t| Instant::now() < *t)
        {
            return;
        }
        let now = Utc::now();
        let world = idle::World::of(
            plan,
            self.agenda.on_air().is_some(),
            self.cfg.update.metered,
            now,
        );
        if let Err(why) = idle::may_install(&world, release.allow_metered, now) {
            tracing::debug!(version = %release.version, reason = why.reason(), "release waits");
            return;
        }
        self.start_install(release, tx, tracker);
    }

    fn start_install(
        &mut self,
        release: ReleaseRef,
        tx: &mpsc::Sender<Installed>,
        tracker: &TaskTracker,
    ) {
        tracing::info!(version = %release.version, "downloading a new release");
        self.update.busy = true;
        self.set_progress(&release.version, UpdateStatus::Downloading, None);
        let key = install::release_key(self.cfg.update.release_key.as_deref());
        let (http, token, dir, tx) = (
            self.http.clone(),
            self.cfg.media_token.clone(),
            update::releases_dir(&self.cfg.data_dir),
            tx.clone(),
        );
        tracker.spawn(async move {
            let result = match key {
                Ok(key) => install::install(&http, &token, &dir, &release, &key).await,
                Err(e) => Err(e),
            };
            let lasting = matches!(
                result,
                Err(install::InstallError::NoKey
                    | install::InstallError::BadKey(_)
                    | install::InstallError::BadSignature
                    | install::InstallError::Malformed(_))
            );
            let _ = tx
                .send(Installed {
                    version: release.version,
                    result: result.map(drop).map_err(|e| e.to_string()),
                    lasting,
                })
                .await;
        });
    }

    /// An install ended: switch on success, report the failure otherwise.
    pub(super) fn on_installed(&mut self, done: Installed) {
        self.update.busy = false;
        match done.result {
            Ok(()) => {
                let dir = update::releases_dir(&self.cfg.data_dir);
                // Read again: the keeper may have confirmed this version since it started.
                self.update.releases = Releases::load(&dir);
                // A release runs as the keeper's child; the packaged binary runs alone.
                let kept = std::env::var_os(update::KEPT_ENV).is_some();
                let previous = kept.then(update::version);
                self.update
                    .releases
                    .begin_trial(&done.version, previous, Utc::now());
                if let Err(e) = self.update.releases.save(&dir) {
                    tracing::error!(error = %e, "cannot write the release state; staying on this version");
                    self.set_progress(
                        &done.version,
                        UpdateStatus::Failed,
                        Some(format!("cannot write the release state: {e}")),
                    );
                    return;
                }
                tracing::info!(version = %done.version, "release installed; restarting on it");
                self.set_progress(&done.version, UpdateStatus::Installed, None);
                self.update.switching = true;
                self.update.stop.cancel();
            }
            Err(reason) => {
                tracing::warn!(version = %done.version, reason = %reason, "release not installed");
                let wait = if done.lasting {
                    Duration::from_secs(365 * 24 * 3600)
                } else {
                    RETRY_AFTER
                };
                self.update
                    .not_before
                    .insert(done.version.clone(), Instant::now() + wait);
                self.set_progress(&done.version, UpdateStatus::Failed, Some(reason));
            }
        }
    }

    fn set_progress(&mut self, version: &str, status: UpdateStatus, reason: Option<String>) {
        self.update.progress = Some(UpdateProgress {
            version: version.to_string(),
            status,
            reason,
        });
        self.publish_state();
    }
}
