//! Reading what a sink or the ALSA capture wrote, and making test tones.
//!
//! [`read`] takes a 16-bit PCM WAV, robust to the ALSA `file` plugin's header (it writes zero
//! lengths at open and the real ones at close, so the capture of a program that was killed, or
//! still runs, declares no data: then, or when a length overruns the file, the data runs to the
//! end of the file). [`segments`] splits audio at its silences and names each stretch's pitch,
//! which is how tests check the order of a chime, the languages of an announcement, and an
//! emergency between the two halves of an interrupted item. [`write_tone`] makes the sources,
//! and [`tone_snr_db`] says how cleanly a tone came through.

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

/// Reads raw interleaved S16_LE samples (what [`crate::alsa::write_stream_asoundrc`] keeps).
pub fn read_raw(path: &Path, rate: u32, channels: u16) -> anyhow::Result<Pcm> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let whole = bytes.len() / (2 * usize::from(channels)) * 2 * usize::from(channels);
    Ok(Pcm {
        rate,
        channels,
        samples: bytes[..whole]
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect(),
    })
}

/// A stretch of one pitch (or of silence, `hz == 0`), as [`Pcm::pitch_runs`] finds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub hz: f64,
    pub secs: f64,
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

    /// The first and last frame with a sample above [`AUDIBLE`] on any channel, if any.
    pub fn audible_span(&self) -> Option<(usize, usize)> {
        let loud = |frame: &[i16]| {
            frame
                .iter()
                .any(|&s| (f64::from(s) / 32768.0).abs() > AUDIBLE)
        };
        let channels = usize::from(self.channels);
        let first = self.samples.chunks_exact(channels).position(loud)?;
        let last = self.samples.chunks_exact(channels).rposition(loud)?;
        Some((first, last))
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

impl Pcm {
    /// The first channel cut into windows of `window_secs`, each named by its pitch (zero
    /// crossings) or as silence, and consecutive windows of the same pitch (within 6 %: a window's crossings are counted
    /// whole, so use windows of 50 ms or more) joined.
    /// Runs shorter than `min_secs` (the windows where one sound turns into the next) are
    /// dropped and their neighbours joined if they match. Where a playback follows another
    /// with no pause, this tells them apart by pitch.
    pub fn pitch_runs(&self, window_secs: f64, min_secs: f64) -> Vec<Run> {
        let rate = f64::from(self.rate);
        let window = ((window_secs * rate) as usize).max(2);
        let left: Vec<i16> = self.left().collect();
        let mut runs: Vec<Run> = Vec::new();
        for w in left.chunks(window) {
            let secs = w.len() as f64 / rate;
            let peak = w
                .iter()
                .map(|&s| (f64::from(s) / 32768.0).abs())
                .fold(0.0, f64::max);
            let hz = if peak > AUDIBLE {
                let crossings = w.windows(2).filter(|p| (p[0] < 0) != (p[1] < 0)).count();
                crossings as f64 / 2.0 / secs
            } else {
                0.0
            };
            push_run(&mut runs, Run { hz, secs });
        }
        let mut joined: Vec<Run> = Vec::new();
        for r in runs.into_iter().filter(|r| r.secs >= min_secs) {
            push_run(&mut joined, r);
        }
        joined
    }
}

fn same_pitch(a: f64, b: f64) -> bool {
    (a == 0.0 && b == 0.0) || (a > 0.0 && b > 0.0 && (a - b).abs() <= 0.06 * a.max(b))
}

fn push_run(runs: &mut Vec<Run>, r: Run) {
    match runs.last_mut() {
        Some(last) if same_pitch(last.hz, r.hz) => {
            // Weighted by length, so a long run keeps its pitch.
            last.hz = (last.hz * last.secs + r.hz * r.secs) / (last.secs + r.secs);
            last.secs += r.secs;
        }
        _ => runs.push(r),
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

/// How cleanly a tone of `hz` came through in `x` (mono, at `rate`): the tone is fitted
/// (`a·sin + b·cos`, least squares) and what is left is the noise and distortion added, in dB
/// under the fitted tone. Independent of the delay, which a resampler's filter leaves.
pub fn tone_snr_db(x: &[f32], hz: f64, rate: f64) -> f64 {
    let wave = |i: usize| (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin_cos();
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let ((s, c), v) = (wave(i), f64::from(*v));
        (ss, cc, sc, xs, xc) = (ss + s * s, cc + c * c, sc + s * c, xs + v * s, xc + v * c);
    }
    let det = ss * cc - sc * sc;
    let (a, b) = ((xs * cc - xc * sc) / det, (xc * ss - xs * sc) / det);
    let (mut signal, mut noise) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let (s, c) = wave(i);
        let fit = a * s + b * c;
        signal += fit * fit;
        noise += (f64::from(*v) - fit).powi(2);
    }
    10.0 * (signal / noise.max(1e-30)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pitch_runs_tell_apart_tones_that_follow_without_a_pause() {
        let dir = tempfile::tempdir().unwrap();
        let mut samples = Vec::new();
        for (i, (hz, secs)) in [(440.0, 1.0), (990.0, 0.5), (440.0, 0.7)]
            .iter()
            .enumerate()
        {
            let p = dir.path().join(format!("{i}.wav"));
            write_tone(&p, *hz, *secs, 8000, 1).unwrap();
            samples.extend(read(&p).unwrap().samples);
        }
        samples.extend(std::iter::repeat_n(0, 800));
        let pcm = Pcm {
            rate: 8000,
            channels: 1,
            samples,
        };
        let runs = pcm.pitch_runs(0.05, 0.08);
        let want = [(440.0, 1.0), (990.0, 0.5), (440.0, 0.7), (0.0, 0.1)];
        assert_eq!(runs.len(), want.len(), "{runs:?}");
        for (r, (hz, secs)) in runs.iter().zip(want) {
            assert!((r.hz - hz).abs() <= hz * 0.03, "{runs:?}");
            assert!((r.secs - secs).abs() <= 0.03, "{runs:?}");
        }
    }

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
