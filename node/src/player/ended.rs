//! Playbacks that reached their end, marked on disk by the player thread the moment the sink
//! has taken the last sample, before the runner hears of it.
//!
//! The runner records `played` in the ledger when it handles the player's message, which may
//! be a moment later (or, with many nodes in one process, seconds later). A power cut in
//! between would otherwise leave the ledger saying the item never finished, and the item
//! would play again from the start after the reboot. The mark closes that gap: at start the
//! runner reports `played` for every marked item the ledger does not have as finished, and
//! clears the marks the ledger covers.

use std::path::{Path, PathBuf};

/// The folder of marks in a node's data directory.
pub fn dir(data: &Path) -> PathBuf {
    data.join("ended")
}

/// Marks `item` as played to its end. The empty file is there the moment it is created (a
/// crash of the process from then on keeps it), then synced with its folder against a power
/// cut; no temporary name, which would widen the gap this closes.
pub fn mark(dir: &Path, item: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::File::create(dir.join(file_name(item)))?.sync_all()?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Clears the mark of `item`, once the ledger records it.
pub fn clear(dir: &Path, item: &str) {
    let _ = std::fs::remove_file(dir.join(file_name(item)));
}

/// Every item marked, in no particular order.
pub fn marked(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".ended")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Item ids are the controller's (`o42`); anything else is kept out of the path.
fn file_name(item: &str) -> String {
    let safe: String = item
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.ended")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_listed_until_cleared() {
        let data = tempfile::tempdir().unwrap();
        let d = dir(data.path());
        assert!(marked(&d).is_empty(), "no folder yet: nothing marked");
        mark(&d, "o7").unwrap();
        mark(&d, "o9").unwrap();
        let mut m = marked(&d);
        m.sort();
        assert_eq!(m, ["o7", "o9"]);
        clear(&d, "o7");
        assert_eq!(marked(&d), ["o9"]);
        assert_eq!(file_name("../x"), "___x.ended");
    }
}
