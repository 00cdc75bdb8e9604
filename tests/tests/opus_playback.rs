//! An Ogg Opus recording, uploaded like any other, reaches a village loudspeaker through real
//! ALSA and sounds like its source: the capture of the `file` plugin contains the source
//! melody (cross-correlation), at full length.
//!
//! The recording is made here: a melody of short notes at pseudo-random pitches (it lines up
//! with itself one way only), encoded by ffmpeg with libopus as a phone or a recorder would.
//! This test needs the controller to accept `.opus` uploads, which the controller side of
//! issue 14 adds; until then the upload is refused and this test fails at that step.

mod common;

use common::*;
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::xcorr::{find, melody, mono, write_wav};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const SECS: f64 = 3.0;

#[tokio::test]
async fn an_opus_upload_is_played_and_the_capture_matches_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let source = melody(SECS, 48_000, 60, 14);
    let wav = dir.path().join("source.wav");
    write_wav(&wav, &source, 48_000).unwrap();
    let opus = dir.path().join("thong-bao.opus");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-c:a", "libopus", "-b:a", "32k"])
        .arg(&opus)
        .status()
        .expect("ffmpeg (scripts/setup.sh test) is needed for this test");
    assert!(status.success(), "ffmpeg failed: {status}");

    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = controller.api();
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let node = start_node(&api, dir.path(), "na-sai-1", zone, Output::AlsaCapture)
        .await
        .unwrap();
    let announcement = api
        .announcement("Thông báo tiêm phòng", &opus)
        .await
        .expect("the controller accepts an Ogg Opus upload");
    let b = api
        .broadcast(json!({"announcement_id": announcement, "zones": [zone]}))
        .await
        .unwrap();
    wait_settled(&api, b, &["played"], Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_tail()));

    let captured = loa_e2e::pcm::read(&capture_of(&node)).unwrap();
    assert_eq!(captured.rate, 48_000);
    let heard = mono(&captured.samples, captured.channels);
    let m = find(&heard, &source).expect("the capture is at least as long as the source");
    assert!(
        m.score > 0.8,
        "the capture does not sound like the source: {m:?}"
    );
    let audible = loa_e2e::alsa::wav_stats(&capture_of(&node))
        .unwrap()
        .audible_secs();
    assert!(
        (audible - SECS).abs() < 0.1,
        "heard {audible:.3} s of a {SECS} s recording"
    );
}
