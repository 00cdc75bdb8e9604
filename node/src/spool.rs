//! The event spool: every event is on disk before it is sent, and stays there until the
//! controller's signed ack covers it. A broker's PUBACK is not enough (brokers drop queued
//! messages under load), and rumqttc keeps unacknowledged messages only in memory.
//!
//! One file per event, `spool/{seq:020}.json`, so appending and acknowledging are a file
//! create and a file delete, and a power cut loses nothing written. Sequence numbers start at
//! 1 and never repeat: the next one is also kept in `spool/next_seq`.

use chrono::{DateTime, Utc};
use loa_protocol::{Event, EventBody};
use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::write_atomic;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("event spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Spool {
    dir: PathBuf,
    next_seq: u64,
    /// Highest sequence number the controller has acknowledged (as far as this run knows).
    acked: u64,
}

impl Spool {
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let counter = dir.join("next_seq");
        let stored: u64 = fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        let seqs = list_seqs(dir)?;
        let after_files = seqs.last().map_or(1, |s| s + 1);
        let acked = seqs.first().map_or(stored.max(after_files) - 1, |s| s - 1);
        Ok(Spool {
            dir: dir.to_path_buf(),
            next_seq: stored.max(after_files),
            acked,
        })
    }

    /// Numbers the event, writes it durably and returns it.
    pub fn append(&mut self, at: DateTime<Utc>, body: EventBody) -> Result<Event, SpoolError> {
        let ev = Event {
            seq: self.next_seq,
            at,
            body,
        };
        let path = self.path_of(ev.seq);
        let bytes = serde_json::to_vec(&ev).expect("events serialise");
        write_atomic(&path, &bytes).map_err(io(&path))?;
        self.next_seq += 1;
        let counter = self.dir.join("next_seq");
        write_atomic(&counter, self.next_seq.to_string().as_bytes()).map_err(io(&counter))?;
        Ok(ev)
    }

    /// The controller has stored everything up to `seq`: forget those events.
    pub fn ack(&mut self, seq: u64) -> Result<usize, SpoolError> {
        let mut removed = 0;
        for s in list_seqs(&self.dir)? {
            if s > seq {
                break;
            }
            let p = self.path_of(s);
            match fs::remove_file(&p) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        self.acked = self.acked.max(seq);
        Ok(removed)
    }

    /// Up to `limit` events not yet acknowledged with a sequence number above `after`, oldest
    /// first. A file that cannot be read back (a damaged disk) is skipped with a warning rather
    /// than blocking everything after it.
    pub fn pending(&self, after: u64, limit: usize) -> Result<Vec<Event>, SpoolError> {
        let mut out = Vec::new();
        for s in list_seqs(&self.dir)?
            .into_iter()
            .filter(|s| *s > after)
            .take(limit)
        {
            let p = self.path_of(s);
            match fs::read(&p).map(|b| serde_json::from_slice::<Event>(&b)) {
                Ok(Ok(ev)) => out.push(ev),
                Ok(Err(e)) => {
                    tracing::warn!(file = %p.display(), error = %e, "unreadable spooled event skipped")
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        Ok(out)
    }

    pub fn pending_count(&self) -> Result<usize, SpoolError> {
        Ok(list_seqs(&self.dir)?.len())
    }

    pub fn acked(&self) -> u64 {
        self.acked
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn path_of(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }
}

fn list_seqs(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut seqs: Vec<u64> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: u64) -> EventBody {
        EventBody::PlanApplied { version: v }
    }

    #[test]
    fn events_survive_a_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        for v in 1..=5 {
            assert_eq!(s.append(Utc::now(), body(v)).unwrap().seq, v);
        }
        s.ack(2).unwrap();
        drop(s);
        let mut s = Spool::open(dir.path()).unwrap();
        let pending: Vec<u64> = s.pending(0, 100).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(pending, [3, 4, 5]);
        assert_eq!(s.acked(), 2);
        assert_eq!(s.append(Utc::now(), body(6)).unwrap().seq, 6);
    }

    #[test]
    fn sequence_numbers_never_repeat_even_when_all_are_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        s.append(Utc::now(), body(1)).unwrap();
        s.append(Utc::now(), body(2)).unwrap();
        s.ack(2).unwrap();
        assert_eq!(s.pending_count().unwrap(), 0);
        drop(s);
        let mut s = Spool::open(dir.path()).unwrap();
        assert_eq!(s.append(Utc::now(), body(3)).unwrap().seq, 3);
    }

    #[test]
    fn pending_is_oldest_first_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        for v in 1..=12 {
            s.append(Utc::now(), body(v)).unwrap();
        }
        let first: Vec<u64> = s.pending(0, 4).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(first, [1, 2, 3, 4]);
        s.ack(10).unwrap();
        let rest: Vec<u64> = s.pending(0, 4).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(rest, [11, 12]);
        let after: Vec<u64> = s.pending(11, 4).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(after, [12]);
    }
}
