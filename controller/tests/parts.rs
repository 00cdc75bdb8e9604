//! What an item holds on each node, in process with a real SQLite and the real planner: the
//! commune's chime first (per node and per item), then the announcement's recording in each of
//! the zone's languages, in the zone's order (inherited down the tree); volume per node and per
//! item; the replay-or-resume policy; and the delivery record of each part a node played.

mod common;

use axum::http::StatusCode;
use chrono::Utc;
use common::Harness;
use loa_protocol::{AfterPreempt, Event, EventBody, Plan};
use serde_json::{json, Value};

fn labels(plan: &Plan) -> Vec<Vec<String>> {
    plan.items
        .iter()
        .map(|i| i.parts.iter().map(|p| p.label().to_owned()).collect())
        .collect()
}

async fn ok(r: common::Reply, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    r.json()
}

async fn broadcast(h: &Harness, body: Value) -> Value {
    ok(
        h.post_json("/api/v1/broadcasts", body).await,
        StatusCode::CREATED,
    )
    .await
}

async fn set_languages(h: &Harness, zone: i64, langs: Value) -> Value {
    let uri = format!("/api/v1/zones/{zone}/languages");
    ok(
        h.put_json(&uri, json!({ "languages": langs })).await,
        StatusCode::OK,
    )
    .await
}

/// A commune with three villages: Nà Sài hears H'Mông then Vietnamese, Phiêng inherits the
/// commune's default (Vietnamese), Cốc hears Thái only. Returns the commune's zone id and an
/// announcement recorded in Vietnamese and H'Mông.
async fn commune(h: &Harness) -> (i64, i64) {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let na_sai = h.zone("Thôn Nà Sài", Some(commune)).await;
    let phieng = h.zone("Bản Phiêng", Some(commune)).await;
    let coc = h.zone("Bản Cốc", Some(commune)).await;
    for (node, zone) in [("na-sai-1", na_sai), ("phieng-1", phieng), ("coc-1", coc)] {
        h.node(node, zone).await;
    }
    let v = set_languages(h, na_sai, json!(["hmn", "vi"])).await;
    assert_eq!(v["effective"], json!(["hmn", "vi"]));
    set_languages(h, coc, json!(["tai"])).await;

    let vi = h.uploaded("tone-44100-stereo.mp3").await;
    let hmn = h.uploaded("tone-22050-mono.ogg").await;
    let a = ok(
        h.post_json(
            "/api/v1/announcements",
            json!({"title": "Thông báo tiêm phòng", "recordings": [
                {"language": "vi", "media_sha256": vi},
                {"language": "hmn", "media_sha256": hmn},
            ]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(a["media_sha256"], vi, "the first recording is the main one");
    assert_eq!(a["recordings"][1]["language"], "hmn");
    (commune, a["id"].as_i64().unwrap())
}

#[tokio::test]
async fn each_village_hears_the_chime_then_its_languages_in_its_order() {
    let h = Harness::new().await;
    let (commune, a) = commune(&h).await;
    let chime = h.uploaded("tone-8000-mono.wav").await;
    let s = ok(
        h.put_json("/api/v1/settings", json!({"chime_media": chime}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["chime_media"], chime);
    assert_eq!(s["languages"], json!(["vi"]));

    let b = broadcast(&h, json!({"announcement_id": a, "zones": [commune]})).await;
    let want = [
        ("na-sai-1", vec!["chime", "hmn", "vi"]),
        ("phieng-1", vec!["chime", "vi"]),
        // Cốc hears Thái, which this announcement lacks: its main recording plays.
        ("coc-1", vec!["chime", "vi"]),
    ];
    for (node, parts) in &want {
        let plan = h.plan(node).await;
        assert_eq!(labels(&plan), std::slice::from_ref(parts), "{node}");
        let item = &plan.items[0];
        assert_eq!(item.parts[0].media.sha256, chime, "{node}");
        assert_eq!(
            item.duration_ms(),
            item.parts.iter().map(|p| p.media.duration_ms).sum::<u64>()
                + 400 * (parts.len() as u64 - 1)
        );
        assert_eq!(plan.after_preempt, AfterPreempt::Replay, "the default");
    }

    // The delivery record lists each node's parts, none played yet.
    let id = b["id"].as_i64().unwrap();
    let view = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    let na_sai = view["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["node_id"] == "na-sai-1")
        .unwrap()
        .clone();
    let parts: Vec<&str> = na_sai["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["chime", "hmn", "vi"]);
    assert!(na_sai["parts"][0]["played_at"].is_null());

    // The node reports the chime and the H'Mông part played; the record shows each.
    let item = h.plan("na-sai-1").await.items[0].id.clone();
    let at = Utc::now();
    let events = [(0, "chime"), (1, "hmn")]
        .iter()
        .enumerate()
        .map(|(i, &(part, label))| Event {
            seq: i as u64 + 1,
            at,
            body: EventBody::PartPlayed {
                item: item.clone(),
                part,
                label: label.into(),
            },
        })
        .collect();
    h.ingest("na-sai-1", events).await;
    let view = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    let record = view["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["node_id"] == "na-sai-1")
        .unwrap()["parts"]
        .clone();
    assert!(record[0]["played_at"].is_string(), "{record}");
    assert!(record[1]["played_at"].is_string(), "{record}");
    assert!(
        record[2]["played_at"].is_null(),
        "Vietnamese not yet: {record}"
    );
}

#[tokio::test]
async fn chime_and_volume_follow_the_node_and_the_item() {
    let h = Harness::new().await;
    let (commune, a) = commune(&h).await;
    let chime = h.uploaded("tone-8000-mono.wav").await;
    h.put_json("/api/v1/settings", json!({"chime_media": chime}))
        .await;

    // Phiêng's loudspeakers skip the chime and play quieter.
    let n = ok(
        h.call(
            axum::http::Request::builder()
                .method("PATCH")
                .uri("/api/v1/nodes/phieng-1")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"volume": 60, "chime": false}).to_string(),
                ))
                .unwrap(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (n["volume"].as_u64(), n["chime"].as_bool()),
        (Some(60), Some(false))
    );
    broadcast(&h, json!({"announcement_id": a, "zones": [commune]})).await;
    let phieng = h.plan("phieng-1").await;
    assert_eq!(phieng.volume, 60);
    assert_eq!(labels(&phieng), [["vi"]]);
    assert_eq!(labels(&h.plan("na-sai-1").await)[0][0], "chime");

    // An item may say otherwise: this one plays without the chime, at half volume, on every
    // node; and with the chime even where the node skips it.
    broadcast(
        &h,
        json!({"announcement_id": a, "zones": [commune], "chime": false, "volume": 50}),
    )
    .await;
    let plan = h.plan("na-sai-1").await;
    assert_eq!(labels(&plan)[1], ["hmn", "vi"]);
    assert_eq!(plan.items[1].volume, 50);
    assert_eq!(plan.items[0].volume, 100);
    broadcast(
        &h,
        json!({"announcement_id": a, "zones": [commune], "chime": true}),
    )
    .await;
    assert_eq!(labels(&h.plan("phieng-1").await)[2], ["chime", "vi"]);

    // No chime for the commune: none anywhere.
    h.put_json("/api/v1/settings", json!({"chime_media": null}))
        .await;
    assert!(labels(&h.plan("na-sai-1").await)
        .iter()
        .all(|parts| !parts.contains(&"chime".to_owned())));
}

#[tokio::test]
async fn the_resume_policy_reaches_every_plan() {
    let h = Harness::new().await;
    let (commune, a) = commune(&h).await;
    broadcast(&h, json!({"announcement_id": a, "zones": [commune]})).await;
    let s = ok(
        h.put_json("/api/v1/settings", json!({"after_preempt": "resume"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["after_preempt"], "resume");
    assert_eq!(s["require_approval"], false, "left as it was");
    for node in ["na-sai-1", "phieng-1", "coc-1"] {
        assert_eq!(h.plan(node).await.after_preempt, AfterPreempt::Resume);
    }
}

#[tokio::test]
async fn bad_languages_and_chimes_are_refused_with_a_reason() {
    let h = Harness::new().await;
    let (commune, _) = commune(&h).await;
    let vi = h.uploaded("tone-44100-stereo.mp3").await;
    let twice = json!({"title": "x", "recordings": [
        {"language": "vi", "media_sha256": vi}, {"language": "vi", "media_sha256": vi}]});
    h.post_json("/api/v1/announcements", twice)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &["twice"]);
    let bad = json!({"title": "x", "media_sha256": vi, "language": "tiếng việt"});
    h.post_json("/api/v1/announcements", bad)
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            &["language \"tiếng việt\" must be", "e.g. vi, hmn"],
        );
    let both = json!({"title": "x", "media_sha256": vi, "recordings": [{"language": "vi", "media_sha256": vi}]});
    h.post_json("/api/v1/announcements", both)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &["either"]);
    h.put_json(
        &format!("/api/v1/zones/{commune}/languages"),
        json!({"languages": []}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["at least one"],
    );
    h.put_json("/api/v1/settings", json!({"chime_media": "ab".repeat(32)}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", &["media"]);
    // Clearing a zone's own list makes it inherit again.
    let v = set_languages(&h, commune, Value::Null).await;
    assert_eq!(v["effective"], json!(["vi"]));
}

/// The record follows the plan: a village that stops hearing a language loses that part from
/// its deliveries not yet played, in the same write as its new plan.
#[tokio::test]
async fn a_language_dropped_leaves_the_record_with_the_plan() {
    let h = Harness::new().await;
    let (commune, a) = commune(&h).await;
    let at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let b = broadcast(
        &h,
        json!({"announcement_id": a, "zones": [commune], "at": at}),
    )
    .await;
    let id = b["id"].as_i64().unwrap();
    let record = |view: &Value, node: &str| -> Vec<String> {
        view["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["node_id"] == node)
            .unwrap()["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["label"].as_str().unwrap().to_string())
            .collect()
    };
    let view = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(record(&view, "na-sai-1"), ["hmn", "vi"]);

    let na_sai = h.plan("na-sai-1").await.version;
    let zone = h.get("/api/v1/nodes/na-sai-1").await.json()["zone_id"]
        .as_i64()
        .unwrap();
    set_languages(&h, zone, json!(["hmn"])).await;
    let plan = h.plan("na-sai-1").await;
    assert!(plan.version > na_sai, "a new plan was issued");
    assert_eq!(labels(&plan), [vec!["hmn"]]);
    let view = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(record(&view, "na-sai-1"), ["hmn"]);
    assert_eq!(
        record(&view, "phieng-1"),
        ["vi"],
        "other villages keep theirs"
    );
}
