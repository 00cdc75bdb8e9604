//! Login throttling: after [`MAX_FAILURES`] failed attempts within [`WINDOW`] for one user name,
//! or from one address, further attempts are refused until the oldest failure leaves the
//! window. Kept in memory: a restart forgets it, which only gives a guesser a few more tries.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// How long the caller must wait before another attempt for these keys, if at all.
    pub fn wait(&self, keys: &[String], now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().expect("throttle lock");
        keys.iter()
            .filter_map(|k| {
                let q = map.get_mut(k)?;
                while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    q.pop_front();
                }
                (q.len() >= MAX_FAILURES).then(|| WINDOW - now.duration_since(q[0]))
            })
            .max()
    }

    pub fn failed(&self, keys: &[String], now: Instant) {
        let mut map = self.failures.lock().expect("throttle lock");
        for k in keys {
            map.entry(k.clone()).or_default().push_back(now);
        }
    }

    /// A successful login clears the user name's failures (not the address's).
    pub fn succeeded(&self, user_key: &str) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(user_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_name_for_the_window() {
        let t = Throttle::default();
        let t0 = Instant::now();
        let keys = ["user:an".to_string(), "ip:10.0.0.9".to_string()];
        for i in 0..MAX_FAILURES {
            assert_eq!(t.wait(&keys, t0), None, "attempt {i}");
            t.failed(&keys, t0);
        }
        let wait = t.wait(&keys, t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        // Another name from the same address is also held; another address for another
        // name is not.
        assert!(t
            .wait(&["user:binh".into(), "ip:10.0.0.9".into()], t0)
            .is_some());
        assert!(t
            .wait(&["user:binh".into(), "ip:10.0.0.7".into()], t0)
            .is_none());
        assert_eq!(
            t.wait(&keys, t0 + WINDOW),
            None,
            "free once the window passed"
        );
    }
}
