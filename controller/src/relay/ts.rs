//! The audio inside an MPEG transport stream (an HLS segment, ISO/IEC 13818-1): the first
//! program's first audio stream (AAC in ADTS, or MPEG audio), its PES payloads joined into
//! the elementary stream the decoder reads. No I/O; tested with packets made here.
//!
//! Hand-written rather than a crate: the kept demuxer (`mpeg2ts-reader`) drives a tree of
//! callbacks meant for video, and takes as much code to use as these few rules take to
//! apply. Only what an audio-only radio segment needs: PAT, PMT, PES; no timestamps (the
//! pacer gives the time), no encryption.

/// A transport stream packet's size.
pub const PACKET: usize = 188;

/// The audio a segment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// AAC in ADTS frames (stream type 0x0F).
    Aac,
    /// MPEG-1/2 audio, MP3 or MP2 (stream types 0x03, 0x04).
    Mpeg,
}

impl Codec {
    /// The extension symphonia's probe should try first.
    pub fn hint(self) -> &'static str {
        match self {
            Codec::Aac => "aac",
            Codec::Mpeg => "mp3",
        }
    }
}

#[derive(Debug, Default)]
pub struct TsAudio {
    /// A partial packet from the last push.
    rest: Vec<u8>,
    pmt_pid: Option<u16>,
    audio: Option<(u16, Codec)>,
}

impl TsAudio {
    /// The audio found so far, once the PMT has named it.
    pub fn codec(&self) -> Option<Codec> {
        self.audio.map(|(_, c)| c)
    }

    /// Takes the next bytes of the stream; appends the audio they carry to `out`. Bytes out of
    /// step (no sync byte where a packet should begin) are skipped up to the next sync byte.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.rest.extend_from_slice(bytes);
        let mut at = 0;
        while self.rest.len() - at >= PACKET {
            if self.rest[at] != 0x47 {
                at += 1;
                continue;
            }
            let packet: [u8; PACKET] = self.rest[at..at + PACKET].try_into().expect("sized");
            self.packet(&packet, out);
            at += PACKET;
        }
        self.rest.drain(..at);
    }

    fn packet(&mut self, p: &[u8; PACKET], out: &mut Vec<u8>) {
        let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
        let start = p[1] & 0x40 != 0;
        let control = (p[3] >> 4) & 0x3;
        if control & 0x1 == 0 {
            return; // no payload
        }
        let mut off = 4;
        if control & 0x2 != 0 {
            off += 1 + usize::from(p[4]);
        }
        if off >= PACKET {
            return;
        }
        let payload = &p[off..];
        if pid == 0 {
            self.pmt_pid = first_program(section(payload, start)).or(self.pmt_pid);
        } else if Some(pid) == self.pmt_pid {
            if let Some(a) = first_audio(section(payload, start)) {
                self.audio = Some(a);
            }
        } else if Some(pid) == self.audio.map(|(p, _)| p) {
            if start {
                // A PES packet begins: 00 00 01, stream id, length, two flag bytes, and the
                // header's own length before the audio.
                if payload.len() >= 9 && payload[..3] == [0, 0, 1] {
                    let from = 9 + usize::from(payload[8]);
                    if from <= payload.len() {
                        out.extend_from_slice(&payload[from..]);
                    }
                }
            } else {
                out.extend_from_slice(payload);
            }
        }
    }
}

/// A table section from a packet that starts one (after its pointer field); None otherwise
/// (a section spanning packets does not happen for the small tables of a radio stream).
fn section(payload: &[u8], start: bool) -> Option<&[u8]> {
    if !start || payload.is_empty() {
        return None;
    }
    let from = 1 + usize::from(payload[0]);
    let s = payload.get(from..)?;
    if s.len() < 3 {
        return None;
    }
    let len = (usize::from(s[1] & 0x0F) << 8) | usize::from(s[2]);
    // The section, less its CRC.
    s.get(..(3 + len).checked_sub(4)?)
}

/// The PAT's first program's PMT PID.
fn first_program(s: Option<&[u8]>) -> Option<u16> {
    let s = s?;
    if s[0] != 0x00 {
        return None;
    }
    s.get(8..)?.chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([e[0], e[1]]);
        (program != 0).then(|| (u16::from(e[2] & 0x1F) << 8) | u16::from(e[3]))
    })
}

/// The PMT's first audio stream loa can decode.
fn first_audio(s: Option<&[u8]>) -> Option<(u16, Codec)> {
    let s = s?;
    if s[0] != 0x02 || s.len() < 12 {
        return None;
    }
    let info = (usize::from(s[10] & 0x0F) << 8) | usize::from(s[11]);
    let mut at = 12 + info;
    while at + 5 <= s.len() {
        let kind = s[at];
        let pid = (u16::from(s[at + 1] & 0x1F) << 8) | u16::from(s[at + 2]);
        let es_info = (usize::from(s[at + 3] & 0x0F) << 8) | usize::from(s[at + 4]);
        let codec = match kind {
            0x0F => Some(Codec::Aac),
            0x03 | 0x04 => Some(Codec::Mpeg),
            _ => None,
        };
        if let Some(c) = codec {
            return Some((pid, c));
        }
        at += 5 + es_info;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One packet: `pid`, payload-unit start, the payload padded by an adaptation field.
    fn packet(pid: u16, start: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x47,
            (pid >> 8) as u8 | if start { 0x40 } else { 0 },
            pid as u8,
        ];
        let room = PACKET - 4;
        assert!(payload.len() <= room);
        if payload.len() == room {
            p.push(0x10);
        } else {
            // Adaptation field of stuffing, then the payload.
            p.push(0x30);
            let af = room - payload.len() - 1;
            p.push(af as u8);
            if af > 0 {
                p.push(0);
                p.extend(std::iter::repeat_n(0xFF, af - 1));
            }
        }
        p.extend_from_slice(payload);
        assert_eq!(p.len(), PACKET);
        p
    }

    /// A table section with a pointer field and a (dummy) CRC.
    fn table(id: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() + 5 + 4;
        let mut s = vec![0, id, 0xB0 | (len >> 8) as u8, len as u8, 0, 1, 0xC1, 0, 0];
        s.extend_from_slice(body);
        s.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
        s
    }

    fn stream(kind: u8, audio: &[&[u8]]) -> Vec<u8> {
        let mut ts = packet(0, true, &table(0x00, &[0, 1, 0xE1, 0x00]));
        // PMT on 0x100: PCR PID, no program info, a video stream then the audio on 0x101.
        ts.extend(packet(
            0x100,
            true,
            &table(
                0x02,
                &[
                    0xE1, 0x01, 0xF0, 0, 0x1B, 0xE1, 0x02, 0xF0, 0, kind, 0xE1, 0x01, 0xF0, 0,
                ],
            ),
        ));
        for (i, a) in audio.iter().enumerate() {
            if i == 0 {
                let mut pes = vec![0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 5, 1, 2, 3, 4, 5];
                pes.extend_from_slice(a);
                ts.extend(packet(0x101, true, &pes));
            } else {
                ts.extend(packet(0x101, false, a));
            }
            // Video between, ignored.
            ts.extend(packet(
                0x102,
                true,
                &[0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0, 9, 9],
            ));
        }
        ts
    }

    #[test]
    fn the_audio_streams_payloads_come_out_joined() {
        let ts = stream(0x0F, &[b"ADTS-1", b"-more", b"-end"]);
        let mut d = TsAudio::default();
        let mut out = Vec::new();
        d.push(&ts, &mut out);
        assert_eq!(out, b"ADTS-1-more-end");
        assert_eq!(d.codec(), Some(Codec::Aac));
    }

    #[test]
    fn bytes_in_odd_pieces_and_out_of_step_give_the_same_audio() {
        let ts = stream(0x03, &[b"MPEG", b"-audio"]);
        let mut noisy = vec![0x00, 0x12];
        noisy.extend_from_slice(&ts);
        let mut d = TsAudio::default();
        let mut out = Vec::new();
        for piece in noisy.chunks(61) {
            d.push(piece, &mut out);
        }
        assert_eq!(out, b"MPEG-audio");
        assert_eq!(d.codec(), Some(Codec::Mpeg));
    }

    #[test]
    fn a_stream_without_audio_loa_decodes_gives_nothing() {
        // 0x11: AAC in LATM, which symphonia does not read.
        let ts = stream(0x11, &[b"LATM"]);
        let mut d = TsAudio::default();
        let mut out = Vec::new();
        d.push(&ts, &mut out);
        assert!(out.is_empty());
        assert_eq!(d.codec(), None);
    }
}
