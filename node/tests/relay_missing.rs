//! An amplifier relay configured on a board whose GPIO chip cannot be opened: the node says so
//! in its state and plays on (the amplifier may be wired always-on). There is no GPIO chip on
//! this machine, which is exactly the case under test. A real controller and node, started
//! from the workspace's built binaries (`cargo build --workspace --bins` first).

mod common;

use common::{audible_secs, fixture, Village, LONG};
use loa_e2e::wait;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_cannot_be_opened_is_in_the_node_state_and_the_node_still_plays() {
    let dir = tempfile::tempdir().unwrap();
    let relay = "[relay]\nchip = \"/dev/gpiochip-absent\"\nline = 17\nlead_ms = 2000\n";
    let v = Village::start(dir.path(), "thon-5", relay).await;
    let a = v
        .api
        .announcement("Thông báo", &fixture("tone-44100-stereo.mp3"))
        .await
        .unwrap();
    let b = v
        .api
        .broadcast(json!({"announcement_id": a, "zones": [v.zone]}))
        .await
        .unwrap();
    let played = v.wait_stage(b, "played").await;
    assert!(played["times"]["failed"].is_null(), "{played:#}");
    assert_eq!(v.wavs().len(), 1);
    assert!((audible_secs(&v.wavs()[0]) - 2.0).abs() < 0.1);

    let api = &v.api;
    let state = wait::until("the node state with its cache use", LONG, || async move {
        let n = api.get("/api/v1/nodes/thon-5").await?;
        let s = n["state"].clone();
        Ok((s["cache_bytes"].as_u64() > Some(0)).then_some(s))
    })
    .await
    .unwrap();
    let error = state["device_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("amplifier relay: cannot open GPIO line 17 on /dev/gpiochip-absent"),
        "the relay's failure is in the node state: {state:#}"
    );
    let mp3 = std::fs::metadata(fixture("tone-44100-stereo.mp3"))
        .unwrap()
        .len();
    assert_eq!(state["cache_bytes"].as_u64(), Some(mp3), "{state:#}");
}
