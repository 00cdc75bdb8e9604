//! Playing one file, or an item's parts (chime, then each language) one after the other, to a
//! sink; and checking a file without playing it.
//!
//! `play` is blocking and runs on the caller's thread: the node's player actor
//! ([`crate::player`]) owns that thread and the agenda decides what plays; this module only
//! turns a file into sound.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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

/// One recording of an item, ready to play: its file and its gain (linear, normalisation and
/// volumes together).
#[derive(Debug, Clone)]
pub struct Track {
    pub path: PathBuf,
    pub gain: f32,
}

/// Where playback of an item stands: the part, and how far into that part's audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub part: usize,
    pub ms: u64,
}

/// What playing an item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemReport {
    /// Frames written, at the sink's rate, silence between parts included.
    pub frames: u64,
    /// Where the stop flag cut it; `None` when every part played to its end.
    pub stopped_at: Option<Position>,
}

/// Blocking. Plays `tracks` one after the other into one sink, from `from` (a resumed item
/// starts inside a part), with `gap_ms` of silence between parts, then `finish()`es the sink.
/// Each part goes through the pipeline of [`play`]. Calls `before_first_frame` once the first
/// samples are decoded and resampled, just before they go to the sink (the runner waits there
/// for the item's instant, so opening the file and setting up the resampler do not delay the
/// start), `on_first_frame` once, right after the first samples reach the sink, and
/// `on_part_done(i)` after part `i`'s last samples. If `stop` is set, the part on air fades
/// out and `stopped_at` says where it stopped.
#[allow(clippy::too_many_arguments)]
pub fn play_item(
    tracks: &[Track],
    from: Position,
    gap_ms: u64,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
    before_first_frame: &mut dyn FnMut(),
    on_first_frame: &mut dyn FnMut(),
    on_part_done: &mut dyn FnMut(usize),
) -> Result<ItemReport, AudioError> {
    let mut first = Some(FirstFrame {
        before: before_first_frame,
        after: on_first_frame,
    });
    let report = play_parts(tracks, from, gap_ms, sink, stop, &mut first, on_part_done)?;
    sink.finish()?;
    Ok(report)
}

/// [`play_item`] without finishing the sink, for an item whose stream follows its parts;
/// `first` is still there afterwards if no part was written.
pub(crate) fn play_parts(
    tracks: &[Track],
    from: Position,
    gap_ms: u64,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
    first: &mut Option<FirstFrame<'_>>,
    on_part_done: &mut dyn FnMut(usize),
) -> Result<ItemReport, AudioError> {
    let mut report = ItemReport {
        frames: 0,
        stopped_at: None,
    };
    for (i, track) in tracks.iter().enumerate().skip(from.part) {
        let skip_ms = if i == from.part { from.ms } else { 0 };
        if i > from.part {
            let written = write_silence(sink, gap_ms, stop)?;
            report.frames += written;
            if stop.load(Ordering::Relaxed) {
                report.stopped_at = Some(Position { part: i, ms: 0 });
                break;
            }
        }
        let part = play_part(&track.path, sink, track.gain, skip_ms, stop, first)?;
        report.frames += part.frames;
        if part.interrupted {
            let played_ms = part.frames * 1000 / u64::from(sink.rate());
            report.stopped_at = Some(Position {
                part: i,
                ms: skip_ms + played_ms,
            });
            break;
        }
        on_part_done(i);
    }
    Ok(report)
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
    let mut first = Some(FirstFrame {
        before: &mut || {},
        after: on_first_frame,
    });
    let report = play_part(path, sink, gain, 0, stop, &mut first)?;
    sink.finish()?;
    Ok(report)
}

/// What to call around an item's first write to the sink.
pub(crate) struct FirstFrame<'a> {
    pub before: &'a mut dyn FnMut(),
    pub after: &'a mut dyn FnMut(),
}

/// One file into the sink, without finishing it, from `skip_ms` into the audio. Takes
/// `first` out of its option when it calls it.
fn play_part(
    path: &Path,
    sink: &mut dyn Sink,
    gain: f32,
    skip_ms: u64,
    stop: &AtomicBool,
    first: &mut Option<FirstFrame<'_>>,
) -> Result<PlayReport, AudioError> {
    let mut decoder = Decoder::open(path)?;
    let (src_channels, out_channels) = (decoder.channels(), sink.channels());
    // Resample as few channels as possible: downmix before, upmix after.
    let work_channels = src_channels.min(out_channels);
    let mut resampler = Resampler::new(decoder.rate(), sink.rate(), work_channels)?;
    let mut ramp = Ramp::new(gain, sink.rate(), out_channels);
    let (mut work, mut resampled, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut to_skip = skip_ms * u64::from(decoder.rate()) / 1000;
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
                // A resumed part starts where it was cut: drop what played before.
                let frames = (chunk.len() / usize::from(src_channels)) as u64;
                let dropped = to_skip.min(frames);
                to_skip -= dropped;
                let chunk = &chunk[dropped as usize * usize::from(src_channels)..];
                if !chunk.is_empty() {
                    // Copied only where the channels change: the decoder's buffer goes
                    // straight into the resampler otherwise.
                    let input = if src_channels == work_channels {
                        chunk
                    } else {
                        map_channels(chunk, src_channels, work_channels, &mut work);
                        &work
                    };
                    resampler.process(input, &mut resampled)?;
                }
                true
            }
            None => {
                resampler.flush(&mut resampled)?;
                false
            }
        };
        if !resampled.is_empty() {
            let out = if work_channels == out_channels {
                &mut resampled
            } else {
                out.clear();
                map_channels(&resampled, work_channels, out_channels, &mut out);
                &mut out
            };
            ramp.apply(out);
            match first.take() {
                Some(f) => {
                    (f.before)();
                    if stop.load(Ordering::Relaxed) {
                        // Stopped while waiting for the instant: nothing went on air.
                        report.interrupted = true;
                        break;
                    }
                    sink.write(out)?;
                    (f.after)();
                }
                None => sink.write(out)?,
            }
            report.frames += (out.len() / usize::from(out_channels)) as u64;
        }
        if !more {
            break;
        }
    }
    Ok(report)
}

/// Writes `ms` of silence in 20 ms chunks, stopping early if `stop` is set; returns frames.
pub(crate) fn write_silence(
    sink: &mut dyn Sink,
    ms: u64,
    stop: &AtomicBool,
) -> Result<u64, AudioError> {
    let total = ms * u64::from(sink.rate()) / 1000;
    let chunk_frames = u64::from(sink.rate()) / 50;
    let zeros = vec![0.0f32; chunk_frames as usize * usize::from(sink.channels())];
    let mut written = 0;
    while written < total && !stop.load(Ordering::Relaxed) {
        let n = chunk_frames.min(total - written);
        sink.write(&zeros[..n as usize * usize::from(sink.channels())])?;
        written += n;
    }
    Ok(written)
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

/// The rate to open the output at for `tracks`: the one most of them have, the later part's on
/// a tie (the announcement's, not the chime's), so the longest audio needs no resampling.
/// `None` when none of them opens; playing them will say why.
pub fn native_rate(tracks: &[Track]) -> Option<u32> {
    let rates: Vec<u32> = tracks
        .iter()
        .filter_map(|t| Decoder::open(&t.path).ok().map(|d| d.rate()))
        .collect();
    rates
        .iter()
        .enumerate()
        .max_by_key(|(i, r)| (rates.iter().filter(|x| x == r).count(), *i))
        .map(|(_, r)| *r)
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
