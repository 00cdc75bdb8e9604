//! Durable small files: write to a temporary name, fsync, rename over, fsync the directory.
//! A power cut leaves either the old file or the new one, never half of one.
//!
//! A full disk (`ENOSPC`) is not fatal anywhere on the node: what cannot be written stays in
//! memory and is written again later ([`is_full`] tells that case apart for the logs).
//! [`free_bytes`] says how much room is left, for the node's state (the controller's
//! low-disk fault).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        // Half a file would only take the space a full disk lacks.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The disk (or the file system's quota) is full.
pub fn is_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded
}

/// Logs a file the node could not write, saying so plainly when the disk is full.
pub fn log_write_error(e: &std::io::Error, path: &std::path::Path, what: &str) {
    if is_full(e) {
        tracing::warn!(file = %path.display(), error = %e, "disk full: cannot save {what}; kept in memory and written when there is room");
    } else {
        tracing::error!(file = %path.display(), error = %e, "cannot save {what}");
    }
}

/// Bytes an unprivileged writer may still use on the file system holding `path` (statvfs:
/// available blocks × fragment size); `None` if it cannot be read.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/plan.json");
        write_atomic(&p, b"first, long content").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert!(!p.with_extension("tmp").exists());
    }

    #[test]
    fn free_bytes_reads_the_file_system_and_is_none_for_a_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }
}
