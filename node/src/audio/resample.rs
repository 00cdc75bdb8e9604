//! Sample-rate conversion (rubato) and channel mapping, on interleaved `f32`.
//!
//! `Resampler` hides rubato's fixed chunks and its delay: it buffers whatever it is given, drops
//! the filter's leading delay, and on `flush` pushes out the tail and cuts the output to exactly
//! `input frames × out_rate / in_rate`, so a resampled announcement lasts as long as the source.

use rubato::{FftFixedIn, Resampler as _};

use super::AudioError;

/// Input frames per rubato call: about 20 ms at 48 kHz, a balance of FFT cost and latency.
const CHUNK_FRAMES: usize = 1024;

pub(crate) struct Resampler {
    /// `None` when the rates are equal: samples pass through untouched.
    inner: Option<FftFixedIn<f32>>,
    channels: usize,
    in_rate: u32,
    out_rate: u32,
    /// Planar input waiting for a full chunk.
    pending: Vec<Vec<f32>>,
    /// Output frames still to drop: the filter's delay.
    skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    pub(crate) fn new(in_rate: u32, out_rate: u32, channels: u16) -> Result<Self, AudioError> {
        let channels = usize::from(channels);
        let inner = if in_rate == out_rate {
            None
        } else {
            let r = FftFixedIn::new(
                in_rate as usize,
                out_rate as usize,
                CHUNK_FRAMES,
                1,
                channels,
            )
            .map_err(|e| AudioError::Resample(format!("{in_rate} Hz to {out_rate} Hz: {e}")))?;
            Some(r)
        };
        Ok(Resampler {
            skip: inner.as_ref().map_or(0, |r| r.output_delay()),
            inner,
            channels,
            in_rate,
            out_rate,
            pending: vec![Vec::with_capacity(CHUNK_FRAMES); channels],
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Resamples `input` (interleaved, `channels` wide), appending what is ready to `out`.
    pub(crate) fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.frames_in += (input.len() / self.channels) as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.frames_out = self.frames_in;
            return Ok(());
        }
        for frame in input.chunks_exact(self.channels) {
            for (ch, s) in self.pending.iter_mut().zip(frame) {
                ch.push(*s);
            }
            if self.pending[0].len() == CHUNK_FRAMES {
                self.run(false, out)?;
            }
        }
        Ok(())
    }

    /// Pushes out everything still inside: the last partial chunk and the filter's tail.
    pub(crate) fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let expected = self.frames_in * u64::from(self.out_rate) / u64::from(self.in_rate);
        if self.inner.is_none() {
            return Ok(());
        }
        if !self.pending[0].is_empty() {
            self.run(true, out)?;
        }
        while self.frames_out < expected {
            self.run(true, out)?;
        }
        // The zero padding of the last chunk comes out as extra frames: cut them.
        let extra = (self.frames_out - expected) as usize;
        out.truncate(out.len() - extra * self.channels);
        self.frames_out = expected;
        Ok(())
    }

    /// Feeds `pending` (zero-padded when `partial`) to rubato and appends the output.
    fn run(&mut self, partial: bool, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let result = if partial && self.pending[0].is_empty() {
            // rubato wants `None`, not empty channels, for "nothing more".
            inner.process_partial(None::<&[Vec<f32>]>, None)
        } else if partial {
            inner.process_partial(Some(&self.pending), None)
        } else {
            inner.process(&self.pending, None)
        };
        let planar = result.map_err(|e| AudioError::Resample(e.to_string()))?;
        for ch in &mut self.pending {
            ch.clear();
        }
        let frames = planar.first().map_or(0, Vec::len);
        let skip = self.skip.min(frames);
        self.skip -= skip;
        out.reserve((frames - skip) * self.channels);
        for i in skip..frames {
            out.extend(planar.iter().map(|ch| ch[i]));
        }
        self.frames_out += (frames - skip) as u64;
        Ok(())
    }
}

/// Maps interleaved frames from `from` channels to `to` channels, appending to `out`: mono is
/// copied to every output, many to mono averages the first two (front left and right), and
/// otherwise the first channels are kept (and repeated if the output has more).
pub(crate) fn map_channels(input: &[f32], from: u16, to: u16, out: &mut Vec<f32>) {
    let (from, to) = (usize::from(from), usize::from(to));
    if from == to {
        out.extend_from_slice(input);
        return;
    }
    out.reserve(input.len() / from * to);
    for frame in input.chunks_exact(from) {
        if to == 1 {
            out.push((frame[0] + frame[1]) * 0.5);
        } else {
            out.extend((0..to).map(|c| frame[c % from]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_to_mono_averages_and_mono_to_stereo_duplicates() {
        let mut mono = Vec::new();
        map_channels(&[1.0, 0.0, 0.5, 0.5], 2, 1, &mut mono);
        assert_eq!(mono, [0.5, 0.5]);
        let mut stereo = Vec::new();
        map_channels(&[0.25, -0.25], 1, 2, &mut stereo);
        assert_eq!(stereo, [0.25, 0.25, -0.25, -0.25]);
        let mut front = Vec::new();
        map_channels(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 6, 2, &mut front);
        assert_eq!(front, [1.0, 2.0]);
    }

    #[test]
    fn resampling_yields_exactly_the_scaled_frame_count() {
        for (from, to) in [
            (8000, 48000),
            (22050, 48000),
            (44100, 48000),
            (48000, 44100),
        ] {
            let mut r = Resampler::new(from, to, 2).unwrap();
            let mut out = Vec::new();
            // Odd-sized pieces, as packets arrive.
            for _ in 0..37 {
                r.process(&vec![0.1; 2 * 333], &mut out).unwrap();
            }
            r.flush(&mut out).unwrap();
            let expected = 37 * 333 * u64::from(to) / u64::from(from);
            assert_eq!(out.len() as u64, 2 * expected, "{from} -> {to}");
        }
    }

    #[test]
    fn resampling_drops_the_filter_delay() {
        // A step from silence to a constant: after resampling, the step stays at the same time.
        let mut r = Resampler::new(22050, 48000, 1).unwrap();
        let mut input = vec![0.0; 22050];
        input.extend(vec![0.5; 22050]);
        let mut out = Vec::new();
        r.process(&input, &mut out).unwrap();
        r.flush(&mut out).unwrap();
        let step = out.iter().position(|s| *s > 0.25).unwrap();
        assert!((step as i64 - 48000).abs() < 10, "step at {step}");
    }
}
