//! A live session's sound as the speaker sends it: 48 kHz mono pushed into the backlog its
//! relay plays from, and when the speaker last sent any (the session ends when the speaker's
//! browser has been gone a while: [`crate::ops::live`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::backlog::Backlog;

pub struct Feed {
    pub(super) backlog: Arc<Mutex<Backlog>>,
    /// When sound last came, or when the feed was made.
    last: Mutex<Instant>,
    /// The session ended: a sound card feeding it lets go.
    ended: AtomicBool,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            backlog: Arc::new(Mutex::new(Backlog::live())),
            last: Mutex::new(Instant::now()),
            ended: AtomicBool::new(false),
        }
    }
}

impl Feed {
    /// 48 kHz mono from the speaker.
    pub fn push(&self, pcm: &[f32]) {
        self.backlog.lock().expect("backlog lock").push(pcm);
        *self.last.lock().expect("feed lock") = Instant::now();
    }

    /// The speaker (re)connected: what was waiting from before is dropped, so the villages
    /// hear the voice as it is now, not late.
    pub fn restart(&self) {
        self.backlog.lock().expect("backlog lock").clear();
        *self.last.lock().expect("feed lock") = Instant::now();
    }

    /// Marks the session over (see [`super::Hub::end`]).
    pub fn end(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }

    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    /// How long since the speaker last sent sound (or since the feed began).
    pub fn silent_for(&self) -> Duration {
        self.last.lock().expect("feed lock").elapsed()
    }
}
