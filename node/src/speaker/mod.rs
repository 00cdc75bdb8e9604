//! The speaker check: the node plays a short, quiet test signal and listens for it through
//! the board's microphone input, so a dead amplifier or horn is known (without it a node
//! reports `played` into silence). Run each day at a quiet time, when the controller asks
//! (the station page's button), and by an installer with `loa-node speaker-check`.
//!
//! - [`signal`]: the test signal (a one-second sweep) and the installers' tone, as samples.
//! - [`detect`]: finding the sweep in what the microphone heard (a matched filter) and its level.
//! - [`capture`]: recording frames from an ALSA capture device through cpal.
//! - [`when`]: whether a check is due.
//!
//! [`check`] runs one on the calling thread: the capture is started, the sweep is played on
//! the node's output (the same sink as announcements), the capture is read and searched.

pub mod capture;
pub mod detect;
pub mod signal;
pub mod when;

use std::time::Duration;

use chrono::Utc;
use loa_protocol::SpeakerCheck;
use serde::{Deserialize, Serialize};

use crate::audio::{open_sink, AudioConfig, AudioError, Sink};

/// The `[audio.speaker_check]` section of `node.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerCheckConfig {
    /// The ALSA capture device the microphone is on (`loa-node devices` lists them).
    pub capture_device: String,
    /// The daily check, `HH:MM` in the commune's time; it waits while something plays or is
    /// due within two minutes, and is not made up later than an hour after.
    #[serde(default = "default_daily_at")]
    pub daily_at: String,
    /// The commune's offset from UTC in hours (Vietnam: 7, all year).
    #[serde(default = "default_utc_offset")]
    pub utc_offset_hours: i32,
    /// The test signal's peak, in dBFS on the output (the node's volume does not apply): quiet.
    #[serde(default = "default_signal_db")]
    pub signal_db: f32,
    /// The weakest level of the signal in the microphone's recording that passes, dBFS RMS.
    #[serde(default = "default_min_level_db")]
    pub min_level_db: f32,
}

fn default_daily_at() -> String {
    "03:30".into()
}
fn default_utc_offset() -> i32 {
    7
}
fn default_signal_db() -> f32 {
    -24.0
}
fn default_min_level_db() -> f32 {
    -55.0
}

impl SpeakerCheckConfig {
    /// The checks on the values, in words for the installer.
    pub fn validate(&self) -> Result<(), String> {
        when::parse_daily_at(&self.daily_at)?;
        if !(-14..=14).contains(&self.utc_offset_hours) {
            return Err(format!(
                "speaker_check.utc_offset_hours {} is not an offset (-14 to 14)",
                self.utc_offset_hours
            ));
        }
        if !(-60.0..=0.0).contains(&self.signal_db) {
            return Err(format!(
                "speaker_check.signal_db {} must be -60 to 0 (dBFS)",
                self.signal_db
            ));
        }
        Ok(())
    }
}

/// Silence before the sweep (the output opening) and after it (the way back to the microphone).
const LEAD_MS: u64 = 300;
const TAIL_MS: u64 = 1200;
/// A match at least this good is the sweep, not something else.
pub const MIN_SCORE: f32 = 0.5;

/// Plays the test signal on `audio` and listens on `cfg.capture_device`: the verdict, with
/// what went wrong in plain words when it failed.
pub fn check(audio: &AudioConfig, cfg: &SpeakerCheckConfig) -> SpeakerCheck {
    let at = Utc::now();
    let failed = |detail: String| SpeakerCheck {
        at,
        passed: false,
        level_db: None,
        detail,
    };
    let secs = (LEAD_MS + signal::SWEEP_MS + TAIL_MS) as f64 / 1000.0;
    let recording = match capture::start(&cfg.capture_device, secs) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    if let Err(e) = play_sweep(audio, cfg.signal_db) {
        return failed(format!("cannot play the test signal: {e}"));
    }
    let rate = recording.rate();
    let heard = match recording.finish(Duration::from_secs_f64(secs + 10.0)) {
        Ok(samples) => detect::find(&signal::sweep(rate, cfg.signal_db), &samples),
        Err(e) => return failed(e),
    };
    verdict(at, heard, cfg.min_level_db)
}

/// What a finding means: not heard, heard too weakly, or heard.
pub fn verdict(
    at: chrono::DateTime<Utc>,
    heard: Option<detect::Heard>,
    min_level_db: f32,
) -> SpeakerCheck {
    let Some(h) = heard else {
        return SpeakerCheck {
            at,
            passed: false,
            level_db: None,
            detail: "the microphone recording is too short to search".into(),
        };
    };
    let (passed, detail) = if h.score < MIN_SCORE {
        (
            false,
            format!(
                "the test signal was not heard (match {:.2}, level {:.1} dBFS): check the amplifier, the horn and the microphone",
                h.score, h.level_db
            ),
        )
    } else if h.level_db < min_level_db {
        (
            false,
            format!(
                "the test signal was heard too weakly: {:.1} dBFS, at least {min_level_db:.1} needed",
                h.level_db
            ),
        )
    } else {
        (
            true,
            format!("heard at {:.1} dBFS (match {:.2})", h.level_db, h.score),
        )
    };
    SpeakerCheck {
        at,
        passed,
        level_db: Some(h.level_db),
        detail,
    }
}

/// The sweep on the output, between silences, on every channel.
fn play_sweep(audio: &AudioConfig, peak_db: f32) -> Result<(), AudioError> {
    let mut sink = open_sink(audio, "speaker-check")?;
    let rate = sink.rate();
    let mut mono = vec![0.0; (u64::from(rate) * LEAD_MS / 1000) as usize];
    mono.extend(signal::sweep(rate, peak_db));
    mono.extend(std::iter::repeat_n(0.0, (rate / 4) as usize));
    write_mono(sink.as_mut(), &mono)?;
    sink.finish()
}

/// Writes mono samples to every channel of `sink`, in 20 ms chunks.
pub fn write_mono(sink: &mut dyn Sink, mono: &[f32]) -> Result<(), AudioError> {
    let channels = usize::from(sink.channels());
    for chunk in mono.chunks((sink.rate() / 50) as usize) {
        let frames: Vec<f32> = chunk
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, channels))
            .collect();
        sink.write(&frames)?;
    }
    Ok(())
}

/// `loa-node test-tone`: `secs` of a 1 kHz tone at `peak_db` on the configured output.
pub fn test_tone(audio: &AudioConfig, secs: f64, peak_db: f32) -> Result<(), AudioError> {
    let mut sink = open_sink(audio, "test-tone")?;
    let tone = signal::tone(sink.rate(), 1000.0, secs, peak_db);
    write_mono(sink.as_mut(), &tone)?;
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::detect::Heard;
    use super::*;

    #[test]
    fn the_verdict_says_heard_not_heard_or_too_weak() {
        let at = Utc::now();
        let heard = |score, level_db| {
            Some(Heard {
                score,
                level_db,
                lag: 0,
            })
        };
        let ok = verdict(at, heard(0.9, -30.0), -55.0);
        assert!(
            ok.passed && ok.detail.starts_with("heard at -30.0 dBFS"),
            "{ok:?}"
        );
        let none = verdict(at, heard(0.05, -70.0), -55.0);
        assert!(
            !none.passed && none.detail.contains("not heard"),
            "{none:?}"
        );
        let weak = verdict(at, heard(0.8, -62.0), -55.0);
        assert!(
            !weak.passed && weak.detail.contains("too weakly"),
            "{weak:?}"
        );
        assert_eq!(weak.level_db, Some(-62.0));
        assert!(!verdict(at, None, -55.0).passed);
    }
}
