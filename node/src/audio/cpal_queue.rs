//! The bounded queue between the player thread and cpal's device callback.
//!
//! Plain logic with no device, so it is tested alone. Its rules come from having to play right
//! both on a real device, which has a clock, and on ALSA's `null`/`file` capture the tests use,
//! which has none (its callback runs as fast as it is fed):
//!
//! - the callback waits, rather than play silence, until the queue first fills (or the writer
//!   finishes), so a playback has no leading silence;
//! - while the writer is still producing, the callback waits for a full buffer before padding
//!   with silence, at most two thirds of what the device still holds ahead (so a real device
//!   does not run dry while it waits). A device that holds nothing ahead — a clockless one, or a
//!   real one that already ran dry — gains nothing from silence, so there the callback waits
//!   up to [`DRY_WAIT`]: this keeps gaps out of the middle of a capture;
//! - after the writer finishes, the queue is drained once the device has played the last real
//!   sample: the silence written after it covers the device's own delay. The callback then
//!   holds still until the stream closes (`close` comes just before dropping the stream), and
//!   callbacks after `close` keep real time, so a clockless device ends with less than three
//!   buffers of silence (usually one or two);
//! - a device error, or a device that stops calling back, fails the writer instead of hanging it;
//! - each side wakes the other only when it waits: the callback wakes a waiting writer once half
//!   the queue is free (or it waits itself), so a playback costs a few thread switches per
//!   buffer, not one per packet.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long the callback waits for a stalled writer when the device holds nothing ahead.
pub(crate) const DRY_WAIT: Duration = Duration::from_secs(1);

/// A device that has not called back for this long while the writer waits is considered hung.
pub(crate) const DEVICE_STALL: Duration = Duration::from_secs(3);

pub(crate) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
    rate: u32,
    channels: usize,
}

struct State {
    samples: VecDeque<f32>,
    /// In samples, a whole number of frames.
    capacity: usize,
    /// The queue filled once (or the writer finished): the callback may play.
    started: bool,
    /// The writer wrote its last samples.
    finishing: bool,
    /// Frames of silence the callback produced after the last real sample.
    tail_silence: u64,
    /// The device has played everything: `drain` may return.
    drained: bool,
    /// The sink is gone: the callback must not wait any more.
    closed: bool,
    error: Option<String>,
    /// Callbacks so far: the writer's watchdog compares it over time.
    callbacks: u64,
    written: u64,
    /// The writer waits for room.
    writer_waiting: bool,
    /// The callback waits for samples: this many (in samples) would end its wait.
    device_waiting: bool,
    device_needs: usize,
}

impl Queue {
    pub(crate) fn new(rate: u32, channels: u16, capacity_frames: usize) -> Self {
        let channels = usize::from(channels);
        Queue {
            state: Mutex::new(State {
                samples: VecDeque::with_capacity(capacity_frames * channels),
                capacity: capacity_frames.max(1) * channels,
                started: false,
                finishing: false,
                tail_silence: 0,
                drained: false,
                closed: false,
                error: None,
                callbacks: 0,
                written: 0,
                writer_waiting: false,
                device_waiting: false,
                device_needs: 0,
            }),
            changed: Condvar::new(),
            rate,
            channels,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves consistent data here: keep going rather than cascade.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writer side: queues whole frames, blocking while the queue is full.
    pub(crate) fn push(&self, mut samples: &[f32]) -> Result<(), String> {
        debug_assert_eq!(samples.len() % self.channels, 0);
        let mut st = self.lock();
        while !samples.is_empty() {
            if let Some(e) = &st.error {
                return Err(e.clone());
            }
            if st.finishing {
                return Err("the output was already finished".to_owned());
            }
            let room = st.capacity - st.samples.len();
            if room == 0 {
                st.started = true;
                self.changed.notify_all();
                st.writer_waiting = true;
                let waited = self.wait_for_device(st);
                st = waited?;
                st.writer_waiting = false;
                continue;
            }
            let n = room.min(samples.len());
            st.samples.extend(&samples[..n]);
            st.written += n as u64;
            samples = &samples[n..];
            if st.device_waiting && st.samples.len() >= st.device_needs {
                self.changed.notify_all();
            }
        }
        Ok(())
    }

    /// Writer side: no more samples. Returns once the device has played all of them.
    pub(crate) fn drain(&self) -> Result<(), String> {
        let mut st = self.lock();
        st.finishing = true;
        st.started = true;
        self.changed.notify_all();
        if st.written == 0 {
            return Ok(());
        }
        while !st.drained {
            if let Some(e) = &st.error {
                return Err(e.clone());
            }
            st = self.wait_for_device(st)?;
        }
        Ok(())
    }

    /// Waits for the callback to change something; fails if it stops calling back. A stall
    /// is recorded as the queue's error, like a device error: the stream's worker is stuck
    /// somewhere (in a write that never returns), so dropping the stream would hang too.
    fn wait_for_device<'a>(
        &self,
        st: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>, String> {
        let before = st.callbacks;
        let (mut st, timeout) = self
            .changed
            .wait_timeout(st, DEVICE_STALL)
            .unwrap_or_else(PoisonError::into_inner);
        if timeout.timed_out() && st.callbacks == before && st.error.is_none() {
            let message = format!("the device took no audio for {} s", DEVICE_STALL.as_secs());
            st.error = Some(message.clone());
            return Err(message);
        }
        Ok(st)
    }

    /// Device side: fills `out` (whole frames). `device_delay` is how many frames the device
    /// still holds ahead of this buffer (0 on a clockless device).
    pub(crate) fn fill<T: cpal::Sample + cpal::FromSample<f32>>(
        &self,
        out: &mut [T],
        device_delay: u64,
    ) {
        let mut st = self.lock();
        st.callbacks += 1;
        if st.closed {
            // The stream's worker has not yet seen that it must stop. Keep time like a real
            // device, or a clockless one would write silence as fast as it can meanwhile.
            drop(st);
            let frames = out.len() / self.channels;
            thread::sleep(Duration::from_secs_f64(
                frames as f64 / f64::from(self.rate),
            ));
            out.fill(T::EQUILIBRIUM);
            return;
        }
        while !st.started && !st.closed {
            // `push` wakes it when the queue first fills.
            st.device_waiting = true;
            st.device_needs = usize::MAX;
            st = self
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st.device_waiting = false;
        let budget = match device_delay {
            0 => DRY_WAIT,
            frames => Duration::from_secs_f64(frames as f64 / f64::from(self.rate)) * 2 / 3,
        };
        let deadline = Instant::now() + budget;
        // Take what is queued, and wait for more (the writer refills as we take), until the
        // buffer is full, the writer is done, or waiting longer would hurt.
        let mut filled = 0;
        loop {
            let n = st.samples.len().min(out.len() - filled);
            // Slice to slice (the queue's two halves), which the compiler can vectorise.
            let (front, back) = st.samples.as_slices();
            let (front, back) = (
                &front[..n.min(front.len())],
                &back[..n - n.min(front.len())],
            );
            let (to_front, to_back) = out[filled..filled + n].split_at_mut(front.len());
            convert(front, to_front);
            convert(back, to_back);
            st.samples.drain(..n);
            filled += n;
            if st.writer_waiting && (st.capacity - st.samples.len()) * 2 >= st.capacity {
                self.changed.notify_all();
            }
            if st.finishing && filled == 0 && st.samples.is_empty() {
                if st.tail_silence >= device_delay {
                    // The device has played the last sample.
                    st.drained = true;
                    self.changed.notify_all();
                    // Hold the device here until the stream is dropped: a clockless device
                    // would otherwise write silence as fast as it can until then.
                    while !st.closed {
                        st = self
                            .changed
                            .wait(st)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
                break;
            }
            let now = Instant::now();
            if filled == out.len() || st.finishing || st.closed || now >= deadline {
                break;
            }
            st.device_waiting = true;
            st.device_needs = out.len() - filled;
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            st.device_waiting = false;
        }
        out[filled..].fill(T::EQUILIBRIUM);
        if st.finishing && st.samples.is_empty() {
            st.tail_silence += ((out.len() - filled) / self.channels) as u64;
        }
    }

    /// Device side: the stream failed. Writers see `message` from now on.
    pub(crate) fn fail(&self, message: String) {
        let mut st = self.lock();
        st.error.get_or_insert(message);
        self.changed.notify_all();
    }

    pub(crate) fn failed(&self) -> bool {
        self.lock().error.is_some()
    }

    /// The stream is about to be dropped: stop making the callback wait.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

/// f32 samples into the device's format, slice for slice.
fn convert<T: cpal::Sample + cpal::FromSample<f32>>(from: &[f32], to: &mut [T]) {
    for (o, s) in to.iter_mut().zip(from) {
        *o = T::from_sample(*s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A clockless device: calls back as fast as it can until the queue drains.
    fn clockless_device(q: Arc<Queue>, buffer: usize) -> thread::JoinHandle<Vec<f32>> {
        thread::spawn(move || {
            let mut played = Vec::new();
            loop {
                let mut out = vec![0.0f32; buffer];
                q.fill(&mut out, 0);
                played.extend(out);
                if q.lock().closed {
                    return played;
                }
            }
        })
    }

    #[test]
    fn clockless_device_plays_without_leading_or_middle_silence() {
        let q = Arc::new(Queue::new(48_000, 2, 480));
        let device = clockless_device(q.clone(), 2 * 1000);
        for i in 0..100 {
            q.push(&vec![0.5 + i as f32 / 1000.0; 2 * 97]).unwrap();
        }
        q.drain().unwrap();
        q.close();
        let played = device.join().unwrap();
        let first = played.iter().position(|s| *s != 0.0).unwrap();
        let last = played.iter().rposition(|s| *s != 0.0).unwrap();
        assert_eq!(first, 0);
        assert_eq!(last + 1, 2 * 97 * 100, "no silence inside");
        assert!(
            played.len() - (last + 1) <= 2 * 2 * 1000,
            "trailing silence at most 2 buffers"
        );
    }

    #[test]
    fn a_device_error_fails_the_blocked_writer() {
        let q = Arc::new(Queue::new(48_000, 1, 10));
        let q2 = q.clone();
        let writer = thread::spawn(move || q2.push(&[0.1; 100]));
        // The writer blocks on a full queue until the error reaches it.
        while !q.lock().started {
            thread::yield_now();
        }
        q.fail("device unplugged".to_owned());
        assert_eq!(writer.join().unwrap(), Err("device unplugged".to_owned()));
    }

    #[test]
    fn a_device_that_never_calls_back_fails_the_writer_and_the_queue() {
        let q = Queue::new(48_000, 1, 10);
        let e = q.push(&[0.1; 20]).unwrap_err();
        assert!(e.contains("took no audio"), "{e}");
        // The sink must not wait for such a stream to close.
        assert!(q.failed());
    }

    #[test]
    fn draining_nothing_returns_at_once() {
        let q = Queue::new(48_000, 2, 10);
        q.drain().unwrap();
    }
}
