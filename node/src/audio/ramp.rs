//! Gain with short ramps, so nothing clicks: every playback fades in over 10 ms, and a stopped
//! one (an emergency cutting in, an item withdrawn) fades out over 200 ms instead of ending
//! mid-waveform. Samples are kept within full scale after the gain.

/// How long the fade at the start lasts.
pub const FADE_IN_MS: u64 = 10;
/// How long the fade after a stop lasts.
pub const FADE_OUT_MS: u64 = 200;
/// The most a gain may boost (+12 dB): loudness normalisation may lift a quiet recording.
pub const MAX_GAIN: f32 = 4.0;

#[derive(Debug, Clone)]
pub struct Ramp {
    channels: usize,
    gain: f32,
    /// Frames seen so far.
    frame: u64,
    fade_in: u64,
    fade_out: u64,
    /// The frame at which the fade-out began.
    stopping_at: Option<u64>,
}

impl Ramp {
    pub fn new(gain: f32, rate: u32, channels: u16) -> Ramp {
        let gain = if gain.is_finite() {
            gain.clamp(0.0, MAX_GAIN)
        } else {
            0.0
        };
        let frames = |ms: u64| (u64::from(rate) * ms / 1000).max(1);
        Ramp {
            channels: usize::from(channels.max(1)),
            gain,
            frame: 0,
            fade_in: frames(FADE_IN_MS),
            fade_out: frames(FADE_OUT_MS),
            stopping_at: None,
        }
    }

    /// Begins the fade-out from the next frame (once; later calls change nothing).
    pub fn stop(&mut self) {
        self.stopping_at.get_or_insert(self.frame);
    }

    /// The fade-out has reached silence: nothing more needs to be written.
    pub fn done(&self) -> bool {
        self.stopping_at
            .is_some_and(|s| self.frame >= s + self.fade_out)
    }

    /// Applies gain and ramps to interleaved samples, in place.
    pub fn apply(&mut self, samples: &mut [f32]) {
        if self.frame >= self.fade_in && self.stopping_at.is_none() {
            // Past the fade-in and not stopping: one gain for all, which the compiler can
            // vectorise.
            let k = self.gain;
            for s in samples.iter_mut() {
                *s = (*s * k).clamp(-1.0, 1.0);
            }
            self.frame += (samples.len() / self.channels) as u64;
            return;
        }
        for frame in samples.chunks_mut(self.channels) {
            let k = self.level();
            for s in frame {
                *s = (*s * k).clamp(-1.0, 1.0);
            }
            self.frame += 1;
        }
    }

    fn level(&self) -> f32 {
        let mut k = self.gain;
        if self.frame < self.fade_in {
            k *= self.frame as f32 / self.fade_in as f32;
        }
        if let Some(s) = self.stopping_at {
            let into = self.frame.saturating_sub(s);
            k *= 1.0 - (into as f32 / self.fade_out as f32).min(1.0);
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Ramp, frames: usize) -> Vec<f32> {
        let mut v = vec![1.0f32; frames];
        r.apply(&mut v);
        v
    }

    #[test]
    fn it_fades_in_over_10_ms_then_holds_the_gain() {
        let mut r = Ramp::new(0.5, 1000, 1);
        let v = run(&mut r, 20);
        assert_eq!(v[0], 0.0);
        assert!(v[5] > 0.2 && v[5] < 0.3, "{}", v[5]);
        assert!(v[10..].iter().all(|s| (*s - 0.5).abs() < 1e-6));
    }

    #[test]
    fn a_stop_fades_to_silence_in_200_ms_without_a_step() {
        let mut r = Ramp::new(1.0, 1000, 2);
        run(&mut r, 100);
        r.stop();
        let v = run(&mut r, 2 * 250);
        let left: Vec<f32> = v.iter().step_by(2).copied().collect();
        assert!(
            left.windows(2).all(|w| (w[0] - w[1]).abs() <= 0.0051),
            "no click"
        );
        assert!(left[200..].iter().all(|s| *s == 0.0), "silent after 200 ms");
        assert!(r.done());
        r.stop();
        assert!(r.done(), "a second stop does not restart the fade");
    }

    #[test]
    fn a_boost_is_capped_and_samples_stay_in_full_scale() {
        let mut r = Ramp::new(100.0, 1000, 1);
        let v = run(&mut r, 20);
        assert!(v.iter().all(|s| *s <= 1.0));
        assert_eq!(v[19], 1.0);
        let mut r = Ramp::new(f32::NAN, 1000, 1);
        assert!(run(&mut r, 20).iter().all(|s| *s == 0.0));
    }
}
