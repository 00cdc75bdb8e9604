//! Ogg Opus (RFC 7845) decoded with libopus (the `opus` crate), for files and for streams.
//!
//! [`OpusPackets`] turns the packets of one logical stream into interleaved `f32` samples at
//! 48 kHz: the first packet is the `OpusHead` (channels, pre-skip, output gain), the second the
//! `OpusTags` (ignored), then audio. It drops the pre-skip at the start, applies the output
//! gain, and at the end of a file trims the last packet to the length the final granule
//! position gives. A stream joined in the middle starts with a high granule position; nothing
//! here depends on it. [`OpusFile`] reads a file through [`OggDemux`] into it.

use std::fs::File;
use std::io::Read;

use ogg::Packet;

use super::ogg_demux::OggDemux;
use super::AudioError;

/// Opus always decodes at 48 kHz here (libopus resamples internally to any of its rates; 48 kHz
/// is the format's own and what the node's sinks prefer).
pub(crate) const RATE: u32 = 48_000;

/// The longest Opus packet: 120 ms at 48 kHz, per channel.
const MAX_PACKET_FRAMES: usize = 5760;

/// Corrupt packets tolerated in a row before the audio counts as undecodable.
const MAX_BAD_PACKETS_IN_A_ROW: u32 = 20;

/// What an `OpusHead` packet says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OpusHead {
    pub channels: u16,
    /// Samples (per channel, at 48 kHz) to drop at the start: the encoder's priming.
    pub pre_skip: u64,
    /// The output gain, linear.
    pub gain: f32,
}

/// Reads an `OpusHead` packet (RFC 7845 §5.1).
pub(crate) fn parse_head(data: &[u8]) -> Result<OpusHead, AudioError> {
    if data.len() < 19 || &data[..8] != b"OpusHead" {
        return Err(AudioError::Decode(
            "an Ogg stream that is not Opus (no OpusHead)".to_owned(),
        ));
    }
    if data[8] >> 4 != 0 {
        return Err(AudioError::Decode(format!(
            "Opus header version {} is not supported",
            data[8]
        )));
    }
    let channels = u16::from(data[9]);
    if !(1..=2).contains(&channels) || data[18] != 0 {
        return Err(AudioError::Decode(format!(
            "Opus with {channels} channels (mapping family {}) is not supported: mono or \
             stereo only",
            data[18]
        )));
    }
    let pre_skip = u64::from(u16::from_le_bytes([data[10], data[11]]));
    // Q7.8 decibels.
    let gain_db = f32::from(i16::from_le_bytes([data[16], data[17]])) / 256.0;
    Ok(OpusHead {
        channels,
        pre_skip,
        gain: 10f32.powf(gain_db / 20.0),
    })
}

/// One logical Ogg Opus stream, packet by packet.
pub(crate) struct OpusPackets {
    head: OpusHead,
    decoder: opus::Decoder,
    /// Packets seen after the head: the first is the tags.
    after_head: u64,
    /// Samples per channel decoded so far, pre-skip included.
    decoded: u64,
    bad_in_a_row: u32,
    pcm: Vec<f32>,
    /// What the last packet yields: a range of `pcm`.
    out: std::ops::Range<usize>,
}

impl OpusPackets {
    /// Starts from the stream's first packet, its `OpusHead`.
    pub(crate) fn new(head_packet: &[u8]) -> Result<Self, AudioError> {
        let head = parse_head(head_packet)?;
        let channels = if head.channels == 1 {
            opus::Channels::Mono
        } else {
            opus::Channels::Stereo
        };
        let decoder = opus::Decoder::new(RATE, channels)
            .map_err(|e| AudioError::Decode(format!("the Opus decoder cannot start: {e}")))?;
        Ok(OpusPackets {
            head,
            decoder,
            after_head: 0,
            decoded: 0,
            bad_in_a_row: 0,
            pcm: vec![0.0; MAX_PACKET_FRAMES * usize::from(head.channels)],
            out: 0..0,
        })
    }

    pub(crate) fn channels(&self) -> u16 {
        self.head.channels
    }

    /// Decodes one packet; true if it yields samples ([`Self::samples`]): the tags, the
    /// pre-skip and what lies past the end of a file yield none.
    pub(crate) fn decode(&mut self, packet: &Packet) -> Result<bool, AudioError> {
        self.out = 0..0;
        self.after_head += 1;
        if self.after_head == 1 {
            // OpusTags: nothing to play.
            return Ok(false);
        }
        let ch = usize::from(self.head.channels);
        let frames = match self
            .decoder
            .decode_float(&packet.data, &mut self.pcm, false)
        {
            Ok(n) => {
                self.bad_in_a_row = 0;
                n
            }
            Err(e) => {
                self.bad_in_a_row += 1;
                if self.bad_in_a_row > MAX_BAD_PACKETS_IN_A_ROW {
                    return Err(AudioError::Decode(format!("corrupt Opus data ({e})")));
                }
                tracing::warn!(error = %e, "concealing a corrupt Opus packet");
                // libopus conceals a lost packet from what came before.
                self.decoder
                    .decode_float(&[], &mut self.pcm[..960 * ch], false)
                    .unwrap_or(0)
            }
        };
        let start_of_packet = self.decoded;
        self.decoded += frames as u64;
        // Drop what falls in the pre-skip.
        let skip = self
            .head
            .pre_skip
            .saturating_sub(start_of_packet)
            .min(frames as u64) as usize;
        let mut end = frames;
        if packet.last_in_stream() && self.decoded > packet.absgp_page() {
            // The final granule position says where the audio ends (RFC 7845 §4.5).
            end -= (self.decoded - packet.absgp_page()).min(frames as u64) as usize;
        }
        self.out = skip.min(end) * ch..end * ch;
        if self.head.gain != 1.0 {
            let gain = self.head.gain;
            self.pcm[self.out.clone()]
                .iter_mut()
                .for_each(|s| *s *= gain);
        }
        Ok(!self.out.is_empty())
    }

    /// The samples of the last packet decoded, interleaved, at 48 kHz.
    pub(crate) fn samples(&self) -> &[f32] {
        &self.pcm[self.out.clone()]
    }
}

/// An Ogg Opus file, read in blocks.
pub(crate) struct OpusFile {
    reader: FileReader,
    packets: OpusPackets,
}

impl OpusFile {
    /// Opens `file` (positioned at its start) and reads its `OpusHead`.
    pub(crate) fn open(file: File) -> Result<Self, AudioError> {
        let mut reader = FileReader {
            file,
            demux: OggDemux::new(),
            eof: false,
        };
        let head = reader
            .next_packet()?
            .ok_or_else(|| AudioError::Decode("the file holds no audio".to_owned()))?;
        let packets = OpusPackets::new(&head.data)?;
        Ok(OpusFile { reader, packets })
    }

    pub(crate) fn channels(&self) -> u16 {
        self.packets.channels()
    }

    /// The next non-empty run of samples, `None` at the end.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        loop {
            let Some(packet) = self.reader.next_packet()? else {
                return Ok(None);
            };
            if self.packets.decode(&packet)? {
                return Ok(Some(self.packets.samples()));
            }
        }
    }
}

/// Reads packets out of a file through the demuxer.
struct FileReader {
    file: File,
    demux: OggDemux,
    eof: bool,
}

impl FileReader {
    fn next_packet(&mut self) -> Result<Option<Packet>, AudioError> {
        let mut block = [0u8; 8192];
        loop {
            if let Some(p) = self.demux.next_packet()? {
                return Ok(Some(p));
            }
            if self.eof {
                return Ok(None);
            }
            let n = self
                .file
                .read(&mut block)
                .map_err(|e| AudioError::io("reading the Opus file", e))?;
            if n == 0 {
                self.eof = true;
                if self.demux.has_partial_page() {
                    return Err(AudioError::Decode(
                        "the file is truncated (its last Ogg page is cut short)".to_owned(),
                    ));
                }
            }
            self.demux.push(&block[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ogg::{PacketWriteEndInfo, PacketWriter};

    /// An Ogg Opus file made here with libopus: `secs` of a 440 Hz sine at amplitude 0.25,
    /// mono, with `gain_db` in its head and the encoder's own lookahead as pre-skip.
    fn encode(secs: f64, gain_db: f32) -> (Vec<u8>, u64) {
        let mut enc =
            opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::Audio).unwrap();
        let pre_skip = enc.get_lookahead().unwrap() as u16;
        let total = (secs * f64::from(RATE)) as usize;
        let pcm: Vec<f32> = (0..total)
            .map(|i| 0.25 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / RATE as f32).sin())
            .collect();
        let mut head = b"OpusHead".to_vec();
        head.push(1);
        head.push(1);
        head.extend(pre_skip.to_le_bytes());
        head.extend(RATE.to_le_bytes());
        head.extend(((gain_db * 256.0) as i16).to_le_bytes());
        head.push(0);
        let mut out = Vec::new();
        let mut w = PacketWriter::new(&mut out);
        w.write_packet(head, 1, PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        w.write_packet(
            b"OpusTags\0\0\0\0\0\0\0\0".to_vec(),
            1,
            PacketWriteEndInfo::EndPage,
            0,
        )
        .unwrap();
        // The input padded with the pre-skip's worth of silence, so every sample gets out.
        let mut padded = pcm.clone();
        padded.resize(total + usize::from(pre_skip) + 960, 0.0);
        let frames: Vec<&[f32]> = padded.chunks_exact(960).collect();
        for (i, f) in frames.iter().enumerate() {
            let last = i + 1 == frames.len();
            let granule = if last {
                total as u64 + u64::from(pre_skip)
            } else {
                (i as u64 + 1) * 960
            };
            let end = if last {
                PacketWriteEndInfo::EndStream
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            let packet = enc.encode_vec_float(f, 4000).unwrap();
            w.write_packet(packet, 1, end, granule).unwrap();
        }
        drop(w);
        (out, total as u64)
    }

    fn decode_all(bytes: &[u8]) -> (Vec<f32>, u16) {
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), bytes).unwrap();
        let mut f = OpusFile::open(File::open(path.path()).unwrap()).unwrap();
        let mut all = Vec::new();
        while let Some(chunk) = f.next_chunk().unwrap() {
            all.extend_from_slice(chunk);
        }
        (all, f.channels())
    }

    fn rms(s: &[f32]) -> f32 {
        (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt()
    }

    #[test]
    fn pre_skip_and_the_final_granule_give_the_exact_length() {
        let (bytes, total) = encode(0.5, 0.0);
        let (pcm, channels) = decode_all(&bytes);
        assert_eq!(channels, 1);
        assert_eq!(pcm.len() as u64, total, "exactly the samples encoded");
        // Amplitude 0.25: rms 0.177; the encoder's first samples ramp up.
        let r = rms(&pcm[4800..]);
        assert!((r - 0.177).abs() < 0.02, "rms {r}");
    }

    #[test]
    fn the_heads_output_gain_is_applied() {
        let (plain, _) = decode_all(&encode(0.5, 0.0).0);
        let (louder, _) = decode_all(&encode(0.5, 6.0).0);
        let ratio = rms(&louder[4800..]) / rms(&plain[4800..]);
        assert!((ratio - 1.995).abs() < 0.05, "+6 dB is ×2, got ×{ratio}");
    }

    #[test]
    fn heads_loa_cannot_play_are_refused_in_words() {
        let mut head = b"OpusHead".to_vec();
        head.extend([1, 6, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 1]);
        let err = parse_head(&head).unwrap_err().to_string();
        assert!(err.contains("6 channels"), "{err}");
        let err = parse_head(b"Speex   stuff here 123")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not Opus"), "{err}");
    }
}
