//! The `wav` sink: each playback becomes one 16-bit PCM WAV file. It does not pace real time.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};

use super::{AudioError, Sink};

pub(crate) struct WavSink {
    path: PathBuf,
    /// `None` once finished.
    writer: Option<WavWriter<BufWriter<File>>>,
    rate: u32,
    channels: u16,
}

impl WavSink {
    /// Creates `path` (and its folder), replacing a file of the same name.
    pub(crate) fn create(path: &Path, rate: u32, channels: u16) -> Result<Self, AudioError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| AudioError::io(format!("creating {}", dir.display()), e))?;
        }
        let spec = WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let writer = WavWriter::create(path, spec).map_err(|e| hound_error(path, e))?;
        Ok(WavSink {
            path: path.to_owned(),
            writer: Some(writer),
            rate,
            channels,
        })
    }
}

impl Sink for WavSink {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let writer = self.writer.as_mut().ok_or_else(|| {
            AudioError::io(
                format!("writing {}", self.path.display()),
                std::io::Error::other("the wav sink is already finished"),
            )
        })?;
        for s in samples {
            let s = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
            writer
                .write_sample(s)
                .map_err(|e| hound_error(&self.path, e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        match self.writer.take() {
            Some(writer) => writer.finalize().map_err(|e| hound_error(&self.path, e)),
            None => Ok(()),
        }
    }
}

fn hound_error(path: &Path, e: hound::Error) -> AudioError {
    let source = match e {
        hound::Error::IoError(e) => e,
        e => std::io::Error::other(e),
    };
    AudioError::io(format!("writing {}", path.display()), source)
}
