//! Rendered audio on disk, `data_dir/tts/{key}.wav`, so a text is rendered once: the clerk's
//! preview and the announcement saved from it are the same file.
//!
//! The key is the SHA-256 of the engine's id, the voice (with its rate) and the text, each
//! length-prefixed so no two different triples run together into the same bytes. A file is
//! written under a temporary name and renamed into place, so a reader never sees half of one.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use super::Voice;

/// The cache key of `text` (already normalised) read by `voice` through the engine `engine`:
/// 64 lower-case hex digits.
pub fn key(engine: &str, voice: &Voice, text: &str) -> String {
    let voice = format!("{}:{}:{}", voice.id, voice.espeak, voice.rate_wpm);
    let mut h = Sha256::new();
    for part in [engine, voice.as_str(), text] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The directory of rendered files.
#[derive(Debug, Clone)]
pub struct TtsCache {
    dir: PathBuf,
}

impl TtsCache {
    /// Opens (and makes) `data_dir/tts`.
    pub fn open(data_dir: &Path) -> std::io::Result<TtsCache> {
        let dir = data_dir.join("tts");
        std::fs::create_dir_all(&dir)?;
        Ok(TtsCache { dir })
    }

    pub fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.wav"))
    }

    /// A fresh temporary name in the same directory, so the final rename is atomic.
    pub fn incoming(&self, key: &str) -> PathBuf {
        self.dir.join(format!(
            ".incoming-{key}-{}.wav",
            crate::secrets::new_secret()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::voices::voice;

    #[test]
    fn the_key_is_sha256_hex() {
        let k = key("espeak-ng", voice(None).unwrap(), "Xin chào");
        assert_eq!(k.len(), 64);
        assert!(k
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(k, key("espeak-ng", voice(Some("vi")).unwrap(), "Xin chào"));
    }

    #[test]
    fn engine_voice_and_text_each_change_the_key() {
        let vi = voice(Some("vi")).unwrap();
        let base = key("espeak-ng", vi, "Xin chào");
        assert_ne!(base, key("other", vi, "Xin chào"));
        assert_ne!(
            base,
            key("espeak-ng", voice(Some("en")).unwrap(), "Xin chào")
        );
        assert_ne!(base, key("espeak-ng", vi, "Xin chào."));
    }

    #[test]
    fn a_change_of_rate_changes_the_key() {
        let vi = *voice(Some("vi")).unwrap();
        let slower = Voice {
            rate_wpm: 120,
            ..vi
        };
        assert_ne!(key("e", &vi, "a"), key("e", &slower, "a"));
    }
}
