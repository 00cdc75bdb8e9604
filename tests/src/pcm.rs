//! Reading what a sink or the ALSA capture wrote, and making test tones.
//!
//! [`read`] takes a 16-bit PCM WAV, robust to the ALSA `file` plugin's header (it writes zero
//! lengths at open and the real ones at close, so the capture of a program that was killed, or
//! still runs, declares no data: then, or when a length overruns the file, the data runs to the
//! end of the file). [`segments`] splits audio at its silences and names each stretch's pitch,
//! which is how tests check the order of a chime, the languages of an announcement, and an
//! emergency between the two halves of an interrupted item. [`write_tone`] makes the sources.

use std::fs;
use std::path::Path;

use anyhow::{bail, ensure, Context as _};

use crate::alsa::AUDIBLE;

/// Interleaved 16-bit samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub rate: u32,
    pub channels: u16,
    pub samples: Vec<i16>,
}

/// Reads a 16-bit PCM WAV file.
pub fn read(path: &Path) -> anyhow::Result<Pcm> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{} is not a WAV file ({} bytes)",
        path.display(),
        bytes.len()
    );
    let (mut fmt, mut data) = (None, None);
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let declared = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into()?) as usize;
        let body = pos + 8;
        if id == b"data" {
            // The last chunk the plugin writes: trust the file's end over a 0 or long length.
            let end = if declared == 0 || body + declared > bytes.len() {
                bytes.len()
            } else {
                body + declared
            };
            data = Some(&bytes[body..end]);
            break;
        }
        let end = (body + declared).min(bytes.len());
        if id == b"fmt " {
            fmt = Some(&bytes[body..end]);
        }
        pos = end + (declared & 1);
    }
    let fmt = fmt.with_context(|| format!("{} has no fmt chunk", path.display()))?;
    let data = data.with_context(|| format!("{} has no data chunk", path.display()))?;
    ensure!(fmt.len() >= 16, "{}: short fmt chunk", path.display());
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let (format, channels, bits) = (u16_at(0), u16_at(2), u16_at(14));
    let rate = u32::from_le_bytes(fmt[4..8].try_into()?);
    // 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which ALSA uses for some layouts.
    if !(format == 1 || format == 0xFFFE) || bits != 16 || channels == 0 {
        bail!(
            "{}: expected 16-bit PCM, found format {format:#x} with {bits} bits, {channels} channels",
            path.display()
        );
    }
    let frame_bytes = 2 * usize::from(channels);
    let whole = data.len() / frame_bytes * frame_bytes;
    let samples = data[..whole]
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect();
    Ok(Pcm {
        rate,
        channels,
        samples,
    })
}

/// A stretch of sound between silences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// From the start of the file.
    pub start_secs: f64,
    pub secs: f64,
    /// The first channel's pitch: zero crossings per second / 2.
    pub hz: f64,
}

impl Pcm {
    pub fn secs(&self) -> f64 {
        self.frames() as f64 / f64::from(self.rate)
    }

    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels)
    }

    /// The first channel.
    fn left(&self) -> impl Iterator<Item = i16> + '_ {
        self.samples
            .iter()
            .step_by(usize::from(self.channels))
            .copied()
    }

    /// The audible stretches of the first channel, split wherever it stays below
    /// [`AUDIBLE`] for at least `min_gap_secs`.
    pub fn segments(&self, min_gap_secs: f64) -> Vec<Segment> {
        let rate = f64::from(self.rate);
        let min_gap = (min_gap_secs * rate) as usize;
        let left: Vec<i16> = self.left().collect();
        let loud = |s: i16| (f64::from(s) / 32768.0).abs() > AUDIBLE;
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(start) = (i..left.len()).find(|&j| loud(left[j])) {
            // The segment ends at the last loud sample before a quiet run of `min_gap`.
            let (mut end, mut quiet) = (start, 0);
            let mut j = start;
            while j < left.len() && quiet < min_gap {
                if loud(left[j]) {
                    end = j;
                    quiet = 0;
                } else {
                    quiet += 1;
                }
                j += 1;
            }
            let part = &left[start..=end];
            let crossings = part.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
            let secs = part.len() as f64 / rate;
            out.push(Segment {
                start_secs: start as f64 / rate,
                secs,
                hz: crossings as f64 / 2.0 / secs,
            });
            i = end + 1;
        }
        out
    }
}

/// Writes a sine tone of `hz` at amplitude 0.5, audible from its first sample to its last.
pub fn write_tone(path: &Path, hz: f64, secs: f64, rate: u32, channels: u16) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    let frames = (secs * f64::from(rate)) as u64;
    for n in 0..frames {
        // A quarter period in, so the first sample is already loud.
        let phase = 2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(rate);
        let v = (0.5 * (phase + std::f64::consts::FRAC_PI_2).sin() * 32767.0) as i16;
        for _ in 0..channels {
            w.write_sample(v)?;
        }
    }
    w.finalize()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_name_each_tone_between_silences() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
        write_tone(&a, 880.0, 0.5, 8000, 1).unwrap();
        write_tone(&b, 440.0, 1.0, 8000, 1).unwrap();
        let mut samples = read(&a).unwrap().samples;
        samples.extend(std::iter::repeat_n(0, 2400));
        samples.extend(read(&b).unwrap().samples);
        let pcm = Pcm {
            rate: 8000,
            channels: 1,
            samples,
        };
        let segs = pcm.segments(0.1);
        assert_eq!(segs.len(), 2, "{segs:?}");
        assert!((segs[0].hz - 880.0).abs() < 10.0, "{segs:?}");
        assert!((segs[0].secs - 0.5).abs() < 0.01, "{segs:?}");
        assert!((segs[1].start_secs - 0.8).abs() < 0.01, "{segs:?}");
        assert!((segs[1].hz - 440.0).abs() < 10.0, "{segs:?}");
        assert!((segs[1].secs - 1.0).abs() < 0.01, "{segs:?}");
    }
}
