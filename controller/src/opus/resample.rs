//! Any rate and channel count to 48 kHz mono, streaming, for the Opus encoder.
//!
//! Channels are mixed down first (the villages get mono), then rubato converts the rate in
//! fixed chunks; the filter's leading delay is dropped so the output lines up with the input.
//! The node has its own resampler for playback (`node/src/audio/resample.rs`); this one only
//! ever outputs mono at 48 kHz and never needs an exact end, so it stays this small.

use rubato::{FftFixedIn, Resampler as _};

/// Input frames per rubato call.
const CHUNK: usize = 1024;

pub struct ToOpusRate {
    /// `None` when the input is already at 48 kHz.
    inner: Option<FftFixedIn<f32>>,
    channels: usize,
    pending: Vec<f32>,
    /// Output frames still to drop: the filter's delay.
    skip: usize,
}

impl ToOpusRate {
    pub fn new(rate: u32, channels: u16) -> Result<Self, String> {
        let inner = if rate == super::RATE {
            None
        } else {
            Some(
                FftFixedIn::new(rate as usize, super::RATE as usize, CHUNK, 1, 1)
                    .map_err(|e| format!("cannot resample {rate} Hz to 48 kHz: {e}"))?,
            )
        };
        Ok(ToOpusRate {
            skip: inner.as_ref().map_or(0, |r| r.output_delay()),
            inner,
            channels: usize::from(channels.max(1)),
            pending: Vec::with_capacity(CHUNK),
        })
    }

    /// Mixes `input` (interleaved) to mono, resamples it and appends what is ready to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), String> {
        let n = self.channels;
        let mono = input
            .chunks_exact(n)
            .map(|f| f.iter().sum::<f32>() / n as f32);
        let Some(inner) = self.inner.as_mut() else {
            out.extend(mono);
            return Ok(());
        };
        for s in mono {
            self.pending.push(s);
            if self.pending.len() == CHUNK {
                let planar = inner
                    .process(&[&self.pending[..]], None)
                    .map_err(|e| e.to_string())?;
                self.pending.clear();
                let got = &planar[0];
                let skip = self.skip.min(got.len());
                self.skip -= skip;
                out.extend_from_slice(&got[skip..]);
            }
        }
        Ok(())
    }

    /// Pushes out what is still inside: the last partial chunk, zero-padded, and the filter's
    /// delay after it (a little silence may follow; the Ogg end position trims it).
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), String> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let first = inner
            .process_partial(Some(&[&self.pending[..]]), None)
            .map_err(|e| e.to_string())?;
        self.pending.clear();
        let tail = inner
            .process_partial(None::<&[Vec<f32>]>, None)
            .map_err(|e| e.to_string())?;
        for got in [&first[0], &tail[0]] {
            let skip = self.skip.min(got.len());
            self.skip -= skip;
            out.extend_from_slice(&got[skip..]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_at_22050_becomes_mono_at_48000_in_step() {
        let mut r = ToOpusRate::new(22_050, 2).unwrap();
        // Silence, then a constant: the step stays at one second after conversion.
        let mut input = vec![0.0; 2 * 22_050];
        input.extend(vec![0.5; 2 * 22_050]);
        let mut out = Vec::new();
        r.process(&input, &mut out).unwrap();
        r.flush(&mut out).unwrap();
        let step = out.iter().position(|s| *s > 0.25).unwrap();
        assert!((step as i64 - 48_000).abs() < 10, "step at {step}");
        assert!(out.len() >= 96_000, "{} samples", out.len());
    }
}
