//! The CAP alerts page (`/ui/cap`): empty at first; then, newest first, a flood warning that
//! was played (with a link to its broadcast), a test alert only kept, and a resend refused as a
//! duplicate, each with its decision in the page's language and why; the feed when one is
//! configured; every role may read it.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::ui::{account, assert_has, page, sign_in};
use common::{Harness, Reply};
use serde_json::json;

const FLOOD: &str = include_str!("fixtures/cap/flood-vi.xml");

async fn send(h: &Harness, xml: &str) -> Reply {
    h.call(
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/cap")
            .header(header::CONTENT_TYPE, "application/cap+xml")
            .body(Body::from(xml.to_owned()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn the_alerts_taken_in_are_listed_with_their_decision_why_and_broadcast() {
    let h = Harness::with_config(|c| {
        c.cap.feed_url = Some("https://canhbao.example.vn/cap/feed.atom".into())
    })
    .await;
    let village = h.zone("Thôn Bản Khe", None).await;
    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({"id": "ban-khe-1", "name": "Loa Bản Khe", "zone_id": village,
                   "latitude": 21.020, "longitude": 105.010}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    account(&h, "can-bo-xa", "viewer", &[], "vi").await;
    let s = sign_in(&h, "can-bo-xa").await;

    let empty = page(&h, &s, "/ui/cap").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
    assert_has(&empty, r#"id="no-alerts""#);
    assert_has(&empty, r#"id="nav-cap""#);
    assert_has(&empty, "https://canhbao.example.vn/cap/feed.atom");

    let played = send(&h, FLOOD).await;
    assert_eq!(played.status, StatusCode::CREATED, "{}", played.text());
    let broadcast = played.json()["broadcast_id"].as_i64().unwrap();
    let test = FLOOD
        .replace("VN-KTTV-2026-LQ-0142", "VN-KTTV-2026-TEST-1")
        .replace("<status>Actual</status>", "<status>Test</status>");
    assert_eq!(send(&h, &test).await.status, StatusCode::CREATED);
    assert_eq!(send(&h, FLOOD).await.status, StatusCode::CONFLICT);

    let p = page(&h, &s, "/ui/cap").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    let text = p.text();
    let rows: Vec<(&str, &str)> = text
        .split(r#"data-test="cap-alert" data-identifier=""#)
        .skip(1)
        .map(|row| {
            let (identifier, rest) = row.split_once('"').unwrap();
            let decision = rest
                .split_once(r#"data-decision=""#)
                .unwrap()
                .1
                .split_once('"')
                .unwrap()
                .0;
            (identifier, decision)
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("VN-KTTV-2026-LQ-0142", "refused"),
            ("VN-KTTV-2026-TEST-1", "recorded"),
            ("VN-KTTV-2026-LQ-0142", "played"),
        ],
        "newest first"
    );
    assert_has(
        &p,
        &format!(r#"data-test="cap-broadcast" href="/ui/broadcasts/{broadcast}""#),
    );
    assert_eq!(text.matches(r#"data-test="cap-broadcast""#).count(), 1);
    // The decisions in Vietnamese, the reasons as decided, who handed each in.
    assert_has(&p, "đã phát");
    assert_has(&p, "chỉ lưu lại");
    assert_has(&p, "từ chối");
    assert_has(&p, "duplicate");
    assert_has(&p, "canhbao@kttv.gov.vn");
    assert_has(&p, "api:");
}

#[tokio::test]
async fn the_alerts_page_speaks_english_to_an_english_account() {
    let h = Harness::new().await;
    account(&h, "officer", "operator", &[], "en").await;
    let s = sign_in(&h, "officer").await;
    let p = page(&h, &s, "/ui/cap").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    assert_has(&p, "Alerts (CAP)");
    assert_has(&p, "No alert has come in yet.");
    assert!(
        !p.text().contains(r#"id="cap-feed""#),
        "no feed is configured"
    );
}
