//! Opus on the controller: what the villages are sent for live and relayed audio.
//!
//! - [`resample`]: any rate and channel count to 48 kHz mono, streaming (rubato).
//! - [`encode`]: PCM in, 20 ms Opus packets out (libopus through the `opus` crate), at the
//!   configured bitrate.
//! - [`ogg_out`]: Opus packets into Ogg pages (RFC 7845: OpusHead, OpusTags, then audio pages
//!   with granule positions), for files and for each listener of a stream.
//!
//! Reading `.opus` uploads is the media probe's (`crate::media::ogg_opus`).

pub mod encode;
pub mod ogg_out;
pub mod resample;

/// Opus always decodes at 48 kHz here; every packet is 20 ms of it.
pub const RATE: u32 = 48_000;
/// Samples in one 20 ms frame at [`RATE`].
pub const FRAME: usize = 960;
/// The bitrate the villages are sent unless the commune sets another: speech and radio news
/// stay clear at 32 kbit/s mono, about 240 KB a minute on a paid 3G/4G link.
pub const DEFAULT_BITRATE: u32 = 32_000;

/// One encoded 20 ms frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub data: bytes::Bytes,
    /// Samples at 48 kHz it decodes to (always [`FRAME`] from our encoder).
    pub samples: u32,
}

/// Encodes a whole recording (interleaved `f32` at `rate`, `channels` wide) to an Ogg Opus file.
pub fn encode_file(
    pcm: &[f32],
    rate: u32,
    channels: u16,
    bitrate: u32,
) -> Result<Vec<u8>, encode::EncodeError> {
    let mut enc = encode::Encoder::new(rate, channels, bitrate)?;
    let mut packets = enc.push(pcm)?;
    packets.extend(enc.finish()?);
    let frames = pcm.len() as u64 / u64::from(channels.max(1));
    let length = frames * u64::from(RATE) / u64::from(rate.max(1));
    let mut out = ogg_out::OggOpus::new(rand::random(), enc.pre_skip(), rate);
    let mut bytes = out.headers();
    let last = packets.len().saturating_sub(1);
    for (i, p) in packets.iter().enumerate() {
        if i == last {
            bytes.extend(out.finish(p, length));
        } else if let Some(page) = out.push(p) {
            bytes.extend(page);
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes an Ogg Opus file with libopus, dropping pre-skip and trimming to the end position.
    fn decode(file: &[u8]) -> Vec<f32> {
        let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(file));
        let head = r.read_packet().unwrap().unwrap();
        assert!(head.first_in_stream() && head.last_in_page());
        assert_eq!(&head.data[..8], b"OpusHead");
        let pre_skip = usize::from(u16::from_le_bytes([head.data[10], head.data[11]]));
        let tags = r.read_packet().unwrap().unwrap();
        assert_eq!(&tags.data[..8], b"OpusTags");
        let mut dec = opus::Decoder::new(RATE, opus::Channels::Mono).unwrap();
        let (mut out, mut buf, mut end) = (Vec::new(), vec![0f32; 5760], 0);
        while let Some(p) = r.read_packet().unwrap() {
            let n = dec.decode_float(&p.data, &mut buf, false).unwrap();
            out.extend_from_slice(&buf[..n]);
            end = p.absgp_page() as usize;
            if p.last_in_stream() {
                break;
            }
        }
        out.truncate(end);
        out.drain(..pre_skip);
        out
    }

    #[test]
    fn a_tone_encoded_at_44100_stereo_decodes_to_the_same_tone_and_length() {
        // 1.5 s of 440 Hz at 44.1 kHz, stereo.
        let secs = 1.5;
        let n = (44_100.0 * secs) as usize;
        let tone = |i: usize, rate: f32| {
            0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate).sin()
        };
        let pcm: Vec<f32> = (0..n).flat_map(|i| [tone(i, 44_100.0); 2]).collect();
        let file = encode_file(&pcm, 44_100, 2, DEFAULT_BITRATE).unwrap();
        let out = decode(&file);
        assert_eq!(out.len(), (48_000.0 * secs) as usize);
        // Past the first frames, the decoded audio follows a 440 Hz tone at 48 kHz: the best
        // phase-aligned correlation over one period is near 1.
        let part = &out[4_800..64_800];
        let best = (0..110)
            .map(|lag| {
                let (mut xy, mut xx, mut yy) = (0f32, 0f32, 0f32);
                for (i, x) in part.iter().enumerate() {
                    let y = tone(i + 4_800 + lag, 48_000.0);
                    xy += x * y;
                    xx += x * x;
                    yy += y * y;
                }
                xy / (xx * yy).sqrt()
            })
            .fold(f32::MIN, f32::max);
        assert!(best > 0.95, "correlation {best}");
        // 32 kbit/s: about 4 KB a second, plus the pages' headers.
        let per_sec = file.len() as f64 / secs;
        assert!(
            (3_000.0..6_000.0).contains(&per_sec),
            "{per_sec} bytes a second"
        );
    }
}
