//! Finding the test signal in what the microphone heard: a matched filter (the capture
//! cross-correlated with the sweep, through an FFT), scored by the normalised correlation at
//! its peak, and the level of what was heard there. Pure: samples in, a finding out.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// What the detector found at the best match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heard {
    /// The normalised correlation there, 0 to 1: how much of what was heard there is the
    /// sweep (1 = only the sweep, about 0 = something else or silence).
    pub score: f32,
    /// The RMS level of the capture over the sweep's length there, in dBFS.
    pub level_db: f32,
    /// Where, in frames from the capture's start.
    pub lag: usize,
}

/// The lowest level reported, for a silent capture.
pub const FLOOR_DB: f32 = -120.0;

/// The best match of `reference` in `capture` (mono, same rate), or `None` when the capture
/// is shorter than the reference.
pub fn find(reference: &[f32], capture: &[f32]) -> Option<Heard> {
    let m = reference.len();
    if m == 0 || capture.len() < m {
        return None;
    }
    let corr = cross_correlation(reference, capture);
    let lags = capture.len() - m + 1;
    let lag = (0..lags).max_by(|&a, &b| corr[a].abs().total_cmp(&corr[b].abs()))?;
    let window: f64 = capture[lag..lag + m]
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    let reference_energy: f64 = reference.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let score = if window > 0.0 && reference_energy > 0.0 {
        (corr[lag].abs() / (window * reference_energy).sqrt()) as f32
    } else {
        0.0
    };
    let rms = (window / m as f64).sqrt();
    let level_db = if rms > 0.0 {
        ((20.0 * rms.log10()) as f32).max(FLOOR_DB)
    } else {
        FLOOR_DB
    };
    Some(Heard {
        score: score.min(1.0),
        level_db,
        lag,
    })
}

/// `c[lag] = Σ capture[lag + i] · reference[i]` for every lag where the reference fits.
fn cross_correlation(reference: &[f32], capture: &[f32]) -> Vec<f64> {
    let n = (capture.len() + reference.len()).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let padded = |s: &[f32]| {
        let mut v: Vec<Complex<f64>> = s.iter().map(|&x| Complex::new(f64::from(x), 0.0)).collect();
        v.resize(n, Complex::new(0.0, 0.0));
        v
    };
    let mut x = padded(capture);
    let mut r = padded(reference);
    forward.process(&mut x);
    forward.process(&mut r);
    for (a, b) in x.iter_mut().zip(&r) {
        *a *= b.conj();
    }
    inverse.process(&mut x);
    x.iter().map(|c| c.re / n as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::super::signal::{gain_of_db, sweep};
    use super::*;

    /// Deterministic noise at `db` dBFS RMS (about), from a small LCG.
    fn noise(len: usize, db: f32) -> Vec<f32> {
        let amp = gain_of_db(db) * 3f32.sqrt();
        let mut s: u32 = 12345;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amp * ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    fn heard_at(delay: usize, signal_db: f32, noise_db: f32) -> Heard {
        let rate = 16_000;
        let reference = sweep(rate, -20.0);
        let mut capture = noise(rate as usize * 2, noise_db);
        let g = gain_of_db(signal_db + 20.0);
        for (i, v) in reference.iter().enumerate() {
            capture[delay + i] += g * v;
        }
        find(&reference, &capture).unwrap()
    }

    #[test]
    fn a_clear_sweep_is_found_where_it_is_at_its_level() {
        let h = heard_at(4_321, -20.0, -60.0);
        assert_eq!(h.lag, 4_321);
        assert!(h.score > 0.95, "{h:?}");
        // A sweep peaking at -20 dBFS has an RMS near -23 dBFS.
        assert!((-24.5..=-21.5).contains(&h.level_db), "{h:?}");
    }

    #[test]
    fn a_sweep_under_louder_noise_is_still_found_with_a_lower_score() {
        let h = heard_at(1_000, -40.0, -35.0);
        assert_eq!(h.lag, 1_000);
        assert!((0.2..0.9).contains(&h.score), "{h:?}");
    }

    #[test]
    fn noise_alone_scores_low_and_silence_scores_nothing() {
        let reference = sweep(16_000, -20.0);
        let h = find(&reference, &noise(32_000, -30.0)).unwrap();
        assert!(h.score < 0.1, "{h:?}");
        let h = find(&reference, &vec![0.0; 32_000]).unwrap();
        assert_eq!((h.score, h.level_db), (0.0, FLOOR_DB));
        assert!(find(&reference, &[0.0; 10]).is_none());
    }
}
