//! PCM in, 20 ms Opus packets out: libopus through the `opus` crate, mono at 48 kHz, at a
//! set bitrate. Input at any rate and channel count is converted first ([`super::resample`]).

use super::resample::ToOpusRate;
use super::{Packet, FRAME};

/// The encoder could not start or failed on a frame.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("the Opus encoder: {0}")]
    Opus(#[from] opus::Error),
    #[error("{0}")]
    Resample(String),
}

/// Largest packet libopus may produce for one frame (its documented recommendation).
const MAX_PACKET: usize = 4000;

pub struct Encoder {
    inner: opus::Encoder,
    resample: ToOpusRate,
    /// 48 kHz mono samples waiting for a whole frame.
    pending: Vec<f32>,
    pre_skip: u16,
}

impl Encoder {
    /// An encoder for PCM at `rate` Hz, `channels` wide, sending `bitrate` bits a second.
    pub fn new(rate: u32, channels: u16, bitrate: u32) -> Result<Self, EncodeError> {
        let mut inner =
            opus::Encoder::new(super::RATE, opus::Channels::Mono, opus::Application::Audio)?;
        inner.set_bitrate(opus::Bitrate::Bits(bitrate.clamp(6_000, 510_000) as i32))?;
        // The decoder's output starts this many samples late: OpusHead says so (pre-skip).
        let pre_skip = inner.get_lookahead()?.clamp(0, i32::from(u16::MAX)) as u16;
        Ok(Encoder {
            inner,
            resample: ToOpusRate::new(rate, channels).map_err(EncodeError::Resample)?,
            pending: Vec::with_capacity(2 * FRAME),
            pre_skip,
        })
    }

    /// Samples (at 48 kHz) a decoder drops at the start.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// Encodes `pcm` (interleaved, at the rate and width given to [`Encoder::new`]); returns
    /// the frames completed so far.
    pub fn push(&mut self, pcm: &[f32]) -> Result<Vec<Packet>, EncodeError> {
        self.resample
            .process(pcm, &mut self.pending)
            .map_err(EncodeError::Resample)?;
        self.drain()
    }

    /// Encodes one frame of 48 kHz mono as it is (the relay's pacer hands whole frames).
    pub fn frame(&mut self, frame: &[f32; FRAME]) -> Result<Packet, EncodeError> {
        encode_one(&mut self.inner, frame)
    }

    /// Encodes what is left, padded with silence to whole frames, so that the last real sample
    /// and the encoder's lookahead are both inside the packets.
    pub fn finish(&mut self) -> Result<Vec<Packet>, EncodeError> {
        self.resample
            .flush(&mut self.pending)
            .map_err(EncodeError::Resample)?;
        let padded = self.pending.len() + usize::from(self.pre_skip);
        self.pending.resize(padded.div_ceil(FRAME) * FRAME, 0.0);
        self.drain()
    }

    fn drain(&mut self) -> Result<Vec<Packet>, EncodeError> {
        let mut out = Vec::with_capacity(self.pending.len() / FRAME);
        let whole = self.pending.len() / FRAME * FRAME;
        for chunk in self.pending[..whole].chunks_exact(FRAME) {
            let frame: &[f32; FRAME] = chunk.try_into().expect("a whole frame");
            out.push(encode_one(&mut self.inner, frame)?);
        }
        self.pending.drain(..whole);
        Ok(out)
    }
}

fn encode_one(inner: &mut opus::Encoder, frame: &[f32; FRAME]) -> Result<Packet, EncodeError> {
    let mut buf = [0u8; MAX_PACKET];
    let n = inner.encode_float(frame, &mut buf)?;
    Ok(Packet {
        data: bytes::Bytes::copy_from_slice(&buf[..n]),
        samples: FRAME as u32,
    })
}
