//! The `null` sink: discards samples and counts frames. It never blocks, like ALSA's `null`
//! device, so a playback through it takes as long as decoding does.

use super::{AudioError, Sink};

pub(crate) struct NullSink {
    rate: u32,
    channels: u16,
    frames: u64,
}

impl NullSink {
    pub(crate) fn new(rate: u32, channels: u16) -> Self {
        NullSink {
            rate,
            channels,
            frames: 0,
        }
    }
}

impl Sink for NullSink {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.frames += (samples.len() / usize::from(self.channels)) as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        tracing::debug!(frames = self.frames, "null sink finished");
        Ok(())
    }
}
