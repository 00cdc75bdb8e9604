//! The playback pipeline end to end, file → decoder → resampler → wav sink, on the fixtures
//! `scripts/make-fixtures.sh` made (`common::FIXTURES`): a 440 Hz tone (660 Hz on the right of
//! stereo files), audible from the first sample to the last. The same files through the real
//! ALSA library are in `audio_cpal_capture.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use common::{fixture, FIXTURES};
use loa_e2e::alsa::{channel_frequencies, wav_stats};
use loa_node::audio::{open_sink, play, probe, AudioConfig, PlayReport, SinkKind};

fn wav_config(dir: &Path, rate: u32, channels: u16) -> AudioConfig {
    AudioConfig {
        sink: SinkKind::Wav,
        wav_dir: Some(dir.to_owned()),
        rate,
        channels,
        ..AudioConfig::default()
    }
}

/// Plays `name` into `{dir}/{label}.wav` and returns the report and the file.
fn play_to_wav(name: &str, cfg: &AudioConfig, gain: f32) -> (PlayReport, PathBuf) {
    let label = name.replace('.', "_");
    let mut sink = open_sink(cfg, &label).unwrap();
    let mut first_frames = 0;
    let report = play(
        &fixture(name),
        sink.as_mut(),
        gain,
        &AtomicBool::new(false),
        &mut || first_frames += 1,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(first_frames, 1, "{name}: on_first_frame once");
    let out = cfg.wav_dir.as_ref().unwrap().join(format!("{label}.wav"));
    (report, out)
}

fn assert_within_5_percent(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= want * 0.05,
        "{what}: {got:.3} s, expected {want:.3} s ± 5 %"
    );
}

#[test]
fn every_format_plays_at_full_length_and_pitch_at_48k_stereo() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = wav_config(dir.path(), 48_000, 2);
    for &(name, _, source_channels, secs) in FIXTURES {
        let (report, out) = play_to_wav(name, &cfg, 1.0);
        assert!(!report.interrupted);
        assert_within_5_percent(name, report.frames as f64 / 48_000.0, secs);
        let stats = wav_stats(&out).unwrap();
        assert_eq!((stats.rate, stats.channels), (48_000, 2), "{name}");
        assert_eq!(
            stats.frames, report.frames,
            "{name}: the file holds what was written"
        );
        assert_within_5_percent(name, stats.audible_secs(), secs);
        // Amplitude 0.5 sine: rms 0.354. Lossy codecs may shave a little.
        assert!(
            stats.rms > 0.3 && stats.rms < 0.4,
            "{name}: rms {}",
            stats.rms
        );
        // Mono sources play on both sides.
        let right = if source_channels == 2 { 660.0 } else { 440.0 };
        let hz = channel_frequencies(&out).unwrap();
        for (side, got, want) in [("left", hz[0], 440.0), ("right", hz[1], right)] {
            assert!(
                (got - want).abs() < want * 0.02,
                "{name}: {side} channel at {got:.1} Hz, expected {want} Hz"
            );
        }
    }
}

#[test]
fn output_follows_the_sinks_rate_and_channels() {
    // Down to 22.05 kHz mono: stereo sources are averaged, everything is resampled.
    let dir = tempfile::tempdir().unwrap();
    let cfg = wav_config(dir.path(), 22_050, 1);
    for &(name, _, _, secs) in FIXTURES {
        let (report, out) = play_to_wav(name, &cfg, 1.0);
        let stats = wav_stats(&out).unwrap();
        assert_eq!((stats.rate, stats.channels), (22_050, 1), "{name}");
        assert_within_5_percent(name, report.frames as f64 / 22_050.0, secs);
        assert_within_5_percent(name, stats.audible_secs(), secs);
        assert!(stats.rms > 0.15, "{name}: rms {}", stats.rms);
    }
}

#[test]
fn lossless_resampling_keeps_the_exact_length() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = wav_config(dir.path(), 48_000, 2);
    for &(name, rate, _, secs) in FIXTURES.iter().filter(|f| f.0.ends_with(".wav")) {
        let (report, _) = play_to_wav(name, &cfg, 1.0);
        let source_frames = (f64::from(rate) * secs) as u64;
        assert_eq!(
            report.frames,
            source_frames * 48_000 / u64::from(rate),
            "{name}"
        );
    }
}

#[test]
fn gain_scales_the_level() {
    let dir = tempfile::tempdir().unwrap();
    let full = wav_config(&dir.path().join("full"), 48_000, 2);
    let half = wav_config(&dir.path().join("half"), 48_000, 2);
    let (_, loud) = play_to_wav("tone-44100-mono.wav", &full, 1.0);
    let (_, soft) = play_to_wav("tone-44100-mono.wav", &half, 0.5);
    let ratio = wav_stats(&soft).unwrap().rms / wav_stats(&loud).unwrap().rms;
    assert!((ratio - 0.5).abs() < 0.01, "rms ratio {ratio}");
}

#[test]
fn null_sink_takes_everything_without_pacing() {
    let cfg = AudioConfig {
        sink: SinkKind::Null,
        ..AudioConfig::default()
    };
    let mut sink = open_sink(&cfg, "ignored").unwrap();
    let report = play(
        &fixture("tone-8000-mono.wav"),
        sink.as_mut(),
        1.0,
        &AtomicBool::new(false),
        &mut || {},
    )
    .unwrap();
    assert_eq!(report.frames, 2 * 48_000);
}

#[test]
fn probe_reports_what_each_file_holds() {
    for &(name, rate, channels, secs) in FIXTURES {
        let info = probe(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((info.rate, info.channels), (rate, channels), "{name}");
        assert_within_5_percent(name, info.duration_ms as f64 / 1000.0, secs);
        let codec = name.rsplit('.').next().unwrap();
        let expected = match codec {
            "ogg" => "vorbis",
            "m4a" => "aac",
            "wav" => "pcm_s16le",
            other => other,
        };
        assert_eq!(info.codec, expected, "{name}");
    }
}

#[test]
fn an_id3_tag_in_front_of_another_format_does_not_make_it_mp3() {
    // Taggers put ID3v2 in front of FLAC files too; the MP3 decoder takes the tag as its cue,
    // finds no MPEG frame, and symphonia plays the file.
    let dir = tempfile::tempdir().unwrap();
    // ID3v2.3, 15 bytes of frames: a title, "Loa".
    let mut bytes =
        b"ID3\x03\x00\x00\x00\x00\x00\x0fTIT2\x00\x00\x00\x05\x00\x00\x00Loa\x00".to_vec();
    bytes.extend(std::fs::read(fixture("tone-48000-stereo.flac")).unwrap());
    let path = dir.path().join("tagged.flac");
    std::fs::write(&path, bytes).unwrap();
    let info = probe(&path).unwrap();
    assert_eq!(info.codec, "flac");
    assert_within_5_percent("tagged.flac", info.duration_ms as f64 / 1000.0, 1.0);
}
