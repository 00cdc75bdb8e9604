//! On the embedded broker, which has no topic ACL, one node can publish on another's topics.
//! The controller takes nothing from a node's topics that the node did not sign with its own
//! key, and no state older than the last it took: here node A (its own broker account, its
//! own key: a stolen node) tries to speak for node B, and an old state of B is replayed.

mod common;

use common::*;
use loa_e2e::probe::Probe;
use loa_protocol::{Event, EventBatch, EventBody, NodeState, Presence, Stage};
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn another_nodes_signed_or_unsigned_messages_change_nothing_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, api, port) = embedded_controller(dir.path()).await;
    let va = api.zone("Thôn Nà Sài", None).await.unwrap();
    let vb = api.zone("Bản Phiêng", None).await.unwrap();
    let a_cfg = api
        .provision("na-sai-1", "Loa Nà Sài", va, &dir.path().join("a"))
        .await
        .unwrap();
    let mut b = start_node(&api, dir.path(), "phieng-1", vb, Output::WavFiles)
        .await
        .unwrap();
    wait_presence(&api, "phieng-1", "online").await.unwrap();

    // B has a broadcast waiting, an hour ahead: ready, not played.
    let a_id = api.announcement("Họp dân", &fixture(TONE)).await.unwrap();
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let bc = api
        .broadcast(json!({"announcement_id": a_id, "zones": [vb], "at": at}))
        .await
        .unwrap();
    wait_settled(&api, bc, &["ready"], LONG).await.unwrap();

    // Node A's account and key, in an intruder's hands.
    let a_key = loa_protocol::signing_key_from_b64(&config_value(&a_cfg, &["node_key"])).unwrap();
    let a_password = config_value(&a_cfg, &["mqtt", "password"]);
    let mut a = Probe::connect(port, "na-sai-1", Some(("na-sai-1", &a_password)))
        .await
        .unwrap();
    let topics = loa_protocol::Topics::for_site("xa-demo");
    // No ACL here: A can even read B's retained state, as B signed it.
    a.subscribe(&topics.state("phieng-1")).await.unwrap();
    let b_online = a
        .message_on(&topics.state("phieng-1"))
        .await
        .unwrap()
        .payload
        .to_vec();

    // A says B played the broadcast, signed with A's key, then unsigned.
    let claim = EventBatch {
        node: "phieng-1".into(),
        events: vec![Event {
            seq: 1000,
            at: chrono::Utc::now(),
            body: EventBody::Item {
                item: format!("o{bc}"),
                stage: Stage::Played,
                reason: None,
                start_error_ms: Some(0),
            },
        }],
    };
    let events_b = topics.events("phieng-1");
    a.publish(&events_b, &claim.seal(&a_key), false)
        .await
        .unwrap();
    wait_security_report(&api, "phieng-1", "events_refused", 1, "bad signature")
        .await
        .unwrap();
    a.publish(&events_b, &serde_json::to_vec(&claim).unwrap(), false)
        .await
        .unwrap();
    wait_security_report(
        &api,
        "phieng-1",
        "events_refused",
        2,
        "not a signed envelope",
    )
    .await
    .unwrap();

    // A says B is offline, from a later session, signed with A's key, then unsigned.
    let offline = NodeState::offline("phieng-1", u64::MAX / 2);
    let state_b = topics.state("phieng-1");
    a.publish(&state_b, &offline.seal(&a_key), true)
        .await
        .unwrap();
    wait_security_report(&api, "phieng-1", "state_refused", 1, "bad signature")
        .await
        .unwrap();
    a.publish(&state_b, &serde_json::to_vec(&offline).unwrap(), true)
        .await
        .unwrap();
    wait_security_report(
        &api,
        "phieng-1",
        "state_refused",
        2,
        "not a signed envelope",
    )
    .await
    .unwrap();

    // B's records did not move.
    let status = api.broadcast_status(bc).await.unwrap();
    assert_eq!(status["deliveries"][0]["stage"], "ready", "{status:#}");
    let node_b = api.get("/api/v1/nodes/phieng-1").await.unwrap();
    assert_eq!(node_b["presence"], "online", "{node_b:#}");
    assert!(node_b["acked_seq"].as_u64().unwrap() < 1000, "{node_b:#}");

    // B dies: its own will says offline. Its last online state, replayed, changes nothing.
    b.kill();
    wait_presence(&api, "phieng-1", "offline").await.unwrap();
    a.publish(&state_b, &b_online, true).await.unwrap();
    wait_security_report(&api, "phieng-1", "state_replayed", 1, "older")
        .await
        .unwrap();
    let node_b = api.get("/api/v1/nodes/phieng-1").await.unwrap();
    assert_eq!(node_b["presence"], "offline", "{node_b:#}");

    // What A signs on its own topics is A's, and taken.
    let mut own = NodeState::offline("na-sai-1", 7);
    own.presence = Presence::Online;
    own.serial = 1;
    a.publish(&topics.state("na-sai-1"), &own.seal(&a_key), true)
        .await
        .unwrap();
    wait_presence(&api, "na-sai-1", "online").await.unwrap();

    // And B, back, is B again.
    b.restart().unwrap();
    wait_presence(&api, "phieng-1", "online").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn media_needs_the_nodes_own_live_token_and_decommissioning_revokes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (c, api, port) = embedded_controller(dir.path()).await;
    let va = api.zone("Thôn Nà Sài", None).await.unwrap();
    let vb = api.zone("Bản Phiêng", None).await.unwrap();
    let a_cfg = api
        .provision("na-sai-1", "Loa Nà Sài", va, &dir.path().join("a"))
        .await
        .unwrap();
    let b_cfg = api
        .provision("phieng-1", "Loa Phiêng", vb, &dir.path().join("b"))
        .await
        .unwrap();
    let media = api.upload(&fixture(TONE)).await.unwrap();
    let sha = media["sha256"].as_str().unwrap().to_string();
    let ann = api
        .post(
            "/api/v1/announcements",
            json!({"title": "Họp dân", "media_sha256": sha}),
        )
        .await
        .unwrap();
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let bc = api
        .broadcast(json!({"announcement_id": ann["id"], "zones": [va], "at": at}))
        .await
        .unwrap();

    let url = format!("{}/media/{sha}", c.url);
    let http = reqwest::Client::new();
    let get = |token: Option<String>| {
        let req = http.get(&url);
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            (status, body)
        }
    };
    let code = |body: &[u8]| -> String {
        serde_json::from_slice::<serde_json::Value>(body).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a_token = config_value(&a_cfg, &["media_token"]);
    let b_token = config_value(&b_cfg, &["media_token"]);

    let (status, body) = get(None).await;
    assert_eq!((status, code(&body)), (401, "media.token_missing".into()));
    let (status, body) = get(Some(a_token.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(body.to_vec(), std::fs::read(fixture(TONE)).unwrap());
    let (status, body) = get(Some(b_token.clone())).await;
    assert_eq!(
        (status, code(&body)),
        (404, "media.not_in_plan".into()),
        "B's token does not open A's media"
    );
    let (status, body) = get(Some("made-up".into())).await;
    assert_eq!((status, code(&body)), (403, "media.token_invalid".into()));

    // New credentials for A: the old token is revoked at once.
    let fresh = api
        .post("/api/v1/nodes/na-sai-1/credentials", json!({}))
        .await
        .unwrap();
    let new_token = config_value(fresh["config_toml"].as_str().unwrap(), &["media_token"]);
    let (status, body) = get(Some(a_token)).await;
    assert_eq!((status, code(&body)), (403, "media.token_invalid".into()));
    assert_eq!(get(Some(new_token.clone())).await.0, 200);

    // B, decommissioned: its broker account, key and token stop working.
    let b_password = config_value(&b_cfg, &["mqtt", "password"]);
    Probe::connect(port, "phieng-1", Some(("phieng-1", &b_password)))
        .await
        .expect("B may connect before");
    let gone = api.delete("/api/v1/nodes/phieng-1").await.unwrap();
    assert_eq!(gone["id"], "phieng-1");
    let (status, body) = get(Some(b_token)).await;
    assert_eq!((status, code(&body)), (403, "media.token_invalid".into()));
    // rumqttd closes the connection instead of answering "not authorised".
    let refused = Probe::connect(port, "phieng-1", Some(("phieng-1", &b_password))).await;
    assert!(
        refused.is_err(),
        "a decommissioned node's account is closed"
    );
    assert!(api.get("/api/v1/nodes/phieng-1").await.is_err());

    // A, decommissioned: its waiting delivery ends cancelled, saying why.
    let gone = api.delete("/api/v1/nodes/na-sai-1").await.unwrap();
    assert_eq!(gone["cancelled_deliveries"], 1);
    let status = api.broadcast_status(bc).await.unwrap();
    assert_eq!(status["deliveries"][0]["stage"], "cancelled", "{status:#}");
    assert_eq!(status["deliveries"][0]["reason"], "node decommissioned");
    assert_eq!(get(Some(new_token)).await.0, 403);
}
