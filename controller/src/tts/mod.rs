//! Text-to-speech: a clerk's text becomes a WAV recording on the controller.
//!
//! - [`voices`]: the voices staff may choose (an allow-list), each with its language and
//!   speaking rate.
//! - [`text`]: what a text must be (1–2,000 characters) and how it is normalised (NFC).
//! - [`cache`]: rendered audio on disk under `data_dir/tts`, keyed by SHA-256 of (engine,
//!   voice, text), written atomically.
//! - [`espeak`]: the engine that ships today, Debian's `espeak-ng`.
//! - [`service`]: [`Tts`], what the HTTP handlers call: checks, cache, engine.
//!
//! An engine is anything that implements [`TtsEngine`]; a better one is added beside
//! `espeak` without touching the rest.

pub mod cache;
pub mod espeak;
pub mod service;
pub mod text;
pub mod voices;

pub use espeak::EspeakNg;
pub use service::{Rendered, Tts};
pub use voices::Voice;

use futures_util::future::BoxFuture;
use std::path::Path;

/// Why a text could not be rendered. The texts are for the clerk (or, for the engine, for the
/// administrator who installs the controller).
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("the text is empty")]
    TextEmpty,
    #[error("the text is {chars} characters long; at most {max} are read out")]
    TextTooLong { chars: usize, max: usize },
    #[error("unknown voice {given:?}; the voices are: {known}")]
    UnknownVoice { given: String, known: String },
    #[error("{0}")]
    EngineMissing(String),
    #[error("the speech engine has no voice {0:?}; install its voice data")]
    VoiceMissing(String),
    #[error("the speech engine failed: {0}")]
    EngineFailed(String),
    #[error("text-to-speech storage error: {0}")]
    Io(#[from] std::io::Error),
}

impl TtsError {
    /// A stable key for the UI's translation files.
    pub fn code(&self) -> &'static str {
        match self {
            TtsError::TextEmpty => "tts.text_empty",
            TtsError::TextTooLong { .. } => "tts.text_too_long",
            TtsError::UnknownVoice { .. } => "tts.unknown_voice",
            TtsError::EngineMissing(_) => "tts.engine_missing",
            TtsError::VoiceMissing(_) => "tts.voice_missing",
            TtsError::EngineFailed(_) => "tts.engine_failed",
            TtsError::Io(_) => "tts.storage",
        }
    }
}

/// A speech engine: turns a text, read with a voice, into a WAV file.
///
/// Async and object-safe (a boxed future), so engines that run a program (`tokio::process`)
/// or a model on a blocking thread (`spawn_blocking`) both fit, and none blocks the runtime.
pub trait TtsEngine: Send + Sync {
    /// Names the engine and anything about it that changes the audio (a version of its
    /// settings): part of the cache key, so changing it renders texts afresh.
    fn id(&self) -> &str;

    /// Writes the complete WAV file for `text` read by `voice` to `out`, a fresh path in the
    /// cache directory that the caller renames into place once this succeeds.
    fn render<'a>(
        &'a self,
        text: &'a str,
        voice: &'a Voice,
        out: &'a Path,
    ) -> BoxFuture<'a, Result<(), TtsError>>;
}
