//! The `cpal` sink: a real output device (ALSA on a node), chosen by name.
//!
//! cpal's `Stream` is not `Send`, and a `Sink` must be, so the stream lives on a thread of its
//! own ("loa-audio-out") that builds it, reports back, and drops it when told. Samples reach
//! the device callback through a bounded [`Queue`] of [`QUEUE`] worth of audio; see
//! `cpal_queue` for how it behaves on real and on clockless (test capture) devices.

use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{SampleFormat, SizedSample, StreamConfig};

use super::cpal_queue::Queue;
use super::{AudioError, Sink};

/// Audio queued ahead of the device: `write` blocks beyond it.
const QUEUE: Duration = Duration::from_millis(200);

/// The rate we ask for when the device offers a range.
const PREFERRED_RATE: u32 = 48_000;

pub(crate) struct CpalSink {
    device: String,
    rate: u32,
    channels: u16,
    queue: Arc<Queue>,
    /// Dropping it tells the stream thread to drop the stream.
    close: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What the stream thread reports once the stream runs.
struct Running {
    rate: u32,
    channels: u16,
    queue: Arc<Queue>,
}

impl CpalSink {
    /// Opens `device` (a name as [`output_device_names`] lists it), or the default device, at
    /// `rate` when the device takes it.
    pub(crate) fn open(device: Option<&str>, rate: Option<u32>) -> Result<Self, AudioError> {
        let name = device.unwrap_or("default").to_owned();
        let fail = |message: String| AudioError::Device {
            device: name.clone(),
            message,
        };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Running, String>>();
        let (close_tx, close_rx) = mpsc::channel::<()>();
        let wanted = device.map(str::to_owned);
        let thread = thread::Builder::new()
            .name("loa-audio-out".to_owned())
            .spawn(move || {
                let (stream, queue) = match start_stream(wanted.as_deref(), rate) {
                    Ok((stream, running)) => {
                        let queue = running.queue.clone();
                        let _ = ready_tx.send(Ok(running));
                        (stream, queue)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Returns when the sink sends or drops its end.
                let _ = close_rx.recv();
                // Release the callback right before the stream's drop stops its worker.
                queue.close();
                drop(stream);
            })
            .map_err(|e| fail(format!("cannot start the audio thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(Running {
                rate,
                channels,
                queue,
            })) => {
                tracing::debug!(device = %name, rate, channels, "audio output open");
                Ok(CpalSink {
                    device: name,
                    rate,
                    channels,
                    queue,
                    close: Some(close_tx),
                    thread: Some(thread),
                })
            }
            Ok(Err(message)) => {
                let _ = thread.join();
                Err(fail(message))
            }
            Err(_) => Err(fail("the audio thread ended while opening".to_owned())),
        }
    }

    fn device_error(&self, message: String) -> AudioError {
        AudioError::Device {
            device: self.device.clone(),
            message,
        }
    }

    /// Drops the stream. After a device error cpal's ALSA worker may never return (it retries a
    /// failing write forever), and after a stall it is stuck in a write that does not return,
    /// so the thread is then left behind rather than joined: the node keeps running and
    /// reports the failure.
    fn close_stream(&mut self) {
        self.close.take();
        if let Some(thread) = self.thread.take() {
            if !self.queue.failed() {
                let _ = thread.join();
            }
        }
    }
}

impl Sink for CpalSink {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.queue.push(samples).map_err(|e| self.device_error(e))
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        let drained = self.queue.drain().map_err(|e| self.device_error(e));
        self.close_stream();
        drained
    }
}

impl Drop for CpalSink {
    fn drop(&mut self) {
        self.close_stream();
    }
}

/// The output devices cpal sees, by name. On ALSA, a pcm appears only with a `hint` block.
pub(crate) fn output_device_names() -> Result<Vec<String>, String> {
    let host = cpal::default_host();
    let devices = host.output_devices().map_err(|e| e.to_string())?;
    Ok(devices.filter_map(|d| d.name().ok()).collect())
}

fn start_stream(name: Option<&str>, rate: Option<u32>) -> Result<(cpal::Stream, Running), String> {
    let host = cpal::default_host();
    let device = match name {
        None => host
            .default_output_device()
            .ok_or("the system has no default output device")?,
        Some(name) => find_device(&host, name)?,
    };
    let (config, format) = pick_config(&device, rate)?;
    let frames = (u64::from(config.sample_rate.0) * QUEUE.as_millis() as u64 / 1000) as usize;
    let queue = Arc::new(Queue::new(config.sample_rate.0, config.channels, frames));
    let stream = match format {
        SampleFormat::I16 => build::<i16>(&device, &config, queue.clone()),
        _ => build::<f32>(&device, &config, queue.clone()),
    }
    .map_err(|e| format!("cannot open a stream at {} Hz: {e}", config.sample_rate.0))?;
    stream.play().map_err(|e| e.to_string())?;
    let running = Running {
        rate: config.sample_rate.0,
        channels: config.channels,
        queue,
    };
    Ok((stream, running))
}

fn find_device(host: &cpal::Host, name: &str) -> Result<cpal::Device, String> {
    let mut seen = Vec::new();
    for device in host.output_devices().map_err(|e| e.to_string())? {
        match device.name() {
            Ok(n) if n == name => return Ok(device),
            Ok(n) => seen.push(n),
            Err(_) => {}
        }
    }
    // cpal lists only the devices it can open: a busy one is missing too.
    Err(format!(
        "no output device of that name is available (missing, or in use by another program); \
         `loa-node devices` lists them (now: {})",
        if seen.is_empty() {
            "none".to_owned()
        } else {
            seen.join(", ")
        }
    ))
}

/// i16 (or else f32), stereo if possible, at `rate` if the device allows it and otherwise as
/// near 48 kHz as it can. i16 first: it is what boards' codecs take, and ALSA's conversion
/// from float cost a tenth of a playback's CPU in `scripts/bench-audio.sh`.
fn pick_config(
    device: &cpal::Device,
    rate: Option<u32>,
) -> Result<(StreamConfig, SampleFormat), String> {
    let ranges = device.supported_output_configs().map_err(|e| match e {
        cpal::SupportedStreamConfigsError::DeviceNotAvailable => {
            "cannot open it (no such device or sound card, or another program holds it)".to_owned()
        }
        e => format!("cannot query its formats: {e}"),
    })?;
    let wanted = rate.unwrap_or(PREFERRED_RATE);
    let best = ranges
        .filter(|r| matches!(r.sample_format(), SampleFormat::F32 | SampleFormat::I16))
        .map(|r| {
            let (min, max) = (r.min_sample_rate().0, r.max_sample_rate().0);
            let picked = if (min..=max).contains(&wanted) {
                wanted
            } else {
                PREFERRED_RATE.clamp(min, max)
            };
            let channel_rank = match r.channels() {
                2 => 0,
                n if n > 2 => 1,
                _ => 2,
            };
            let format_rank = u8::from(r.sample_format() != SampleFormat::I16);
            let key = (format_rank, channel_rank, picked.abs_diff(wanted));
            (key, r.with_sample_rate(cpal::SampleRate(picked)))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, c)| c)
        .ok_or("it offers neither i16 nor f32 samples")?;
    Ok((best.config(), best.sample_format()))
}

fn build<T: SizedSample + cpal::FromSample<f32>>(
    device: &cpal::Device,
    config: &StreamConfig,
    queue: Arc<Queue>,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let rate = f64::from(config.sample_rate.0);
    let errors = queue.clone();
    let mut repeats: u32 = 0;
    device.build_output_stream(
        config,
        move |out: &mut [T], info: &cpal::OutputCallbackInfo| {
            let ts = info.timestamp();
            let delay = ts.playback.duration_since(&ts.callback).unwrap_or_default();
            queue.fill(out, (delay.as_secs_f64() * rate) as u64);
        },
        move |e| {
            // cpal's ALSA worker calls this in a loop once a device is gone: say it once, then
            // quietly, and back off (20 ms up to 1 s) so it neither fills the log nor spins a
            // core until the sink is dropped.
            if repeats == 0 {
                tracing::warn!(error = %e, "audio output error");
            } else {
                tracing::debug!(error = %e, repeats, "audio output error again");
            }
            errors.fail(e.to_string());
            thread::sleep(
                Duration::from_millis(20u64 << repeats.min(6)).min(Duration::from_secs(1)),
            );
            repeats = repeats.saturating_add(1);
        },
        None,
    )
}
