//! A small tmpfs, mounted for one test and unmounted when dropped: a real disk that fills up.
//! [`Tmpfs::fill`] writes a filler file until the file system refuses (`ENOSPC`);
//! [`Tmpfs::free`] deletes it, and the space returns.
//!
//! Mounting needs root; without it [`Tmpfs::mount`] fails with a message that says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; unmounted (lazily, in case a process still has files open) on drop.
pub struct Tmpfs {
    dir: PathBuf,
    filler: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on `dir` (created if missing).
    pub fn mount(dir: &Path, bytes: u64) -> anyhow::Result<Tmpfs> {
        std::fs::create_dir_all(dir)?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| anyhow::anyhow!("cannot run mount: {e}"))?;
        anyhow::ensure!(
            out.status.success(),
            "this test needs root to mount a tmpfs on {} (mount -t tmpfs): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
            filler: dir.join("filler.bin"),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fills the file system to the last byte: writes the filler until the disk is full.
    pub fn fill(&self) -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)?;
        let block = vec![0xa5u8; 64 * 1024];
        let mut chunk: &[u8] = &block;
        loop {
            match f.write(chunk) {
                Ok(0) => break,
                // Once a whole block no longer fits, down to single bytes.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                    if chunk.len() == 1 {
                        break;
                    }
                    chunk = &block[..chunk.len() / 2];
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Deletes the filler: the space returns.
    pub fn free(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(&self.filler) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
