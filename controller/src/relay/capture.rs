//! A live session's sound from a sound card on the controller's machine (`[live]
//! capture_device`, an ALSA name as `arecord -L` lists it): for centres whose microphone and
//! mixer are wired to the PC. cpal reads the device on its own thread; each buffer is mixed to
//! mono, resampled to 48 kHz and pushed into the session's [`Feed`], exactly as the browser's
//! socket does, until the session ends (the feed is marked ended).
//!
//! `capture_pace` holds the reading to real time, for inputs without a clock (ALSA's `file`
//! plugin reading a recording, in tests), as the node's `pace` does for outputs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use super::feed::Feed;
use crate::opus::resample::ToOpusRate;

/// Opens `device` and feeds `feed` from it on a thread of its own, until the feed ends.
/// Returns once the device is open (or why it cannot be).
pub fn start(device: &str, pace: bool, feed: Arc<Feed>) -> Result<(), String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let name = device.to_owned();
    std::thread::Builder::new()
        .name("loa-live-capture".into())
        .spawn(move || {
            let stream = match open(&name, pace, feed.clone()) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            while !feed.is_ended() {
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(stream);
            tracing::info!(device = %name, "the sound card is released");
        })
        .map_err(|e| format!("cannot start the capture thread: {e}"))?;
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| format!("the sound card {device:?} did not open in time"))?
}

fn open(name: &str, pace: bool, feed: Arc<Feed>) -> Result<cpal::Stream, String> {
    let host = cpal::default_host();
    let device = if name == "default" {
        host.default_input_device()
            .ok_or("there is no default sound input")?
    } else {
        host.input_devices()
            .map_err(|e| e.to_string())?
            .find(|d| d.name().is_ok_and(|n| n == name))
            .ok_or_else(|| {
                format!("no sound input named {name:?} is available (missing, or in use)")
            })?
    };
    let config = preferred_config(&device)
        .map_err(|e| format!("the sound input {name:?} cannot be read: {e}"))?;
    let (rate, channels) = (config.sample_rate().0, config.channels());
    let mut resample = ToOpusRate::new(rate, 1)?;
    let (mut mono, mut out) = (Vec::new(), Vec::new());
    let mut clock: Option<(Instant, u64)> = None;
    let mut take = move |samples: &mut dyn Iterator<Item = f32>| {
        mono.clear();
        let mut sum = 0.0;
        for (i, s) in samples.enumerate() {
            sum += s;
            if (i + 1) % usize::from(channels) == 0 {
                mono.push(sum / f32::from(channels));
                sum = 0.0;
            }
        }
        // Held to real time, the input is handed on in 20 ms pieces, as a sound card's
        // periods come: one burst of a clockless input would overflow the feed's backlog.
        let piece = if pace {
            (rate as usize / 50).max(1)
        } else {
            mono.len().max(1)
        };
        for chunk in mono.chunks(piece) {
            out.clear();
            if resample.process(chunk, &mut out).is_ok() {
                feed.push(&out);
            }
            if pace {
                let (t0, frames) = clock.get_or_insert((Instant::now(), 0));
                *frames += chunk.len() as u64;
                let due = Duration::from_secs_f64(*frames as f64 / f64::from(rate));
                if let Some(wait) = due.checked_sub(t0.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
    };
    let err = |e: cpal::StreamError| tracing::error!(error = %e, "the sound input failed");
    let stream = match config.sample_format() {
        cpal::SampleFormat::F32 => device.build_input_stream(
            &config.into(),
            move |data: &[f32], _: &_| take(&mut data.iter().copied()),
            err,
            None,
        ),
        cpal::SampleFormat::I16 => device.build_input_stream(
            &config.into(),
            move |data: &[i16], _: &_| take(&mut data.iter().map(|s| f32::from(*s) / 32768.0)),
            err,
            None,
        ),
        other => {
            return Err(format!(
                "the sound input gives {other} samples, which loa does not read"
            ))
        }
    }
    .map_err(|e| format!("the sound input {name:?} cannot be opened: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("the sound input {name:?} does not start: {e}"))?;
    tracing::info!(device = %name, rate, channels, "reading the sound card");
    Ok(stream)
}

/// The input's mono 48 kHz configuration when it has one (a voice needs no more, and nothing
/// is then converted), else its default.
fn preferred_config(
    device: &cpal::Device,
) -> Result<cpal::SupportedStreamConfig, cpal::DefaultStreamConfigError> {
    let wanted = cpal::SampleRate(crate::opus::RATE);
    let mono = device.supported_input_configs().ok().and_then(|mut all| {
        all.find(|c| {
            c.channels() == 1
                && c.min_sample_rate() <= wanted
                && wanted <= c.max_sample_rate()
                && matches!(
                    c.sample_format(),
                    cpal::SampleFormat::I16 | cpal::SampleFormat::F32
                )
        })
    });
    match mono {
        Some(c) => Ok(c.with_sample_rate(wanted)),
        None => device.default_input_config(),
    }
}
