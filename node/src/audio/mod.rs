//! Playback: from a media file to the loudspeaker.
//!
//! The pipeline is `decode` (nanomp3 for MP3 and MP2 in `mp3`; symphonia for AAC/M4A, Vorbis,
//! FLAC, WAV; libopus for Ogg Opus, demuxed by `ogg_demux`, which also serves streams) → `resample` (rubato,
//! to the output's rate) → a [`Sink`]. [`player::play`] runs it for one file, on the calling
//! thread. The sinks are `cpal` (a real ALSA device chosen by name), `wav` (a file per
//! playback, for tests and dry runs) and `null` (discards); [`open_sink`] picks one from the
//! [`AudioConfig`], held to real time by [`sink_paced`] when the output has no clock. `cli` holds the installer tools behind `loa-node play` and `loa-node devices`.
//!
//! Errors are one [`AudioError`] for the whole layer; its messages are meant for the `failed`
//! event a human reads, so they say what is wrong in plain words.

pub mod cli;
mod cpal_queue;
mod decode;
mod mp3;
pub(crate) mod ogg_demux;
pub(crate) mod opus;
pub mod player;
pub(crate) mod ramp;
pub(crate) mod resample;
pub mod sink;
mod sink_cpal;
mod sink_null;
pub mod sink_paced;
mod sink_wav;

pub use player::{
    db_to_gain, native_rate, play, play_item, probe, volume_to_gain, ItemReport, MediaInfo,
    PlayReport, Position, Track,
};
pub use sink::{open_sink, open_sink_at, AudioConfig, Sink, SinkKind};

/// Everything that can go wrong between a media file and the loudspeaker.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file does not decode, or is in a format loa cannot play.
    #[error("cannot play this audio: {0}")]
    Decode(String),
    /// The output device cannot be opened, or failed while playing.
    #[error("audio device {device:?}: {message}")]
    Device { device: String, message: String },
    /// Reading the media file or writing an output file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The resampler refused the rates or the data.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// A stream item's stream gave no audio at all in its window; the cause says why.
    #[error("no audio from the stream: {0}")]
    Stream(String),
    /// The audio configuration cannot work (e.g. the wav sink without a directory).
    #[error("audio configuration: {0}")]
    Config(String),
}

impl AudioError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        AudioError::Io {
            context: context.into(),
            source,
        }
    }
}

/// symphonia's errors, in words a person reading a `failed` event understands.
impl From<symphonia::core::errors::Error> for AudioError {
    fn from(e: symphonia::core::errors::Error) -> Self {
        use symphonia::core::errors::Error as E;
        let message = match e {
            E::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                "the file ends before any audio (empty or cut short)".to_owned()
            }
            E::IoError(e) => format!("read error: {e}"),
            E::DecodeError(what) => format!("corrupt audio data ({what})"),
            E::SeekError(_) => "the file cannot be seeked".to_owned(),
            E::Unsupported(what) => format!("unsupported audio feature ({what})"),
            E::LimitError(what) => format!("the file exceeds a decoder limit ({what})"),
            E::ResetRequired => "the stream changes format in the middle of the file".to_owned(),
            other => format!("decoding failed ({other})"),
        };
        AudioError::Decode(message)
    }
}
