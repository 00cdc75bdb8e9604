//! MPEG audio files (MP3, and MP2/MP1) decoded with nanomp3, a safe Rust port of minimp3.
//!
//! On the node it replaces symphonia for these files only: it decodes the same MP3 in about
//! two thirds of symphonia's time and a little under `mpg123`'s (BENCHMARKS.md, "MP3 through
//! nanomp3"), which is most of what playing an announcement costs a village's board. Like
//! symphonia's gapless mode it trims the encoder's delay and padding (the LAME tag), so an
//! announcement lasts exactly as long as its recording. Damaged frames are skipped, as any MP3
//! player does.
//!
//! Unlike the other formats, an MP3 that comes out shorter than its LAME tag declares still
//! plays. nanomp3 drops a damaged frame where symphonia, which checked the upload on the
//! controller, decodes it: refusing on the length would refuse files the controller accepted
//! (the `media_probe` fuzz target found such files). A file cut short cannot reach a node's
//! loudspeaker: the controller refuses it at upload, and the node plays only what matches the
//! SHA-256 the plan names.

use std::fs::File;
use std::io::{Read, Seek};
use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;

use tracing::warn;

use super::AudioError;

/// An MPEG audio file being decoded.
pub(crate) struct Mp3File {
    reader: nanomp3::Reader<File, f32>,
    rate: u32,
    channels: u16,
    layer: u8,
    /// The decoder panicked: nothing more comes out.
    broken: bool,
}

impl Mp3File {
    /// Opens `file`, already known to be MPEG audio ([`is_mpeg_audio`]).
    /// A panic in the decoder on a damaged file is an error, which makes the caller try
    /// symphonia instead.
    pub(crate) fn open(file: File) -> Result<Self, AudioError> {
        std::panic::catch_unwind(AssertUnwindSafe(move || Self::open_unguarded(file)))
            .unwrap_or_else(|_| {
                Err(AudioError::Decode(
                    "the MP3 decoder failed on the file's first frames".to_owned(),
                ))
            })
    }

    fn open_unguarded(mut file: File) -> Result<Self, AudioError> {
        let layer = first_layer(&mut file)?;
        // No scan of the whole file for its length: the node plays from the start, and the
        // LAME tag, when there is one, gives the length anyway.
        let options = nanomp3::Options::default().skip_scan(true);
        let reader = nanomp3::Reader::with_options(file, options).map_err(from_nanomp3)?;
        let channels = reader
            .channels()
            .ok_or_else(|| AudioError::Decode("the file holds no audio".to_owned()))?;
        Ok(Mp3File {
            rate: reader.sample_rate(),
            channels: u16::from(channels.num()),
            layer,
            broken: false,
            reader,
        })
    }

    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    pub(crate) fn channels(&self) -> u16 {
        self.channels
    }

    /// The codec's name, as symphonia names it.
    pub(crate) fn codec(&self) -> &'static str {
        match self.layer {
            1 => "mp1",
            2 => "mp2",
            _ => "mp3",
        }
    }

    /// The next frame's interleaved samples, `None` at the end.
    ///
    /// The stream ends, with a warning, where the frames stop matching the first one's rate,
    /// layer or channels: a file cut in the middle of a frame ends so, and another stream
    /// appended to an announcement is not played.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        if self.broken {
            return Ok(None);
        }
        let reader = &mut self.reader;
        let Ok(frame) = std::panic::catch_unwind(AssertUnwindSafe(move || {
            let reader = reader;
            reader.read_frame()
        })) else {
            // nanomp3 0.2 panics on some damaged frames that symphonia, on the controller,
            // decodes (an index out of bounds; found by fuzzing `media_probe`). The decoder's
            // state is not to be trusted after that: the stream ends here.
            warn!("the MP3 decoder failed on a damaged frame; playing what came before");
            self.broken = true;
            return Ok(None);
        };
        match frame {
            Err(nanomp3::Error::FormatChanged) => {
                warn!(
                    "the MP3 stops matching its first frame's rate, layer or channels (cut \
                     short, or another stream appended); playing what came before"
                );
                Ok(None)
            }
            other => other.map_err(from_nanomp3),
        }
    }
}

/// Whether `file` is MPEG audio: it starts with an ID3v2 tag, or consistent MPEG frames follow
/// each other in its first 16 KiB (minimp3's test). Files that name another container in their
/// first bytes are not even looked at. Leaves `file` at its start.
pub(crate) fn is_mpeg_audio(file: &mut File) -> bool {
    let mut magic = [0u8; 12];
    let n = file.read(&mut magic).unwrap_or(0);
    let other = [&b"RIFF"[..], b"fLaC", b"OggS", b"FORM"]
        .iter()
        .any(|m| magic[..n].starts_with(m))
        || (n >= 8 && &magic[4..8] == b"ftyp");
    let mpeg = !other && nanomp3::detect_reader(&mut *file).unwrap_or(false);
    let _ = file.rewind();
    mpeg
}

/// The MPEG layer of the first frame (1, 2 or 3). Leaves `file` at its start.
fn first_layer(file: &mut File) -> Result<u8, AudioError> {
    let mut layer = None;
    nanomp3::for_each_frame_reader(&mut *file, |frame| {
        layer = Some(frame.layer);
        ControlFlow::Break(())
    })
    .map_err(|e| AudioError::io("reading the MP3 file", e))?;
    file.rewind()
        .map_err(|e| AudioError::io("reading the MP3 file", e))?;
    layer.ok_or_else(|| AudioError::Decode("the file holds no audio".to_owned()))
}

fn from_nanomp3(e: nanomp3::Error) -> AudioError {
    match e {
        nanomp3::Error::Io(e) => AudioError::io("reading the MP3 file", e),
        e => AudioError::Decode(e.to_string()),
    }
}
