//! Faults in sight with real processes: a controller on its embedded broker and two village
//! nodes. One node's loudspeaker output is unplugged (its pcm leaves ALSA's list, as in
//! `device_vanish.rs`); the other node is killed. An emergency to both villages then shows,
//! first on the dashboard and red, for each village; the killed node is offline and the other
//! has a device error, each with a station page; the sweep writes the history, and when the
//! device comes back and the retry plays the emergency, its faults end in that history.

mod common;

use common::*;
use loa_e2e::alsa;
use loa_e2e::api::Api;
use loa_e2e::procs::{with_audio, Broker, Controller, Node};
use loa_e2e::wait;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const DEVICE: &str = "loa_usb";
const LONG: Duration = Duration::from_secs(60);

/// The node whose device is unplugged, in Bản Khoang, and the one killed, in Thôn Nà Sài.
const BROKEN: &str = "khoang-loi";
const KILLED: &str = "na-sai-mat";

/// A page of the web UI, as the admin (the controller's API token works on the pages too).
async fn page(c: &Controller, path: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", c.url))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    // minijinja writes `/` in values as `&#x2f;`.
    r.text().await.unwrap().replace("&#x2f;", "/")
}

/// The faults now, as the API lists them.
async fn faults(api: &Api) -> anyhow::Result<Vec<Value>> {
    Ok(api
        .get("/api/v1/faults")
        .await?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn has(faults: &[Value], node: &str, kind: &str) -> bool {
    faults
        .iter()
        .any(|f| f["node_id"] == node && f["kind"] == kind)
}

/// Starts the node with its output on [`DEVICE`] through cpal and ALSA, `HOME` at
/// `{dir}/home` (whose `.asoundrc` defines the device, captured to a WAV file).
async fn start_broken(api: &Api, dir: &Path, zone: i64) -> (Node, std::path::PathBuf) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let capture = home.join("capture.wav");
    alsa::write_asoundrc(&home, &[(DEVICE, &capture)]).unwrap();
    let cfg = api
        .provision(BROKEN, "Loa bản Khoang", zone, &dir.join("data"))
        .await
        .unwrap();
    let mut audio = toml::toml! { sink = "cpal" };
    audio.insert("device".into(), DEVICE.into());
    let cfg = with_audio(&cfg, audio).unwrap();
    (
        Node::start(BROKEN, dir, &cfg, Some(&home)).unwrap(),
        capture,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_emergency_not_heard_a_dead_node_and_a_broken_device_show_first_with_their_history() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("LOA_PRESENCE_GRACE_SECS", "20")];
    let c = Controller::start_with(&dir.path().join("controller"), Broker::embedded(), &env)
        .await
        .unwrap();
    let api = c.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let khoang = api.zone("Bản Khoang", Some(commune)).await.unwrap();
    let na_sai = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    // Red after 5 s rather than a minute, so the test need not wait.
    api.put("/api/v1/settings", json!({"fault_emergency_after_secs": 5}))
        .await
        .unwrap();

    let (broken, capture) = start_broken(&api, &dir.path().join(BROKEN), khoang).await;
    let mut killed = start_node(&api, dir.path(), KILLED, na_sai, Output::WavFiles)
        .await
        .unwrap();
    for id in [BROKEN, KILLED] {
        wait_presence(&api, id, "online").await.unwrap();
    }
    // Healthy: no faults, and the station page says what the node said of itself.
    let now = faults(&api).await.unwrap();
    assert!(now.is_empty(), "{now:#?}");
    let station = api
        .get(&format!("/api/v1/nodes/{BROKEN}/station"))
        .await
        .unwrap();
    assert_eq!(
        station["software"],
        env!("CARGO_PKG_VERSION"),
        "{station:#}"
    );
    assert!(
        station["disk_free_bytes"].as_u64().is_some_and(|b| b > 0),
        "the node reports its free disk: {station:#}"
    );

    // The device is unplugged; the other node dies.
    alsa::write_asoundrc(&broken.home.clone().unwrap(), &[]).unwrap();
    killed.kill();
    wait_presence(&api, KILLED, "offline").await.unwrap();

    let a = api
        .announcement("Cảnh báo lũ quét", &fixture(TONE))
        .await
        .unwrap();
    let b = api
        .broadcast(
            json!({"announcement_id": a, "zones": [khoang, na_sai], "priority": "emergency"}),
        )
        .await
        .unwrap();

    let now = wait::until("the faults to show", LONG, || async {
        let f = faults(&api).await?;
        let all = has(&f, BROKEN, "emergency_not_played")
            && has(&f, KILLED, "emergency_not_played")
            && has(&f, BROKEN, "device_error")
            && has(&f, KILLED, "offline");
        Ok(all.then_some(f))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", broken.log_tail()));
    assert_eq!(now[0]["severity"], "emergency", "{now:#?}");
    assert_eq!(now[0]["occurrence_id"], b);
    let zones: Vec<&str> = now
        .iter()
        .filter(|f| f["kind"] == "emergency_not_played")
        .map(|f| f["zone"].as_str().unwrap())
        .collect();
    assert_eq!(
        zones,
        ["Xã Tả Lùng / Bản Khoang", "Xã Tả Lùng / Thôn Nà Sài"]
    );

    // The dashboard: the faults first, the emergency red for each village, links to stations.
    let dash = page(&c, "/ui/").await;
    let at = |what: &str| {
        dash.find(what)
            .unwrap_or_else(|| panic!("{what:?} not on the dashboard:\n{dash}"))
    };
    assert!(at(r#"id="faults""#) < at(r#"id="on-air""#));
    at(&format!(
        r#"data-test="emergency-fault" data-broadcast="{b}""#
    ));
    for v in ["Xã Tả Lùng / Bản Khoang", "Xã Tả Lùng / Thôn Nà Sài"] {
        at(&format!(r#"data-test="emergency-village" data-zone="{v}""#));
    }
    at(&format!(
        r#"data-test="fault" data-kind="device_error" data-node="{BROKEN}""#
    ));
    at(&format!(
        r#"data-test="fault" data-kind="offline" data-node="{KILLED}""#
    ));
    at(&format!(r#"href="/ui/nodes/{KILLED}""#));

    // The killed node's page: offline, its faults, the history the sweep wrote, its day.
    wait::until("the sweep to write the history", LONG, || async {
        let st = api.get(&format!("/api/v1/nodes/{KILLED}/station")).await?;
        let open = |kind: &str| {
            st["history"].as_array().is_some_and(|h| {
                h.iter()
                    .any(|r| r["kind"] == kind && r["ended_at"].is_null())
            })
        };
        Ok((open("offline") && open("emergency_not_played")).then_some(()))
    })
    .await
    .unwrap();
    let p = page(&c, &format!("/ui/nodes/{KILLED}")).await;
    for what in [
        format!(r#"id="station" data-node="{KILLED}" data-presence="offline""#),
        r#"data-test="fault" data-kind="emergency_not_played""#.to_string(),
        r#"data-test="fault" data-kind="offline""#.to_string(),
        r#"data-test="history" data-kind="offline" data-open="yes""#.to_string(),
        r#"data-test="today" data-stage="#.to_string(),
        "Cảnh báo lũ quét".to_string(),
    ] {
        assert!(p.contains(&what), "{what:?} not on the station page:\n{p}");
    }

    // The device comes back: the retry plays the emergency, and the broken node's faults end
    // (the history keeps when).
    alsa::write_asoundrc(&broken.home.clone().unwrap(), &[(DEVICE, &capture)]).unwrap();
    wait::until("the broken node's faults to end", LONG, || async {
        let f = faults(&api).await?;
        Ok(
            (!has(&f, BROKEN, "emergency_not_played") && !has(&f, BROKEN, "device_error"))
                .then_some(()),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", broken.log_tail()));
    assert_heard_tone(&capture);
    let f = faults(&api).await.unwrap();
    assert!(has(&f, KILLED, "emergency_not_played"), "{f:#?}");
    wait::until("the history to close the device error", LONG, || async {
        let st = api.get(&format!("/api/v1/nodes/{BROKEN}/station")).await?;
        let closed = st["history"].as_array().is_some_and(|h| {
            h.iter()
                .any(|r| r["kind"] == "device_error" && r["ended_at"].is_string())
        });
        Ok(closed.then_some(()))
    })
    .await
    .unwrap();
    let p = page(&c, &format!("/ui/nodes/{BROKEN}")).await;
    assert!(
        p.contains(r#"data-test="history" data-kind="device_error" data-open="no""#),
        "{p}"
    );
    assert!(
        p.contains(r#"data-test="today" data-stage="played""#),
        "{p}"
    );
}
