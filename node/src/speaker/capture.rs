//! Recording a number of frames from an ALSA capture device (the board's microphone input)
//! through cpal, mixed down to mono. Stops after the frames, not after a time, so a capture
//! pcm without a clock (ALSA's `file` plugin in the tests) works as a real one does.

use std::sync::mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{SampleFormat, SizedSample};

/// A capture device opened and running, filling until it has its frames.
pub struct Recording {
    _stream: cpal::Stream,
    rate: u32,
    done: mpsc::Receiver<Result<Vec<f32>, String>>,
}

impl Recording {
    /// The capture's rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Waits for the frames asked for, up to `timeout`.
    pub fn finish(self, timeout: Duration) -> Result<Vec<f32>, String> {
        self.done
            .recv_timeout(timeout)
            .map_err(|_| "the microphone input gave no audio in time".to_owned())?
    }
}

/// Starts recording `secs` of audio from the capture device `name`.
pub fn start(name: &str, secs: f64) -> Result<Recording, String> {
    let host = cpal::default_host();
    let device = find_input(&host, name)?;
    let config =
        pick_config(&device).map_err(|e| format!("capture device {name:?}: cannot use it: {e}"))?;
    let rate = config.sample_rate().0;
    let channels = usize::from(config.channels());
    let frames = (f64::from(rate) * secs) as usize;
    let (tx, rx) = mpsc::channel();
    let stream = match config.sample_format() {
        SampleFormat::I16 => build::<i16>(&device, &config.config(), channels, frames, tx),
        SampleFormat::F32 => build::<f32>(&device, &config.config(), channels, frames, tx),
        other => {
            return Err(format!(
                "capture device {name:?}: unsupported samples ({other})"
            ))
        }
    }
    .map_err(|e| format!("capture device {name:?}: cannot open it: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("capture device {name:?}: cannot start it: {e}"))?;
    Ok(Recording {
        _stream: stream,
        rate,
        done: rx,
    })
}

/// The capture devices cpal sees, by name (a pcm appears only with a `hint` block).
pub fn device_names() -> Result<Vec<String>, String> {
    let host = cpal::default_host();
    let devices = host.input_devices().map_err(|e| e.to_string())?;
    Ok(devices.filter_map(|d| d.name().ok()).collect())
}

/// 16-bit mono at 48 kHz if it can, what a microphone input natively gives (and what ALSA's
/// `file` plugin, feeding a capture from a file in the tests, reads correctly); else the
/// nearest it offers.
fn pick_config(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig, String> {
    let ranges = device
        .supported_input_configs()
        .map_err(|e| format!("cannot query its formats: {e}"))?;
    ranges
        .filter(|r| matches!(r.sample_format(), SampleFormat::I16 | SampleFormat::F32))
        .map(|r| {
            let rate = 48_000.clamp(r.min_sample_rate().0, r.max_sample_rate().0);
            let key = (
                u8::from(r.sample_format() != SampleFormat::I16),
                r.channels(),
                rate.abs_diff(48_000),
            );
            (key, r.with_sample_rate(cpal::SampleRate(rate)))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, c)| c)
        .ok_or_else(|| "it offers neither 16-bit nor float samples".to_owned())
}

fn find_input(host: &cpal::Host, name: &str) -> Result<cpal::Device, String> {
    let devices = host.input_devices().map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    for d in devices {
        match d.name() {
            Ok(n) if n == name => return Ok(d),
            Ok(n) => seen.push(n),
            Err(_) => {}
        }
    }
    Err(format!(
        "no capture device {name:?} (missing, or in use); `loa-node devices` lists them (capture now: {})",
        if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
    ))
}

fn build<T: SizedSample>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    channels: usize,
    frames: usize,
    tx: mpsc::Sender<Result<Vec<f32>, String>>,
) -> Result<cpal::Stream, cpal::BuildStreamError>
where
    f32: cpal::FromSample<T>,
{
    let mut buf: Vec<f32> = Vec::with_capacity(frames);
    let mut sent = false;
    let errors = tx.clone();
    device.build_input_stream(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            if sent {
                return;
            }
            for frame in data.chunks(channels) {
                let sum: f32 = frame
                    .iter()
                    .map(|&s| <f32 as cpal::FromSample<T>>::from_sample_(s))
                    .sum();
                buf.push(sum / channels as f32);
                if buf.len() == frames {
                    sent = true;
                    let _ = tx.send(Ok(std::mem::take(&mut buf)));
                    return;
                }
            }
        },
        move |e| {
            let _ = errors.send(Err(format!("the microphone input failed: {e}")));
        },
        None,
    )
}
