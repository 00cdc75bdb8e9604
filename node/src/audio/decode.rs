//! Decoding a media file into interleaved `f32` samples: nanomp3 ([`super::mp3`]) for MP3 and
//! MP2, the node's commonest and costliest files; libopus ([`super::opus`]) for Ogg Opus, which
//! symphonia does not decode; symphonia for the rest (AAC/M4A, Vorbis, FLAC, WAV).
//!
//! `Decoder` is an enum rather than a trait (as librespot has): symphonia already is the
//! abstraction over most codecs, and the other two are exceptions. The file's first bytes
//! choose. Like librespot's, it refuses what it cannot play in its constructor, which decodes
//! the first packet, so a file that opens is a file that plays. At the end of a stream
//! symphonia reads it checks the length the container declared, so a truncated download or
//! upload is an error, not a silently shortened announcement (MP3 and Opus: see `mp3`, `opus`).

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use symphonia::core::codecs::audio::well_known::{CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3};
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use tracing::{debug, warn};

use super::mp3::{self, Mp3File};
use super::opus::{self, OpusFile};
use super::AudioError;

/// Corrupt packets tolerated in a row before the file counts as undecodable. A few bad packets
/// in a long recording are a click; an announcement should still go out.
const MAX_BAD_PACKETS_IN_A_ROW: u32 = 20;

/// Below this share of the declared length, the file is truncated. Not 100 %: some containers
/// declare a length that includes encoder padding the decoder drops.
const TRUNCATED_BELOW: f64 = 0.9;

/// A file being decoded, by the library that reads its format.
pub(crate) enum Decoder {
    Symphonia(Box<Symphonia>),
    Mp3(Primed<Mp3File>),
    Opus(Primed<OpusFile>),
}

impl Decoder {
    /// Opens `path`, finds its audio and decodes the first packet.
    pub(crate) fn open(path: &Path) -> Result<Self, AudioError> {
        let mut file = File::open(path)
            .map_err(|e| AudioError::io(format!("opening {}", path.display()), e))?;
        if is_ogg_opus(&mut file) {
            Ok(Decoder::Opus(Primed::open(OpusFile::open(file)?)?))
        } else if mp3::is_mpeg_audio(&mut file) {
            let mp3 = file
                .try_clone()
                .map_err(|e| AudioError::io(format!("opening {}", path.display()), e))
                .and_then(Mp3File::open)
                .and_then(Primed::open);
            match mp3 {
                Ok(mp3) => Ok(Decoder::Mp3(mp3)),
                // An ID3 tag in front of another format (FLAC, AAC) looks like MP3 at first.
                Err(e) => {
                    debug!(error = %e, "not MPEG audio after all; trying symphonia");
                    file.rewind()
                        .map_err(|e| AudioError::io(format!("opening {}", path.display()), e))?;
                    Ok(Decoder::Symphonia(Box::new(Symphonia::open(path, file)?)))
                }
            }
        } else {
            Ok(Decoder::Symphonia(Box::new(Symphonia::open(path, file)?)))
        }
    }

    pub(crate) fn rate(&self) -> u32 {
        match self {
            Decoder::Symphonia(d) => d.rate,
            Decoder::Mp3(d) => d.source.rate(),
            Decoder::Opus(_) => opus::RATE,
        }
    }

    pub(crate) fn channels(&self) -> u16 {
        match self {
            Decoder::Symphonia(d) => d.channels,
            Decoder::Mp3(d) => d.source.channels(),
            Decoder::Opus(d) => d.source.channels(),
        }
    }

    pub(crate) fn codec(&self) -> &str {
        match self {
            Decoder::Symphonia(d) => &d.codec,
            Decoder::Mp3(d) => d.source.codec(),
            Decoder::Opus(_) => "opus",
        }
    }

    /// Frames decoded so far.
    pub(crate) fn frames(&self) -> u64 {
        match self {
            Decoder::Symphonia(d) => d.frames,
            Decoder::Mp3(d) => d.frames,
            Decoder::Opus(d) => d.frames,
        }
    }

    /// The next chunk of interleaved samples at `rate()`/`channels()`, `None` at the end.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        match self {
            Decoder::Symphonia(d) => d.next_chunk(),
            Decoder::Mp3(d) => d.next_chunk(),
            Decoder::Opus(d) => d.next_chunk(),
        }
    }
}

/// A decoder outside symphonia, chunk by chunk.
pub(crate) trait Chunks {
    fn channels(&self) -> u16;
    /// The next chunk of interleaved samples, `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError>;
}

/// No length check at the end: see the `mp3` module on why an MP3's is not checked.
impl Chunks for Mp3File {
    fn channels(&self) -> u16 {
        Mp3File::channels(self)
    }
    fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        Mp3File::next_chunk(self)
    }
}

/// No length check at the end: the last granule position trims it, and there is no length
/// to compare with up front.
impl Chunks for OpusFile {
    fn channels(&self) -> u16 {
        OpusFile::channels(self)
    }
    fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        OpusFile::next_chunk(self)
    }
}

/// A [`Chunks`] whose first chunk was decoded when it opened, and the frames handed out.
pub(crate) struct Primed<S> {
    source: Box<S>,
    /// The first chunk, decoded by `open`.
    first: Vec<f32>,
    /// `first` is not yet handed out.
    primed: bool,
    frames: u64,
}

impl<S: Chunks> Primed<S> {
    fn open(mut source: S) -> Result<Self, AudioError> {
        let first = source
            .next_chunk()?
            .ok_or_else(|| AudioError::Decode("the file holds no audio".to_owned()))?
            .to_vec();
        Ok(Primed {
            source: Box::new(source),
            first,
            primed: true,
            frames: 0,
        })
    }

    /// The next chunk (the source's own slice after the first), counted in `frames`.
    fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        let ch = u64::from(self.source.channels().max(1));
        let chunk = if std::mem::take(&mut self.primed) {
            Some(&self.first[..])
        } else {
            self.source.next_chunk()?
        };
        if let Some(c) = chunk {
            self.frames += c.len() as u64 / ch;
        }
        Ok(chunk)
    }
}

/// Whether `file` starts with an Ogg page holding an `OpusHead`; leaves it at its start.
fn is_ogg_opus(file: &mut File) -> bool {
    let mut head = [0u8; 64];
    let n = file.read(&mut head).unwrap_or(0);
    let _ = file.rewind();
    let head = &head[..n];
    // The first page holds one packet, the head, right after its one-byte segment table.
    head.starts_with(b"OggS") && head.windows(8).any(|w| w == b"OpusHead")
}

/// An error if `frames` decoded fall short of the `declared` length (at `rate`).
fn check_length(frames: u64, declared: Option<u64>, rate: u32) -> Result<(), AudioError> {
    match declared {
        Some(declared) if (frames as f64) < declared as f64 * TRUNCATED_BELOW => {
            let secs = |frames: u64| frames as f64 / f64::from(rate);
            Err(AudioError::Decode(format!(
                "file is truncated: it holds {:.2} s of the {:.2} s its header declares",
                secs(frames),
                secs(declared)
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) struct Symphonia {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    rate: u32,
    channels: u16,
    codec: String,
    /// Frames the container declares, when it is trustworthy enough to detect truncation.
    declared_frames: Option<u64>,
    /// Frames decoded so far (at the source rate).
    frames: u64,
    /// The last decoded packet, interleaved.
    buf: Vec<f32>,
    /// The first packet, decoded by `open` and not yet handed out.
    primed: bool,
    ended: bool,
}

impl Symphonia {
    /// Opens `file` (at `path`), finds its audio track and decodes the first packet.
    fn open(path: &Path, file: File) -> Result<Self, AudioError> {
        let file_len = file.metadata().map_or(0, |m| m.len());
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match e {
                _ if file_len == 0 => AudioError::Decode("the file is empty".to_owned()),
                // A small file without any known marker ends the search with an EOF.
                SymError::Unsupported(_) | SymError::IoError(_) => AudioError::Decode(
                    "not a recognised audio format (loa plays MP3, AAC/M4A, Ogg Vorbis, Ogg \
                     Opus, FLAC and WAV)"
                        .to_owned(),
                ),
                e => e.into(),
            })?;
        let (track_id, params, num_frames, delay) = format
            .tracks()
            .iter()
            .find_map(|t| {
                let params = t.codec_params.as_ref()?.audio()?;
                (params.codec != CODEC_ID_NULL_AUDIO)
                    .then(|| (t.id, params.clone(), t.num_frames, t.delay))
            })
            .ok_or_else(|| AudioError::Decode("the file holds no audio track".to_owned()))?;
        let codec = codec_name(params.codec);
        // Gapless (the default): the encoder's delay and padding are trimmed where the
        // container says them, so an announcement lasts exactly as long as its recording.
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| match e {
                SymError::Unsupported(_) => {
                    AudioError::Decode(format!("the {codec} codec is not supported"))
                }
                e => e.into(),
            })?;
        let declared_frames =
            num_frames.filter(|_| declared_length_is_exact(params.codec, delay.is_some()));
        let mut d = Symphonia {
            format,
            decoder,
            track_id,
            rate: 0,
            channels: 0,
            codec,
            declared_frames,
            frames: 0,
            buf: Vec::new(),
            primed: false,
            ended: false,
        };
        if !d.decode_next()? {
            return Err(AudioError::Decode("the file holds no audio".to_owned()));
        }
        d.primed = true;
        Ok(d)
    }

    fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        if self.primed {
            self.primed = false;
        } else if self.ended || !self.decode_next()? {
            self.ended = true;
            check_length(self.frames, self.declared_frames, self.rate)?;
            return Ok(None);
        }
        Ok(Some(&self.buf))
    }

    /// Decodes the next non-empty packet of our track into `buf`; false at the end.
    fn decode_next(&mut self) -> Result<bool, AudioError> {
        let mut bad_in_a_row = 0;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                // A stream cut short can still end in an unexpected EOF.
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(e) => return Err(e.into()),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(decoded) => decoded,
                Err(SymError::DecodeError(what)) => {
                    bad_in_a_row += 1;
                    if bad_in_a_row > MAX_BAD_PACKETS_IN_A_ROW {
                        return Err(AudioError::Decode(format!("corrupt audio data ({what})")));
                    }
                    warn!(codec = %self.codec, error = what, "skipping a corrupt packet");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if decoded.frames() == 0 {
                continue;
            }
            let spec = decoded.spec();
            let (rate, channels) = (spec.rate(), spec.channels().count() as u16);
            if self.rate == 0 {
                self.rate = rate;
                self.channels = channels;
            } else if (rate, channels) != (self.rate, self.channels) {
                return Err(AudioError::Decode(format!(
                    "the stream changes from {} Hz/{} channels to {} Hz/{} channels mid-file",
                    self.rate, self.channels, rate, channels
                )));
            }
            decoded.copy_to_vec_interleaved(&mut self.buf);
            self.frames += (self.buf.len() / usize::from(channels)) as u64;
            return Ok(true);
        }
    }
}

/// Whether the container's frame count is exact. An MP3 without a LAME tag (no `delay`) gets a
/// count symphonia estimated from the bitrate of its first frames, which for VBR can be far
/// off; trusting it would refuse good files. (MP3 reaches symphonia here only when nanomp3
/// did not take it.)
fn declared_length_is_exact(codec: AudioCodecId, has_delay: bool) -> bool {
    ![CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3].contains(&codec) || has_delay
}

pub(crate) fn codec_name(codec: AudioCodecId) -> String {
    symphonia::default::get_codecs()
        .get_audio_decoder(codec)
        .map_or_else(
            || format!("{codec}"),
            |d| d.codec.info.short_name.to_owned(),
        )
}
