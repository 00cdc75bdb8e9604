//! The controller's signing key is rotated without visiting the villages: every plan announces
//! the next key under the current one; once the nodes have seen it, the controller switches.
//! A node that was offline during the switch but had seen the announcement follows; one that
//! never saw it refuses the new plans (reported) until it gets a new config file; the old key
//! is refused afterwards.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::probe::Probe;
use loa_e2e::procs::{with_audio, Node};
use loa_protocol::{Plan, Topics};
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The keys node `id`'s last state says it accepts.
async fn accepted(api: &Api, id: &str) -> anyhow::Result<Vec<String>> {
    let n = api.get(&format!("/api/v1/nodes/{id}")).await?;
    Ok(serde_json::from_value(n["state"]["controller_keys"].clone()).unwrap_or_default())
}

/// Waits until node `id` accepts exactly `keys`.
async fn wait_accepts(api: &Api, id: &str, keys: &[&str]) {
    let what = format!("{id} to accept {keys:?}");
    loa_e2e::wait::until(&what, LONG, || async {
        Ok((accepted(api, id).await? == keys).then_some(()))
    })
    .await
    .unwrap();
}

async fn broadcast_played(api: &Api, ann: i64, zones: &[i64]) -> Value {
    let b = api
        .broadcast(json!({"announcement_id": ann, "zones": zones}))
        .await
        .unwrap();
    wait_settled(api, b, &["played"], LONG).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_reaches_a_node_offline_at_the_switch_and_the_old_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (c, api, port) = embedded_controller(dir.path()).await;
    let va = api.zone("Thôn Nà Sài", None).await.unwrap();
    let vb = api.zone("Bản Phiêng", None).await.unwrap();
    let vc = api.zone("Bản Mù", None).await.unwrap();
    let a = start_node(&api, dir.path(), "na-sai-1", va, Output::WavFiles)
        .await
        .unwrap();
    let mut b = start_node(&api, dir.path(), "phieng-1", vb, Output::WavFiles)
        .await
        .unwrap();
    // C is installed but switched off for the whole rotation.
    let c_node = prepare_node(&api, dir.path(), "mu-1", vc, Output::WavFiles)
        .await
        .unwrap();
    let old = api.get("/api/v1/keys").await.unwrap()["current"]
        .as_str()
        .unwrap()
        .to_string();
    let old_secret = std::fs::read_to_string(c.data_dir.join("controller.key")).unwrap();
    wait_accepts(&api, "na-sai-1", &[&old]).await;
    wait_accepts(&api, "phieng-1", &[&old]).await;

    // 1. Announce the next key: A and B see it.
    let v = api.post("/api/v1/keys/rotate", json!({})).await.unwrap();
    let next = v["next"].as_str().unwrap().to_string();
    wait_accepts(&api, "na-sai-1", &[&old, &next]).await;
    wait_accepts(&api, "phieng-1", &[&old, &next]).await;

    // 2. B goes offline; C never saw the announcement, so the switch waits for a decision.
    b.kill();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/keys/commit", c.url))
        .bearer_auth(&c.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "keys.not_seen");
    assert!(body["error"].as_str().unwrap().contains("mu-1"), "{body}");
    assert!(
        !body["error"].as_str().unwrap().contains("phieng-1"),
        "{body}"
    );
    let v = api
        .post("/api/v1/keys/commit", json!({"force": true}))
        .await
        .unwrap();
    assert_eq!(
        (v["current"].as_str(), v["next"].as_null()),
        (Some(next.as_str()), Some(()))
    );

    // 3. A moves to the new key and plays; B, back, follows from the announcement it saw.
    wait_accepts(&api, "na-sai-1", &[&next]).await;
    b.restart().unwrap();
    wait_accepts(&api, "phieng-1", &[&next]).await;
    let ann = api.announcement("Họp dân", &fixture(TONE)).await.unwrap();
    broadcast_played(&api, ann, &[va, vb]).await;
    assert_eq!(wav_files(&a).len(), 1);
    assert_eq!(wav_files(&b).len(), 1);

    // 4. C, switched on, refuses plans signed by a key it never heard of, and says so.
    let mut c_run = c_node.start().unwrap();
    wait_security_report(&api, "mu-1", "plan_refused_by_node", 1, "bad signature")
        .await
        .unwrap();
    // New credentials give it the new key; it plays.
    c_run.kill();
    let fresh = api
        .post("/api/v1/nodes/mu-1/credentials", json!({}))
        .await
        .unwrap();
    let mut audio = toml::toml! { sink = "wav" };
    audio.insert(
        "wav_dir".into(),
        c_node.dir.join("wav").display().to_string().into(),
    );
    let config = with_audio(fresh["config_toml"].as_str().unwrap(), audio).unwrap();
    let config = loa_e2e::procs::with_key(
        &config,
        "data_dir",
        c_node.dir.join("data").display().to_string().into(),
    )
    .unwrap();
    let c_run = Node::start("mu-1", &c_node.dir, &config, None).unwrap();
    wait_accepts(&api, "mu-1", &[&next]).await;
    broadcast_played(&api, ann, &[vc]).await;
    assert_eq!(wav_files(&c_run).len(), 1);

    // 5. The old key is refused now: a plan for A, fresh and newer, signed with it.
    let topics = Topics::for_site("xa-demo");
    // Someone with B's account (the embedded broker wants B's id as client id: B is off).
    let b_cfg = std::fs::read_to_string(&b.config).unwrap();
    b.kill();
    let mut intruder = Probe::connect(
        port,
        "phieng-1",
        Some(("phieng-1", &config_value(&b_cfg, &["mqtt", "password"]))),
    )
    .await
    .unwrap();
    intruder.subscribe(&topics.plan("na-sai-1")).await.unwrap();
    let current = intruder
        .message_on(&topics.plan("na-sai-1"))
        .await
        .unwrap()
        .payload
        .to_vec();
    let mut replay = loa_protocol::envelope::peek::<Plan>(&current).unwrap();
    replay.version += 1000;
    replay.issued_at = chrono::Utc::now();
    replay.valid_until = chrono::Utc::now() + chrono::Duration::hours(1);
    let old_key = loa_protocol::signing_key_from_b64(&old_secret).unwrap();
    intruder
        .publish(&topics.plan("na-sai-1"), &replay.seal(&old_key), true)
        .await
        .unwrap();
    wait_security_report(&api, "na-sai-1", "plan_refused_by_node", 1, "bad signature")
        .await
        .unwrap();
}
