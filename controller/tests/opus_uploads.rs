//! `.opus` uploads: Ogg Opus files, which symphonia cannot decode, are checked and measured
//! with libopus. A file made by loa's own encoder from a fixture and one made by ffmpeg's
//! libopus are accepted with the right length; a damaged one and a cut one are refused with a
//! message, and nothing of them is kept.

mod common;

use axum::http::StatusCode;
use common::{fixture_path, sha256_hex, Harness};
use serde_json::json;

/// `tone-44100-mono.wav` (1 s, 44.1 kHz mono) encoded by the controller's own Opus encoder.
fn encoded_fixture() -> Vec<u8> {
    let mut wav = hound::WavReader::open(fixture_path("tone-44100-mono.wav")).expect("fixture");
    let spec = wav.spec();
    let pcm: Vec<f32> = wav
        .samples::<i16>()
        .map(|s| f32::from(s.expect("a sample")) / 32768.0)
        .collect();
    loa_controller::opus::encode_file(
        &pcm,
        spec.sample_rate,
        spec.channels,
        loa_controller::opus::DEFAULT_BITRATE,
    )
    .expect("encodes")
}

async fn assert_opus_accepted(name: &str, bytes: Vec<u8>, channels: u64, seconds: f64) {
    let h = Harness::new().await;
    let r = h.upload(name, bytes.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
    let m = r.json();
    assert_eq!(m["sha256"], sha256_hex(&bytes), "{m}");
    assert_eq!(m["codec"], "opus", "{m}");
    assert_eq!(m["sample_rate"], 48000, "{m}");
    assert_eq!(m["channels"], channels, "{m}");
    let ms = m["duration_ms"].as_f64().expect("a duration");
    // The end position trims the encoder's padding: the length is the source's to 20 ms.
    assert!(
        (ms - seconds * 1000.0).abs() <= 20.0,
        "{name}: {ms} ms, expected {seconds} s"
    );
    let lufs = m["loudness_lufs"]
        .as_f64()
        .expect("the loudness was measured");
    assert!((-40.0..0.0).contains(&lufs), "{name}: {lufs} LUFS");
    let stored = std::fs::read(h.media_dir().join(sha256_hex(&bytes))).expect("kept");
    assert_eq!(stored, bytes);
}

#[tokio::test]
async fn an_opus_file_from_loas_encoder_is_accepted_with_its_length() {
    assert_opus_accepted("tone.opus", encoded_fixture(), 1, 1.0).await;
}

#[tokio::test]
async fn an_opus_file_from_ffmpeg_is_accepted_with_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tone.opus");
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(fixture_path("tone-44100-stereo.mp3"))
        .args(["-c:a", "libopus", "-b:a", "48k"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs (scripts/setup.sh test installs it)");
    assert!(status.success());
    assert_opus_accepted("tone.opus", std::fs::read(&out).unwrap(), 2, 2.0).await;
}

async fn assert_opus_refused(bytes: Vec<u8>, says: &[&str]) {
    let h = Harness::new().await;
    let r = h.upload("broken.opus", bytes).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "media.damaged", says);
    assert_eq!(h.media_files(), Vec::<String>::new(), "files left behind");
    assert_eq!(h.get("/api/v1/media").await.json(), json!([]));
}

#[tokio::test]
async fn a_damaged_opus_file_is_refused_and_nothing_is_kept() {
    let mut bytes = encoded_fixture();
    // Bytes changed in the middle of an audio page: its checksum no longer matches.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0x5a;
    }
    assert_opus_refused(bytes, &["damaged", "Ogg"]).await;
}

#[tokio::test]
async fn a_cut_opus_file_is_refused_as_cut_short() {
    let mut bytes = encoded_fixture();
    bytes.truncate(bytes.len() * 2 / 3);
    assert_opus_refused(bytes, &["cut short", "complete file"]).await;
}
