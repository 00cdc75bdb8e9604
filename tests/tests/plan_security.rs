//! A node obeys only fresh plans the commune's controller signed for it: here an intruder
//! holding another node's broker account (a stolen node) replays an old plan (also across the
//! node's restart), sends a stale one, another node's, and forged ones. The node refuses each,
//! says why, and the controller keeps the report; the cancelled broadcast in the old plan
//! never plays.

mod common;

use common::*;
use loa_e2e::probe::Probe;
use loa_e2e::procs::Controller;
use loa_protocol::{Plan, Topics};
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The controller's current signing key, from its data directory.
fn controller_key(c: &Controller) -> ed25519_dalek::SigningKey {
    let text = std::fs::read_to_string(c.data_dir.join("controller.key")).unwrap();
    loa_protocol::signing_key_from_b64(&text).unwrap()
}

/// Waits until the node says it holds the plan version the controller last published.
async fn wait_plan_applied(api: &loa_e2e::api::Api, node: &str) {
    loa_e2e::wait::until("the node to apply its latest plan", LONG, || async {
        let n = api.get(&format!("/api/v1/nodes/{node}")).await?;
        Ok((n["state"]["plan_version"] == n["plan_version"]).then_some(()))
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_stale_foreign_and_forged_plans_are_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (c, api, port) = embedded_controller(dir.path()).await;
    let va = api.zone("Thôn Nà Sài", None).await.unwrap();
    let vb = api.zone("Bản Phiêng", None).await.unwrap();
    let mut a = start_node(&api, dir.path(), "na-sai-1", va, Output::WavFiles)
        .await
        .unwrap();
    let b_cfg = api
        .provision("phieng-1", "Loa Phiêng", vb, &dir.path().join("b"))
        .await
        .unwrap();
    let b_password = config_value(&b_cfg, &["mqtt", "password"]);
    let mut intruder = Probe::connect(port, "phieng-1", Some(("phieng-1", &b_password)))
        .await
        .unwrap();
    let topics = Topics::for_site("xa-demo");
    let plan_a = topics.plan("na-sai-1");

    // A broadcast 25 s ahead reaches A; the intruder keeps A's plan that holds it.
    let ann = api.announcement("Họp dân", &fixture(TONE)).await.unwrap();
    let x_at = chrono::Utc::now() + chrono::Duration::seconds(25);
    let x = api
        .broadcast(json!({"announcement_id": ann, "zones": [va], "at": x_at.to_rfc3339()}))
        .await
        .unwrap();
    wait_settled(&api, x, &["ready"], LONG).await.unwrap();
    intruder.subscribe(&plan_a).await.unwrap();
    let old = intruder.message_on(&plan_a).await.unwrap().payload.to_vec();
    let old_version = loa_protocol::envelope::peek::<Plan>(&old).unwrap().version;

    // The clerk cancels it: a newer plan without it.
    api.post(&format!("/api/v1/broadcasts/{x}/cancel"), json!({}))
        .await
        .unwrap();
    wait_settled(&api, x, &["cancelled"], LONG).await.unwrap();
    wait_plan_applied(&api, "na-sai-1").await;

    // 1. The old plan, replayed (retained, so A gets it again on every reconnect).
    intruder.publish(&plan_a, &old, true).await.unwrap();
    let says = format!("older plan version {old_version}");
    wait_security_report(&api, "na-sai-1", "plan_refused_by_node", 1, &says)
        .await
        .unwrap();
    // ... and again once A has restarted (a power cut): its highest version survived on
    // its disk, so the old plan is still older.
    let session = |n: serde_json::Value| n["state"]["session"].as_u64();
    let before = session(api.get("/api/v1/nodes/na-sai-1").await.unwrap());
    a.restart().unwrap();
    loa_e2e::wait::until("A to be back in a new session", LONG, || async {
        let now = session(api.get("/api/v1/nodes/na-sai-1").await?);
        Ok((now.is_some() && now != before).then_some(()))
    })
    .await
    .unwrap();
    intruder.publish(&plan_a, &old, true).await.unwrap();
    wait_security_report(&api, "na-sai-1", "plan_refused_by_node", 2, &says)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", a.log_tail()));

    // 2. A stale plan: truly signed, but its validity ended a day ago.
    let key = controller_key(&c);
    let mut stale = loa_protocol::envelope::peek::<Plan>(&old).unwrap();
    stale.version = 1_000_000;
    stale.issued_at = chrono::Utc::now() - chrono::Duration::days(4);
    stale.valid_until = chrono::Utc::now() - chrono::Duration::days(1);
    intruder
        .publish(&plan_a, &stale.seal(&key), true)
        .await
        .unwrap();
    wait_security_report(&api, "na-sai-1", "plan_refused_by_node", 3, "stale plan")
        .await
        .unwrap();

    // 3. Another node's plan, truly signed, on A's topic.
    let plan_b = topics.plan("phieng-1");
    intruder.subscribe(&plan_b).await.unwrap();
    let theirs = intruder.message_on(&plan_b).await.unwrap().payload.to_vec();
    intruder.publish(&plan_a, &theirs, true).await.unwrap();
    wait_security_report(
        &api,
        "na-sai-1",
        "plan_refused_by_node",
        4,
        "is for node \"phieng-1\"",
    )
    .await
    .unwrap();

    // 4. Forged: the same fresh plan signed with another key; and B's own key.
    let mut forged = loa_protocol::envelope::peek::<Plan>(&old).unwrap();
    forged.version = 2_000_000;
    forged.issued_at = chrono::Utc::now();
    forged.valid_until = chrono::Utc::now() + chrono::Duration::hours(1);
    intruder
        .publish(&plan_a, &forged.seal(&loa_protocol::generate_key()), true)
        .await
        .unwrap();
    wait_security_report(&api, "na-sai-1", "plan_refused_by_node", 5, "bad signature")
        .await
        .unwrap();
    let b_key = loa_protocol::signing_key_from_b64(&config_value(&b_cfg, &["node_key"])).unwrap();
    intruder
        .publish(&plan_a, &forged.seal(&b_key), true)
        .await
        .unwrap();
    wait_security_report(&api, "na-sai-1", "plan_refused_by_node", 6, "bad signature")
        .await
        .unwrap();

    // The cancelled broadcast's time passes: it never played.
    loa_e2e::wait::until("the cancelled broadcast's time to pass", LONG, || async {
        Ok((chrono::Utc::now() > x_at + chrono::Duration::seconds(3)).then_some(()))
    })
    .await
    .unwrap();
    // A real broadcast still plays, and it is the only thing A ever played.
    let real = api
        .broadcast(json!({"announcement_id": ann, "zones": [va]}))
        .await
        .unwrap();
    wait_settled(&api, real, &["played"], LONG).await.unwrap();
    assert_eq!(wav_files(&a).len(), 1, "{}", a.log_tail());
    let status = api.broadcast_status(x).await.unwrap();
    assert_eq!(status["deliveries"][0]["stage"], "cancelled", "{status:#}");
}
