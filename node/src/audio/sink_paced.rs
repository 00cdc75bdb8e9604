//! Real-time pacing for outputs without a clock: ALSA's `null` and `file` capture, the `wav`
//! and `null` sinks. A real sound card paces a playback by itself; these take samples as fast
//! as they come, so a 3-minute announcement "plays" in milliseconds and an emergency can never
//! arrive in the middle of it. With `pace = true` in `[audio]`, writes are held back so the
//! audio never runs more than [`LEAD`] ahead of the wall clock, and `finish` returns when the
//! last frame's time has come: the playback lasts as long as its audio, as on a loudspeaker.

use std::time::{Duration, Instant};

use super::{AudioError, Sink};

/// How far the writes may run ahead of real time: more than the cpal sink's queue (200 ms),
/// so that queue fills at once and its device starts without waiting.
pub const LEAD: Duration = Duration::from_millis(500);

pub(crate) struct Paced {
    inner: Box<dyn Sink>,
    /// When the first frame was written.
    start: Option<Instant>,
    frames: u64,
}

impl Paced {
    pub(crate) fn new(inner: Box<dyn Sink>) -> Self {
        Paced {
            inner,
            start: None,
            frames: 0,
        }
    }

    /// The audio written so far, as time.
    fn written(&self) -> Duration {
        Duration::from_secs_f64(self.frames as f64 / f64::from(self.inner.rate()))
    }
}

impl Sink for Paced {
    fn rate(&self) -> u32 {
        self.inner.rate()
    }

    fn channels(&self) -> u16 {
        self.inner.channels()
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let start = *self.start.get_or_insert_with(Instant::now);
        let ahead = self.written().saturating_sub(start.elapsed());
        if ahead > LEAD {
            std::thread::sleep(ahead - LEAD);
        }
        self.inner.write(samples)?;
        self.frames += (samples.len() / usize::from(self.channels())) as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        if let Some(start) = self.start {
            let left = self.written().saturating_sub(start.elapsed());
            std::thread::sleep(left);
        }
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::sink_null::NullSink;

    #[test]
    fn a_paced_playback_lasts_as_long_as_its_audio() {
        let mut sink = Paced::new(Box::new(NullSink::new(8_000, 1)));
        let chunk = vec![0.0f32; 80]; // 10 ms
        let t0 = Instant::now();
        for _ in 0..100 {
            sink.write(&chunk).unwrap();
        }
        // One second written: the writes ran at most LEAD ahead…
        let written_by = t0.elapsed();
        assert!(written_by >= Duration::from_secs(1) - LEAD - Duration::from_millis(20));
        sink.finish().unwrap();
        // …and finish waited for the rest.
        assert!(
            t0.elapsed() >= Duration::from_millis(990),
            "{:?}",
            t0.elapsed()
        );
    }
}
