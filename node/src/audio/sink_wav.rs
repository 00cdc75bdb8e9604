//! The `wav` sink: each playback becomes one 16-bit PCM WAV file. It does not pace real time.
//! It never replaces a file: a second playback under the same name gets `-2`, `-3`, … so that
//! a test can see an item played twice.

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
    /// Creates `{dir}/{stem}.wav` (and `dir`), or `{stem}-2.wav`, `{stem}-3.wav`, … when that
    /// name is taken: an earlier playback's file is never replaced.
    pub(crate) fn create(
        dir: &Path,
        stem: &str,
        rate: u32,
        channels: u16,
    ) -> Result<Self, AudioError> {
        fs::create_dir_all(dir)
            .map_err(|e| AudioError::io(format!("creating {}", dir.display()), e))?;
        let spec = WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let (path, file) = create_new(dir, stem)?;
        let writer =
            WavWriter::new(BufWriter::new(file), spec).map_err(|e| hound_error(&path, e))?;
        Ok(WavSink {
            path,
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

/// The first of `{stem}.wav`, `{stem}-2.wav`, … that does not exist yet, created.
fn create_new(dir: &Path, stem: &str) -> Result<(PathBuf, File), AudioError> {
    for n in 1u32.. {
        let name = match n {
            1 => format!("{stem}.wav"),
            n => format!("{stem}-{n}.wav"),
        };
        let path = dir.join(name);
        match File::options().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(AudioError::io(format!("creating {}", path.display()), e)),
        }
    }
    unreachable!("some name is free")
}

fn hound_error(path: &Path, e: hound::Error) -> AudioError {
    let source = match e {
        hound::Error::IoError(e) => e,
        e => std::io::Error::other(e),
    };
    AudioError::io(format!("writing {}", path.display()), source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_playback_under_the_same_name_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..3 {
            let mut sink = WavSink::create(dir.path(), "20261124T060000-o7", 8000, 1).unwrap();
            sink.write(&[0.5; 80]).unwrap();
            sink.finish().unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "20261124T060000-o7-2.wav",
                "20261124T060000-o7-3.wav",
                "20261124T060000-o7.wav"
            ]
        );
        for n in &names {
            let r = hound::WavReader::open(dir.path().join(n)).unwrap();
            assert_eq!(r.len(), 80, "{n} holds its own playback whole");
        }
    }
}
