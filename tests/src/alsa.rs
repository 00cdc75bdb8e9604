//! Hearing what a program plays, through the real ALSA library.
//!
//! ALSA's `file` plugin copies every frame a program writes into a WAV file. The capture pcm,
//! `loa_capture`, is `plug` (converts whatever the program sends to S16_LE, so the WAV header
//! is right even for float samples) → `file` → `null`. `null` has no clock: the program's
//! audio callback runs as fast as it is fed, so a test waits for frames, not for time. The
//! `hint` block makes the pcm visible to device enumeration (cpal lists devices by hint).
//!
//! The program must run with `HOME` set to the folder holding the `.asoundrc`.

use std::fs;
use std::path::Path;

use anyhow::Context as _;

/// The capture pcm's name, as `audio.device` and `aplay -D` take it.
pub const CAPTURE_PCM: &str = "loa_capture";

/// Writes `{home}/.asoundrc` defining pcm `loa_capture` (plug S16_LE → file → null) that writes
/// a WAV to `wav_out`; run the program with HOME=home.
pub fn write_capture_asoundrc(home: &Path, wav_out: &Path) -> anyhow::Result<()> {
    let conf = format!(
        r#"# Written by loa's tests: captures what is played on "{CAPTURE_PCM}" into a WAV file.
pcm.{CAPTURE_PCM} {{
    type plug
    slave {{
        pcm {{
            type file
            slave.pcm "null"
            file "{file}"
            format "wav"
        }}
        format S16_LE
    }}
    hint {{
        show on
        description "loa test capture to a WAV file"
    }}
}}
"#,
        file = alsa_string(wav_out)?,
    );
    fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let path = home.join(".asoundrc");
    fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))
}

/// The format of [`write_stream_asoundrc`]'s raw capture: S16_LE, 48 kHz, stereo.
pub const STREAM_RATE: u32 = 48_000;
pub const STREAM_CHANNELS: u16 = 2;

/// Writes `{home}/.asoundrc` defining pcm `loa_capture` so that every playback, one after the
/// other, is appended to one raw file (S16_LE at [`STREAM_RATE`], [`STREAM_CHANNELS`]): the
/// `file` plugin pipes to `cat >> raw_out`. Where [`write_capture_asoundrc`] keeps the last
/// playback, this keeps the sequence, e.g. an item, the emergency that cut it, and the rest of
/// the item. Nothing is written while no playback is open, so there is no silence between two
/// playbacks besides what each plays. Use it with a paced node (`pace = true`): `null` has no
/// clock.
pub fn write_stream_asoundrc(home: &Path, raw_out: &Path) -> anyhow::Result<()> {
    let conf = format!(
        r#"# Written by loa's tests: appends what is played on "{CAPTURE_PCM}" to a raw file.
pcm.{CAPTURE_PCM} {{
    type plug
    slave {{
        pcm {{
            type file
            slave.pcm "null"
            file "|cat >> '{file}'"
            format "raw"
        }}
        format S16_LE
        rate {STREAM_RATE}
        channels {STREAM_CHANNELS}
    }}
    hint {{
        show on
        description "loa test capture, appended to a raw file"
    }}
}}
"#,
        file = alsa_string(raw_out)?.replace('\'', ""),
    );
    fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let path = home.join(".asoundrc");
    fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))
}

/// A path as an ALSA configuration string (double quotes, backslash escapes).
fn alsa_string(path: &Path) -> anyhow::Result<String> {
    let s = path
        .to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))?;
    Ok(s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What a captured WAV holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WavStats {
    pub rate: u32,
    pub channels: u16,
    /// All frames in the file, silence included.
    pub frames: u64,
    /// From the first to the last frame with a sample above [`AUDIBLE`], inclusive.
    pub audible_frames: u64,
    /// Root mean square over the audible frames, 0.0..=1.0 of full scale.
    pub rms: f64,
}

impl WavStats {
    pub fn audible_secs(&self) -> f64 {
        self.audible_frames as f64 / f64::from(self.rate)
    }
}

/// The level (of full scale) above which a sample counts as audible: −40 dBFS.
pub const AUDIBLE: f64 = 0.01;

/// Reads a 16-bit PCM WAV (as [`crate::pcm::read`] does, robust to the `file` plugin's
/// header) and returns stats.
pub fn wav_stats(path: &Path) -> anyhow::Result<WavStats> {
    let pcm = crate::pcm::read(path)?;
    let channels = usize::from(pcm.channels);
    let frames: Vec<&[i16]> = pcm.samples.chunks_exact(channels).collect();
    let peak = |frame: &[i16]| {
        frame
            .iter()
            .map(|&s| (f64::from(s) / 32768.0).abs())
            .fold(0.0, f64::max)
    };
    let first = frames.iter().position(|f| peak(f) > AUDIBLE);
    let last = frames.iter().rposition(|f| peak(f) > AUDIBLE);
    let (audible_frames, rms) = match (first, last) {
        (Some(first), Some(last)) => {
            let audible = &frames[first..=last];
            let (sum, n) = audible
                .iter()
                .flat_map(|f| f.iter())
                .map(|&s| f64::from(s) / 32768.0)
                .fold((0.0, 0u64), |(sum, n), s| (sum + s * s, n + 1));
            (audible.len() as u64, (sum / n as f64).sqrt())
        }
        _ => (0, 0.0),
    };
    Ok(WavStats {
        rate: pcm.rate,
        channels: pcm.channels,
        frames: frames.len() as u64,
        audible_frames,
        rms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(data_len_field: u32, samples: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(b"RIFF");
        b.extend(0u32.to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        for v in [1u16, 1] {
            b.extend(v.to_le_bytes());
        }
        b.extend(8000u32.to_le_bytes());
        b.extend(16000u32.to_le_bytes());
        for v in [2u16, 16] {
            b.extend(v.to_le_bytes());
        }
        b.extend(b"data");
        b.extend(data_len_field.to_le_bytes());
        for s in samples {
            b.extend(s.to_le_bytes());
        }
        b
    }

    #[test]
    fn a_header_without_lengths_reads_to_the_end_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let samples = [0, 0, 16384, -16384, 16384, 0];
        for declared in [0, 12, 1_000_000] {
            fs::write(&path, wav(declared, &samples)).unwrap();
            let stats = wav_stats(&path).unwrap();
            assert_eq!((stats.rate, stats.channels, stats.frames), (8000, 1, 6));
            assert_eq!(stats.audible_frames, 3, "declared {declared}");
            assert!((stats.rms - 0.5).abs() < 1e-3);
        }
    }
}
