//! Decoding a media file into interleaved `f32` samples: symphonia for MP3, AAC/M4A, Vorbis,
//! FLAC and WAV, libopus ([`super::opus`]) for Ogg Opus, which symphonia does not decode.
//!
//! `Decoder` is an enum of the two rather than a trait (as librespot has): symphonia already is
//! the abstraction over most codecs, and Opus is the one exception. The file's first bytes
//! choose (an Ogg page whose first packet is an `OpusHead`). Like librespot's, it refuses what
//! it cannot play in its constructor, which decodes the first packet, so a file that opens is a
//! file that plays. At the end of the stream it checks the length the container declared, so a
//! truncated download or upload is an error, not a silently shortened announcement.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use tracing::warn;

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
    Opus {
        file: Box<OpusFile>,
        /// The first chunk, decoded by `open`.
        first: Vec<f32>,
        /// `first` is not yet handed out.
        primed: bool,
        frames: u64,
    },
}

impl Decoder {
    /// Opens `path`, finds its audio and decodes the first packet.
    pub(crate) fn open(path: &Path) -> Result<Self, AudioError> {
        let mut file = File::open(path)
            .map_err(|e| AudioError::io(format!("opening {}", path.display()), e))?;
        if !is_ogg_opus(&mut file) {
            return Ok(Decoder::Symphonia(Box::new(Symphonia::open(path, file)?)));
        }
        let mut opus = OpusFile::open(file)?;
        let first = opus
            .next_chunk()?
            .ok_or_else(|| AudioError::Decode("the file holds no audio".to_owned()))?
            .to_vec();
        Ok(Decoder::Opus {
            file: Box::new(opus),
            first,
            primed: true,
            frames: 0,
        })
    }

    pub(crate) fn rate(&self) -> u32 {
        match self {
            Decoder::Symphonia(d) => d.rate,
            Decoder::Opus { .. } => opus::RATE,
        }
    }

    pub(crate) fn channels(&self) -> u16 {
        match self {
            Decoder::Symphonia(d) => d.channels,
            Decoder::Opus { file, .. } => file.channels(),
        }
    }

    pub(crate) fn codec(&self) -> &str {
        match self {
            Decoder::Symphonia(d) => &d.codec,
            Decoder::Opus { .. } => "opus",
        }
    }

    /// Frames decoded so far.
    pub(crate) fn frames(&self) -> u64 {
        match self {
            Decoder::Symphonia(d) => d.frames,
            Decoder::Opus { frames, .. } => *frames,
        }
    }

    /// The next chunk of interleaved samples at `rate()`/`channels()`, `None` at the end.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        match self {
            Decoder::Symphonia(d) => d.next_chunk(),
            Decoder::Opus {
                file,
                first,
                primed,
                frames,
            } => {
                let ch = u64::from(file.channels());
                if std::mem::take(primed) {
                    *frames += first.len() as u64 / ch;
                    return Ok(Some(first));
                }
                let chunk = file.next_chunk()?;
                if let Some(c) = &chunk {
                    *frames += c.len() as u64 / ch;
                }
                Ok(chunk)
            }
        }
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

pub(crate) struct Symphonia {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn codecs::Decoder>,
    track_id: u32,
    rate: u32,
    channels: u16,
    codec: String,
    /// Frames the container declares, when it is trustworthy enough to detect truncation.
    declared_frames: Option<u64>,
    /// Frames decoded so far (at the source rate).
    frames: u64,
    /// The last decoded packet, interleaved; sized by the first packet.
    buf: Option<SampleBuffer<f32>>,
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
        // Gapless: the MP3 reader then trims the encoder's delay and padding (LAME tag), so
        // an announcement lasts exactly as long as its recording.
        let format_opts = FormatOptions {
            enable_gapless: true,
            ..Default::default()
        };
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &format_opts, &MetadataOptions::default())
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
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
            .ok_or_else(|| AudioError::Decode("the file holds no audio track".to_owned()))?;
        let (track_id, params) = (track.id, track.codec_params.clone());
        let codec = codec_name(params.codec);
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| match e {
                SymError::Unsupported(_) => {
                    AudioError::Decode(format!("the {codec} codec is not supported"))
                }
                e => e.into(),
            })?;
        let declared_frames = params
            .n_frames
            .filter(|_| declared_length_is_exact(&params));
        let mut d = Symphonia {
            format,
            decoder,
            track_id,
            rate: 0,
            channels: 0,
            codec,
            declared_frames,
            frames: 0,
            buf: None,
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
            self.check_length()?;
            return Ok(None);
        }
        Ok(self.buf.as_ref().map(SampleBuffer::samples))
    }

    /// Decodes the next non-empty packet of our track into `buf`; false at the end.
    fn decode_next(&mut self) -> Result<bool, AudioError> {
        let mut bad_in_a_row = 0;
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                // symphonia reports the end of the stream as an unexpected EOF.
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(e) => return Err(e.into()),
            };
            if packet.track_id() != self.track_id {
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
            let spec = *decoded.spec();
            let channels = spec.channels.count() as u16;
            if self.rate == 0 {
                self.rate = spec.rate;
                self.channels = channels;
            } else if (spec.rate, channels) != (self.rate, self.channels) {
                return Err(AudioError::Decode(format!(
                    "the stream changes from {} Hz/{} channels to {} Hz/{} channels mid-file",
                    self.rate, self.channels, spec.rate, channels
                )));
            }
            // `SampleBuffer::capacity` counts samples, `AudioBufferRef::capacity` frames.
            let samples_needed = decoded.capacity() * usize::from(channels);
            let buf = match &mut self.buf {
                Some(buf) if buf.capacity() >= samples_needed => buf,
                slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            self.frames += (buf.samples().len() / usize::from(channels)) as u64;
            return Ok(true);
        }
    }

    fn check_length(&self) -> Result<(), AudioError> {
        match self.declared_frames {
            Some(declared) if (self.frames as f64) < declared as f64 * TRUNCATED_BELOW => {
                let secs = |frames: u64| frames as f64 / f64::from(self.rate);
                Err(AudioError::Decode(format!(
                    "file is truncated: it holds {:.2} s of the {:.2} s its header declares",
                    secs(self.frames),
                    secs(declared)
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Whether the container's frame count is exact. An MP3 without a LAME tag gets a count
/// symphonia estimated from the bitrate of its first frames, which for VBR can be far off;
/// trusting it would refuse good files.
fn declared_length_is_exact(params: &codecs::CodecParameters) -> bool {
    let mpeg = [
        codecs::CODEC_TYPE_MP1,
        codecs::CODEC_TYPE_MP2,
        codecs::CODEC_TYPE_MP3,
    ];
    !mpeg.contains(&params.codec) || params.delay.is_some()
}

pub(crate) fn codec_name(codec: CodecType) -> String {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map_or_else(|| format!("{codec}"), |d| d.short_name.to_owned())
}
