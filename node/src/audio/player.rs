//! Playing one file to a sink, and checking a file without playing it.
//!
//! `play` is blocking and runs on the caller's thread: the node's player actor owns that thread
//! and decides what plays; this module only turns a file into sound.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::decode::Decoder;
use super::ramp::Ramp;
use super::resample::{map_channels, Resampler};
use super::{AudioError, Sink};

/// What a playback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayReport {
    /// Frames written, at the sink's rate.
    pub frames: u64,
    /// The stop flag ended it early.
    pub interrupted: bool,
}

/// What a media file holds, as found by decoding all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    pub rate: u32,
    pub channels: u16,
    /// Decoded length, not the header's claim.
    pub duration_ms: u64,
    /// symphonia's short codec name: `mp3`, `aac`, `vorbis`, `flac`, `pcm_s16le`, …
    pub codec: String,
}

/// Blocking. Decodes `path` with symphonia, resamples (rubato) to the sink's rate, maps
/// channels (mono→both, stereo→mono by averaging, more→first two), applies `gain` (linear,
/// up to ×4 so loudness normalisation can lift a quiet recording; faded in over 10 ms), writes
/// to the sink, then `finish()`. Calls `on_first_frame` right after the first samples are
/// handed to the sink. Checks `stop` between chunks; if set, fades out over 200 ms and stops
/// early (`interrupted`), still finishing the sink so what was queued plays out.
///
/// On an error the sink is left unfinished; dropping it closes it.
pub fn play(
    path: &Path,
    sink: &mut dyn Sink,
    gain: f32,
    stop: &AtomicBool,
    on_first_frame: &mut dyn FnMut(),
) -> Result<PlayReport, AudioError> {
    let mut decoder = Decoder::open(path)?;
    let (src_channels, out_channels) = (decoder.channels(), sink.channels());
    // Resample as few channels as possible: downmix before, upmix after.
    let work_channels = src_channels.min(out_channels);
    let mut resampler = Resampler::new(decoder.rate(), sink.rate(), work_channels)?;
    let mut ramp = Ramp::new(gain, sink.rate(), out_channels);
    let (mut work, mut resampled, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = PlayReport {
        frames: 0,
        interrupted: false,
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            // Fade out rather than cut mid-waveform; nothing at all if nothing played yet.
            report.interrupted = true;
            if report.frames == 0 {
                break;
            }
            ramp.stop();
        }
        if ramp.done() {
            break;
        }
        work.clear();
        resampled.clear();
        let more = match decoder.next_chunk()? {
            Some(chunk) => {
                map_channels(chunk, src_channels, work_channels, &mut work);
                resampler.process(&work, &mut resampled)?;
                true
            }
            None => {
                resampler.flush(&mut resampled)?;
                false
            }
        };
        if !resampled.is_empty() {
            out.clear();
            map_channels(&resampled, work_channels, out_channels, &mut out);
            ramp.apply(&mut out);
            sink.write(&out)?;
            if report.frames == 0 {
                on_first_frame();
            }
            report.frames += (out.len() / usize::from(out_channels)) as u64;
        }
        if !more {
            break;
        }
    }
    sink.finish()?;
    Ok(report)
}

/// Opens and checks a file without playing: decodes all of it (so a corrupt or truncated file
/// is found now, not at air time) and returns what it holds, or a `Decode` error.
pub fn probe(path: &Path) -> Result<MediaInfo, AudioError> {
    let mut decoder = Decoder::open(path)?;
    while decoder.next_chunk()?.is_some() {}
    Ok(MediaInfo {
        rate: decoder.rate(),
        channels: decoder.channels(),
        duration_ms: decoder.frames() * 1000 / u64::from(decoder.rate()),
        codec: decoder.codec().to_owned(),
    })
}

/// A gain in decibels (the plan's loudness normalisation) as a linear factor for [`play`].
pub fn db_to_gain(db: f32) -> f32 {
    if db.is_finite() {
        10f32.powf(db / 20.0)
    } else {
        1.0
    }
}

/// A volume in percent (0–100, as plans and the CLI give it) as a linear gain for [`play`].
/// Squared, so equal steps sound roughly equal: 50 % is about −12 dB, 80 % about −4 dB.
pub fn volume_to_gain(percent: u8) -> f32 {
    let v = f32::from(percent.min(100)) / 100.0;
    v * v
}
