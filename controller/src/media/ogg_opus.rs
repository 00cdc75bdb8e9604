//! The probe of Ogg Opus files (`.opus`, RFC 7845), which symphonia cannot decode: the
//! headers are checked, every packet is decoded with libopus, and the length, completeness
//! and loudness come out as for any other upload.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ogg::reading::{OggReadError, PacketReader};

use super::{MediaError, Probed};

/// Whether the file's first Ogg page carries an OpusHead packet.
pub fn is_ogg_opus(path: &Path) -> std::io::Result<bool> {
    let mut first = [0u8; 64];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < first.len() {
        match f.read(&mut first[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let first = &first[..n];
    // The page header is 27 bytes, then one lacing value per segment, then the packet.
    let Some(&segments) = first.get(26) else {
        return Ok(false);
    };
    let at = 27 + usize::from(segments);
    Ok(first.starts_with(b"OggS") && first.get(at..at + 8) == Some(b"OpusHead"))
}

/// What the OpusHead packet says.
struct Head {
    channels: u8,
    pre_skip: u16,
}

fn head(packet: &[u8]) -> Result<Head, MediaError> {
    if packet.len() < 19 || !packet.starts_with(b"OpusHead") {
        return Err(MediaError::NotAudio(
            "an Ogg file whose first packet is not an Opus header".into(),
        ));
    }
    let version = packet[8];
    if version >> 4 != 0 {
        return Err(MediaError::NotAudio(format!(
            "Ogg Opus version {version}, which is newer than loa reads"
        )));
    }
    let channels = packet[9];
    let family = packet[18];
    if channels == 0 || channels > 2 || family != 0 {
        return Err(MediaError::NotAudio(format!(
            "Opus with {channels} channels (mapping family {family}); loa plays mono or stereo"
        )));
    }
    Ok(Head {
        channels,
        pre_skip: u16::from_le_bytes([packet[10], packet[11]]),
    })
}

fn damaged(e: OggReadError) -> MediaError {
    match e {
        OggReadError::ReadError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            MediaError::Damaged(
                "it ends in the middle of an Ogg page: it is cut short; upload the complete file"
                    .into(),
            )
        }
        OggReadError::ReadError(io) => MediaError::Io(io),
        other => MediaError::Damaged(format!("the Ogg container: {other}")),
    }
}

/// Decodes the whole file with libopus.
pub fn probe(path: &Path) -> Result<Probed, MediaError> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Err(MediaError::Empty);
    }
    let mut reader = PacketReader::new(std::io::BufReader::new(file));
    let first = reader
        .read_packet()
        .map_err(damaged)?
        .ok_or(MediaError::NoAudio)?;
    let head = head(&first.data)?;
    let serial = first.stream_serial();
    let tags = reader
        .read_packet()
        .map_err(damaged)?
        .ok_or(MediaError::NoAudio)?;
    if !tags.data.starts_with(b"OpusTags") {
        return Err(MediaError::Damaged(
            "the second packet is not the Opus comment header".into(),
        ));
    }
    let channels = if head.channels == 2 {
        opus::Channels::Stereo
    } else {
        opus::Channels::Mono
    };
    let mut decoder = opus::Decoder::new(crate::opus::RATE, channels)
        .map_err(|e| MediaError::Damaged(format!("the Opus decoder: {e}")))?;
    let mut meter = ebur128::EbuR128::new(
        u32::from(head.channels),
        crate::opus::RATE,
        ebur128::Mode::I,
    )
    .ok();
    // 120 ms, the longest an Opus packet can be, of each channel.
    let mut pcm = vec![0f32; 5760 * usize::from(head.channels)];
    let (mut decoded, mut good, mut bad) = (0u64, 0u32, 0u32);
    let mut last_granule = None;
    let mut ended = false;
    while let Some(packet) = reader.read_packet().map_err(damaged)? {
        if packet.stream_serial() != serial {
            continue;
        }
        match decoder.decode_float(&packet.data, &mut pcm, false) {
            Ok(n) => {
                good += 1;
                decoded += n as u64;
                if let Some(m) = meter.as_mut() {
                    let _ = m.add_frames_f32(&pcm[..n * usize::from(head.channels)]);
                }
            }
            Err(_) => bad += 1,
        }
        if packet.last_in_page() {
            last_granule = Some(packet.absgp_page());
        }
        ended = packet.last_in_stream();
    }
    if good == 0 {
        return Err(MediaError::NoAudio);
    }
    if bad > 2 && bad * 10 > good {
        return Err(MediaError::Damaged(format!(
            "{bad} of {} Opus packets do not decode",
            bad + good
        )));
    }
    if !ended {
        return Err(MediaError::Damaged(
            "its last Ogg page does not end the stream: it is cut short; upload the complete file"
                .into(),
        ));
    }
    let pre_skip = u64::from(head.pre_skip);
    // The last page's position is the length plus pre-skip; what decodes past it is padding.
    let samples = match last_granule {
        Some(g) if g >= pre_skip && g - pre_skip <= decoded => g - pre_skip,
        _ => decoded.saturating_sub(pre_skip),
    };
    if samples == 0 {
        return Err(MediaError::NoAudio);
    }
    Ok(Probed {
        codec: "opus".into(),
        sample_rate: crate::opus::RATE,
        channels: u16::from(head.channels),
        duration_ms: samples * 1000 / u64::from(crate::opus::RATE),
        loudness_lufs: meter
            .and_then(|m| m.loudness_global().ok())
            .filter(|l| l.is_finite()),
    })
}
