//! The capture helpers themselves, checked against a reference player: `aplay` (alsa-utils)
//! playing a fixture into `loa_capture` must come out as long and as loud as it went in.
//! The node's own output is tested the same way in `node/tests/audio_cpal_capture.rs`.

use std::path::Path;
use std::process::Command;

use loa_e2e::alsa::{wav_stats, write_capture_asoundrc, CAPTURE_PCM};

#[test]
fn aplay_into_the_capture_pcm_yields_the_source_audio() {
    let home = tempfile::tempdir().unwrap();
    let captured = home.path().join("captured.wav");
    write_capture_asoundrc(home.path(), &captured).unwrap();
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/tests/fixtures/tone-22050-stereo.wav");

    let listed = Command::new("aplay")
        .arg("-L")
        .env("HOME", home.path())
        .output()
        .expect("aplay (alsa-utils) is needed for this test");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.lines().any(|l| l == CAPTURE_PCM),
        "the hint makes the pcm listable:\n{listed}"
    );

    let status = Command::new("aplay")
        .args(["-q", "-D", CAPTURE_PCM])
        .arg(&source)
        .env("HOME", home.path())
        .status()
        .unwrap();
    assert!(status.success(), "aplay failed: {status}");

    let want = wav_stats(&source).unwrap();
    let got = wav_stats(&captured).unwrap();
    assert_eq!((got.rate, got.channels), (want.rate, want.channels));
    // aplay pads its last period with silence: whole length grows, audible length does not.
    assert!(got.frames >= want.frames);
    assert_eq!(got.audible_frames, want.audible_frames);
    assert!(
        (got.rms - want.rms).abs() < 1e-6,
        "{} vs {}",
        got.rms,
        want.rms
    );
}

#[test]
fn a_capture_whose_header_was_never_finished_still_reads() {
    // The file plugin writes its lengths on close; a player killed mid-way leaves zeros.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unfinished.wav");
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/tests/fixtures/tone-48000-mono.wav");
    let mut bytes = std::fs::read(&source).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[4..8].fill(0);
    bytes[data + 4..data + 8].fill(0);
    std::fs::write(&path, bytes).unwrap();

    let stats = wav_stats(&path).unwrap();
    assert_eq!(
        (stats.rate, stats.channels, stats.frames),
        (48_000, 1, 48_000)
    );
    assert!(stats.audible_frames >= 47_990, "{stats:?}");
}
