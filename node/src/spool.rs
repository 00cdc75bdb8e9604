//! The event spool: every event is on disk before it is sent, and stays there until the
//! controller's signed ack covers it. A broker's PUBACK is not enough (brokers drop queued
//! messages under load), and rumqttc keeps unacknowledged messages only in memory.
//!
//! One file per event, `spool/{seq:020}.json`, so appending and acknowledging are a file
//! create and a file delete, and a power cut loses nothing written. Sequence numbers start at
//! 1 and never repeat: the next one is also kept in `spool/next_seq`.
//!
//! When the disk is full an event is numbered all the same and held in memory: it is sent
//! like the others, and written by [`Spool::flush`] as soon as there is room (or forgotten
//! when the controller's ack covers it first). Only a power cut while the disk is still full
//! loses it.

use chrono::{DateTime, Utc};
use loa_protocol::{Event, EventBody};
use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::{is_full, write_atomic};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("event spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SpoolError {
    /// The disk is full (the error a later [`Spool::flush`] may get past).
    pub fn is_disk_full(&self) -> bool {
        match self {
            SpoolError::Io { source, .. } => is_full(source),
        }
    }
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
    /// Events numbered but not yet written (the disk was full), oldest first.
    unwritten: Vec<Event>,
    /// `next_seq` is ahead of what `spool/next_seq` says.
    counter_unwritten: bool,
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
            unwritten: Vec::new(),
            counter_unwritten: false,
        })
    }

    /// Numbers the event, writes it durably and returns it. An event that cannot be written
    /// (a full disk) is held in memory and still returned: it is not lost, and the error says
    /// why it is not on disk yet.
    pub fn append(&mut self, at: DateTime<Utc>, body: EventBody) -> (Event, Option<SpoolError>) {
        let ev = Event {
            seq: self.next_seq,
            at,
            body,
        };
        self.next_seq += 1;
        self.counter_unwritten = true;
        self.unwritten.push(ev.clone());
        let err = self.flush().err();
        (ev, err)
    }

    /// Writes the events held in memory, oldest first, and the counter; stops at the first
    /// that cannot be written. Returns how many events were written.
    pub fn flush(&mut self) -> Result<usize, SpoolError> {
        let mut written = 0;
        while let Some(ev) = self.unwritten.first() {
            let path = self.path_of(ev.seq);
            let bytes = serde_json::to_vec(ev).expect("events serialise");
            write_atomic(&path, &bytes).map_err(io(&path))?;
            self.unwritten.remove(0);
            written += 1;
        }
        if self.counter_unwritten {
            let counter = self.dir.join("next_seq");
            write_atomic(&counter, self.next_seq.to_string().as_bytes()).map_err(io(&counter))?;
            self.counter_unwritten = false;
        }
        Ok(written)
    }

    /// Events held in memory because the disk was full.
    pub fn unwritten(&self) -> usize {
        self.unwritten.len()
    }

    /// The controller has stored everything up to `seq`: forget those events.
    pub fn ack(&mut self, seq: u64) -> Result<usize, SpoolError> {
        let held = self.unwritten.len();
        self.unwritten.retain(|e| e.seq > seq);
        let mut removed = held - self.unwritten.len();
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
    /// first, whether on disk or held in memory. A file that cannot be read back (a damaged
    /// disk) is skipped with a warning rather than blocking everything after it.
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
        out.extend(self.unwritten.iter().filter(|e| e.seq > after).cloned());
        out.sort_by_key(|e| e.seq);
        out.truncate(limit);
        Ok(out)
    }

    pub fn pending_count(&self) -> Result<usize, SpoolError> {
        Ok(list_seqs(&self.dir)?.len() + self.unwritten.len())
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
            assert_eq!(s.append(Utc::now(), body(v)).0.seq, v);
        }
        s.ack(2).unwrap();
        drop(s);
        let mut s = Spool::open(dir.path()).unwrap();
        let pending: Vec<u64> = s.pending(0, 100).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(pending, [3, 4, 5]);
        assert_eq!(s.acked(), 2);
        assert_eq!(s.append(Utc::now(), body(6)).0.seq, 6);
    }

    #[test]
    fn sequence_numbers_never_repeat_even_when_all_are_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        s.append(Utc::now(), body(1));
        s.append(Utc::now(), body(2));
        s.ack(2).unwrap();
        assert_eq!(s.pending_count().unwrap(), 0);
        drop(s);
        let mut s = Spool::open(dir.path()).unwrap();
        assert_eq!(s.append(Utc::now(), body(3)).0.seq, 3);
    }

    #[test]
    fn pending_is_oldest_first_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        for v in 1..=12 {
            s.append(Utc::now(), body(v));
        }
        let first: Vec<u64> = s.pending(0, 4).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(first, [1, 2, 3, 4]);
        s.ack(10).unwrap();
        let rest: Vec<u64> = s.pending(0, 4).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(rest, [11, 12]);
        let after: Vec<u64> = s.pending(11, 4).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(after, [12]);
    }

    /// Makes the write of `name` fail, as a full disk would: a directory where the temporary
    /// file goes (a real full disk is in the end-to-end test `tests/tests/disk_full.rs`).
    fn block(dir: &Path, name: &str) -> PathBuf {
        let tmp = dir.join(Path::new(name).with_extension("tmp"));
        fs::create_dir(&tmp).unwrap();
        tmp
    }

    #[test]
    fn events_that_cannot_be_written_are_held_sent_and_written_later() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        assert!(s.append(Utc::now(), body(1)).1.is_none());
        let blocker = block(dir.path(), &format!("{:020}.json", 2));
        for v in 2..=3 {
            let (ev, err) = s.append(Utc::now(), body(v));
            assert_eq!(ev.seq, v);
            assert!(err.is_some(), "event {v} is not on disk");
        }
        assert_eq!(s.unwritten(), 2);
        let seqs = |s: &Spool, after| -> Vec<u64> {
            s.pending(after, 10)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        assert_eq!(
            seqs(&s, 0),
            [1, 2, 3],
            "held events are sent like the others"
        );
        assert_eq!(seqs(&s, 2), [3]);
        assert_eq!(s.pending(0, 2).unwrap().len(), 2);
        assert_eq!(s.pending_count().unwrap(), 3);
        assert!(s.flush().is_err(), "still no room");

        fs::remove_dir(&blocker).unwrap();
        assert_eq!(s.flush().unwrap(), 2);
        assert_eq!(s.unwritten(), 0);
        drop(s);
        let mut s = Spool::open(dir.path()).unwrap();
        assert_eq!(seqs(&s, 0), [1, 2, 3]);
        assert_eq!(s.append(Utc::now(), body(4)).0.seq, 4);
    }

    #[test]
    fn an_ack_covering_held_events_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path()).unwrap();
        s.append(Utc::now(), body(1));
        let blocker = block(dir.path(), &format!("{:020}.json", 2));
        s.append(Utc::now(), body(2));
        s.append(Utc::now(), body(3));
        assert_eq!(s.ack(2).unwrap(), 2);
        assert_eq!(s.unwritten(), 1);
        fs::remove_dir(&blocker).unwrap();
        let counter = block(dir.path(), "next_seq");
        assert!(!s.flush().unwrap_err().is_disk_full());
        fs::remove_dir(&counter).unwrap();
        s.flush().unwrap();
        drop(s);
        let mut s = Spool::open(dir.path()).unwrap();
        let pending: Vec<u64> = s.pending(0, 10).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(pending, [3]);
        assert_eq!(s.append(Utc::now(), body(4)).0.seq, 4);
    }
}
