//! Every limit of `docs/limits.md` reached, and the error a caller sees: the request rate per
//! client (429, `Retry-After`, `rate_limited`, on the API and on a page), the zone depth,
//! the length of each text staff type, the JSON body size, the upload size (on the API and
//! on the upload page), and the events in one node message.
//!
//! The plan limits have their tests beside the planner's others in `schedules.rs`: a rule
//! airing more than a plan carries is refused, and a plan over the packet limit carries the
//! soonest items.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use chrono::Utc;
use common::ui::{self, assert_has, form_request, get_request};
use common::{Harness, Reply};
use loa_controller::limits::{LimitsConfig, MAX_ZONE_DEPTH};
use loa_protocol::limits::MAX_EVENTS_PER_BATCH;
use loa_protocol::{Event, EventBody};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A controller whose clients may send 3 requests at once, then one a second.
async fn strict() -> Harness {
    Harness::with_config(|c| {
        c.limits = LimitsConfig {
            requests_per_minute: 60,
            burst: 3,
        }
    })
    .await
}

/// `GET uri` with `Authorization: Bearer token`.
fn with_token(uri: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// `GET uri`, signed out, from `addr`.
fn from_address(uri: &str, addr: &str) -> Request<Body> {
    let mut req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

/// The seconds of a 429's `Retry-After`.
#[track_caller]
fn retry_after(r: &Reply) -> u64 {
    r.header(header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("a 429 says when to come back: {:?}", r.headers))
        .parse()
        .expect("whole seconds")
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_others_are_not_held_up() {
    let h = strict().await;
    let admin = h.admin_token.clone();
    for i in 0..3 {
        let r = h.call(with_token("/api/v1/zones", &admin)).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.text());
    }
    let r = h.call(with_token("/api/v1/zones", &admin)).await;
    r.assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &[
            "too many requests",
            "at most 60 a minute",
            "try again in 1 s",
        ],
    );
    let wait = retry_after(&r);
    assert_eq!(wait, 1);

    // Another token of the same account, and the node-facing and monitoring routes, pass.
    let (user, _) = h
        .state
        .store
        .user_for_login("quan-tri")
        .await
        .unwrap()
        .unwrap();
    let (_, other) = loa_controller::ops::users::make_token(&h.state.store, user.id, "khác")
        .await
        .unwrap();
    let r = h.call(with_token("/api/v1/zones", &other)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    for uri in ["/healthz", "/metrics"] {
        let r = h.call(with_token(uri, &admin)).await;
        assert_eq!(r.status, StatusCode::OK, "{uri} is never limited");
    }
    let r = h
        .download(&"0".repeat(64), Some("not-a-node-token"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "media answers as ever");

    // Once the bucket has refilled, the token passes again.
    h.state.rate.clock().advance(Duration::from_secs(wait));
    let r = h.call(with_token("/api/v1/zones", &admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn signed_out_clients_are_counted_per_address() {
    let h = strict().await;
    for _ in 0..3 {
        let r = h
            .call_as(from_address("/api/v1/zones", "10.0.0.9:5000"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Another port of the same machine is the same client.
    let r = h
        .call_as(from_address("/api/v1/zones", "10.0.0.9:5001"))
        .await;
    r.assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &["60 a minute"],
    );
    assert!(retry_after(&r) >= 1);
    let r = h
        .call_as(from_address("/api/v1/zones", "10.0.0.7:5000"))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "another address is not held up"
    );
}

#[tokio::test]
async fn a_page_over_the_rate_is_the_error_page_with_retry_after() {
    let h = strict().await;
    ui::account(&h, "lan", "operator", &[], "en").await;
    // Signing in takes the form post and the dashboard: two of the session's three are its
    // own (the post counted against the address, the dashboard against the session).
    let s = ui::sign_in(&h, "lan").await;
    for _ in 0..2 {
        let r = h.call_as(get_request("/ui/", Some(&s.cookie))).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = h
        .call_as(get_request("/ui/broadcasts", Some(&s.cookie)))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) >= 1);
    assert!(r
        .header(header::CONTENT_TYPE)
        .is_some_and(|c| c.starts_with("text/html")));
    assert_has(&r, r#"<code id="error-code">rate_limited</code>"#);
    assert_has(&r, "Too many requests in a short time");
}

#[tokio::test]
async fn the_default_rate_lets_a_busy_script_through() {
    let h = Harness::new().await;
    let defaults = LimitsConfig::default();
    for i in 0..defaults.burst {
        let r = h.get("/api/v1/zones").await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
    }
    assert_eq!(h.state.rate.clients(), 1);
}

#[tokio::test]
async fn a_zone_below_the_deepest_level_is_refused_naming_the_limit() {
    let h = Harness::new().await;
    let mut parent = None;
    for level in 1..=MAX_ZONE_DEPTH {
        parent = Some(h.zone(&format!("Cấp {level}"), parent).await);
    }
    let r = h
        .post_json(
            "/api/v1/zones",
            json!({"name": "Quá sâu", "parent_id": parent}),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "zone.too_deep",
        &[
            &format!("at most {MAX_ZONE_DEPTH} levels"),
            "would be level 7",
        ],
    );

    // The zones page offers no zone of the deepest level as a parent, and says the error in
    // the clerk's language to a form sent anyway.
    ui::account(&h, "an", "admin", &[], "vi").await;
    let s = ui::sign_in(&h, "an").await;
    let parent = parent.unwrap().to_string();
    let page = h.call_as(get_request("/ui/zones", Some(&s.cookie))).await;
    assert_has(&page, &format!(r#"<option value="{parent}" disabled>"#));
    let r = h
        .call_as(form_request(
            "/ui/zones",
            Some(&s.cookie),
            &[
                ("_csrf", &s.csrf),
                ("name", "Quá sâu"),
                ("parent_id", &parent),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_has(&r, "Không thể thêm vùng phát sâu hơn nữa");
    assert_has(&r, "at most 6 levels");
}

/// Each text staff type, one character over its limit: the error names the field and the
/// maximum.
#[tokio::test]
async fn every_text_over_its_length_is_refused_naming_the_field_and_the_maximum() {
    let h = Harness::new().await;
    let commune = h.zone("Xã Demo", None).await;
    let village = h.zone("Thôn Nà Sài", Some(commune)).await;
    h.node("na-sai-1", village).await;
    let a = h.announcement("Bản tin").await;
    let sha = h.uploaded("tone-44100-stereo.mp3").await;
    let long = |n: usize| "ệ".repeat(n);
    let at = (Utc::now() + chrono::Duration::hours(2)).with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    let once = json!({"kind": "once", "at": at.naive_local()});
    let admin = h
        .state
        .store
        .user_for_login("quan-tri")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;

    let cases = [
        (
            "/api/v1/zones".to_string(),
            json!({"name": long(101), "parent_id": commune}),
            "zone name",
            100,
        ),
        (
            "/api/v1/nodes".to_string(),
            json!({"id": "na-sai-2", "name": long(101), "zone_id": village}),
            "node name",
            100,
        ),
        (
            "/api/v1/announcements".to_string(),
            json!({"title": long(201), "media_sha256": sha}),
            "announcement title",
            200,
        ),
        (
            "/api/v1/schedules".to_string(),
            json!({"name": long(101), "announcement_id": a, "zones": [village],
                   "recurrence": {"rule": once}}),
            "schedule name",
            100,
        ),
        (
            "/api/v1/users".to_string(),
            json!({"username": "ngan", "password": "mat-khau-ngan", "role": "viewer",
                   "display_name": long(101)}),
            "display name",
            100,
        ),
        (
            format!("/api/v1/users/{admin}/tokens"),
            json!({"name": long(101)}),
            "token name",
            100,
        ),
    ];
    for (uri, body, field, max) in cases {
        let r = h.post_json(&uri, body).await;
        r.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "text.too_long",
            &[
                &format!("the {field} is at most {max} characters"),
                &format!("has {}", max + 1),
            ],
        );
    }

    let id = h.broadcast(&json!(a), &[village], None).await;
    let r = h
        .post_json(
            &format!("/api/v1/broadcasts/{id}/cancel"),
            json!({"reason": long(501)}),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "text.too_long",
        &["the reason is at most 500 characters"],
    );
}

#[tokio::test]
async fn a_json_body_over_one_megabyte_is_refused_with_413() {
    let h = Harness::new().await;
    let big = "x".repeat(1024 * 1024);
    let r = h.post_json("/api/v1/zones", json!({"name": big})).await;
    r.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &["a JSON request is at most 1 MB"],
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_names_the_limit_in_megabytes_on_the_api_and_the_page() {
    let h = Harness::with_config(|c| c.max_upload_bytes = 2 * 1024 * 1024).await;
    // Refused on its declared length, before a byte is read...
    let r = h.upload("big.mp3", vec![0; 2 * 1024 * 1024 + 1]).await;
    r.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media.too_large",
        &["larger than the 2 MB limit"],
    );
    // ...and, sent without one, once it passes the limit.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/media?name=big.mp3")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from_stream(futures_util::stream::iter(
            (0..3).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1024 * 1024])),
        )))
        .unwrap();
    let r = h.call(req).await;
    r.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media.too_large",
        &["larger than the 2 MB limit"],
    );
    assert_eq!(h.media_files(), Vec::<String>::new(), "nothing kept");

    // The upload page says the limit, and its script refuses a larger file with this text.
    ui::account(&h, "lan", "operator", &[], "vi").await;
    let s = ui::sign_in(&h, "lan").await;
    let page = h
        .call_as(get_request("/ui/announcements", Some(&s.cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_has(&page, "Tối đa 2 MB mỗi tệp.");
    assert_has(&page, &format!(r#"data-max-bytes="{}""#, 2 * 1024 * 1024));
    assert_has(
        &page,
        r#"data-too-large="Tệp quá lớn (the file is larger than the 2 MB limit).""#,
    );
}

#[tokio::test]
async fn a_node_message_with_too_many_events_is_refused_and_counted() {
    let h = Harness::new().await;
    let commune = h.zone("Xã Demo", None).await;
    h.node("na-sai-1", commune).await;
    let events = |n: usize| -> Vec<Event> {
        (1..=n as u64)
            .map(|seq| Event {
                seq,
                at: Utc::now(),
                body: EventBody::PlanApplied { version: 1 },
            })
            .collect()
    };
    let c = &h.state.counters;
    h.ingest("na-sai-1", events(MAX_EVENTS_PER_BATCH + 1)).await;
    assert_eq!(c.malformed_messages.load(Ordering::Relaxed), 1);
    assert_eq!(
        c.events_stored.load(Ordering::Relaxed),
        0,
        "none of it kept"
    );
    let metrics = h.get("/metrics").await.text();
    assert!(
        metrics.contains("loa_malformed_messages_total 1"),
        "the refusal shows in /metrics:\n{metrics}"
    );

    // A full message is fine.
    h.ingest("na-sai-1", events(MAX_EVENTS_PER_BATCH)).await;
    assert_eq!(c.malformed_messages.load(Ordering::Relaxed), 1);
    assert_eq!(
        c.events_stored.load(Ordering::Relaxed),
        MAX_EVENTS_PER_BATCH as u64
    );
}
