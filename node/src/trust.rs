//! The controller keys this node trusts and the highest plan version it has accepted, kept on
//! disk (`trust.json`), so neither a reboot nor a lost plan file lets an older plan back in.
//!
//! The node starts from the key in its config. A plan signed by a trusted key may announce the
//! controller's next key: the node then trusts both, until a plan signed by the next key
//! arrives, and from then on only that one. This is how the controller's key is rotated
//! without visiting the villages. An installer who writes a config with another controller
//! key (a new controller) starts the node afresh from that key.

use ed25519_dalek::VerifyingKey;
use loa_protocol::verifying_key_from_b64;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::disk::write_atomic;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    /// The config's key this trust grew from; another one in the config starts afresh.
    config_key: String,
    /// The key plans are signed with now (base64).
    current: String,
    /// The announced next key, trusted too until it takes over.
    next: Option<String>,
    /// The highest plan version ever accepted.
    highest_plan: Option<u64>,
}

pub struct Trust {
    path: PathBuf,
    saved: Saved,
    keys: Vec<VerifyingKey>,
    /// `saved` is ahead of `trust.json` (the disk was full): [`Trust::flush`] writes it.
    unsaved: bool,
}

impl Trust {
    /// Loads the trust kept in `dir`, or starts from `config_key` (already validated).
    pub fn open(dir: &Path, config_key: &str) -> Trust {
        let path = dir.join("trust.json");
        let config_key = config_key.trim().to_string();
        let kept = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Saved>(&b).ok());
        let saved = match kept {
            Some(s) if s.config_key == config_key && keys_of(&s).is_some() => s,
            other => {
                if other.is_some() {
                    tracing::info!("the config names another controller key; trusting it afresh");
                }
                Saved {
                    current: config_key.clone(),
                    config_key,
                    next: None,
                    highest_plan: None,
                }
            }
        };
        let keys = keys_of(&saved).expect("the config's key was validated");
        Trust {
            path,
            saved,
            keys,
            unsaved: false,
        }
    }

    /// The keys a plan or an ack may be signed with: the current one, then the next one.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The same keys as base64, for the node's state.
    pub fn key_names(&self) -> Vec<String> {
        std::iter::once(self.saved.current.clone())
            .chain(self.saved.next.clone())
            .collect()
    }

    pub fn highest_plan(&self) -> Option<u64> {
        self.saved.highest_plan
    }

    /// Records an accepted plan: `version`, signed by `keys()[signer]`, announcing `next_key`.
    /// Returns whether the controller's key changed over. It takes effect at once; call
    /// [`Trust::flush`] to keep it on disk.
    pub fn accepted(&mut self, version: u64, signer: usize, next_key: Option<&str>) -> bool {
        let mut s = self.saved.clone();
        let rotated = signer > 0;
        if rotated {
            s.current = self.key_names()[signer].clone();
        }
        s.next = next_key.filter(|k| *k != s.current).map(str::to_string);
        s.highest_plan = Some(s.highest_plan.map_or(version, |h| h.max(version)));
        if s != self.saved {
            self.keys = keys_of(&s).expect("keys came from verified plans");
            self.saved = s;
            self.unsaved = true;
        }
        rotated
    }

    /// Writes what changed since the last write, if anything did.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.unsaved {
            write_atomic(
                &self.path,
                &serde_json::to_vec(&self.saved).expect("trust serialises"),
            )?;
            self.unsaved = false;
        }
        Ok(())
    }
}

fn keys_of(s: &Saved) -> Option<Vec<VerifyingKey>> {
    std::iter::once(&s.current)
        .chain(s.next.as_ref())
        .map(|k| verifying_key_from_b64(k).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use loa_protocol::{generate_key, public_key_b64};

    #[test]
    fn an_announced_key_is_trusted_then_takes_over_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (generate_key(), generate_key());
        let (old_b64, new_b64) = (public_key_b64(&old), public_key_b64(&new));
        let mut t = Trust::open(dir.path(), &old_b64);
        assert_eq!(t.keys(), [old.verifying_key()]);
        assert!(!t.accepted(3, 0, Some(&new_b64)));
        t.flush().unwrap();
        let mut t = Trust::open(dir.path(), &old_b64);
        assert_eq!(t.keys(), [old.verifying_key(), new.verifying_key()]);
        assert_eq!(t.highest_plan(), Some(3));
        assert!(t.accepted(4, 1, None), "signed by the next key");
        t.flush().unwrap();
        let t = Trust::open(dir.path(), &old_b64);
        assert_eq!(t.keys(), [new.verifying_key()], "the old key is dropped");
        assert_eq!(t.key_names(), [new_b64]);
        assert_eq!(t.highest_plan(), Some(4));
    }

    #[test]
    fn another_key_in_the_config_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (generate_key(), generate_key());
        let mut t = Trust::open(dir.path(), &public_key_b64(&a));
        t.accepted(9, 0, None);
        t.flush().unwrap();
        let t = Trust::open(dir.path(), &public_key_b64(&b));
        assert_eq!(t.keys(), [b.verifying_key()]);
        assert_eq!(t.highest_plan(), None);
    }
}
