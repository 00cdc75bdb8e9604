//! The media store: uploads are probed with symphonia (fully decoded once) and kept on disk
//! by SHA-256. A file that does not decode is refused with a message a clerk understands.
//! The same pass measures the recording's loudness (EBU R128 integrated, with the `ebur128`
//! crate), so nodes can play every announcement at the same level. Ogg Opus, which symphonia
//! does not decode, goes through libopus instead ([`ogg_opus`]).

pub mod ogg_opus;

use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use symphonia::core::codecs::audio::{AudioDecoderOptions, CODEC_ID_NULL_AUDIO};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// What the probe learnt of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_ms: u64,
    /// EBU R128 integrated loudness in LUFS; `None` for audio too short or too quiet to gate.
    pub loudness_lufs: Option<f64>,
}

/// Why an upload was refused. The texts are for the clerk who uploaded it.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than the {} limit", crate::limits::megabytes(*.limit))]
    TooLarge { limit: usize },
    #[error(
        "this file is not audio loa can play (MP3, M4A/AAC, OGG Vorbis, Opus, FLAC or WAV): {0}"
    )]
    NotAudio(String),
    #[error("the file contains no audio")]
    NoAudio,
    #[error("the file is cut short: it declares {declared_ms} ms of audio but only {decoded_ms} ms could be read; upload the complete file")]
    Truncated { declared_ms: u64, decoded_ms: u64 },
    #[error("the file is damaged: {0}")]
    Damaged(String),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// A stable key for the UI's translation files.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Empty => "media.empty",
            MediaError::TooLarge { .. } => "media.too_large",
            MediaError::NotAudio(_) => "media.not_audio",
            MediaError::NoAudio => "media.no_audio",
            MediaError::Truncated { .. } => "media.truncated",
            MediaError::Damaged(_) => "media.damaged",
            MediaError::Io(_) => "media.storage",
        }
    }

    /// The media store's disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, MediaError::Io(e) if matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        ))
    }
}

/// The level every announcement is brought to on the nodes, in LUFS. Speech for outdoor
/// loudspeakers sits well above the −23 LUFS of broadcast programmes.
pub const TARGET_LUFS: f64 = -16.0;

/// The gain, in dB, that brings a recording of `loudness` LUFS to [`TARGET_LUFS`]: cut as much
/// as needed, boost at most 6 dB (more would clip loud peaks); none when it could not be measured.
pub fn normalising_gain_db(loudness: Option<f64>) -> f32 {
    loudness.map_or(0.0, |l| (TARGET_LUFS - l).clamp(-30.0, 6.0) as f32)
}

/// Decodes the whole file once: what it is, how long, and whether it is complete.
///
/// A decoder that panics on a crafted file (fuzzing found seven places in symphonia 0.5.5
/// that did: overflows and assertions; 0.6 was not fuzzed here yet) refuses the file as damaged instead of taking the
/// caller down.
pub fn probe(path: &Path, name_hint: Option<&str>) -> Result<Probed, MediaError> {
    std::panic::catch_unwind(|| probe_unguarded(path, name_hint)).unwrap_or_else(|_| {
        tracing::warn!(path = %path.display(), "the audio decoder panicked on a file");
        Err(MediaError::Damaged("the audio decoder failed on it".into()))
    })
}

fn probe_unguarded(path: &Path, name_hint: Option<&str>) -> Result<Probed, MediaError> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Err(MediaError::Empty);
    }
    if ogg_opus::is_ogg_opus(path)? {
        return ogg_opus::probe(path);
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = name_hint
        .and_then(|n| Path::new(n).extension())
        .and_then(|e| e.to_str())
    {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            // The probe reads to the end looking for a format's marker: an early end, or no
            // reader at all, means no marker was found, not that the file was cut short.
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                MediaError::NotAudio("no known audio format was found in it".into())
            }
            SymError::Unsupported(_) => {
                MediaError::NotAudio("no known audio format was found in it".into())
            }
            e => MediaError::NotAudio(describe(&e)),
        })?;
    let (track_id, params, declared_frames) = format
        .tracks()
        .iter()
        .find_map(|t| {
            let params = t.codec_params.as_ref()?.audio()?;
            (params.codec != CODEC_ID_NULL_AUDIO).then(|| (t.id, params.clone(), t.num_frames))
        })
        .ok_or(MediaError::NoAudio)?;
    // Gapless (the default): the stored length is the audio's, without encoder padding, as
    // nodes play it.
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| MediaError::NotAudio(describe(&e)))?;
    let codec = symphonia::default::get_codecs()
        .get_audio_decoder(params.codec)
        .map(|d| d.codec.info.short_name.to_string())
        .unwrap_or_else(|| "unknown".into());
    let mut frames: u64 = 0;
    let mut bad_packets = 0u32;
    let mut good_packets = 0u32;
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count() as u16);
    let mut meter: Option<ebur128::EbuR128> = None;
    let mut samples: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(MediaError::Damaged(describe(&e))),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                good_packets += 1;
                frames += buf.frames() as u64;
                rate = buf.spec().rate();
                channels = buf.spec().channels().count() as u16;
                if buf.frames() == 0 {
                    continue;
                }
                if meter.is_none() {
                    meter = ebur128::EbuR128::new(channels as u32, rate, ebur128::Mode::I).ok();
                }
                buf.copy_to_vec_interleaved(&mut samples);
                if let Some(m) = meter.as_mut() {
                    let _ = m.add_frames_f32(&samples);
                }
            }
            Err(SymError::DecodeError(_)) => bad_packets += 1,
            Err(e) => return Err(MediaError::Damaged(describe(&e))),
        }
    }
    if frames == 0 || rate == 0 {
        return Err(MediaError::NoAudio);
    }
    if bad_packets > 2 && bad_packets * 10 > good_packets {
        return Err(MediaError::Damaged(format!(
            "{bad_packets} of {} audio packets do not decode",
            bad_packets + good_packets
        )));
    }
    let duration_ms = frames * 1000 / rate as u64;
    if let Some(declared) = declared_frames {
        // Decoders may trim a few priming frames; a real truncation loses far more.
        if frames * 100 < declared * 98 {
            return Err(MediaError::Truncated {
                declared_ms: declared * 1000 / rate as u64,
                decoded_ms: duration_ms,
            });
        }
    }
    let loudness_lufs = meter
        .and_then(|m| m.loudness_global().ok())
        .filter(|l| l.is_finite());
    Ok(Probed {
        codec,
        sample_rate: rate,
        channels,
        duration_ms,
        loudness_lufs,
    })
}

fn describe(e: &SymError) -> String {
    match e {
        SymError::Unsupported(what) => format!("unsupported {what}"),
        SymError::DecodeError(what) => format!("cannot decode: {what}"),
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends too early".into()
        }
        other => other.to_string(),
    }
}

/// Files on disk, named by SHA-256, under `data_dir/media`.
#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
}

impl MediaStore {
    pub fn open(data_dir: &Path) -> std::io::Result<MediaStore> {
        let dir = data_dir.join("media");
        std::fs::create_dir_all(&dir)?;
        Ok(MediaStore { dir })
    }

    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// A fresh temporary file for an upload in progress, in the same directory (so the final
    /// rename is atomic).
    pub fn incoming(&self) -> PathBuf {
        self.dir
            .join(format!(".incoming-{}", crate::secrets::new_secret()))
    }

    /// Moves a probed upload to its content address.
    pub fn commit(&self, incoming: &Path, sha256: &str) -> std::io::Result<PathBuf> {
        let dest = self.path_of(sha256);
        if dest.exists() {
            std::fs::remove_file(incoming)?;
        } else {
            std::fs::rename(incoming, &dest)?;
        }
        Ok(dest)
    }
}

/// SHA-256 of a file as lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}
