//! The engine that ships today: Debian's `espeak-ng`, run as a program.
//!
//! The text goes in on standard input (`--stdin`), never through a shell or as an argument a
//! leading `-` could turn into an option. The WAV is written with `-w FILE` rather than
//! `--stdout`: on a pipe espeak-ng cannot go back to fill in the header's sizes and leaves
//! placeholders (0x7ffff000 bytes), which the media probe rightly calls a truncated file.

use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{TtsEngine, TtsError, Voice};

/// What to tell an administrator when the program is not there.
pub const MISSING: &str = "espeak-ng is not installed: apt install espeak-ng";

/// The longest a render may take; 2,000 characters take well under a second.
const TIMEOUT: Duration = Duration::from_secs(60);

/// espeak-ng, found on `PATH` unless told where.
#[derive(Debug, Clone)]
pub struct EspeakNg {
    program: PathBuf,
}

impl Default for EspeakNg {
    fn default() -> Self {
        EspeakNg::new()
    }
}

impl EspeakNg {
    pub fn new() -> EspeakNg {
        EspeakNg::with_program("espeak-ng")
    }

    /// espeak-ng at a given path (or a name looked up on `PATH`).
    pub fn with_program(program: impl Into<PathBuf>) -> EspeakNg {
        EspeakNg {
            program: program.into(),
        }
    }

    async fn run(&self, text: &str, voice: &Voice, out: &Path) -> Result<(), TtsError> {
        let mut child = Command::new(&self.program)
            .arg("-v")
            .arg(voice.espeak)
            .arg("-s")
            .arg(voice.rate_wpm.to_string())
            // The input is UTF-8 whatever the controller's locale.
            .args(["-b", "1"])
            .arg("-w")
            .arg(out)
            .arg("--stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A request given up on (the browser closed) or timed out stops the program.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TtsError::EngineMissing(MISSING.into()),
                _ => {
                    TtsError::EngineFailed(format!("cannot start {}: {e}", self.program.display()))
                }
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A program that stops early (an unknown voice) breaks the pipe: what it says on
        // stderr matters more than the write error, so that is looked at first.
        let fed = async {
            stdin.write_all(text.as_bytes()).await?;
            stdin.write_all(b"\n").await
        }
        .await;
        // Closing stdin is what tells espeak-ng the text is complete.
        drop(stdin);
        let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| {
                TtsError::EngineFailed(format!("espeak-ng took more than {TIMEOUT:?}"))
            })??;
        if output.status.success() {
            return fed.map_err(TtsError::from);
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if stderr.contains("voice does not exist") {
            return Err(TtsError::VoiceMissing(voice.espeak.into()));
        }
        Err(TtsError::EngineFailed(format!(
            "espeak-ng exited with {}: {stderr}",
            output.status
        )))
    }
}

impl TtsEngine for EspeakNg {
    fn id(&self) -> &str {
        "espeak-ng"
    }

    fn render<'a>(
        &'a self,
        text: &'a str,
        voice: &'a Voice,
        out: &'a Path,
    ) -> BoxFuture<'a, Result<(), TtsError>> {
        Box::pin(self.run(text, voice, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::voices::voice;

    #[tokio::test]
    async fn a_missing_program_says_how_to_install_it() {
        let dir = std::env::temp_dir();
        let e = EspeakNg::with_program("/nonexistent/espeak-ng")
            .render("Xin chào", voice(None).unwrap(), &dir.join("never.wav"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "tts.engine_missing");
        assert_eq!(e.to_string(), MISSING);
    }
}
