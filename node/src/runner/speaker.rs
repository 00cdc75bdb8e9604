//! The speaker check in the running node: when one is due (the daily quiet time, or the
//! controller's request in the plan) and nothing plays or is due within two minutes, it runs
//! on a blocking thread; its verdict is kept on disk (`speaker_check.json`, so a reboot does
//! not check again) and published in the node's state, where the controller shows a failure
//! as a fault. The check holds the audio output for about 2.5 s: what the agenda asks of the
//! player meanwhile (an emergency) waits in order and goes to the player when the check ends.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use loa_protocol::SpeakerCheck;
use tokio::sync::mpsc;

use super::Runner;
use crate::player::Job;
use crate::speaker::{self, when};

/// Nothing due within this is what "idle" means for a check.
const QUIET_AHEAD: Duration = Duration::minutes(2);
/// A daily slot missed by more than this (the node was off) waits for the next day.
const SLOT_GRACE: Duration = Duration::hours(1);

/// The last verdict, whether a check is running, and what waits for the output meanwhile.
pub(super) struct SpeakerState {
    path: PathBuf,
    pub last: Option<SpeakerCheck>,
    running: bool,
    waiting: Vec<ToPlayer>,
}

/// A command for the player held back while a check holds the output.
enum ToPlayer {
    Play(Box<Job>),
    Stop,
}

impl SpeakerState {
    pub fn load(data: &std::path::Path) -> SpeakerState {
        let path = data.join("speaker_check.json");
        let last = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        SpeakerState {
            path,
            last,
            running: false,
            waiting: Vec::new(),
        }
    }
}

impl Runner {
    /// Starts a check if one is due and the node is idle; its verdict comes back on `done`.
    pub(super) fn maybe_check_speaker(&mut self, done: &mpsc::Sender<SpeakerCheck>) {
        let Some(cfg) = self.cfg.audio.speaker_check.clone() else {
            return;
        };
        if self.speaker.running || self.agenda.on_air().is_some() {
            return;
        }
        let now = Utc::now();
        let plan = self.plans.current();
        let busy = plan.is_some_and(|p| {
            p.items
                .iter()
                .any(|i| i.start_at <= now + QUIET_AHEAD && i.expires_at > now)
        });
        let Ok(at) = when::parse_daily_at(&cfg.daily_at) else {
            return;
        };
        let last = self.speaker.last.as_ref().map(|c| c.at);
        let requested = plan.and_then(|p| p.speaker_check);
        if busy || !when::due(now, last, at, cfg.utc_offset_hours, requested, SLOT_GRACE) {
            return;
        }
        tracing::info!(capture = %cfg.capture_device, "speaker check: playing the test signal");
        self.speaker.running = true;
        // The amplifier on, as for an announcement, and given its lead time to wake.
        self.relay.prepare(now);
        self.relay.drive(now);
        let lead = self.relay.lead().to_std().unwrap_or_default();
        let audio = self.cfg.audio.clone();
        let done = done.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(lead);
            let _ = done.blocking_send(speaker::check(&audio, &cfg));
        });
    }

    /// Hands a playback to the player, or holds it until the running check ends.
    pub(super) fn player_play(&mut self, job: Job) {
        if self.speaker.running {
            tracing::info!(item = %job.item, "the speaker check holds the output; playing right after it");
            self.speaker.waiting.push(ToPlayer::Play(Box::new(job)));
        } else {
            self.player.play(job);
        }
    }

    /// Stops what plays, in order with what waits for the check.
    pub(super) fn player_stop(&mut self) {
        if self.speaker.running {
            self.speaker.waiting.push(ToPlayer::Stop);
        } else {
            self.player.stop();
        }
    }

    /// Keeps and publishes a check's verdict, then gives the player what waited.
    pub(super) fn speaker_checked(&mut self, verdict: SpeakerCheck) {
        self.speaker.running = false;
        self.relay.ended(Utc::now());
        for cmd in std::mem::take(&mut self.speaker.waiting) {
            match cmd {
                ToPlayer::Play(job) => self.player.play(*job),
                ToPlayer::Stop => self.player.stop(),
            }
        }
        if verdict.passed {
            tracing::info!(detail = %verdict.detail, "speaker check passed");
        } else {
            tracing::warn!(detail = %verdict.detail, "speaker check failed");
        }
        match serde_json::to_vec(&verdict) {
            Ok(bytes) => {
                if let Err(e) = std::fs::write(&self.speaker.path, bytes) {
                    crate::disk::log_write_error(
                        &e,
                        &self.speaker.path,
                        "the speaker check's verdict",
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "speaker check verdict not kept"),
        }
        self.speaker.last = Some(verdict);
        self.publish_state();
    }
}
