//! Playing a stream item: its parts (a chime, or none), then a live or relayed Ogg Opus stream
//! from the controller until the item's end (DESIGN.md, "Live and relayed audio").
//!
//! Three pieces: [`net`] reads the stream over HTTP(S) on the node's runtime, decodes it and
//! fills the [`jitter`] buffer; [`play_item`] (here, blocking, on the player's thread) drains
//! that buffer into the same sink and volume ramp as a file, 20 ms at a time, and plays
//! silence whenever the buffer is empty, so the device stays open through a stall. Each
//! stretch of silence inside the stream is reported as a [`Gap`] once audio is back (or when the
//! item ends). The item ends at the stream's `until`, when the stream ends cleanly, or when
//! the player is told to stop (an emergency, a withdrawal).

pub mod jitter;
pub mod net;

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use crate::audio::opus::RATE;
use crate::audio::player::{play_parts, write_silence, FirstFrame};
use crate::audio::ramp::Ramp;
use crate::audio::resample::Resampler;
use crate::audio::{AudioError, ItemReport, Position, Sink, Track};
use jitter::{Jitter, Pulled};
pub use net::StreamSource;

/// The jitter buffer's default length. The trade-off (docs/live-node.md): a longer buffer
/// rides out longer hiccups of a 3G link without a gap, and adds as much delay between the
/// microphone and the loudspeaker.
pub const DEFAULT_JITTER_MS: u64 = 300;

/// Frames per pull: 20 ms at 48 kHz, an Opus frame.
const PULL_FRAMES: usize = 960;

/// How long a connection may bring no data before it is dropped and made again: at least
/// 2 s, since an Ogg page may carry up to a second of audio, and never less than the buffer.
pub fn stall_after(jitter_ms: u64) -> Duration {
    Duration::from_millis(jitter_ms.max(2000))
}

/// What one stream item is to play, besides its parts.
pub struct StreamPlay<'a> {
    pub item: &'a str,
    pub source: StreamSource,
    pub until: DateTime<Utc>,
    /// Linear gain for the stream (the plan's and the item's volumes).
    pub gain: f32,
    pub jitter_ms: u64,
}

/// A stretch of silence inside a stream item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub from: DateTime<Utc>,
    pub ms: u64,
    pub cause: String,
}

/// Blocking. Plays `tracks` from `from` (as [`crate::audio::play_item`]), then the stream,
/// then finishes the sink. A stream item resumed after an emergency has `from.part` past its
/// parts: only the stream plays. `on_gap` hears each gap; `stopped_at` is where `stop` cut it
/// (always the stream's start for a stream: live audio has nothing to resume).
#[allow(clippy::too_many_arguments)]
pub fn play_item(
    tracks: &[Track],
    from: Position,
    gap_ms: u64,
    stream: StreamPlay<'_>,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
    before_first_frame: &mut dyn FnMut(),
    on_first_frame: &mut dyn FnMut(),
    on_part_done: &mut dyn FnMut(usize),
    on_gap: &mut dyn FnMut(Gap),
) -> Result<ItemReport, AudioError> {
    let mut first = Some(FirstFrame {
        before: before_first_frame,
        after: on_first_frame,
    });
    let mut report = play_parts(tracks, from, gap_ms, sink, stop, &mut first, on_part_done)?;
    let stream_part = Position {
        part: tracks.len(),
        ms: 0,
    };
    if report.stopped_at.is_some() {
        // Cut during the chime: the stream is what is left to play.
        report.stopped_at = Some(stream_part);
        sink.finish()?;
        return Ok(report);
    }
    if first.is_none() && from.part < tracks.len() {
        report.frames += write_silence(sink, gap_ms, stop)?;
    }
    let (frames, interrupted) = play_stream(&stream, sink, stop, &mut first, on_gap)?;
    report.frames += frames;
    if interrupted {
        report.stopped_at = Some(stream_part);
    }
    sink.finish()?;
    Ok(report)
}

/// The stream part: returns the frames written and whether `stop` cut it.
fn play_stream(
    s: &StreamPlay<'_>,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
    first: &mut Option<FirstFrame<'_>>,
    on_gap: &mut dyn FnMut(Gap),
) -> Result<(u64, bool), AudioError> {
    let channels = sink.channels();
    let target = (s.jitter_ms * u64::from(RATE) / 1000) as usize;
    // A burst may top the buffer up to its length plus half a second, no more.
    let shared = net::Shared::new(Jitter::new(channels, target, target + RATE as usize / 2));
    let cancel = CancellationToken::new();
    let _cancel_on_return = cancel.clone().drop_guard();
    s.source.runtime.spawn(net::read(
        s.source.clone(),
        shared.clone(),
        channels,
        stall_after(s.jitter_ms),
        cancel,
    ));
    let mut resampler = Resampler::new(RATE, sink.rate(), channels)?;
    let mut ramp = Ramp::new(s.gain, sink.rate(), channels);
    let mut pulled = vec![0.0f32; PULL_FRAMES * usize::from(channels)];
    let mut out = Vec::new();
    let (mut frames, mut interrupted) = (0u64, false);
    let mut pacer: Option<(Instant, u64)> = None;
    // When the silence under way began, by the wall clock (the start counts only if long).
    let mut silent_since: Option<DateTime<Utc>> = None;
    let mut on_air = false;
    let ms = |frames: u64| frames * 1000 / u64::from(RATE);
    let mut report_gap = |from: DateTime<Utc>, frames: u64| {
        let cause = shared
            .cause
            .lock()
            .expect("stream lock")
            .take()
            .unwrap_or_else(|| "the stream stalled (its audio came slower than real time)".into());
        on_gap(Gap {
            from,
            ms: ms(frames),
            cause,
        });
    };
    loop {
        if stop.load(Ordering::Relaxed) && !interrupted {
            interrupted = true;
            ramp.stop();
        }
        if Utc::now() >= s.until {
            ramp.stop();
        }
        if ramp.done() || (interrupted && frames == 0) {
            break;
        }
        let (what, silence) = {
            let mut j = shared.jitter.lock().expect("stream lock");
            if shared.ended.load(Ordering::Relaxed) && j.frames() == 0 {
                break;
            }
            let what = j.pull(&mut pulled);
            (what, j.silence())
        };
        match what {
            Pulled::Silence if silent_since.is_none() => silent_since = Some(Utc::now()),
            Pulled::AudioAfterGap { frames: gap } => {
                let from = silent_since.take().unwrap_or_else(Utc::now);
                report_gap(from, gap);
            }
            Pulled::Audio => {
                if !on_air {
                    on_air = true;
                    tracing::info!(item = s.item, "stream on air");
                }
                // The wait at the start is no gap unless it lasted well beyond the buffer's
                // own length (the connection took long, or the source is down).
                if let Some(from) = silent_since.take() {
                    let waited = (Utc::now() - from).num_milliseconds().max(0) as u64;
                    if waited > s.jitter_ms + 1000 {
                        report_gap(from, waited * u64::from(RATE) / 1000);
                    }
                }
                if silence > 0 {
                    // The buffer ran dry inside this pull: a gap begins now.
                    silent_since = Some(Utc::now());
                }
            }
            Pulled::Silence => {}
        }
        out.clear();
        resampler.process(&pulled, &mut out)?;
        if out.is_empty() {
            // The resampler is still gathering a chunk.
            continue;
        }
        ramp.apply(&mut out);
        if let Some(f) = first.take() {
            (f.before)();
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            sink.write(&out)?;
            (f.after)();
        } else {
            sink.write(&out)?;
        }
        frames += (out.len() / usize::from(channels)) as u64;
        pace(&mut pacer, frames, sink.rate());
    }
    let heard = shared.jitter.lock().expect("stream lock").has_played();
    let ended = shared.ended.load(Ordering::Relaxed);
    if let Some(from) = silent_since {
        // The item ended inside a gap (not the last pull of a stream that ended: that is
        // its end, not a gap).
        if heard && !ended {
            let lasted = (Utc::now() - from).num_milliseconds().max(0) as u64;
            report_gap(from, lasted * u64::from(RATE) / 1000);
        }
    }
    if !heard && !interrupted {
        let cause = shared
            .cause
            .lock()
            .expect("stream lock")
            .take()
            .unwrap_or_else(|| "the stream sent no audio".into());
        return Err(AudioError::Stream(format!(
            "nothing came in the item's whole window ({cause})"
        )));
    }
    Ok((frames, interrupted))
}

/// Holds the loop to real time when the sink does not (an output without a clock): never more
/// than 300 ms ahead of the wall clock since the stream's first write.
fn pace(pacer: &mut Option<(Instant, u64)>, frames: u64, rate: u32) {
    let (t0, f0) = *pacer.get_or_insert((Instant::now(), frames));
    let ahead = Duration::from_secs_f64((frames - f0) as f64 / f64::from(rate));
    let lead = Duration::from_millis(300);
    if let Some(wait) = ahead.checked_sub(t0.elapsed() + lead) {
        std::thread::sleep(wait);
    }
}
