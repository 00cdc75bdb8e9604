//! [`Tts`]: what the HTTP handlers call. It checks the voice and the text, looks in the cache
//! and runs the engine only for a text it has not rendered before.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::cache::{self, TtsCache};
use super::voices::{self, Voice, VOICES};
use super::{text, TtsEngine, TtsError};

/// A text read out, on disk in the cache.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// SHA-256 of (engine, voice, text): the cache file's name.
    pub key: String,
    /// The WAV file; it stays in the cache (copy it, do not move it).
    pub path: PathBuf,
    pub voice: &'static Voice,
    /// Whether it came from the cache rather than the engine.
    pub cached: bool,
}

/// The engine, its cache and a count of the times the engine ran.
pub struct Tts {
    engine: Arc<dyn TtsEngine>,
    cache: TtsCache,
    /// How many times the engine was run: the tests' proof that a text renders once.
    renders: AtomicU64,
}

impl Tts {
    /// The service over `engine`, caching under `data_dir/tts`.
    pub fn new(engine: Arc<dyn TtsEngine>, data_dir: &Path) -> std::io::Result<Tts> {
        Ok(Tts {
            engine,
            cache: TtsCache::open(data_dir)?,
            renders: AtomicU64::new(0),
        })
    }

    /// The voices a request may name, the default first.
    pub fn voices(&self) -> &'static [Voice] {
        VOICES
    }

    /// How many times the engine has run since the start.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// `text` read by the voice named `voice` (Vietnamese when `None`), from the cache when it
    /// was rendered before.
    ///
    /// Two requests for the same new text at once may both run the engine; each writes its own
    /// temporary file and the renames leave one complete file either way.
    pub async fn render(&self, text: &str, voice: Option<&str>) -> Result<Rendered, TtsError> {
        let voice = voices::voice(voice)?;
        let text = text::prepare(text)?;
        let key = cache::key(self.engine.id(), voice, &text);
        let path = self.cache.path_of(&key);
        if tokio::fs::try_exists(&path).await? {
            return Ok(Rendered {
                key,
                path,
                voice,
                cached: true,
            });
        }
        let tmp = self.cache.incoming(&key);
        let started = std::time::Instant::now();
        self.renders.fetch_add(1, Ordering::Relaxed);
        let result = self.write(&text, voice, &tmp, &path).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result?;
        tracing::info!(
            key = %key,
            voice = voice.id,
            chars = text.chars().count(),
            ms = started.elapsed().as_millis() as u64,
            "text rendered to speech"
        );
        Ok(Rendered {
            key,
            path,
            voice,
            cached: false,
        })
    }

    async fn write(
        &self,
        text: &str,
        voice: &Voice,
        tmp: &Path,
        path: &Path,
    ) -> Result<(), TtsError> {
        self.engine.render(text, voice, tmp).await?;
        let written = tokio::fs::metadata(tmp).await.map(|m| m.len()).unwrap_or(0);
        if written == 0 {
            return Err(TtsError::EngineFailed(format!(
                "{} wrote no audio",
                self.engine.id()
            )));
        }
        tokio::fs::rename(tmp, path).await?;
        Ok(())
    }
}
