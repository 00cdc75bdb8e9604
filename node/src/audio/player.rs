//! Playing one file to a sink, and checking a file without playing it.
//!
//! `play` is blocking and runs on the caller's thread: the node's player actor owns that thread
//! and decides what plays; this module only turns a file into sound.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::decode::Decoder;
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
/// channels (mono→both, stereo→mono by averaging, more→first two), applies `gain` (linear
/// 0.0..=1.0), writes to the sink, then `finish()`. Calls `on_first_frame` right after the first
/// samples are handed to the sink. Checks `stop` between chunks; if set, stops early
/// (`interrupted`), still finishing the sink so what was queued (≤ 200 ms on cpal) plays out.
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
    let gain = if gain.is_nan() {
        0.0
    } else {
        gain.clamp(0.0, 1.0)
    };
    let (mut work, mut resampled, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = PlayReport {
        frames: 0,
        interrupted: false,
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
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
            if gain != 1.0 {
                out.iter_mut().for_each(|s| *s *= gain);
            }
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

/// A volume in percent (0–100, as plans and the CLI give it) as a linear gain for [`play`].
/// Squared, so equal steps sound roughly equal: 50 % is about −12 dB, 80 % about −4 dB.
pub fn volume_to_gain(percent: u8) -> f32 {
    let v = f32::from(percent.min(100)) / 100.0;
    v * v
}
