//! The media cache: `cache_dir/{sha256}` files (and `{sha256}.part` downloads under way), kept
//! within a byte budget by least-recently-used eviction that never touches media still in the
//! plan, and checked against their hash before each playback.
//!
//! When each file was last played lives in `cache_dir/lru.json` (written atomically), so the
//! eviction order survives a reboot; a file missing from it counts from its modification time
//! (when it was downloaded).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::disk::write_atomic;

/// The reason reported when a cached file fails its hash check before playing.
pub const CORRUPT_REASON: &str = "cached media was corrupt; fetching it again";

const INDEX: &str = "lru.json";

pub struct Cache {
    dir: PathBuf,
    /// Last playback of each cached file, by SHA-256.
    last_used: BTreeMap<String, DateTime<Utc>>,
}

/// One file in the cache directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub sha256: String,
    pub size: u64,
    /// A download under way (`{sha}.part`), not a finished file.
    pub partial: bool,
    pub last_used: DateTime<Utc>,
}

/// What an eviction did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Evicted {
    /// Finished files removed, least recently used first.
    pub removed: Vec<String>,
    /// Partial downloads removed because their media left the plan.
    pub removed_partial: Vec<String>,
    /// Bytes the cache holds afterwards.
    pub total_bytes: u64,
    /// Still over budget: the plan's own media need more than the budget.
    pub over_budget: bool,
}

impl Cache {
    /// Opens the cache in `dir` (created if missing). A damaged index is logged and replaced:
    /// file modification times stand in for it.
    pub fn open(dir: &Path) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        let index = dir.join(INDEX);
        let last_used = match std::fs::read(&index) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %index.display(), error = %e, "cache index unreadable; using file times");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Ok(Cache {
            dir: dir.to_path_buf(),
            last_used,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a cached file.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Records that `sha256` was played at `now`.
    pub fn touch(&mut self, sha256: &str, now: DateTime<Utc>) {
        self.last_used.insert(sha256.to_string(), now);
        self.save();
    }

    /// Every media file and partial download in the directory.
    pub fn entries(&self) -> Vec<Entry> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (sha, partial) = match name.strip_suffix(".part") {
                    Some(sha) => (sha, true),
                    None => (name.as_str(), false),
                };
                if !is_sha256(sha) {
                    return None;
                }
                let meta = e.metadata().ok().filter(|m| m.is_file())?;
                let mtime = meta.modified().map(DateTime::<Utc>::from).ok();
                let last_used = self
                    .last_used
                    .get(sha)
                    .copied()
                    .or(mtime)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                Some(Entry {
                    sha256: sha.to_string(),
                    size: meta.len(),
                    partial,
                    last_used,
                })
            })
            .collect()
    }

    /// Bytes of media held (finished files and partial downloads).
    pub fn total_bytes(&self) -> u64 {
        self.entries().iter().map(|e| e.size).sum()
    }

    /// Brings the cache within `budget` bytes: removes partial downloads of media not in `keep`,
    /// then finished files not in `keep`, least recently used first. Media in `keep` (the
    /// plan's) stay even if that leaves the cache over budget, which is logged.
    pub fn evict(&mut self, budget: u64, keep: &HashSet<String>) -> Evicted {
        let mut out = Evicted::default();
        let mut entries = self.entries();
        entries.retain(|e| {
            if !e.partial || keep.contains(&e.sha256) {
                return true;
            }
            let part = self.dir.join(format!("{}.part", e.sha256));
            match std::fs::remove_file(&part) {
                Ok(()) => {
                    tracing::info!(sha256 = %e.sha256, bytes = e.size, "removed a partial download no longer in the plan");
                    out.removed_partial.push(e.sha256.clone());
                    false
                }
                Err(err) => {
                    tracing::warn!(file = %part.display(), error = %err, "cannot remove a partial download");
                    true
                }
            }
        });
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut candidates: Vec<&Entry> = entries
            .iter()
            .filter(|e| !e.partial && !keep.contains(&e.sha256))
            .collect();
        candidates.sort_by(|a, b| a.last_used.cmp(&b.last_used).then(a.sha256.cmp(&b.sha256)));
        for e in candidates {
            if total <= budget {
                break;
            }
            match std::fs::remove_file(self.path(&e.sha256)) {
                Ok(()) => {
                    total -= e.size;
                    tracing::info!(sha256 = %e.sha256, bytes = e.size, last_used = %e.last_used, "evicted from the media cache");
                    out.removed.push(e.sha256.clone());
                }
                Err(err) => {
                    tracing::warn!(sha256 = %e.sha256, error = %err, "cannot evict from the media cache")
                }
            }
        }
        out.total_bytes = total;
        out.over_budget = total > budget;
        if out.over_budget {
            tracing::warn!(
                cache_bytes = total,
                budget_bytes = budget,
                "the media of the current plan alone exceed the cache budget; keeping them all \
                 (raise cache_budget_bytes if the disk allows)"
            );
        }
        let before = self.last_used.len();
        let present: HashSet<&str> = entries
            .iter()
            .filter(|e| !e.partial && !out.removed.contains(&e.sha256))
            .map(|e| e.sha256.as_str())
            .collect();
        self.last_used
            .retain(|sha, _| present.contains(sha.as_str()));
        if self.last_used.len() != before {
            self.save();
        }
        out
    }

    /// Re-hashes a cached file; a mismatch deletes it. See [`verify_file`].
    pub fn verify(&self, sha256: &str) -> bool {
        verify_file(&self.path(sha256), sha256)
    }

    fn save(&self) {
        let path = self.dir.join(INDEX);
        let bytes = serde_json::to_vec(&self.last_used).expect("the cache index serialises");
        if let Err(e) = write_atomic(&path, &bytes) {
            tracing::warn!(file = %path.display(), error = %e, "cannot save the cache index");
        }
    }
}

/// True when `path` holds exactly the media `sha256` names. A file that does not match (or
/// cannot be read) is deleted, so the agenda fetches it again. Blocking: reads the whole file.
pub fn verify_file(path: &Path, sha256: &str) -> bool {
    match sha256_of(path) {
        Ok(got) if got.eq_ignore_ascii_case(sha256) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        outcome => {
            let got = match outcome {
                Ok(got) => got,
                Err(e) => format!("unreadable: {e}"),
            };
            tracing::error!(file = %path.display(), got = %got, "cached media does not match its SHA-256; deleting it");
            if let Err(e) = std::fs::remove_file(path) {
                tracing::error!(file = %path.display(), error = %e, "cannot delete corrupt media");
            }
            false
        }
    }
}

/// The SHA-256 of a file, in lower-case hex. Blocking.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap() + Duration::seconds(s)
    }

    /// Writes `size` bytes of content into the cache; returns its SHA-256.
    fn put(dir: &Path, seed: u8, size: usize) -> String {
        let bytes = vec![seed; size];
        let sha = hex::encode(Sha256::digest(&bytes));
        std::fs::write(dir.join(&sha), bytes).unwrap();
        sha
    }

    /// Three 100-byte files, played a, b, c in that order.
    fn played_in_order(dir: &Path) -> (Cache, String, String, String) {
        let (a, b, c) = (put(dir, 1, 100), put(dir, 2, 100), put(dir, 3, 100));
        let mut cache = Cache::open(dir).unwrap();
        cache.touch(&a, t(10));
        cache.touch(&b, t(20));
        cache.touch(&c, t(30));
        (cache, a, b, c)
    }

    fn keep(shas: &[&String]) -> HashSet<String> {
        shas.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn least_recently_played_goes_first_even_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, a, b, c) = played_in_order(dir.path());
        cache.touch(&a, t(40)); // a played again: now b is the oldest
        drop(cache);
        let mut cache = Cache::open(dir.path()).unwrap();
        let r = cache.evict(250, &HashSet::new());
        assert_eq!(r.removed, [b.as_str()]);
        let r = cache.evict(150, &HashSet::new());
        assert_eq!(r.removed, [c.as_str()]);
        assert!(cache.contains(&a));
        assert_eq!(r.total_bytes, 100);
        assert!(!r.over_budget);
    }

    #[test]
    fn files_never_played_count_from_their_download_time() {
        let dir = tempfile::tempdir().unwrap();
        let old = put(dir.path(), 1, 100);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join(&old))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
        let new = put(dir.path(), 2, 100);
        let mut cache = Cache::open(dir.path()).unwrap();
        assert_eq!(cache.evict(100, &HashSet::new()).removed, [old]);
        assert!(cache.contains(&new));
    }

    #[test]
    fn media_in_the_plan_is_never_evicted_even_over_budget() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, a, b, c) = played_in_order(dir.path());
        // a is the oldest but in the plan: b goes instead.
        let r = cache.evict(200, &keep(&[&a]));
        assert_eq!(r.removed, [b.as_str()]);
        // Everything left is in the plan: nothing goes, and the cache says it is over budget.
        let r = cache.evict(50, &keep(&[&a, &c]));
        assert!(r.removed.is_empty());
        assert!(r.over_budget);
        assert_eq!(r.total_bytes, 200);
        assert!(cache.contains(&a) && cache.contains(&c));
    }

    #[test]
    fn eviction_reaches_the_budget_and_counts_partial_downloads() {
        let dir = tempfile::tempdir().unwrap();
        let shas: Vec<String> = (0..10).map(|i| put(dir.path(), i, 1000)).collect();
        let mut cache = Cache::open(dir.path()).unwrap();
        for (i, s) in shas.iter().enumerate() {
            cache.touch(s, t(i as i64));
        }
        let wanted = "f".repeat(64);
        std::fs::write(dir.path().join(format!("{wanted}.part")), vec![0u8; 500]).unwrap();
        let stale = "e".repeat(64);
        std::fs::write(dir.path().join(format!("{stale}.part")), vec![0u8; 500]).unwrap();
        assert_eq!(cache.total_bytes(), 11_000);
        let r = cache.evict(4_000, &keep(&[&wanted]));
        assert_eq!(r.removed_partial, [stale]);
        assert_eq!(
            r.removed,
            shas[..7].to_vec(),
            "the seven least recently played"
        );
        assert_eq!(r.total_bytes, 3_500);
        assert_eq!(cache.total_bytes(), 3_500);
        assert!(dir.path().join(format!("{wanted}.part")).exists());
        // The index forgets what was evicted.
        let index: BTreeMap<String, DateTime<Utc>> =
            serde_json::from_slice(&std::fs::read(dir.path().join(INDEX)).unwrap()).unwrap();
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn a_corrupt_file_is_detected_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let good = put(dir.path(), 1, 4096);
        let cache = Cache::open(dir.path()).unwrap();
        assert!(cache.verify(&good));
        assert!(cache.contains(&good));
        // One flipped byte, as a failing SD card would.
        let path = cache.path(&good);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[1000] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        assert!(!cache.verify(&good));
        assert!(
            !cache.contains(&good),
            "deleted, so the agenda fetches it again"
        );
        assert!(!cache.verify(&good), "a missing file is not verified");
    }

    #[test]
    fn a_damaged_index_falls_back_to_file_times() {
        let dir = tempfile::tempdir().unwrap();
        let a = put(dir.path(), 1, 100);
        std::fs::write(dir.path().join(INDEX), b"{not json").unwrap();
        let mut cache = Cache::open(dir.path()).unwrap();
        assert_eq!(cache.entries().len(), 1, "the index is not media");
        cache.touch(&a, t(5));
        let back = Cache::open(dir.path()).unwrap();
        assert_eq!(back.entries()[0].last_used, t(5));
    }
}
