//! The cpal sink through the real ALSA library, heard by ALSA's `file` plugin (see
//! `loa_e2e::alsa`). alsa-lib reads `$HOME/.asoundrc` once per process, so this file holds a
//! single test that sets `HOME` before anything touches ALSA.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use loa_e2e::alsa::{wav_stats, write_capture_asoundrc, CAPTURE_PCM};
use loa_node::audio::{cli, open_sink, play, AudioConfig, AudioError, SinkKind};

#[test]
fn cpal_sink_finds_devices_by_name_and_plays_through_alsa_with_no_gaps() {
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
    let mut sink = open_sink(&cfg, "unused").unwrap();
    let (rate, channels) = (sink.rate(), sink.channels());
    // `plug` takes anything: the sink should get what it prefers.
    assert_eq!((rate, channels), (48_000, 2));
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tone-44100-stereo.mp3");
    let mut started = false;
    let report = play(
        &fixture,
        sink.as_mut(),
        1.0,
        &AtomicBool::new(false),
        &mut || started = true,
    )
    .unwrap();
    assert!(started && !report.interrupted);
    // Closing the pcm makes the file plugin write the final header.
    drop(sink);

    let stats = wav_stats(&captured).unwrap();

    assert_eq!((stats.rate, stats.channels), (rate, channels));
    let secs = stats.audible_secs();
    assert!(
        (secs - 2.0).abs() <= 2.0 * 0.05,
        "audible for {secs:.3} s, the file lasts 2 s"
    );
    assert!(
        stats.rms > 0.3,
        "rms {} is too quiet for a 0.5 tone",
        stats.rms
    );
    // No silence before the audio, no gaps inside (the audible span equals what was written,
    // less the start of the 10 ms fade-in that is still below the audible threshold), and at
    // most three device buffers (3 × 100 ms) of silence after it.
    let fade_in = u64::from(rate) / 100;
    assert!(
        report.frames - stats.audible_frames <= fade_in,
        "audible {} frames, written {}",
        stats.audible_frames,
        report.frames
    );
    let trailing = stats.frames - stats.audible_frames;
    assert!(
        trailing <= u64::from(rate) * 3 / 10,
        "{trailing} frames of silence around the audio"
    );
}
