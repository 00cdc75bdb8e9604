//! A CAP 1.2 flood warning from the province, end to end: a real controller on its embedded
//! broker and two real village nodes writing what they play to WAV files, each placed by the
//! centre. The warning ("Cảnh báo lũ quét", a polygon over Bản Khe) is POSTed as
//! `application/cap+xml`; the controller reads its Vietnamese block out with espeak-ng and
//! sends it, as an emergency, to the station inside the polygon only. Bản Khe's loudspeaker
//! plays the speech; Nà Lừa's, 4 km north, plays nothing.

mod common;

use common::{embedded_controller, start_node, wait_presence, wait_settled, wav_files, Output};
use loa_e2e::alsa;
use serde_json::json;
use std::time::Duration;

const FLOOD: &str = include_str!("../../controller/tests/fixtures/cap/flood-vi.xml");
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_cap_flood_warning_plays_on_the_station_inside_its_polygon_and_not_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let (_controller, api, _) = embedded_controller(dir.path()).await;
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let ban_khe = api.zone("Thôn Bản Khe", Some(commune)).await.unwrap();
    let na_lua = api.zone("Thôn Nà Lừa", Some(commune)).await.unwrap();
    let inside = start_node(&api, dir.path(), "ban-khe-1", ban_khe, Output::WavFiles)
        .await
        .unwrap();
    let outside = start_node(&api, dir.path(), "na-lua-1", na_lua, Output::WavFiles)
        .await
        .unwrap();
    for (id, lat) in [("ban-khe-1", 21.020), ("na-lua-1", 21.060)] {
        api.put(
            &format!("/api/v1/nodes/{id}/location"),
            json!({"latitude": lat, "longitude": 105.010}),
        )
        .await
        .unwrap();
        wait_presence(&api, id, "online").await.unwrap();
    }

    let taken = api
        .post_body("/api/v1/cap", "application/cap+xml", FLOOD.to_owned())
        .await
        .unwrap();
    assert_eq!(taken["decision"], "played", "{taken}");
    assert_eq!(taken["nodes"], json!(["ban-khe-1"]));
    assert_eq!(taken["priority"], "emergency");
    let broadcast = taken["broadcast_id"].as_i64().unwrap();

    let status = wait_settled(&api, broadcast, &["played"], WAIT)
        .await
        .unwrap();
    let deliveries = status["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{status:#}");
    assert_eq!(deliveries[0]["node_id"], "ban-khe-1");

    // Bản Khe heard the warning read out: seconds of speech, not silence.
    let played = wav_files(&inside);
    assert_eq!(played.len(), 1, "{played:?}");
    let s = alsa::wav_stats(&played[0]).unwrap();
    assert!(s.audible_secs() > 3.0, "{}: {s:?}", played[0].display());
    assert!(
        s.rms > 0.01,
        "{}: rms {} is silence",
        played[0].display(),
        s.rms
    );
    // Nà Lừa, outside the polygon, was sent nothing and played nothing.
    assert!(wav_files(&outside).is_empty(), "{:?}", wav_files(&outside));
    // (It was online all along: it could have played, had it been sent the warning.)
    let node = api.get("/api/v1/nodes/na-lua-1").await.unwrap();
    assert_eq!(node["presence"], "online", "{node}");

    // The audit log says what was taken and why.
    let audit = api.get("/api/v1/audit").await.unwrap();
    let line = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "CAP alert")
        .cloned()
        .expect("the alert in the audit log");
    let detail = line["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("played: Severe Immediate, Lũ quét: emergency on 1 station(s)"),
        "{detail}"
    );
}
