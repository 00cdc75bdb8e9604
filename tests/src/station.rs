//! The recording a test radio station plays (five tones, 0.8 s each, over and over: a 4 s
//! cycle at 48 kHz mono) and how to recognise it in what a node heard: the best normalised
//! cross-correlation against the loop, and the longest silence (a gap in the relay).

use std::path::Path;

pub const RATE: usize = 48_000;
/// The station's recording: these tones, 0.8 s each, over and over (a 4 s cycle).
const TONES: [f64; 5] = [440.0, 550.0, 660.0, 880.0, 990.0];
const TONE_SECS: f64 = 0.8;

/// One 4 s cycle of the recording, at 48 kHz mono.
pub fn cycle() -> Vec<f32> {
    let per = (TONE_SECS * RATE as f64) as usize;
    TONES
        .iter()
        .flat_map(|hz| {
            (0..per).map(move |i| {
                (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / RATE as f64).sin()) as f32
            })
        })
        .collect()
}

/// Writes one cycle as a 16-bit WAV, for ffmpeg to loop to the station.
pub fn write_recording(path: &Path) -> anyhow::Result<()> {
    let samples: Vec<i16> = cycle().iter().map(|s| (s * 32767.0) as i16).collect();
    write_wav(path, &samples)
}

/// Writes 16-bit mono samples at 48 kHz as a WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for s in samples {
        w.write_sample(*s)?;
    }
    w.finalize()?;
    Ok(())
}

/// Averages of `k` samples: a cheap low-pass and a smaller search for the correlation.
fn decimate(x: &[f32], k: usize) -> Vec<f32> {
    x.chunks_exact(k)
        .map(|c| c.iter().sum::<f32>() / k as f32)
        .collect()
}

/// The best normalised cross-correlation of `heard` (48 kHz mono) against the looping
/// recording, over every lag of one cycle (both decimated by 8: tones under 1 kHz pass).
pub fn correlation_with_recording(heard: &[f32]) -> f32 {
    let src = decimate(&cycle(), 8);
    let x = decimate(heard, 8);
    let xx: f32 = x.iter().map(|v| v * v).sum();
    (0..src.len())
        .map(|lag| {
            let (mut xy, mut yy) = (0f32, 0f32);
            for (i, v) in x.iter().enumerate() {
                let y = src[(lag + i) % src.len()];
                xy += v * y;
                yy += y * y;
            }
            xy / (xx * yy).sqrt().max(f32::EPSILON)
        })
        .fold(f32::MIN, f32::max)
}

/// The longest stretch of silence (20 ms frames under −40 dBFS) in `pcm` (48 kHz), in seconds.
pub fn longest_silence(pcm: &[f32]) -> f64 {
    let (mut run, mut best) = (0usize, 0usize);
    for f in pcm.chunks(960) {
        let rms = (f.iter().map(|v| v * v).sum::<f32>() / f.len() as f32).sqrt();
        if rms < 0.01 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best as f64 * 0.02
}

/// Decodes an Ogg Opus stream (possibly cut in the middle of a page) with libopus, as a node
/// would: the OpusHead and OpusTags packets first (mono, checked), then 48 kHz mono audio.
pub fn decode_ogg_opus(bytes: &[u8]) -> Vec<f32> {
    let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(bytes));
    let mut out = Vec::new();
    let Ok(Some(head)) = r.read_packet() else {
        return out;
    };
    assert_eq!(
        &head.data[..8],
        b"OpusHead",
        "the stream starts with OpusHead"
    );
    assert_eq!(head.data[9], 1, "mono");
    let Ok(Some(tags)) = r.read_packet() else {
        return out;
    };
    assert_eq!(&tags.data[..8], b"OpusTags", "then OpusTags");
    let mut dec = opus::Decoder::new(RATE as u32, opus::Channels::Mono).unwrap();
    let mut buf = vec![0f32; 5760];
    while let Ok(Some(p)) = r.read_packet() {
        let n = dec
            .decode_float(&p.data, &mut buf, false)
            .expect("a valid Opus packet");
        out.extend_from_slice(&buf[..n]);
    }
    out
}
