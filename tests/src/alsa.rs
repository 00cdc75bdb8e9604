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
    write_asoundrc(home, &[(CAPTURE_PCM, wav_out)])
}

/// Writes `{home}/.asoundrc` defining one capture pcm (as [`write_capture_asoundrc`] does) per
/// `(name, wav_out)`; none at all for an empty slice.
pub fn write_asoundrc(home: &Path, pcms: &[(&str, &Path)]) -> anyhow::Result<()> {
    let mut conf =
        String::from("# Written by loa's tests: what is played on these pcms goes to WAV files.\n");
    for (name, wav_out) in pcms {
        conf.push_str(&capture_pcm(name, wav_out)?);
    }
    fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let path = home.join(".asoundrc");
    fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))
}

/// The definition of capture pcm `name` writing to `wav_out`.
pub fn capture_pcm(name: &str, wav_out: &Path) -> anyhow::Result<String> {
    Ok(format!(
        r#"pcm.{name} {{
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
    ))
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
pub fn alsa_string(path: &Path) -> anyhow::Result<String> {
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
    let wav = crate::pcm::read(path)?;
    let channels = usize::from(wav.channels);
    let (audible_frames, rms) = match wav.audible_span() {
        Some((first, last)) => {
            let audible = &wav.samples[first * channels..(last + 1) * channels];
            let sum: f64 = audible.iter().map(|&s| level(s) * level(s)).sum();
            (
                (last + 1 - first) as u64,
                (sum / audible.len() as f64).sqrt(),
            )
        }
        None => (0, 0.0),
    };
    Ok(WavStats {
        rate: wav.rate,
        channels: wav.channels,
        frames: wav.frames() as u64,
        audible_frames,
        rms,
    })
}

/// The frequency of each channel of a 16-bit PCM WAV (as [`wav_stats`] reads it), in Hz, from
/// its zero crossings over the audible span: exact enough for a pure tone (the fixtures are
/// 440 Hz, 660 Hz on the right of stereo files), meaningless for speech. A silent channel
/// reads 0.
pub fn channel_frequencies(path: &Path) -> anyhow::Result<Vec<f64>> {
    let wav = crate::pcm::read(path)?;
    let channels = usize::from(wav.channels);
    let Some((first, last)) = wav.audible_span() else {
        anyhow::bail!("{} holds no audible sound", path.display());
    };
    let frames = &wav.samples[first * channels..(last + 1) * channels];
    let secs = (last + 1 - first) as f64 / f64::from(wav.rate);
    Ok((0..channels)
        .map(|c| {
            let side: Vec<i16> = frames.iter().skip(c).step_by(channels).copied().collect();
            let crossings = side.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
            // Two crossings per period.
            crossings as f64 / 2.0 / secs
        })
        .collect())
}

/// A sample as a fraction of full scale.
fn level(s: i16) -> f64 {
    f64::from(s) / 32768.0
}

/// An ALSA input named `name` that reads `raw_in` (16-bit little-endian mono at 48 kHz) as
/// if a microphone were saying it: the `file` plugin's `infile` over the `null` device. It has
/// no clock: the reader holds itself to real time (the controller's `[live] capture_pace`,
/// the node's speaker check reads a few seconds as fast as it can).
pub fn input_pcm(name: &str, raw_in: &Path) -> anyhow::Result<String> {
    Ok(format!(
        r#"pcm.{name} {{
    type plug
    slave {{
        pcm {{
            type file
            slave.pcm "null"
            file "/dev/null"
            infile "{file}"
            format "raw"
        }}
        format S16_LE
        rate 48000
        channels 1
    }}
    hint {{
        show on
        description "loa test input from a raw file"
    }}
}}
"#,
        file = alsa_string(raw_in)?,
    ))
}

/// A `.asoundrc` in `home` with the single input [`input_pcm`].
pub fn write_input_asoundrc(home: &Path, name: &str, raw_in: &Path) -> anyhow::Result<()> {
    let conf = format!(
        "# Written by loa's tests: \"{name}\" reads a recording as a microphone would.\n{}",
        input_pcm(name, raw_in)?
    );
    fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    fs::write(home.join(".asoundrc"), conf).context("writing .asoundrc")
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

    #[test]
    fn channel_frequencies_counts_each_side_over_the_audible_span() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        // Silence around one second of 100 Hz left, 150 Hz right: the silence must not count.
        for _ in 0..4000 {
            w.write_sample(0i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        for i in 0..8000 {
            let t = f64::from(i) / 8000.0;
            for hz in [100.0, 150.0] {
                let s = (2.0 * std::f64::consts::PI * hz * t + 0.1).sin() * 16384.0;
                w.write_sample(s as i16).unwrap();
            }
        }
        for _ in 0..4000 {
            w.write_sample(0i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let hz = channel_frequencies(&path).unwrap();
        assert_eq!(hz.len(), 2);
        assert!((hz[0] - 100.0).abs() < 1.0, "{hz:?}");
        assert!((hz[1] - 150.0).abs() < 1.0, "{hz:?}");
    }
}
