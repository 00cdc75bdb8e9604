//! The sound waiting between the upstream's decoder and the pacer, and the rule that decides
//! what each 20 ms frame is: the station's audio, or silence while it has none.
//!
//! The upstream arrives in bursts (Icecast sends a few seconds at once when a listener
//! connects, then network-sized pieces); the villages must get an even 50 frames a second.
//! So the pacer plays from here only once [`PREBUFFER`] is waiting, plays silence when it runs
//! dry (a stalled or dropped station) until [`PREBUFFER`] is there again, and drops the oldest
//! sound when more than [`MAX_BACKLOG`] piles up, which bounds how late the villages hear the
//! station. No I/O here: a plain value, tested with tables.

use std::collections::VecDeque;

use crate::opus::FRAME;

/// Sound (48 kHz samples) that must be waiting before the pacer plays from the station: 300 ms
/// rides over the unevenness of a network stream.
pub const PREBUFFER: usize = 300 * 48;
/// Most sound kept waiting: 1.5 s. Past it, the oldest is dropped down to [`PREBUFFER`].
pub const MAX_BACKLOG: usize = 1_500 * 48;
/// A live voice from the speaker's browser comes in even 20 ms pieces: 100 ms waiting is
/// enough, and at most 300 ms is kept, so the speaker is heard at most that late.
pub const LIVE_PREBUFFER: usize = 100 * 48;
pub const LIVE_MAX_BACKLOG: usize = 300 * 48;

#[derive(Debug)]
pub struct Backlog {
    samples: VecDeque<f32>,
    prebuffer: usize,
    max: usize,
    /// Playing from the station (true) or waiting for [`PREBUFFER`] (false).
    flowing: bool,
    /// Samples dropped because too much piled up, since the start.
    pub dropped: u64,
}

/// What the pacer sends for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    Station,
    Silence,
}

impl Default for Backlog {
    /// A station's backlog: [`PREBUFFER`] and [`MAX_BACKLOG`].
    fn default() -> Self {
        Backlog::with_limits(PREBUFFER, MAX_BACKLOG)
    }
}

impl Backlog {
    /// A live session's backlog: [`LIVE_PREBUFFER`] and [`LIVE_MAX_BACKLOG`].
    pub fn live() -> Self {
        Backlog::with_limits(LIVE_PREBUFFER, LIVE_MAX_BACKLOG)
    }

    fn with_limits(prebuffer: usize, max: usize) -> Self {
        Backlog {
            samples: VecDeque::with_capacity(max + FRAME),
            prebuffer,
            max,
            flowing: false,
            dropped: 0,
        }
    }

    /// Decoded 48 kHz mono sound from the station.
    pub fn push(&mut self, pcm: &[f32]) {
        self.samples.extend(pcm);
        if self.samples.len() > self.max {
            let excess = self.samples.len() - self.prebuffer;
            self.samples.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// Fills `out` with the next frame and says what it is.
    pub fn next_frame(&mut self, out: &mut [f32; FRAME]) -> Frame {
        if !self.flowing && self.samples.len() >= self.prebuffer {
            self.flowing = true;
        }
        if self.flowing && self.samples.len() >= FRAME {
            for (o, s) in out.iter_mut().zip(self.samples.drain(..FRAME)) {
                *o = s;
            }
            return Frame::Station;
        }
        // Ran dry: silence now, and wait for a prebuffer's worth before playing again.
        self.flowing = false;
        out.fill(0.0);
        Frame::Silence
    }

    /// Forgets what is waiting (a live session's speaker joined again: no stale voice).
    pub fn clear(&mut self) {
        self.samples.clear();
        self.flowing = false;
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(b: &mut Backlog, n: usize) -> Vec<Frame> {
        let mut out = [0.0; FRAME];
        (0..n).map(|_| b.next_frame(&mut out)).collect()
    }

    #[test]
    fn silence_until_a_prebuffer_is_there_then_the_station() {
        let mut b = Backlog::default();
        assert_eq!(frames(&mut b, 2), [Frame::Silence; 2]);
        b.push(&vec![0.5; PREBUFFER - 1]);
        assert_eq!(frames(&mut b, 1), [Frame::Silence]);
        b.push(&[0.5]);
        let mut out = [0.0; FRAME];
        assert_eq!(b.next_frame(&mut out), Frame::Station);
        assert!(out.iter().all(|s| *s == 0.5));
    }

    #[test]
    fn a_station_that_runs_dry_gives_silence_until_it_refills() {
        let mut b = Backlog::default();
        b.push(&vec![0.5; PREBUFFER]);
        let n = PREBUFFER / FRAME;
        assert_eq!(frames(&mut b, n), vec![Frame::Station; n]);
        assert_eq!(frames(&mut b, 1), [Frame::Silence], "dry");
        // A little sound comes back, not yet enough to play again.
        b.push(&vec![0.5; 2 * FRAME]);
        assert_eq!(frames(&mut b, 3), [Frame::Silence; 3]);
        b.push(&vec![0.5; PREBUFFER]);
        assert_eq!(frames(&mut b, 1), [Frame::Station]);
    }

    #[test]
    fn a_burst_past_the_limit_keeps_the_newest_sound() {
        let mut b = Backlog::default();
        b.push(&vec![0.1; MAX_BACKLOG]);
        assert_eq!(b.dropped, 0);
        b.push(&vec![0.9; PREBUFFER]);
        assert_eq!(b.len(), PREBUFFER);
        assert_eq!(b.dropped as usize, MAX_BACKLOG);
        let mut out = [0.0; FRAME];
        b.next_frame(&mut out);
        assert!(out.iter().all(|s| *s == 0.9), "the oldest went first");
    }

    #[test]
    fn a_live_voice_waits_less_and_is_kept_shorter() {
        let mut b = Backlog::live();
        b.push(&vec![0.5; LIVE_PREBUFFER]);
        assert_eq!(frames(&mut b, 1), [Frame::Station], "100 ms is enough");
        b.push(&vec![0.5; LIVE_MAX_BACKLOG]);
        assert_eq!(b.len(), LIVE_PREBUFFER, "past 300 ms, back to 100 ms");
        b.clear();
        assert_eq!(frames(&mut b, 1), [Frame::Silence]);
    }
}
