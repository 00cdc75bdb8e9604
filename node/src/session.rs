//! The stamp on the node's states: which connection to the broker (the session, kept on disk
//! so it only grows) and which state within it (the serial; the last will is 0).
//!
//! The controller takes a state only when its stamp is newer than the last one it took, so an
//! old state replayed by someone else on the broker changes nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::disk::write_atomic;

pub struct Session {
    path: PathBuf,
    current: AtomicU64,
    serial: AtomicU64,
}

impl Session {
    /// Loads the last session number from `dir` (none yet: 0).
    pub fn open(dir: &Path) -> Session {
        let path = dir.join("session");
        let saved = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        Session {
            path,
            current: AtomicU64::new(saved),
            serial: AtomicU64::new(0),
        }
    }

    /// Starts the next session, before a connection attempt: returns its number. It is above
    /// every earlier one even if the disk lost the last write, as long as the clock is right
    /// (seconds since 1970 are a floor).
    pub fn begin(&self) -> u64 {
        let floor = chrono::Utc::now().timestamp().max(0) as u64;
        let next = (self.current.load(Ordering::SeqCst) + 1).max(floor);
        self.current.store(next, Ordering::SeqCst);
        self.serial.store(0, Ordering::SeqCst);
        if let Err(e) = write_atomic(&self.path, next.to_string().as_bytes()) {
            tracing::error!(error = %e, file = %self.path.display(), "cannot keep the session number");
        }
        next
    }

    /// The stamp for the next state of this session.
    pub fn stamp(&self) -> (u64, u64) {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        (self.current.load(Ordering::SeqCst), serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_only_grow_across_restarts_and_serials_restart_with_each() {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::open(dir.path());
        let first = s.begin();
        assert_eq!(s.stamp(), (first, 1));
        assert_eq!(s.stamp(), (first, 2));
        let second = s.begin();
        assert!(second > first);
        assert_eq!(s.stamp(), (second, 1));
        let s = Session::open(dir.path());
        assert!(s.begin() > second);
    }
}
