//! Finding a source recording inside a capture by normalised cross-correlation, and test
//! signals that can only line up one way.
//!
//! A tone matches itself at every period, so it says nothing about *which* audio came out;
//! [`melody`] makes a sequence of short notes at pseudo-random pitches that matches only where
//! it truly is. [`find`] slides the source over the capture (by FFT, so a minute of capture is
//! quick even in a debug build) and returns where it fits best and how well: 1.0 is the same
//! waveform, a lossy codec and a resampler leave about 0.9, unrelated audio stays near 0.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Where the source sits in the capture, and how alike they are there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Offset of the source's first frame in the capture, in frames.
    pub offset: usize,
    /// Normalised correlation at that offset, -1.0..=1.0.
    pub score: f64,
}

/// Mono samples from interleaved ones (the channels' mean).
pub fn mono(samples: &[i16], channels: u16) -> Vec<f32> {
    samples
        .chunks_exact(usize::from(channels))
        .map(|f| f.iter().map(|&s| f32::from(s) / 32768.0).sum::<f32>() / f32::from(channels))
        .collect()
}

/// `secs` of notes of `note_ms` each, pitches between 200 and 1,600 Hz chosen by `seed`,
/// amplitude 0.5, at `rate`; mono. The same seed gives the same melody.
pub fn melody(secs: f64, rate: u32, note_ms: u32, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / f64::from(1u32 << 31)
    };
    let total = (secs * f64::from(rate)) as usize;
    let note = (rate * note_ms / 1000) as usize;
    let mut out = Vec::with_capacity(total);
    let mut phase = 0.0f64;
    let mut hz = 0.0;
    for i in 0..total {
        if i % note == 0 {
            hz = 200.0 + next() * 1400.0;
        }
        phase += 2.0 * std::f64::consts::PI * hz / f64::from(rate);
        out.push((0.5 * phase.sin()) as f32);
    }
    out
}

/// Writes mono `samples` as a 16-bit WAV.
pub fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
    }
    w.finalize()?;
    Ok(())
}

/// Where `source` fits best inside `capture` (both mono, same rate). `None` if the capture is
/// shorter than the source.
pub fn find(capture: &[f32], source: &[f32]) -> Option<Match> {
    let (n, m) = (capture.len(), source.len());
    if m == 0 || n < m {
        return None;
    }
    let size = (n + m).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let (fwd, inv) = (
        planner.plan_fft_forward(size),
        planner.plan_fft_inverse(size),
    );
    let spectrum = |x: &[f32]| {
        let mut v: Vec<Complex<f64>> = x.iter().map(|&s| Complex::new(f64::from(s), 0.0)).collect();
        v.resize(size, Complex::new(0.0, 0.0));
        fwd.process(&mut v);
        v
    };
    let (a, b) = (spectrum(capture), spectrum(source));
    let mut c: Vec<Complex<f64>> = a.iter().zip(&b).map(|(x, y)| x * y.conj()).collect();
    inv.process(&mut c);
    // Energy of each window of the capture, by a running sum of squares.
    let mut prefix = vec![0.0f64; n + 1];
    for (i, &s) in capture.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(s) * f64::from(s);
    }
    let source_energy: f64 = source.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mut best: Option<Match> = None;
    for offset in 0..=n - m {
        let window = prefix[offset + m] - prefix[offset];
        if window <= 1e-9 {
            continue;
        }
        let score = c[offset].re / size as f64 / (window * source_energy).sqrt();
        if best.is_none_or(|b| score > b.score) {
            best = Some(Match { offset, score });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_melody_is_found_where_it_was_put_and_nowhere_else() {
        let source = melody(0.5, 8000, 50, 7);
        let mut capture = vec![0.0f32; 1234];
        capture.extend(source.iter().map(|s| s * 0.3));
        capture.extend(vec![0.0f32; 999]);
        let m = find(&capture, &source).unwrap();
        assert_eq!(m.offset, 1234);
        assert!(m.score > 0.999, "{m:?}");
        let other = melody(0.5, 8000, 50, 8);
        let m = find(&capture, &other).unwrap();
        assert!(m.score < 0.5, "another melody does not match: {m:?}");
    }
}
