//! Relays as staff make them: a relay announcement (a source for a length) through the API
//! and through the announcements page, broadcast like any announcement, and planned on the
//! node as a stream item pointing at the controller's hub, ending at the relay's end; lengths
//! out of range, unknown sources and contradictory bodies refused with the reason.

mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::ui::{account, assert_has, assert_redirect, page, post, sign_in};
use common::Harness;
use serde_json::json;

async fn source(h: &Harness, name: &str) -> i64 {
    let r = h
        .post_json(
            "/api/v1/sources",
            json!({"name": name, "url": "https://stream.example/vov1.mp3"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_relay_broadcast_is_planned_as_the_hubs_stream_until_the_relays_end() {
    let h = Harness::new().await;
    let vov = source(&h, "VOV1").await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let r = h
        .post_json(
            "/api/v1/announcements",
            json!({"title": "Thời sự VOV1", "relay": {"source_id": vov, "seconds": 1800}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let relay = r.json();
    assert_eq!(relay["relay"], json!({"source_id": vov, "secs": 1800}));
    assert_eq!(relay["recordings"], json!([]));
    assert!(relay["media_sha256"].is_null());

    let at = chrono::Utc::now() + Duration::minutes(10);
    h.broadcast(&relay["id"], &[zone], Some(at)).await;
    let plan = h.plan("na-sai-1").await;
    let item = &plan.items[0];
    let stream = item.stream.as_ref().expect("a relay is a stream item");
    assert!(
        stream.url.ends_with(&format!("/streams/{vov}")),
        "{}",
        stream.url
    );
    assert_eq!(stream.codec, "opus");
    assert_eq!(stream.until - item.start_at, Duration::minutes(30));
    assert!(
        item.parts.is_empty(),
        "no chime is set: nothing before the stream"
    );
}

#[tokio::test]
async fn bad_relays_are_refused_with_the_reason() {
    let h = Harness::new().await;
    let vov = source(&h, "VOV1").await;
    for (seconds, says) in [(5, "10 seconds"), (43_201, "12 hours")] {
        h.post_json(
            "/api/v1/announcements",
            json!({"title": "x", "relay": {"source_id": vov, "seconds": seconds}}),
        )
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "announcement.relay_length",
            &[says],
        );
    }
    let r = h
        .post_json(
            "/api/v1/announcements",
            json!({"title": "x", "relay": {"source_id": 999, "seconds": 60}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let sha = h.uploaded("tone-44100-stereo.mp3").await;
    h.post_json(
        "/api/v1/announcements",
        json!({"title": "x", "media_sha256": sha, "relay": {"source_id": vov, "seconds": 60}}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["a relay has no recording"],
    );
    let list = h.get("/api/v1/announcements").await.json();
    assert_eq!(list, json!([]), "nothing was kept");
}

#[tokio::test]
async fn an_operator_adds_a_source_and_makes_a_relay_on_the_announcements_page() {
    let h = Harness::new().await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;
    let empty = page(&h, &s, "/ui/announcements").await;
    assert_has(&empty, "Chưa có nguồn tiếp sóng nào");

    let r = post(
        &h,
        &s,
        "/ui/announcements/source",
        &[
            ("name", "Đài tỉnh"),
            ("url", "http://10.0.0.5:8000/tinh.mp3"),
        ],
    )
    .await;
    assert_redirect(&r, "/ui/announcements#relay-form");
    let sources = h.get("/api/v1/sources").await.json();
    let id = sources[0]["id"].as_i64().unwrap().to_string();
    let r = post(
        &h,
        &s,
        "/ui/announcements/relay",
        &[
            ("title", "Tiếp sóng Đài tỉnh"),
            ("source_id", &id),
            ("minutes", "20"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let list = h.get("/api/v1/announcements").await.json();
    assert_eq!(list[0]["relay"]["secs"], 1200);
    let p = page(&h, &s, "/ui/announcements").await;
    assert_has(&p, "Tiếp sóng Đài tỉnh · 20 phút");
    // Offered where announcements are picked.
    assert_has(
        &page(&h, &s, "/ui/broadcasts/new").await,
        "Tiếp sóng Đài tỉnh",
    );
    // Too long: the page says why.
    let r = post(
        &h,
        &s,
        "/ui/announcements/relay",
        &[("title", "Cả ngày"), ("source_id", &id), ("minutes", "721")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
}

#[tokio::test]
async fn a_relays_recording_is_linked_to_the_airings_it_overlaps_and_can_be_heard() {
    let h = Harness::new().await;
    let (vov, tinh) = (source(&h, "VOV1").await, source(&h, "Đài tỉnh").await);
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let relay = |source: i64| json!({"title": format!("Tiếp sóng {source}"), "relay": {"source_id": source, "seconds": 600}});
    let a = h
        .post_json("/api/v1/announcements", relay(vov))
        .await
        .json();
    let b = h
        .post_json("/api/v1/announcements", relay(tinh))
        .await
        .json();
    let now = chrono::Utc::now();
    let on_air = h
        .broadcast(&a["id"], &[zone], Some(now + Duration::minutes(1)))
        .await;
    let later = h
        .broadcast(&a["id"], &[zone], Some(now + Duration::hours(2)))
        .await;
    let other = h
        .broadcast(&b["id"], &[zone], Some(now + Duration::minutes(1)))
        .await;

    // The hub kept a recording of VOV1 from now to 5 minutes on.
    let sha = h.uploaded("tone-44100-stereo.mp3").await;
    let linked = h
        .state
        .store
        .link_relay_recording(vov, &sha, now, now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(linked, 1, "only the VOV1 airing whose window it overlaps");
    for (id, want) in [(on_air, 1), (later, 0), (other, 0)] {
        let v = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
        assert_eq!(v["recordings"].as_array().unwrap().len(), want, "{id}: {v}");
    }

    account(&h, "can-bo", "viewer", &[], "vi").await;
    let s = sign_in(&h, "can-bo").await;
    let p = page(&h, &s, &format!("/ui/broadcasts/{on_air}")).await;
    assert_has(&p, "data-test=\"aired-recording\"");
    assert_has(&p, &format!("/api/v1/media/{sha}/audio"));
    let audio = h.get(&format!("/api/v1/media/{sha}/audio")).await;
    assert_eq!(audio.status, StatusCode::OK);
    assert_eq!(
        audio.header(axum::http::header::CONTENT_TYPE),
        Some("audio/mpeg")
    );
}

#[tokio::test]
async fn a_relays_delivery_shows_its_seconds_on_air_and_each_gap_with_its_cause() {
    use loa_protocol::{Event, EventBody, Stage};
    let h = Harness::new().await;
    let vov = source(&h, "VOV1").await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let r = h
        .post_json(
            "/api/v1/announcements",
            json!({"title": "Thời sự VOV1", "relay": {"source_id": vov, "seconds": 60}}),
        )
        .await;
    let relay = r.json();
    let broadcast = h.broadcast(&relay["id"], &[zone], None).await;
    let item = h.plan("na-sai-1").await.items[0].id.clone();
    // On air for 10 s, with a 1.5 s stall in the middle.
    let t0 = chrono::Utc::now();
    let step = |seq: u64, secs: i64, body: EventBody| Event {
        seq,
        at: t0 + Duration::seconds(secs),
        body,
    };
    let stage = |stage: Stage| EventBody::Item {
        item: item.clone(),
        stage,
        reason: None,
        start_error_ms: None,
    };
    h.ingest(
        "na-sai-1",
        vec![
            step(1, 0, stage(Stage::Received)),
            step(2, 0, stage(Stage::Ready)),
            step(3, 0, stage(Stage::Playing)),
            step(
                4,
                5,
                EventBody::StreamGap {
                    item: item.clone(),
                    from: t0 + Duration::seconds(3),
                    ms: 1500,
                    cause: "the stream stalled (no data for 2.0 s)".into(),
                },
            ),
            step(5, 10, stage(Stage::Played)),
        ],
    )
    .await;
    let v = h
        .get(&format!("/api/v1/broadcasts/{broadcast}"))
        .await
        .json();
    let on_air = &v["deliveries"][0]["on_air"];
    assert_eq!(on_air["ms"], 8500, "{v}");
    assert_eq!(on_air["gaps"][0]["ms"], 1500);
    assert_eq!(
        on_air["gaps"][0]["cause"],
        "the stream stalled (no data for 2.0 s)"
    );
    account(&h, "can-bo", "viewer", &[], "vi").await;
    let s = sign_in(&h, "can-bo").await;
    let p = page(&h, &s, &format!("/ui/broadcasts/{broadcast}")).await;
    assert_has(&p, r#"data-test="on-air" data-ms="8500""#);
    assert_has(&p, "Trên sóng 8.5 giây");
    assert_has(&p, "Mất tiếng 1.5 giây");
    assert_has(&p, "the stream stalled");
}
