//! Sample-rate conversion (rubato) and channel mapping, on interleaved `f32`.
//!
//! `Resampler` hides rubato's fixed chunks and its delay: it buffers whatever it is given, drops
//! the filter's leading delay, and on `flush` pushes out the tail and cuts the output to exactly
//! `input frames × out_rate / in_rate`, so a resampled announcement lasts as long as the source.

use rubato::{FftFixedIn, Resampler as _};

use super::AudioError;

/// Input frames per rubato call: about 20 ms at 48 kHz, a balance of FFT cost and latency.
const CHUNK_FRAMES: usize = 1024;

/// FFTs per chunk. Two halve the FFT, and so the filter: 588 taps instead of 1,029 from 44.1
/// kHz, its cut-off at 21.5 kHz instead of 21.8 (3.89 kHz instead of 3.95 from 8 kHz), far above
/// what a horn loudspeaker plays, and the noise it leaves stays over 120 dB under a tone
/// (BENCHMARKS.md, "Resamplers"); it saves about a tenth of a decode + resample.
const SUB_CHUNKS: usize = 2;

pub(crate) struct Resampler {
    /// `None` when the rates are equal: samples pass through untouched.
    inner: Option<FftFixedIn<f32>>,
    channels: usize,
    in_rate: u32,
    out_rate: u32,
    /// Planar input waiting for a full chunk.
    pending: Vec<Vec<f32>>,
    /// Planar output of one call, allocated once: rubato writes into it.
    planar: Vec<Vec<f32>>,
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
                SUB_CHUNKS,
                channels,
            )
            .map_err(|e| AudioError::Resample(format!("{in_rate} Hz to {out_rate} Hz: {e}")))?;
            Some(r)
        };
        Ok(Resampler {
            skip: inner.as_ref().map_or(0, |r| r.output_delay()),
            planar: inner
                .as_ref()
                .map_or_else(Vec::new, |r| r.output_buffer_allocate(true)),
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
        // Whole runs of frames at a time, one channel after the other, up to a full chunk.
        // Whole frames only: a stray partial frame at the end is dropped, never waited on.
        let mut input = input;
        while input.len() >= self.channels {
            let room = CHUNK_FRAMES - self.pending[0].len();
            let take = room.min(input.len() / self.channels);
            let (now, rest) = input.split_at(take * self.channels);
            deinterleave(now, &mut self.pending);
            input = rest;
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
            inner.process_partial_into_buffer(None::<&[Vec<f32>]>, &mut self.planar, None)
        } else if partial {
            inner.process_partial_into_buffer(Some(&self.pending), &mut self.planar, None)
        } else {
            inner.process_into_buffer(&self.pending, &mut self.planar, None)
        };
        let (_, frames) = result.map_err(|e| AudioError::Resample(e.to_string()))?;
        for ch in &mut self.pending {
            ch.clear();
        }
        let skip = self.skip.min(frames);
        self.skip -= skip;
        let start = out.len();
        out.resize(start + (frames - skip) * self.channels, 0.0);
        if frames > skip {
            interleave(&self.planar, skip..frames, &mut out[start..]);
        }
        self.frames_out += (frames - skip) as u64;
        Ok(())
    }
}

/// Appends interleaved `frames` to the planar `channels`. Stereo, the commonest, is one pass
/// the compiler vectorises; a tenth of a stereo resampling went to the general case.
fn deinterleave(frames: &[f32], channels: &mut [Vec<f32>]) {
    if let [left, right] = channels {
        let start = left.len();
        let n = frames.len() / 2;
        left.resize(start + n, 0.0);
        right.resize(start + n, 0.0);
        for ((l, r), f) in left[start..]
            .iter_mut()
            .zip(&mut right[start..])
            .zip(frames.chunks_exact(2))
        {
            *l = f[0];
            *r = f[1];
        }
        return;
    }
    let width = channels.len();
    for (c, ch) in channels.iter_mut().enumerate() {
        ch.extend(frames.iter().skip(c).step_by(width));
    }
}

/// Writes `range` of the planar `channels` into `out`, interleaved (`out` is exactly as long).
fn interleave(channels: &[Vec<f32>], range: std::ops::Range<usize>, out: &mut [f32]) {
    if let [left, right] = channels {
        for ((o, l), r) in out
            .chunks_exact_mut(2)
            .zip(&left[range.clone()])
            .zip(&right[range])
        {
            o[0] = *l;
            o[1] = *r;
        }
        return;
    }
    for (c, ch) in channels.iter().enumerate() {
        for (o, s) in out[c..]
            .iter_mut()
            .step_by(channels.len())
            .zip(&ch[range.clone()])
        {
            *o = *s;
        }
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
    // The two mappings a commune's files need, written so the compiler vectorises them: a
    // mono announcement on a stereo amplifier was a tenth of its playback done sample by sample.
    let start = out.len();
    match (from, to) {
        (1, 2) => {
            out.resize(start + input.len() * 2, 0.0);
            for (o, &s) in out[start..].chunks_exact_mut(2).zip(input) {
                o[0] = s;
                o[1] = s;
            }
            return;
        }
        (2, 1) => {
            out.resize(start + input.len() / 2, 0.0);
            for (o, f) in out[start..].iter_mut().zip(input.chunks_exact(2)) {
                *o = (f[0] + f[1]) * 0.5;
            }
            return;
        }
        _ => {}
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
    use loa_e2e::pcm::tone_snr_db as snr_db;

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

    #[test]
    fn each_channel_keeps_its_own_tone_cleanly() {
        // Left 1 kHz, right 7 kHz (near the top of a 22.05 kHz file), fed in odd-sized pieces:
        // both come out on their own side, with less than -90 dB of added noise (rubato's FFT
        // resampler measures about -100 dB here; `loa-bench resampling` compares the others).
        let (from, to) = (22_050.0, 48_000.0);
        let input: Vec<f32> = (0..from as usize * 2)
            .flat_map(|i| {
                let t = i as f64 / from;
                let tau = 2.0 * std::f64::consts::PI;
                [
                    (tau * 1000.0 * t).sin() as f32 * 0.5,
                    (tau * 7000.0 * t).sin() as f32 * 0.5,
                ]
            })
            .collect();
        let mut r = Resampler::new(22_050, 48_000, 2).unwrap();
        let mut out = Vec::new();
        for piece in input.chunks(2 * 777) {
            r.process(piece, &mut out).unwrap();
        }
        r.flush(&mut out).unwrap();
        // A tenth of a second off each end, where the filter meets the edges.
        let side = |c: usize| -> Vec<f32> {
            let all: Vec<f32> = out.iter().skip(c).step_by(2).copied().collect();
            all[to as usize / 10..all.len() - to as usize / 10].to_vec()
        };
        let (left, right) = (side(0), side(1));
        assert!(
            snr_db(&left, 1000.0, to) > 90.0,
            "left: {} dB",
            snr_db(&left, 1000.0, to)
        );
        assert!(
            snr_db(&right, 7000.0, to) > 90.0,
            "right: {} dB",
            snr_db(&right, 7000.0, to)
        );
        // And each tone is on its side only.
        assert!(snr_db(&left, 7000.0, to) < 0.0 && snr_db(&right, 1000.0, to) < 0.0);
    }
}
