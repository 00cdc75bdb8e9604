//! Where samples go: the `Sink` trait, the audio part of the node's config, and `open_sink`.
//!
//! As in librespot's `audio_backend`, the output is a trait with a small table of backends.
//! `cpal` needs ALSA (always present on a node, `libasound2-dev` to build); `wav` and `null`
//! need nothing and serve tests and dry runs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sink_paced::Paced;
use super::{sink_cpal::CpalSink, sink_null::NullSink, sink_wav::WavSink, AudioError};

/// Which backend plays the audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// A real output device through cpal (ALSA on a node).
    #[default]
    Cpal,
    /// One WAV file per playback, in `wav_dir`.
    Wav,
    /// Nowhere: counts frames and discards them.
    Null,
}

/// The `[audio]` section of the node's config.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AudioConfig {
    #[serde(default)]
    pub sink: SinkKind,
    /// cpal: the ALSA device name (as `loa-node devices` lists them); `None` = the default.
    #[serde(default)]
    pub device: Option<String>,
    /// wav: each playback writes one file here, created if missing.
    #[serde(default)]
    pub wav_dir: Option<PathBuf>,
    /// wav/null: the output rate. cpal uses the file's rate when the device takes it, and
    /// otherwise what the device supports as near 48 kHz as it can.
    #[serde(default = "default_rate")]
    pub rate: u32,
    /// wav/null: the output channels. cpal prefers stereo when the device has it.
    #[serde(default = "default_channels")]
    pub channels: u16,
    /// Hold playback to real time, for outputs without a clock (ALSA's `null` or `file`
    /// capture, the wav and null sinks). Leave off with a real sound card.
    #[serde(default)]
    pub pace: bool,
    /// A stream item's jitter buffer, in milliseconds: how much audio the node holds before
    /// it plays a stream. Longer rides out longer hiccups of the link without a gap, and
    /// delays live speech by as much (docs/live-node.md).
    #[serde(default = "default_jitter_ms")]
    pub jitter_ms: u64,
    /// The speaker check, for a board whose microphone input hears the loudspeaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_check: Option<crate::speaker::SpeakerCheckConfig>,
}

fn default_jitter_ms() -> u64 {
    crate::stream::DEFAULT_JITTER_MS
}

fn default_rate() -> u32 {
    48_000
}

fn default_channels() -> u16 {
    2
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            sink: SinkKind::Cpal,
            device: None,
            wav_dir: None,
            rate: default_rate(),
            channels: default_channels(),
            pace: false,
            jitter_ms: default_jitter_ms(),
            speaker_check: None,
        }
    }
}

/// An audio output, opened for one playback.
pub trait Sink: Send {
    fn rate(&self) -> u32;
    fn channels(&self) -> u16;
    /// Interleaved f32 samples at rate()/channels(). Blocks while the device buffer is full
    /// (cpal), so it paces real time.
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError>;
    /// Waits until everything written has been handed to the device / file, then closes.
    fn finish(&mut self) -> Result<(), AudioError>;
}

/// Opens the output `cfg` names. `label` names the output for the wav sink: the file is
/// `{wav_dir}/{label}.wav` (characters other than letters, digits, `.`, `_` and `-` become `_`),
/// or `{label}-2.wav`, … if the item played before: a file is never replaced.
pub fn open_sink(cfg: &AudioConfig, label: &str) -> Result<Box<dyn Sink>, AudioError> {
    open_sink_at(cfg, label, None)
}

/// [`open_sink`] for audio at `rate` Hz: a real device that accepts that rate is opened at it,
/// so nothing is resampled in the node (ALSA's `plug` or `dmix`, when the device needs another
/// rate, converts more cheaply, as it does for other players). The wav and null outputs keep
/// the configured rate.
pub fn open_sink_at(
    cfg: &AudioConfig,
    label: &str,
    rate: Option<u32>,
) -> Result<Box<dyn Sink>, AudioError> {
    let sink = open_unpaced(cfg, label, rate)?;
    Ok(if cfg.pace {
        Box::new(Paced::new(sink))
    } else {
        sink
    })
}

fn open_unpaced(
    cfg: &AudioConfig,
    label: &str,
    rate: Option<u32>,
) -> Result<Box<dyn Sink>, AudioError> {
    match cfg.sink {
        SinkKind::Cpal => Ok(Box::new(CpalSink::open(cfg.device.as_deref(), rate)?)),
        SinkKind::Wav => {
            check_format(cfg)?;
            let dir = cfg.wav_dir.as_ref().ok_or_else(|| {
                AudioError::Config("the wav sink needs `wav_dir`, the folder to write to".into())
            })?;
            Ok(Box::new(WavSink::create(
                dir,
                &file_safe(label),
                cfg.rate,
                cfg.channels,
            )?))
        }
        SinkKind::Null => {
            check_format(cfg)?;
            Ok(Box::new(NullSink::new(cfg.rate, cfg.channels)))
        }
    }
}

fn check_format(cfg: &AudioConfig) -> Result<(), AudioError> {
    if !(1_000..=384_000).contains(&cfg.rate) {
        return Err(AudioError::Config(format!(
            "rate {} Hz is out of range (1000 to 384000)",
            cfg.rate
        )));
    }
    if !(1..=8).contains(&cfg.channels) {
        return Err(AudioError::Config(format!(
            "{} channels is out of range (1 to 8)",
            cfg.channels
        )));
    }
    Ok(())
}

/// `label` made safe as a file name: no path separators, no surprises in a shell.
fn file_safe(label: &str) -> String {
    let safe: String = label
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    match safe.as_str() {
        "" | "." | ".." => "playback".to_owned(),
        _ => safe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_to_cpal_at_48k_stereo() {
        let cfg: AudioConfig = toml::from_str("").unwrap();
        assert_eq!(cfg.sink, SinkKind::Cpal);
        assert_eq!((cfg.rate, cfg.channels), (48_000, 2));
        let cfg: AudioConfig = toml::from_str("sink = \"wav\"\nwav_dir = \"/tmp/x\"").unwrap();
        assert_eq!(cfg.sink, SinkKind::Wav);
    }

    #[test]
    fn labels_cannot_escape_the_wav_dir() {
        assert_eq!(file_safe("../etc/passwd"), ".._etc_passwd");
        assert_eq!(file_safe(".."), "playback");
        assert_eq!(file_safe("occ-42_n1.v2"), "occ-42_n1.v2");
    }
}
