//! A station's bytes to 48 kHz mono: symphonia (MP3, AAC in ADTS or MP4) fed from the
//! network through a channel, on a blocking thread, into the [`Backlog`].
//!
//! The upstream task sends each chunk of the HTTP body down the channel; [`ChannelReader`]
//! turns them back into a `Read` for symphonia. When the connection ends, the channel closes,
//! the reader reports the end, and the thread returns why it stopped.

use std::io::Read;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use symphonia::core::codecs::audio::{AudioDecoderOptions, CODEC_ID_NULL_AUDIO};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use tokio::sync::mpsc;

use super::backlog::Backlog;
use crate::opus::resample::ToOpusRate;

/// The body of an HTTP response, chunk by chunk, as a blocking `Read`.
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                // The connection ended: the end of this stream.
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The file-name extension symphonia's probe should try first, from the response's
/// `Content-Type`.
pub fn hint_for(content_type: Option<&str>) -> Option<&'static str> {
    let ct = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    match ct.as_str() {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => Some("mp3"),
        "audio/aac" | "audio/aacp" | "audio/x-aac" => Some("aac"),
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" => Some("m4a"),
        _ => None,
    }
}

/// Decodes until the stream ends or cannot be read, pushing 48 kHz mono into `backlog`.
/// Returns why it stopped, for the log. Blocking: run it on its own thread.
pub fn run(reader: ChannelReader, hint: Option<&str>, backlog: Arc<Mutex<Backlog>>) -> String {
    let mss = MediaSourceStream::new(Box::new(ReadOnlySource::new(reader)), Default::default());
    let mut h = Hint::new();
    if let Some(ext) = hint {
        h.with_extension(ext);
    }
    let mut format = match symphonia::default::get_probe().probe(
        &h,
        mss,
        FormatOptions::default(),
        MetadataOptions::default(),
    ) {
        Ok(f) => f,
        Err(e) => return format!("the stream is not audio loa can decode (MP3 or AAC): {e}"),
    };
    let Some((track_id, params)) = format.tracks().iter().find_map(|t| {
        let params = t.codec_params.as_ref()?.audio()?;
        (params.codec != CODEC_ID_NULL_AUDIO).then(|| (t.id, params.clone()))
    }) else {
        return "the stream has no audio track".into();
    };
    let mut decoder = match symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
    {
        Ok(d) => d,
        Err(e) => return format!("no decoder for the stream's audio: {e}"),
    };
    let mut resample: Option<(u32, u16, ToOpusRate)> = None;
    let mut samples: Vec<f32> = Vec::new();
    let mut mono = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => return "the station's stream ended".into(),
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return "the station's stream ended".into()
            }
            Err(e) => return format!("the stream could not be read: {e}"),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A damaged frame in a live stream: skip it, as players do.
            Err(SymError::DecodeError(_)) => continue,
            Err(e) => return format!("the stream's audio could not be decoded: {e}"),
        };
        if buf.frames() == 0 {
            continue;
        }
        let (rate, channels) = (buf.spec().rate(), buf.spec().channels().count() as u16);
        // A new rate or channel count (a station may change between programmes): start over.
        if resample.as_ref().map(|(r, c, _)| (*r, *c)) != Some((rate, channels)) {
            match ToOpusRate::new(rate, channels) {
                Ok(r) => resample = Some((rate, channels, r)),
                Err(e) => return e,
            }
        }
        buf.copy_to_vec_interleaved(&mut samples);
        mono.clear();
        let (_, _, r) = resample.as_mut().expect("set above");
        if let Err(e) = r.process(&samples, &mut mono) {
            return e;
        }
        backlog.lock().expect("backlog lock").push(&mono);
    }
}
