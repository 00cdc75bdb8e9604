//! Presence is evidence: the controller says a node is online only when the node has shown
//! itself since the controller (or its broker link) last started, `offline` once the grace
//! passes without it, and a dead link is seen within the time that follows from the node's
//! keep-alive. A delivery whose node is gone when its item expires ends `missed`.
//!
//! Each case runs on the embedded broker and on a real Mosquitto.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{Broker, Controller, Node};
use loa_e2e::wait;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The nodes' MQTT keep-alive in these tests (360 s in the field).
const KEEP_ALIVE_SECS: u64 = 4;
/// The controller's grace for `unknown` nodes in these tests: long enough for a live node to
/// reconnect after the controller's restart (its backoff stays under 10 s here).
const GRACE_SECS: u64 = 20;

/// How soon a node whose link died is shown offline, as `docs/field.md` and
/// `controller/src/presence.rs` document it: the broker publishes the will 1.5 × keep-alive
/// after the node's last packet, and 15 s is the margin for it to be stored.
fn documented_detection(keep_alive_secs: u64) -> Duration {
    Duration::from_millis(keep_alive_secs * 1500) + Duration::from_secs(15)
}

/// Which broker the commune runs on.
#[derive(Clone, Copy, Debug)]
enum On {
    Embedded,
    Mosquitto,
}

/// A commune: a controller (with the test grace), its broker, one village.
struct Site {
    mosquitto: Option<Mosquitto>,
    controller: Controller,
    api: Api,
    village: i64,
}

async fn site(dir: &Path, on: On) -> Site {
    let grace = GRACE_SECS.to_string();
    let env = [("LOA_PRESENCE_GRACE_SECS", grace.as_str())];
    let (mosquitto, broker) = match on {
        On::Embedded => (None, Broker::embedded()),
        On::Mosquitto => {
            let m = Mosquitto::start(&dir.join("mosquitto"), "").await.unwrap();
            let b = Broker::External {
                url: m.url(),
                username: None,
                password: None,
            };
            (Some(m), b)
        }
    };
    let controller = Controller::start_with(&dir.join("controller"), broker, &env)
        .await
        .unwrap();
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let village = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    Site {
        mosquitto,
        controller,
        api,
        village,
    }
}

/// Provisions and starts node `id` with the test keep-alive.
async fn node(s: &Site, dir: &Path, id: &str) -> Node {
    let mut p = prepare_node(&s.api, dir, id, s.village, Output::WavFiles)
        .await
        .unwrap();
    let mut v: toml::Table = toml::from_str(&p.config).unwrap();
    v["mqtt"]
        .as_table_mut()
        .unwrap()
        .insert("keep_alive_secs".into(), (KEEP_ALIVE_SECS as i64).into());
    p.config = toml::to_string(&v).unwrap();
    p.start().unwrap()
}

/// The node's presence as the API shows it.
async fn presence(api: &Api, id: &str) -> anyhow::Result<String> {
    let nodes = api.get("/api/v1/nodes").await?;
    nodes
        .as_array()
        .and_then(|a| a.iter().find(|n| n["id"] == id))
        .and_then(|n| n["presence"].as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("node {id} not listed: {nodes}"))
}

async fn wait_presence(api: &Api, id: &str, want: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    wait::until(&format!("{id} to be {want}"), timeout, || async {
        Ok((presence(api, id).await? == want).then_some(()))
    })
    .await
    .unwrap();
    start.elapsed()
}

/// A node killed while the controller is down is not online when the controller returns,
/// and is offline after the grace; a node that lived on is online again within seconds.
async fn restart_case(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = site(dir.path(), on).await;
    let mut gone = node(&s, dir.path(), "thon-mat").await;
    let _alive = node(&s, dir.path(), "thon-song").await;
    for id in ["thon-mat", "thon-song"] {
        wait_presence(&s.api, id, "online", Duration::from_secs(30)).await;
    }

    s.controller.kill();
    // Killed outright on the embedded broker (which died with the controller); on Mosquitto,
    // frozen with its connection open, so the broker still holds its retained `online` state
    // and has not published its will when the controller comes back.
    match on {
        On::Embedded => gone.kill(),
        On::Mosquitto => gone.signal("STOP").unwrap(),
    }
    s.controller.restart().await.unwrap();
    let back = Instant::now();

    let first = presence(&s.api, "thon-mat").await.unwrap();
    assert_ne!(
        first, "online",
        "{on:?}: a node gone while the controller was down is not online on its return"
    );
    let took = wait_presence(&s.api, "thon-song", "online", Duration::from_secs(30)).await;
    eprintln!("{on:?}: the live node was online again {took:?} after the controller's return");

    // Never online from the return on, and offline within the grace (and a sweep tick).
    let deadline = Duration::from_secs(GRACE_SECS + 15);
    wait::until("the gone node to be offline", deadline, || async {
        let p = presence(&s.api, "thon-mat").await?;
        assert_ne!(p, "online", "{on:?}: the gone node shown online again");
        Ok((p == "offline").then_some(()))
    })
    .await
    .unwrap();
    eprintln!(
        "{on:?}: the gone node offline {:?} after the return",
        back.elapsed()
    );
    if let On::Mosquitto = on {
        gone.signal("CONT").ok();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_controller_restart_only_nodes_that_show_themselves_are_online_embedded() {
    restart_case(On::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_controller_restart_only_nodes_that_show_themselves_are_online_mosquitto() {
    restart_case(On::Mosquitto).await;
}

/// The broker restarts (Mosquitto, its retained messages gone) while one node is frozen: that
/// node is not online once the controller is back on the broker, and is offline after the
/// grace; the other reconnects and is online again within seconds.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_broker_restart_only_nodes_that_show_themselves_are_online_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = site(dir.path(), On::Mosquitto).await;
    let gone = node(&s, dir.path(), "thon-mat").await;
    let _alive = node(&s, dir.path(), "thon-song").await;
    for id in ["thon-mat", "thon-song"] {
        wait_presence(&s.api, id, "online", Duration::from_secs(30)).await;
    }
    gone.signal("STOP").unwrap();
    s.mosquitto.as_mut().unwrap().restart().await.unwrap();

    wait_presence(&s.api, "thon-mat", "unknown", Duration::from_secs(15)).await;
    let took = wait_presence(&s.api, "thon-song", "online", Duration::from_secs(40)).await;
    eprintln!("the live node online again {took:?} after the frozen one turned unknown");
    wait::until(
        "the frozen node to be offline",
        Duration::from_secs(GRACE_SECS + 15),
        || async {
            let p = presence(&s.api, "thon-mat").await?;
            assert_ne!(
                p, "online",
                "the frozen node shown online after the restart"
            );
            Ok((p == "offline").then_some(()))
        },
    )
    .await
    .unwrap();
    gone.signal("CONT").ok();
}

/// A node that vanishes without a goodbye is offline within the documented time at its
/// keep-alive: SIGKILL (the socket closes: at once) and a frozen node whose connection stays
/// open, as a dead radio link leaves it (only the keep-alive catches that).
async fn dead_link_case(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let s = site(dir.path(), on).await;
    let mut killed = node(&s, dir.path(), "thon-kill").await;
    let frozen = node(&s, dir.path(), "thon-dong").await;
    for id in ["thon-kill", "thon-dong"] {
        wait_presence(&s.api, id, "online", Duration::from_secs(30)).await;
    }
    let bound = documented_detection(KEEP_ALIVE_SECS);

    killed.kill();
    let took = wait_presence(&s.api, "thon-kill", "offline", bound).await;
    eprintln!("{on:?}: SIGKILL seen offline after {took:?} (bound {bound:?})");

    frozen.signal("STOP").unwrap();
    let took = wait_presence(&s.api, "thon-dong", "offline", bound).await;
    eprintln!("{on:?}: a frozen node seen offline after {took:?} (bound {bound:?})");
    // The broker waits 1.5 × keep-alive from the node's last packet, which is at most one
    // keep-alive before the freeze: never sooner than half a keep-alive.
    assert!(
        took >= Duration::from_millis(KEEP_ALIVE_SECS * 500) - Duration::from_millis(500),
        "{on:?}: offline after {took:?}, sooner than the keep-alive allows: not the keep-alive"
    );
    frozen.signal("CONT").ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_gone_without_goodbye_is_offline_within_the_keep_alive_bound_embedded() {
    dead_link_case(On::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_gone_without_goodbye_is_offline_within_the_keep_alive_bound_mosquitto() {
    dead_link_case(On::Mosquitto).await;
}

/// The sweep: an item expires while its node is offline; its delivery ends `missed` with
/// the reason, and the broadcast's summary counts it missed, not pending.
async fn sweep_case(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let s = site(dir.path(), on).await;
    let mut n = node(&s, dir.path(), "thon-xa").await;
    wait_presence(&s.api, "thon-xa", "online", Duration::from_secs(30)).await;
    n.kill();
    wait_presence(&s.api, "thon-xa", "offline", Duration::from_secs(30)).await;

    let a = s
        .api
        .announcement("Thông báo", &fixture(TONE))
        .await
        .unwrap();
    // Started 50 s ago with a minute to play: it expires in about 10 s.
    let b = s
        .api
        .broadcast(json!({"announcement_id": a, "zones": [s.village], "at": in_secs(-50), "expires_in_minutes": 1}))
        .await
        .unwrap();
    let d = s
        .api
        .wait_stage(b, "missed", Duration::from_secs(45))
        .await
        .unwrap();
    let reason = d["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("node offline since "),
        "{on:?}: the reason says the node was offline: {d}"
    );
    let v = s.api.broadcast_status(b).await.unwrap();
    assert_eq!(v["summary"]["missed"], 1, "{on:?}: {v}");
    // The village report agrees: missed, nothing left pending.
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let r = s
        .api
        .get(&format!("/api/v1/reports/villages?from={today}&to={today}"))
        .await
        .unwrap();
    let row = r["villages"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["name"] == "Thôn Nà Sài"))
        .unwrap_or_else(|| panic!("{on:?}: no village row in {r}"));
    assert_eq!(
        (&row["missed"], &row["pending"]),
        (&json!(1), &json!(0)),
        "{on:?}: {row}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_item_of_an_offline_node_ends_missed_embedded() {
    sweep_case(On::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_item_of_an_offline_node_ends_missed_mosquitto() {
    sweep_case(On::Mosquitto).await;
}
