//! CAP 1.2 alerts taken in through `POST /api/v1/cap` and the feed, over a real SQLite, the
//! real media probe and the real espeak-ng: the specification's example alerts and a
//! Vietnamese flood warning (a polygon over one village) mapped to the stations inside their
//! areas; Update and Cancel; an expired alert and a Test alert kept but not played; malformed
//! and invalid XML refused naming the element; a duplicate refused; an alert's embedded audio
//! played as it is; and an Atom feed on a local HTTP server polled. Every alert, taken or
//! refused, is in the audit log with why.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use chrono::{DateTime, Utc};
use common::{fixture, sha256_hex, Harness, Reply};
use loa_controller::clock::ManualClock;
use serde_json::{json, Value};

const FLOOD: &str = include_str!("fixtures/cap/flood-vi.xml");
const THUNDERSTORM: &str = include_str!("fixtures/cap/thunderstorm.xml");
const HOMELAND: &str = include_str!("fixtures/cap/homeland-security.xml");
const AMBER: &str = include_str!("fixtures/cap/amber.xml");
const EARTHQUAKE: &str = include_str!("fixtures/cap/earthquake.xml");
const FLOOD_REF: &str = "canhbao@kttv.gov.vn,VN-KTTV-2026-LQ-0142,2026-09-14T05:30:00+07:00";

async fn send(h: &Harness, content_type: &str, xml: &str) -> Reply {
    h.call(
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/cap")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(xml.to_owned()))
            .unwrap(),
    )
    .await
}

async fn post_cap(h: &Harness, xml: &str) -> Value {
    let r = send(h, "application/cap+xml", xml).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

/// A station at a place, in its own village.
async fn station(h: &Harness, zone: i64, id: &str, latitude: f64, longitude: f64) {
    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({"id": id, "name": id, "zone_id": zone,
                   "latitude": latitude, "longitude": longitude}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

/// Bản Khe, inside the flood polygon, and Nà Lừa, about 4 km north of it.
async fn two_villages(h: &Harness) {
    let ban_khe = h.zone("Thôn Bản Khe", None).await;
    let na_lua = h.zone("Thôn Nà Lừa", None).await;
    station(h, ban_khe, "ban-khe-1", 21.020, 105.010).await;
    station(h, na_lua, "na-lua-1", 21.060, 105.010).await;
}

/// The nodes a broadcast has a delivery for, with their stages.
async fn deliveries(h: &Harness, id: i64) -> Vec<(String, String)> {
    let r = h.get(&format!("/api/v1/broadcasts/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["node_id"].as_str().unwrap().to_owned(),
                d["stage"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The audit log's CAP entries, oldest first: (status, detail).
async fn audited(h: &Harness) -> Vec<(u16, String)> {
    let mut v: Vec<(u16, String)> = h
        .state
        .store
        .audit_log(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == loa_controller::ops::cap::AUDIT_ACTION)
        .map(|e| (e.status, e.detail.unwrap_or_default()))
        .collect();
    v.reverse();
    v
}

/// The announcement a broadcast (as the API answers it) plays.
async fn announcement(h: &Harness, occ: &Value) -> loa_controller::store::media::Announcement {
    h.state
        .store
        .announcement(occ["announcement_id"].as_i64().unwrap())
        .await
        .unwrap()
}

fn with_identifier(xml: &str, id: &str) -> String {
    xml.replace("VN-KTTV-2026-LQ-0142", id)
}

#[tokio::test]
async fn a_vietnamese_flood_warning_plays_on_the_village_inside_its_polygon_and_not_twice() {
    let h = Harness::new().await;
    two_villages(&h).await;

    let t = post_cap(&h, FLOOD).await;
    assert_eq!(t["decision"], "played", "{t}");
    assert_eq!(t["nodes"], json!(["ban-khe-1"]));
    assert_eq!(t["priority"], "emergency");
    let id = t["broadcast_id"].as_i64().unwrap();
    assert_eq!(
        deliveries(&h, id).await,
        vec![("ban-khe-1".into(), "planned".into())]
    );

    // The Vietnamese block was read out (espeak-ng) and kept as a Vietnamese recording.
    let occ = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(occ["priority"], "emergency");
    let ann = announcement(&h, &occ).await;
    assert_eq!(ann.title, "CAP: Cảnh báo lũ quét");
    assert_eq!(ann.recordings.len(), 1);
    assert_eq!(ann.recordings[0].language, "vi");
    let media = h
        .state
        .store
        .media(&ann.recordings[0].media_sha256)
        .await
        .unwrap();
    assert!(media.duration_ms > 1000, "speech, read out: {media:?}");
    // It plays until the alert's expiry.
    let expires: DateTime<Utc> = occ["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires,
        "2030-09-14T04:30:00Z".parse::<DateTime<Utc>>().unwrap()
    );

    // The same alert again: refused as a duplicate, nothing more made.
    let r = send(&h, "application/xml", FLOOD).await;
    r.assert_error(StatusCode::CONFLICT, "cap.duplicate", &["already taken"]);
    let list = h.get("/api/v1/cap").await.json();
    let decisions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, vec!["refused", "played"]);
    assert_eq!(deliveries(&h, id).await.len(), 1);

    let log = audited(&h).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].0, 201);
    assert!(
        log[0]
            .1
            .starts_with("played: Severe Immediate, Lũ quét: emergency on 1 station(s)"),
        "{log:?}"
    );
    assert!(log[0].1.contains("via api:quan-tri"), "{log:?}");
    assert_eq!(log[1].0, 409);
    assert!(log[1].1.contains("duplicate"), "{log:?}");
}

#[tokio::test]
async fn update_replaces_the_earlier_alert_and_cancel_withdraws_it() {
    let h = Harness::new().await;
    two_villages(&h).await;
    let first = post_cap(&h, FLOOD).await["broadcast_id"].as_i64().unwrap();

    // An Update moves the polygon north over Nà Lừa and replaces the first alert.
    let update = with_identifier(FLOOD, "VN-KTTV-2026-LQ-0143")
        .replace(
            "<msgType>Alert</msgType>",
            &format!("<msgType>Update</msgType>\n  <references>{FLOOD_REF}</references>"),
        )
        .replace(
            "21.010,105.000 21.010,105.020 21.030,105.020 21.030,105.000 21.010,105.000",
            "21.050,105.000 21.050,105.020 21.070,105.020 21.070,105.000 21.050,105.000",
        );
    let t = post_cap(&h, &update).await;
    assert_eq!(t["decision"], "played", "{t}");
    assert_eq!(t["nodes"], json!(["na-lua-1"]));
    assert_eq!(t["cancelled"], json!([first]));
    assert_eq!(
        deliveries(&h, first).await,
        vec![("ban-khe-1".into(), "cancelled".into())]
    );
    let second = t["broadcast_id"].as_i64().unwrap();
    assert_eq!(
        deliveries(&h, second).await,
        vec![("na-lua-1".into(), "planned".into())]
    );

    // A Cancel of the update withdraws what is not yet played.
    let cancel = with_identifier(FLOOD, "VN-KTTV-2026-LQ-0144")
        .replace("<msgType>Alert</msgType>", "<msgType>Cancel</msgType>\n  <references>canhbao@kttv.gov.vn,VN-KTTV-2026-LQ-0143,2026-09-14T05:30:00+07:00</references>");
    let t = post_cap(&h, &cancel).await;
    assert_eq!(t["decision"], "cancelled", "{t}");
    assert_eq!(t["cancelled"], json!([second]));
    assert_eq!(
        deliveries(&h, second).await,
        vec![("na-lua-1".into(), "cancelled".into())]
    );
    let log = audited(&h).await;
    assert!(log[2].1.starts_with("cancelled: Cancel"), "{log:?}");
}

#[tokio::test]
async fn an_expired_alert_and_a_test_alert_are_kept_but_not_played() {
    let h = Harness::new().await;
    two_villages(&h).await;
    let expired = with_identifier(FLOOD, "LQ-old")
        .replace("2030-09-14T11:30:00+07:00", "2026-01-01T00:00:00+07:00");
    let t = post_cap(&h, &expired).await;
    assert_eq!(t["decision"], "recorded", "{t}");
    assert!(t["why"].as_str().unwrap().starts_with("expired at"), "{t}");
    assert_eq!(t["broadcast_id"], Value::Null);
    assert_eq!(t["nodes"], json!([]));

    let test = with_identifier(FLOOD, "LQ-test")
        .replace("<status>Actual</status>", "<status>Test</status>");
    let t = post_cap(&h, &test).await;
    assert_eq!(t["decision"], "recorded", "{t}");
    assert!(t["why"].as_str().unwrap().starts_with("status Test"), "{t}");

    let broadcasts = h.state.store.cap_alerts(10).await.unwrap();
    assert!(broadcasts.iter().all(|a| a.occurrence_id.is_none()));
    let log = audited(&h).await;
    assert!(log[0].1.starts_with("recorded: expired at"), "{log:?}");
    assert!(log[1].1.starts_with("recorded: status Test"), "{log:?}");
}

#[tokio::test]
async fn malformed_and_invalid_alerts_are_refused_with_a_clear_error() {
    let h = Harness::new().await;
    two_villages(&h).await;
    let r = send(
        &h,
        "application/cap+xml",
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</sender></alert>",
    )
    .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "cap.malformed",
        &["the XML is malformed"],
    );

    let r = send(
        &h,
        "application/cap+xml",
        &FLOOD.replacen("<urgency>Immediate</urgency>", "", 1),
    )
    .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "cap.invalid",
        &["<info>[1]/<urgency>", "missing"],
    );

    let r = send(
        &h,
        "application/cap+xml",
        &FLOOD.replace("<category>Met</category>", "<category>Flood</category>"),
    )
    .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "cap.invalid",
        &["<info>[1]/<category>", "Flood"],
    );

    let r = send(&h, "text/plain", FLOOD).await;
    r.assert_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "cap.content_type",
        &["application/cap+xml"],
    );

    // Nothing was taken, and each refusal is audited with why.
    assert!(h.state.store.cap_alerts(10).await.unwrap().is_empty());
    let log = audited(&h).await;
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.iter().all(|(s, _)| *s == 422));
    assert!(log[1].1.contains("<info>[1]/<urgency>"), "{log:?}");
}

#[tokio::test]
async fn the_specifications_examples_are_taken_where_a_station_stands_in_their_area() {
    // While the thunderstorm warning is live (it expires at 16:00 PDT).
    let clock = ManualClock::at("2003-06-17T22:00:00Z".parse().unwrap());
    let h = Harness::with_clock(|_| {}, clock.clone()).await;
    let alpine = h.zone("Alpine County", None).await;
    let brawley = h.zone("Brawley", None).await;
    station(&h, alpine, "alpine-1", 38.48, -119.93).await;
    station(&h, alpine, "kirkwood-1", 38.70, -120.07).await;
    station(&h, brawley, "brawley-1", 32.9525, -115.5527).await;

    let t = post_cap(&h, THUNDERSTORM).await;
    assert_eq!(t["decision"], "played", "{t}");
    assert_eq!(t["nodes"], json!(["alpine-1"]));
    assert_eq!(t["priority"], "emergency");

    // An area given only by name and geocode: no station can be placed in it.
    for xml in [HOMELAND, AMBER] {
        let t = post_cap(&h, xml).await;
        assert_eq!(t["decision"], "refused", "{t}");
        assert!(
            t["why"]
                .as_str()
                .unwrap()
                .starts_with("no station inside the area"),
            "{t}"
        );
    }

    // The earthquake update (of an alert not taken here): a 0 km circle on Brawley's station;
    // Minor and Past, so priority, read out in English.
    let t = post_cap(&h, EARTHQUAKE).await;
    assert_eq!(t["decision"], "played", "{t}");
    assert_eq!(t["nodes"], json!(["brawley-1"]));
    assert_eq!(t["priority"], "priority");
    assert_eq!(t["cancelled"], json!([]));
}

#[tokio::test]
async fn an_alerts_embedded_audio_is_played_as_it_is() {
    let h = Harness::new().await;
    two_villages(&h).await;
    let wav = fixture("tone-8000-mono.wav");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&wav);
    let xml = FLOOD.replacen(
        "<area>\n      <areaDesc>Thôn Bản Khe",
        &format!("<resource><resourceDesc>Bản tin</resourceDesc><mimeType>audio/wav</mimeType><derefUri>{b64}</derefUri></resource>\n    <area>\n      <areaDesc>Thôn Bản Khe"),
        1,
    );
    assert_ne!(xml, FLOOD);
    let t = post_cap(&h, &xml).await;
    assert_eq!(t["decision"], "played", "{t}");
    let occ = h
        .get(&format!("/api/v1/broadcasts/{}", t["broadcast_id"]))
        .await
        .json();
    let ann = announcement(&h, &occ).await;
    assert_eq!(ann.recordings[0].media_sha256, sha256_hex(&wav));
    assert_eq!(ann.recordings[0].language, "vi");
}

#[tokio::test]
async fn an_alert_larger_than_a_json_request_is_taken_and_one_over_its_limit_refused() {
    let h = Harness::new().await;
    two_villages(&h).await;
    // 1.5 MB of notes: more than the API takes as JSON, less than an alert may be.
    let note = format!("<note>{}</note>\n  <info>", "x".repeat(1_500_000));
    let big = FLOOD.replacen("<info>", &note, 1);
    let t = post_cap(&h, &big).await;
    assert_eq!(t["decision"], "played", "{t}");
    let huge = FLOOD.replacen(
        "<info>",
        &format!("<note>{}</note><info>", "x".repeat(17 * 1024 * 1024)),
        1,
    );
    let r = send(&h, "application/cap+xml", &huge).await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "cap.too_large", &["16 MiB"]);
    // Not UTF-8: malformed, clearly.
    let r = h
        .call(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/cap")
                .header(header::CONTENT_TYPE, "application/cap+xml")
                .body(Body::from(vec![0xff, 0xfe, b'<']))
                .unwrap(),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "cap.malformed",
        &["malformed"],
    );
}

#[tokio::test]
async fn a_priority_alert_waits_out_quiet_hours_and_an_emergency_does_not() {
    // 23:00 in the commune; Bản Khe is quiet from 22:00 to 05:00.
    let clock = ManualClock::at("2026-09-14T16:00:00Z".parse().unwrap());
    let h = Harness::with_clock(|_| {}, clock).await;
    let ban_khe = h.zone("Thôn Bản Khe", None).await;
    station(&h, ban_khe, "ban-khe-1", 21.020, 105.010).await;
    let r = h
        .put_json(
            &format!("/api/v1/zones/{ban_khe}/quiet-hours"),
            json!({"start": "22:00", "end": "05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Moderate: priority, so not at night; kept with why, nothing made.
    let moderate = with_identifier(FLOOD, "LQ-moderate").replace(
        "<severity>Severe</severity>",
        "<severity>Moderate</severity>",
    );
    let t = post_cap(&h, &moderate).await;
    assert_eq!(t["decision"], "recorded", "{t}");
    assert!(t["why"].as_str().unwrap().contains("quiet hours"), "{t}");
    assert_eq!(t["broadcast_id"], Value::Null);

    // Severe and Immediate: an emergency plays in quiet hours.
    let t = post_cap(&h, FLOOD).await;
    assert_eq!(t["decision"], "played", "{t}");
    assert_eq!(t["nodes"], json!(["ban-khe-1"]));
}

#[tokio::test]
async fn an_atom_feed_is_polled_and_each_alert_taken_once() {
    use axum::routing::get;
    let h = Harness::new().await;
    two_villages(&h).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let feed = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Cảnh báo</title>
  <entry><title>Lũ quét</title><link href="{base}/alerts/lq-0142.xml" type="application/cap+xml"/></entry>
  <entry><title>Bản tin</title><link href="{base}/alerts/lq-0145.xml" type="application/cap+xml"/></entry>
</feed>"#
    );
    // The second alert's audio is a file on the feed's own host, fetched as it is.
    let with_audio = with_identifier(FLOOD, "VN-KTTV-2026-LQ-0145").replacen(
        "<area>\n      <areaDesc>Thôn Bản Khe",
        &format!("<resource><resourceDesc>Bản tin</resourceDesc><mimeType>audio/wav</mimeType><uri>{base}/audio/lq-0145.wav</uri></resource>\n    <area>\n      <areaDesc>Thôn Bản Khe"),
        1,
    );
    assert!(with_audio.contains("<uri>"));
    let wav = fixture("tone-8000-mono.wav");
    let served = wav.clone();
    let server = axum::Router::new()
        .route("/feed.atom", get(move || async move { feed }))
        .route("/alerts/lq-0142.xml", get(|| async { FLOOD }))
        .route(
            "/alerts/lq-0145.xml",
            get(move || async move { with_audio }),
        )
        .route("/audio/lq-0145.wav", get(move || async move { served }));
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });

    let url = format!("{base}/feed.atom");
    let mut seen = std::collections::HashSet::new();
    let n = loa_controller::ops::cap_feed::poll_once(&h.state, &url, &mut seen)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = loa_controller::ops::cap_feed::poll_once(&h.state, &url, &mut seen)
        .await
        .unwrap();
    assert_eq!(n, 0, "an entry already fetched is not fetched again");
    let alerts = h.state.store.cap_alerts(10).await.unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|a| a.decision == "played"), "{alerts:?}");
    assert_eq!(alerts[0].via, format!("feed:{url}"));
    let occ = h
        .get(&format!(
            "/api/v1/broadcasts/{}",
            alerts[0].occurrence_id.unwrap()
        ))
        .await
        .json();
    let ann = announcement(&h, &occ).await;
    assert_eq!(ann.recordings[0].media_sha256, sha256_hex(&wav));
    let log = audited(&h).await;
    assert!(
        log[0].1.starts_with("played:") && log[0].1.contains("via feed:"),
        "{log:?}"
    );
}
