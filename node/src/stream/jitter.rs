//! The jitter buffer between a stream's network reader and the device: a queue of decoded
//! samples that the player drains at the device's pace, 20 ms at a time.
//!
//! A machine without I/O or clock, table-tested. It starts *filling*: the player gets silence
//! until `target` frames are queued (the buffer's length, a node setting); then it plays. When
//! the queue runs dry it goes back to filling, and the silence it hands out from then until
//! audio plays again is one **gap**, counted in frames; [`Jitter::pull`] says when a gap ends
//! and how long it was. A burst after a stall (a link that held data back) cannot make the
//! delay grow: beyond `max` frames the oldest are dropped, so a live voice stays live.

use std::collections::VecDeque;

/// What one pull handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// Audio from the stream (the rest of the chunk, if the queue ran dry inside it, silence).
    Audio,
    /// Silence: still filling, or a gap goes on.
    Silence,
    /// Audio again after a gap of this many frames of silence.
    AudioAfterGap { frames: u64 },
}

pub struct Jitter {
    queue: VecDeque<f32>,
    channels: usize,
    /// Frames to hold before playing (the buffer's length).
    target: usize,
    /// Frames beyond which the oldest are dropped.
    max: usize,
    filling: bool,
    /// Audio has been played at least once: a silence after that is a gap.
    played: bool,
    /// Frames of silence handed out in the gap under way (or at the start, before any audio).
    silence: u64,
    /// Frames dropped to keep the delay bounded, in all.
    dropped: u64,
}

impl Jitter {
    /// A buffer holding `target` frames of `channels` channels before it plays; it never
    /// keeps more than `max` (at least `target` plus one pull).
    pub fn new(channels: u16, target: usize, max: usize) -> Jitter {
        Jitter {
            queue: VecDeque::new(),
            channels: usize::from(channels),
            target,
            max: max.max(target + 1),
            filling: true,
            played: false,
            silence: 0,
            dropped: 0,
        }
    }

    /// Queues decoded samples (interleaved, the buffer's channels).
    pub fn push(&mut self, samples: &[f32]) {
        self.queue.extend(samples);
        let over = (self.queue.len() / self.channels).saturating_sub(self.max);
        if over > 0 {
            self.queue.drain(..over * self.channels);
            self.dropped += over as u64;
        }
    }

    /// Frames queued.
    pub fn frames(&self) -> usize {
        self.queue.len() / self.channels
    }

    /// Frames dropped so far to keep the delay bounded.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether audio has played yet.
    pub fn has_played(&self) -> bool {
        self.played
    }

    /// Frames of silence handed out since audio last played (or since the start).
    pub fn silence(&self) -> u64 {
        self.silence
    }

    /// Fills `out` (interleaved, a whole number of frames) with what is due.
    pub fn pull(&mut self, out: &mut [f32]) -> Pulled {
        let want = out.len() / self.channels;
        if self.filling && self.frames() >= self.target {
            self.filling = false;
        }
        if self.filling {
            out.fill(0.0);
            self.silence += want as u64;
            return Pulled::Silence;
        }
        let have = self.frames().min(want);
        for (o, s) in out.iter_mut().zip(self.queue.drain(..have * self.channels)) {
            *o = s;
        }
        out[have * self.channels..].fill(0.0);
        if have < want {
            // Ran dry: fill again before playing on.
            self.filling = true;
        }
        let after = std::mem::take(&mut self.silence);
        let silence_in_this = (want - have) as u64;
        self.silence = silence_in_this;
        let was_gap = self.played && after > 0;
        self.played = true;
        if was_gap {
            Pulled::AudioAfterGap { frames: after }
        } else {
            Pulled::Audio
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulls(j: &mut Jitter, n: usize) -> Vec<Pulled> {
        (0..n).map(|_| j.pull(&mut [0.0; 4])).collect()
    }

    #[test]
    fn silence_until_the_target_is_queued_then_audio_in_order() {
        let mut j = Jitter::new(1, 6, 100);
        j.push(&[1.0, 2.0, 3.0, 4.0]);
        let mut out = [9.0; 4];
        assert_eq!(j.pull(&mut out), Pulled::Silence);
        assert_eq!(out, [0.0; 4]);
        j.push(&[5.0, 6.0]);
        assert_eq!(j.pull(&mut out), Pulled::Audio);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);
        assert!(j.has_played());
    }

    #[test]
    fn running_dry_is_a_gap_measured_until_audio_plays_again() {
        // (frames pushed before each pull, what the pull says)
        let cases: &[(usize, Pulled)] = &[
            (2, Pulled::Silence),
            // The target reached: the start's silence is no gap.
            (2, Pulled::Audio),
            // Two frames left for a pull of four: audio, then the gap begins inside it.
            (2, Pulled::Audio),
            (0, Pulled::Silence),
            (0, Pulled::Silence),
            // Four frames queued: the target again; the gap was 2 + 4 + 4 frames.
            (4, Pulled::AudioAfterGap { frames: 10 }),
            (4, Pulled::Audio),
        ];
        let mut j = Jitter::new(1, 4, 100);
        for (i, &(push, want)) in cases.iter().enumerate() {
            j.push(&vec![0.5; push]);
            assert_eq!(j.pull(&mut [0.0; 4]), want, "pull {i}");
        }
    }

    #[test]
    fn a_burst_beyond_max_drops_the_oldest() {
        let mut j = Jitter::new(2, 2, 3);
        j.push(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0]);
        assert_eq!(j.frames(), 3);
        assert_eq!(j.dropped(), 2);
        let mut out = [0.0; 4];
        j.pull(&mut out);
        assert_eq!(out, [3.0, 3.0, 4.0, 4.0], "the newest frames stay");
        assert_eq!(pulls(&mut j, 1), [Pulled::Audio]);
    }
}
