//! The cpal sink through the real ALSA library, with ALSA's `file` plugin standing in for the
//! loudspeaker (see `loa_e2e::alsa`): every fixture format, decoded, resampled and played
//! through a real pcm, comes out at the device's rate and channels, at full length with no
//! gaps, loud, and at the right pitch on each side.
//!
//! alsa-lib reads `$HOME/.asoundrc` once per process, so this file holds a single test that
//! sets `HOME` before anything touches ALSA. The file plugin rewrites its WAV at every open of
//! the pcm, so each fixture is played, its sink dropped (which writes the WAV's final header)
//! and its capture read before the next one opens the device.

mod common;

use std::sync::atomic::AtomicBool;

use common::{fixture, FIXTURES};
use loa_e2e::alsa::{channel_frequencies, wav_stats, write_capture_asoundrc, CAPTURE_PCM};
use loa_node::audio::{cli, open_sink, play, AudioConfig, AudioError, SinkKind};

#[test]
fn cpal_sink_finds_devices_by_name_and_plays_every_format_through_alsa_with_no_gaps() {
    let home = tempfile::tempdir().unwrap();
    let captured = home.path().join("captured.wav");
    write_capture_asoundrc(home.path(), &captured).unwrap();
    // Edition 2021, one test in this process: nothing else reads the environment meanwhile.
    std::env::set_var("HOME", home.path());

    let devices = cli::list_devices().unwrap();
    assert!(devices.iter().any(|d| d == CAPTURE_PCM), "{devices:?}");

    let missing = AudioConfig {
        device: Some("loa_no_such_device".to_owned()),
        ..AudioConfig::default()
    };
    match open_sink(&missing, "unused") {
        Err(AudioError::Device { device, message }) => {
            assert_eq!(device, "loa_no_such_device");
            assert!(
                message.contains(CAPTURE_PCM),
                "lists what exists: {message}"
            );
        }
        other => panic!("expected a Device error, got {:?}", other.err()),
    }

    let cfg = AudioConfig {
        sink: SinkKind::Cpal,
        device: Some(CAPTURE_PCM.to_owned()),
        ..AudioConfig::default()
    };
    for &(name, _, source_channels, secs) in FIXTURES {
        let mut sink = open_sink(&cfg, "unused").unwrap_or_else(|e| panic!("{name}: {e}"));
        let (rate, channels) = (sink.rate(), sink.channels());
        // `plug` takes anything: the sink should get what it prefers.
        assert_eq!((rate, channels), (48_000, 2), "{name}");
        let mut started = 0;
        let report = play(
            &fixture(name),
            sink.as_mut(),
            1.0,
            &AtomicBool::new(false),
            &mut || started += 1,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(started == 1 && !report.interrupted, "{name}");
        // Closing the pcm makes the file plugin write the final header.
        drop(sink);

        let stats = wav_stats(&captured).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!((stats.rate, stats.channels), (rate, channels), "{name}");
        let written = report.frames as f64 / f64::from(rate);
        assert!(
            (written - secs).abs() <= secs * 0.05,
            "{name}: wrote {written:.3} s, the file lasts {secs} s"
        );
        // No silence before the audio, no gaps inside: the audible span is what was written,
        // less the start of the 10 ms fade-in that is still below the audible threshold, and
        // less what the decoder made beyond the source's length. symphonia does not trim AAC's
        // encoder delay and padding: the M4A decodes 43 ms longer than its source, half of
        // that near-silent at its two ends (the wav sink in `audio_playback.rs` gets the same).
        let fade_in = u64::from(rate) / 100;
        let surplus = report
            .frames
            .saturating_sub((secs * f64::from(rate)) as u64);
        assert!(
            report.frames - stats.audible_frames <= fade_in + surplus,
            "{name}: audible {} frames, written {}",
            stats.audible_frames,
            report.frames
        );
        // At most three device buffers (3 × 100 ms) of silence after the audio.
        let trailing = stats.frames - stats.audible_frames;
        assert!(
            trailing <= u64::from(rate) * 3 / 10,
            "{name}: {trailing} frames of silence around the audio"
        );
        // Amplitude 0.5 sine: rms 0.354. Lossy codecs may shave a little.
        assert!(
            stats.rms > 0.3 && stats.rms < 0.4,
            "{name}: rms {} for a 0.5 tone",
            stats.rms
        );
        // Mono sources play on both sides.
        let right = if source_channels == 2 { 660.0 } else { 440.0 };
        let hz = channel_frequencies(&captured).unwrap();
        for (side, got, want) in [("left", hz[0], 440.0), ("right", hz[1], right)] {
            assert!(
                (got - want).abs() < want * 0.02,
                "{name}: {side} channel at {got:.1} Hz, expected {want} Hz"
            );
        }
    }
}
