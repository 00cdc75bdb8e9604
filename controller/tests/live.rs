//! Live sessions through the API, on the real router, a real socket and a real SQLite: the
//! speaker's sound sent on the WebSocket comes out of the node's stream as Ogg Opus, and the
//! stream ends when the session is stopped; who may speak and from where; a speaker who
//! never comes ends the session, and what is left is withdrawn from the plans; a session
//! that cannot reach anyone leaves nothing behind; a restart ends what was left on air.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::Harness;
use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

/// Serves the harness's app on a loopback port; returns its address.
async fn serve(h: &Harness) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = h
        .app
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn start(h: &Harness, zones: &[i64]) -> Value {
    let r = h.post_json("/api/v1/live", json!({"zones": zones})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

async fn session(h: &Harness, id: &Value) -> Value {
    let r = h.get(&format!("/api/v1/live/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

fn media_token(cfg: &toml::Value) -> String {
    cfg["media_token"].as_str().unwrap().to_owned()
}

/// 20 ms of a 440 Hz tone at 16 kHz, as the page sends it: 16-bit little-endian PCM.
fn tone_chunk(n: usize) -> Vec<u8> {
    (0..320)
        .flat_map(|i| {
            let t = (n * 320 + i) as f32 / 16_000.0;
            (((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 0.5 * 32767.0) as i16).to_le_bytes()
        })
        .collect()
}

/// The mean square of Ogg Opus audio, decoded with libopus, from `skip` samples on.
fn energy(ogg_bytes: &[u8], skip: usize) -> (usize, f32) {
    let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(ogg_bytes));
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let (mut pcm, mut buf) = (Vec::new(), vec![0f32; 5760]);
    while let Ok(Some(p)) = r.read_packet() {
        if p.data.starts_with(b"Opus") {
            continue;
        }
        let n = dec.decode_float(&p.data, &mut buf, false).unwrap();
        pcm.extend_from_slice(&buf[..n]);
    }
    let tail = &pcm[skip.min(pcm.len())..];
    let e = tail.iter().map(|s| s * s).sum::<f32>() / tail.len().max(1) as f32;
    (pcm.len(), e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_speakers_sound_reaches_the_village_stream_which_ends_when_stopped() {
    let h = Harness::new().await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    let other = h.zone("Bản Phiêng", None).await;
    let cfg = h.node("na-sai-1", zone).await;
    h.node("phieng-1", other).await;
    let live = start(&h, &[zone]).await;
    let source = live["source_id"].as_i64().unwrap();
    // Nà Sài's plan carries the session's stream; Bản Phiêng's does not.
    let plan = h.plan("na-sai-1").await;
    let stream = plan.items[0].stream.as_ref().expect("a stream item");
    assert!(
        stream.url.ends_with(&format!("/streams/{source}")),
        "{}",
        stream.url
    );
    assert!(h.plan("phieng-1").await.items.is_empty());
    // The session's source and announcement are not offered for reuse.
    let listed = h.get("/api/v1/sources").await.json();
    assert_eq!(listed, json!([]), "live sources are not stations");
    let offered = h.get("/api/v1/announcements").await.json();
    assert_eq!(offered, json!([]), "its announcement is archived");

    let addr = serve(&h).await;
    let mut req = format!("ws://{addr}/api/v1/live/{}/audio?rate=16000", live["id"])
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", h.admin_token).parse().unwrap(),
    );
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);

    // The node listens, then the speaker speaks for 1.5 s, paced as a microphone.
    let mut listening = reqwest::Client::new()
        .get(format!("http://{addr}/streams/{source}"))
        .bearer_auth(media_token(&cfg))
        .send()
        .await
        .unwrap();
    assert_eq!(listening.status(), StatusCode::OK);
    let reader = tokio::spawn(async move {
        let mut bytes = Vec::new();
        while let Ok(Some(c)) = listening.chunk().await {
            bytes.extend_from_slice(&c);
        }
        (bytes, Instant::now())
    });
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for n in 0..75 {
        tick.tick().await;
        ws.send(Message::Binary(tone_chunk(n).into()))
            .await
            .unwrap();
    }
    let stopped = Instant::now();
    let r = h
        .post_json(&format!("/api/v1/live/{}/stop", live["id"]), json!(null))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["end_reason"]
        .as_str()
        .unwrap()
        .starts_with("stopped by"));

    // The stream ends soon after the stop, and it carried the tone.
    let (bytes, ended) = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the stream ends when the session is stopped")
        .unwrap();
    assert!(
        ended - stopped < Duration::from_secs(2),
        "{:?}",
        ended - stopped
    );
    let (samples, e) = energy(&bytes, 0);
    assert!(samples >= 48_000, "{samples} samples in the stream");
    // A 0.5 tone has a mean square of 0.125; a third of the stream is at least that loud.
    assert!(e > 0.04, "mean square {e}");
    // The socket is closed by the controller, and no one may listen or speak again.
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match futures_util::StreamExt::next(&mut ws).await {
                Some(Ok(Message::Close(f))) => return f.map(|f| f.reason.to_string()),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the controller closes the socket");
    assert_eq!(closed.as_deref(), Some("live.ended"));
    let again = reqwest::Client::new()
        .get(format!("http://{addr}/streams/{source}"))
        .bearer_auth(media_token(&cfg))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    let r = h
        .post_json(&format!("/api/v1/live/{}/stop", live["id"]), json!(null))
        .await;
    assert_eq!(r.status, StatusCode::OK, "stopping again changes nothing");
}

#[tokio::test]
async fn only_its_speaker_speaks_and_only_from_this_sites_pages() {
    let h = Harness::new().await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let live = start(&h, &[zone]).await;
    let audio = format!("/api/v1/live/{}/audio", live["id"]);
    let ws_request = |bearer: &str, origin: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::GET)
            .uri(&audio)
            .header(header::HOST, "controller.test:8080")
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"));
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(Body::empty()).unwrap()
    };
    let evil = h
        .call_as(ws_request(&h.admin_token, Some("https://evil.example")))
        .await;
    evil.assert_error(
        StatusCode::FORBIDDEN,
        "live.other_site",
        &["this controller's pages"],
    );
    // From the controller's own page it gets as far as asking for the upgrade.
    let own = h
        .call_as(ws_request(
            &h.admin_token,
            Some("http://controller.test:8080"),
        ))
        .await;
    own.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &["WebSocket"]);

    let token = operator_token(&h, "can-bo").await;
    let other = h.call_as(ws_request(&token, None)).await;
    other.assert_error(StatusCode::FORBIDDEN, "live.not_yours", &["started"]);
    let rate = h.get(&format!("{audio}?rate=1000")).await;
    rate.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["8000 to 96000"],
    );
}

/// An operator's API token.
async fn operator_token(h: &Harness, username: &str) -> String {
    let r = h
        .post_json(
            "/api/v1/users",
            json!({"username": username, "password": format!("mat-khau-{username}-dai"), "role": "operator"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = h
        .post_json(
            &format!("/api/v1/users/{}/tokens", r.json()["id"]),
            json!({"name": "thử"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_speaker_who_never_comes_ends_the_session_and_the_rest_is_withdrawn() {
    let h = Harness::new().await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let live = start(&h, &[zone]).await;
    let begun = Instant::now();
    let ended = loop {
        let v = session(&h, &live["id"]).await;
        if !v["ended_at"].is_null() {
            break v;
        }
        assert!(begun.elapsed() < Duration::from_secs(10), "still on: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        begun.elapsed() >= Duration::from_secs(5),
        "{:?}",
        begun.elapsed()
    );
    let why = ended["end_reason"].as_str().unwrap();
    assert!(why.contains("sent nothing for 5 s"), "{why}");
    // The node never said it ended: after the settling time the delivery is withdrawn and
    // the node's plan no longer holds it.
    loop {
        let v = session(&h, &live["id"]).await;
        let stage = v["broadcast"]["deliveries"][0]["stage"].clone();
        if stage == "cancelled" {
            break;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(20),
            "delivery {stage}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(h.plan("na-sai-1").await.items.is_empty());
}

#[tokio::test]
async fn a_session_that_reaches_nobody_leaves_nothing_and_a_restart_ends_the_rest() {
    let h = Harness::new().await;
    let empty = h.zone("Bản Mới", None).await;
    let r = h.post_json("/api/v1/live", json!({"zones": [empty]})).await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["no loudspeaker"],
    );
    let archived = h.get("/api/v1/announcements?archived=true").await.json();
    assert_eq!(archived, json!([]), "no announcement left behind");
    let r = h.post_json("/api/v1/live", json!({"zones": []})).await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["at least one zone"],
    );

    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let live = start(&h, &[zone]).await;
    loa_controller::ops::live::end_left_open(h.state.app.clone()).await;
    let v = session(&h, &live["id"]).await;
    assert_eq!(v["end_reason"], "the controller restarted");
    assert_eq!(v["broadcast"]["deliveries"][0]["stage"], "cancelled");
    assert!(h.plan("na-sai-1").await.items.is_empty());
}

#[tokio::test]
async fn the_page_is_for_operators_and_offers_the_sound_card_only_where_there_is_one() {
    use common::ui::{account, assert_has, page, sign_in};
    let h = Harness::new().await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    account(&h, "van-thu", "operator", &[], "vi").await;
    account(&h, "can-bo", "viewer", &[], "vi").await;
    let operator = sign_in(&h, "van-thu").await;
    let r = page(&h, &operator, "/ui/broadcasts/live").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_has(&r, "Phát trực tiếp");
    assert_has(&r, &format!("value=\"{zone}\" data-test=\"zone-choice\""));
    assert!(
        !r.text().contains("live-input-sound-card"),
        "no sound card here"
    );
    let viewer = sign_in(&h, "can-bo").await;
    let r = page(&h, &viewer, "/ui/broadcasts/live").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let h = Harness::with_config(|c| c.live.capture_device = Some("plughw:CARD=USB".into())).await;
    account(&h, "van-thu", "operator", &[], "vi").await;
    let operator = sign_in(&h, "van-thu").await;
    let r = page(&h, &operator, "/ui/broadcasts/live").await;
    assert_has(&r, "live-input-sound-card");
    assert_has(&r, "plughw:CARD=USB");
}

#[tokio::test]
async fn a_live_emergency_speaks_in_quiet_hours_where_a_normal_session_may_not() {
    let h = Harness::new().await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    // Quiet hours around now in the commune (UTC+7).
    let local = chrono::Utc::now() + chrono::Duration::hours(7);
    let hm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let r = h
        .put_json(
            &format!("/api/v1/zones/{zone}/quiet-hours"),
            json!({"start": hm(local - chrono::Duration::hours(1)), "end": hm(local + chrono::Duration::hours(1))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.post_json("/api/v1/live", json!({"zones": [zone]})).await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "broadcast.all_quiet",
        &["quiet hours"],
    );
    let r = h
        .post_json(
            "/api/v1/live",
            json!({"zones": [zone], "priority": "emergency"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let plan = h.plan("na-sai-1").await;
    assert_eq!(plan.items[0].priority, loa_protocol::Priority::Emergency);
    assert!(plan.items[0].stream.is_some());
}
