//! A cached file damaged on the node's card after it was fetched: the node finds out before
//! playing, reports the failure, fetches the file again and still plays the announcement.
//! A real controller and node, started from the workspace's built binaries
//! (`cargo build --workspace --bins` first).

mod common;

use common::{audible_secs, fixture, Village};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_cached_file_is_reported_fetched_again_and_played() {
    let dir = tempfile::tempdir().unwrap();
    let v = Village::start(dir.path(), "ban-phieng", "").await;
    let media = v
        .api
        .upload(&fixture("tone-44100-stereo.mp3"))
        .await
        .unwrap();
    let sha = media["sha256"].as_str().unwrap().to_string();
    let a = v
        .api
        .post(
            "/api/v1/announcements",
            json!({"title": "Thông báo", "media_sha256": sha}),
        )
        .await
        .unwrap();
    let start = chrono::Utc::now() + chrono::Duration::seconds(12);
    let b = v
        .api
        .broadcast(json!({"announcement_id": a["id"], "zones": [v.zone], "at": start.to_rfc3339()}))
        .await
        .unwrap();
    v.wait_stage(b, "ready").await;

    // One flipped byte, as a failing SD card would, before the node prepares to play.
    let cached = v.node.dir.join("data/cache").join(&sha);
    let mut bytes = std::fs::read(&cached).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&cached, bytes).unwrap();
    assert!(
        chrono::Utc::now() < start - chrono::Duration::milliseconds(1500),
        "the node took too long to get ready: the test could not damage the file in time"
    );

    let played = v.wait_stage(b, "played").await;
    assert!(
        played["times"]["failed"].is_string(),
        "the corrupt file was reported as a failure: {played:#}"
    );
    let ledger = std::fs::read_to_string(v.node.dir.join("data/ledger.json")).unwrap();
    assert!(
        ledger.contains(loa_node::cache::CORRUPT_REASON),
        "the failure says why: {ledger}"
    );
    assert!(
        v.node.log_tail().contains("does not match its SHA-256"),
        "{}",
        v.node.log_tail()
    );
    assert_eq!(
        loa_node::cache::sha256_of(&cached).unwrap(),
        sha,
        "fetched again, whole"
    );
    let wavs = v.wavs();
    assert_eq!(wavs.len(), 1, "{wavs:?}");
    let heard = audible_secs(&wavs[0]);
    assert!(
        (heard - 2.0).abs() < 0.1,
        "the whole announcement played: {heard:.3} s"
    );
}
