//! The sounds of the speaker check, as samples: the test signal (a rising sweep the detector
//! can find under noise) and the installers' steady tone.

use std::f64::consts::PI;

/// The sweep's length, its lowest and highest frequency: inside what a horn loudspeaker and a
/// cheap microphone both carry.
pub const SWEEP_MS: u64 = 1000;
const SWEEP_FROM_HZ: f64 = 400.0;
const SWEEP_TO_HZ: f64 = 3000.0;
/// The fade at each end, so the sweep starts and stops without a click.
const FADE_MS: f64 = 20.0;

/// A linear amplitude from a level in dB relative to full scale.
pub fn gain_of_db(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// The test signal at `rate`: a linear sweep of [`SWEEP_MS`] whose peak is `peak_db` dBFS.
pub fn sweep(rate: u32, peak_db: f32) -> Vec<f32> {
    let n = (u64::from(rate) * SWEEP_MS / 1000) as usize;
    let secs = SWEEP_MS as f64 / 1000.0;
    let slope = (SWEEP_TO_HZ - SWEEP_FROM_HZ) / secs;
    let amp = f64::from(gain_of_db(peak_db));
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let phase = 2.0 * PI * (SWEEP_FROM_HZ * t + slope * t * t / 2.0);
            (amp * fade(t, secs) * phase.sin()) as f32
        })
        .collect()
}

/// `secs` of a `hz` sine at `peak_db` dBFS, faded in and out: what `loa-node test-tone` plays.
pub fn tone(rate: u32, hz: f64, secs: f64, peak_db: f32) -> Vec<f32> {
    let n = (f64::from(rate) * secs) as usize;
    let amp = f64::from(gain_of_db(peak_db));
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amp * fade(t, secs) * (2.0 * PI * hz * t).sin()) as f32
        })
        .collect()
}

/// A raised-cosine ramp over [`FADE_MS`] at both ends of `len` seconds.
fn fade(t: f64, len: f64) -> f64 {
    let ramp = FADE_MS / 1000.0;
    let edge = t.min(len - t).max(0.0);
    if edge >= ramp {
        1.0
    } else {
        0.5 - 0.5 * (PI * edge / ramp).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_lasts_a_second_peaks_at_its_level_and_starts_silent() {
        let s = sweep(48_000, -20.0);
        assert_eq!(s.len(), 48_000);
        let peak = s.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.1).abs() < 0.002, "{peak}");
        assert!(s[0].abs() < 1e-6 && s[s.len() - 1].abs() < 1e-3);
    }

    #[test]
    fn the_tone_is_at_its_pitch() {
        let t = tone(8_000, 1000.0, 1.0, -6.0);
        // 1 kHz at 8 kHz: 2 sign changes per 8 samples, about 2,000 a second.
        let crossings = t
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!((1990..=2010).contains(&crossings), "{crossings}");
    }
}
