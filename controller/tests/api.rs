//! The controller's REST API, in process: uploads and the media probe, node media downloads
//! (tokens and HTTP ranges), zones, node provisioning, broadcasts and their deliveries, health
//! and metrics. Each test builds a real `AppState` over a temporary directory (see `common`)
//! and calls `loa_controller::http::app` with `oneshot`; the MQTT side is not exercised here
//! but in the end-to-end tests in `tests/tests/*.rs`.

mod common;

use axum::http::{header, StatusCode};
use chrono::{DateTime, Duration, Utc};
use common::{fixture, sha256_hex, Harness, PUBLIC_BROKER, SITE};
use serde_json::{json, Value};

// ---- uploads ----------------------------------------------------------------------------

/// Uploads a fixture and checks what the controller says of it against what it is.
async fn assert_accepted(name: &str, codec: &str, sample_rate: u64, channels: u64, seconds: f64) {
    let h = Harness::new().await;
    let bytes = fixture(name);
    let r = h.upload(name, bytes.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text());
    let m = r.json();
    assert_eq!(m["sha256"], sha256_hex(&bytes), "{m}");
    assert_eq!(m["size"], bytes.len() as u64, "{m}");
    assert_eq!(m["codec"], codec, "{m}");
    assert_eq!(m["sample_rate"], sample_rate, "{m}");
    assert_eq!(m["channels"], channels, "{m}");
    assert_eq!(m["original_name"], name, "{m}");
    let ms = m["duration_ms"].as_f64().expect("a duration");
    let expected = seconds * 1000.0;
    assert!(
        (ms - expected).abs() <= expected * 0.05,
        "{name}: {ms} ms is not within 5 % of {expected} ms"
    );
    // Stored under its content address, byte for byte, and listed.
    let stored = std::fs::read(h.media_dir().join(sha256_hex(&bytes))).expect("the stored file");
    assert_eq!(stored, bytes);
    let one = h
        .get(&format!("/api/v1/media/{}", sha256_hex(&bytes)))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), m);
}

#[tokio::test]
async fn an_mp3_upload_is_accepted_with_its_hash_format_and_length() {
    assert_accepted("tone-44100-stereo.mp3", "mp3", 44100, 2, 2.0).await;
}

#[tokio::test]
async fn an_ogg_vorbis_upload_is_accepted_with_its_hash_format_and_length() {
    assert_accepted("tone-22050-mono.ogg", "vorbis", 22050, 1, 2.0).await;
}

#[tokio::test]
async fn a_flac_upload_is_accepted_with_its_hash_format_and_length() {
    // This fixture is one second long (ffprobe: 1.000000 s).
    assert_accepted("tone-48000-stereo.flac", "flac", 48000, 2, 1.0).await;
}

#[tokio::test]
async fn an_m4a_aac_upload_is_accepted_with_its_hash_format_and_length() {
    assert_accepted("tone-44100-stereo.m4a", "aac", 44100, 2, 2.0).await;
}

#[tokio::test]
async fn a_wav_upload_is_accepted_with_its_hash_format_and_length() {
    assert_accepted("tone-8000-mono.wav", "pcm_s16le", 8000, 1, 2.0).await;
}

#[tokio::test]
async fn the_same_file_uploaded_twice_is_one_record() {
    let h = Harness::new().await;
    let bytes = fixture("tone-44100-stereo.mp3");
    let first = h.upload("tone-44100-stereo.mp3", bytes.clone()).await;
    let second = h.upload("again.mp3", bytes.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_eq!(first.json()["sha256"], second.json()["sha256"]);

    let list = h.get("/api/v1/media").await.json();
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["sha256"], sha256_hex(&bytes));
    // The first upload's record stands.
    assert_eq!(list[0]["original_name"], "tone-44100-stereo.mp3");
    assert_eq!(h.media_files(), vec![sha256_hex(&bytes)]);
}

/// Uploads `name`, expects it refused, and checks that nothing of it was kept.
async fn assert_refused(name: &str, status: StatusCode, code: &str, says: &[&str]) {
    let h = Harness::new().await;
    let r = h.upload(name, fixture(name)).await;
    r.assert_error(status, code, says);
    assert_eq!(
        h.media_files(),
        Vec::<String>::new(),
        "{name} left files behind"
    );
    let list = h.get("/api/v1/media").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json(), json!([]), "{name} was recorded");
}

#[tokio::test]
async fn an_empty_upload_is_refused_and_leaves_nothing_behind() {
    assert_refused(
        "empty.mp3",
        StatusCode::UNPROCESSABLE_ENTITY,
        "media.empty",
        &["empty"],
    )
    .await;
}

#[tokio::test]
async fn a_garbage_upload_is_refused_as_not_audio_and_leaves_nothing_behind() {
    assert_refused(
        "garbage.bin",
        StatusCode::UNPROCESSABLE_ENTITY,
        "media.not_audio",
        &["not audio", "MP3", "no known audio format"],
    )
    .await;
}

#[tokio::test]
async fn a_truncated_upload_is_refused_as_truncated_and_leaves_nothing_behind() {
    // truncated.wav's header declares 2 s of 8 kHz mono; it holds 0.5 s.
    assert_refused(
        "truncated.wav",
        StatusCode::UNPROCESSABLE_ENTITY,
        "media.truncated",
        &["cut short", "2000 ms", "500 ms", "complete file"],
    )
    .await;
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_refused_with_413() {
    let h = Harness::with_config(|c| c.max_upload_bytes = 10_000).await;
    let bytes = fixture("tone-44100-stereo.mp3");
    assert!(bytes.len() > 10_000);
    let r = h.upload("tone-44100-stereo.mp3", bytes).await;
    r.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media.too_large",
        &["larger than", "limit"],
    );
    assert_eq!(h.media_files(), Vec::<String>::new());
    assert_eq!(h.get("/api/v1/media").await.json(), json!([]));
    // A file under the limit still goes through.
    let small = fixture("tone-22050-mono.ogg");
    assert!(small.len() < 10_000);
    let r = h.upload("tone-22050-mono.ogg", small).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

// ---- media downloads for nodes ----------------------------------------------------------

/// A harness with the MP3 fixture uploaded, one node provisioned, and a broadcast of the
/// recording in the node's plan (a node fetches only its plan's media): (harness, bytes, sha,
/// the node's media token).
async fn with_media_and_node() -> (Harness, Vec<u8>, String, String) {
    let h = Harness::new().await;
    let bytes = fixture("tone-44100-stereo.mp3");
    let sha = h.uploaded("tone-44100-stereo.mp3").await;
    let village = h.zone("Thôn 1", None).await;
    let cfg = h.node("thon-1", village).await;
    let a = h
        .post_json(
            "/api/v1/announcements",
            json!({ "title": "Bản tin", "media_sha256": sha }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    h.broadcast(&a.json()["id"], &[village], Some(at)).await;
    let token = cfg["media_token"]
        .as_str()
        .expect("a media token")
        .to_string();
    (h, bytes, sha, token)
}

#[tokio::test]
async fn a_media_download_without_a_token_is_401() {
    let (h, _, sha, _) = with_media_and_node().await;
    let r = h.download(&sha, None, None).await;
    r.assert_error(
        StatusCode::UNAUTHORIZED,
        "media.token_missing",
        &["media token", "required"],
    );
}

#[tokio::test]
async fn a_media_download_with_a_wrong_token_is_403() {
    let (h, _, sha, _) = with_media_and_node().await;
    let r = h.download(&sha, Some("not-a-token"), None).await;
    r.assert_error(
        StatusCode::FORBIDDEN,
        "media.token_invalid",
        &["media token", "not valid"],
    );
}

#[tokio::test]
async fn a_nodes_media_token_downloads_the_exact_bytes() {
    let (h, bytes, sha, token) = with_media_and_node().await;
    let r = h.download(&sha, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body.as_ref(), bytes.as_slice());
    assert_eq!(
        r.header(header::CONTENT_LENGTH),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(r.header(header::ACCEPT_RANGES), Some("bytes"));
    assert_eq!(r.header(header::ETAG), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(r.header(header::CONTENT_RANGE), None);

    // Only the header carries the token: a token in the URL would end up in logs.
    let r = h
        .call_as(
            axum::http::Request::get(format!("/media/{sha}?token={token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A valid token for media that is not there, or not in this node's plan.
    let missing = "0".repeat(64);
    let r = h.download(&missing, Some(&token), None).await;
    r.assert_error(
        StatusCode::NOT_FOUND,
        "media.not_in_plan",
        &["no such media in this node's plan"],
    );
    let village = h.zone("Thôn 2", None).await;
    let other = h.node("thon-2", village).await;
    let r = h.download(&sha, other["media_token"].as_str(), None).await;
    r.assert_error(
        StatusCode::NOT_FOUND,
        "media.not_in_plan",
        &["no such media in this node's plan"],
    );
}

#[tokio::test]
async fn a_range_from_an_offset_returns_206_with_the_rest_of_the_file() {
    let (h, bytes, sha, token) = with_media_and_node().await;
    let r = h.download(&sha, Some(&token), Some("bytes=100-")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{}", r.text());
    let len = bytes.len();
    assert_eq!(
        r.header(header::CONTENT_RANGE),
        Some(format!("bytes 100-{}/{len}", len - 1).as_str())
    );
    assert_eq!(
        r.header(header::CONTENT_LENGTH),
        Some((len - 100).to_string().as_str())
    );
    assert_eq!(r.body.as_ref(), &bytes[100..]);

    let r = h.download(&sha, Some(&token), Some("bytes=10-19")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.header(header::CONTENT_RANGE),
        Some(format!("bytes 10-19/{len}").as_str())
    );
    assert_eq!(r.body.as_ref(), &bytes[10..20]);
}

#[tokio::test]
async fn a_suffix_range_returns_the_last_bytes() {
    let (h, bytes, sha, token) = with_media_and_node().await;
    let r = h.download(&sha, Some(&token), Some("bytes=-10")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{}", r.text());
    let len = bytes.len();
    assert_eq!(
        r.header(header::CONTENT_RANGE),
        Some(format!("bytes {}-{}/{len}", len - 10, len - 1).as_str())
    );
    assert_eq!(r.body.as_ref(), &bytes[len - 10..]);
}

#[tokio::test]
async fn a_range_past_the_end_is_416() {
    let (h, bytes, sha, token) = with_media_and_node().await;
    let len = bytes.len();
    let r = h
        .download(&sha, Some(&token), Some(&format!("bytes={len}-")))
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{}", r.text());
    assert_eq!(
        r.header(header::CONTENT_RANGE),
        Some(format!("bytes */{len}").as_str())
    );
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn resetting_a_nodes_secrets_retires_its_old_media_token() {
    let (h, bytes, sha, old) = with_media_and_node().await;
    let r = h
        .post_json("/api/v1/nodes/thon-1/credentials", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cfg: toml::Value = toml::from_str(r.json()["config_toml"].as_str().expect("a config"))
        .expect("the new config parses");
    let new = cfg["media_token"].as_str().expect("a new media token");
    assert_ne!(new, old);

    let r = h.download(&sha, Some(&old), None).await;
    r.assert_error(StatusCode::FORBIDDEN, "media.token_invalid", &["not valid"]);
    let r = h.download(&sha, Some(new), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body.as_ref(), bytes.as_slice());

    let r = h
        .post_json("/api/v1/nodes/no-such-node/credentials", json!({}))
        .await;
    r.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        &["node no-such-node not found"],
    );
}

// ---- zones ------------------------------------------------------------------------------

#[tokio::test]
async fn zones_come_back_as_a_nested_tree() {
    let h = Harness::new().await;
    let commune = h.zone("Xã Demo", None).await;
    let na_sai = h.zone("Thôn Nà Sài", Some(commune)).await;
    let ban_me = h.zone("Thôn Bản Mế", Some(commune)).await;
    let market = h.zone("Cụm chợ", Some(na_sai)).await;

    let r = h.get("/api/v1/zones").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!([{
            "id": commune,
            "name": "Xã Demo",
            "children": [
                { "id": ban_me, "name": "Thôn Bản Mế", "children": [] },
                { "id": na_sai, "name": "Thôn Nà Sài", "children": [
                    { "id": market, "name": "Cụm chợ", "children": [] },
                ]},
            ],
        }])
    );
}

#[tokio::test]
async fn a_duplicate_zone_name_under_the_same_parent_is_409() {
    let h = Harness::new().await;
    let commune = h.zone("Xã Demo", None).await;
    h.zone("Thôn 1", Some(commune)).await;
    let r = h
        .post_json(
            "/api/v1/zones",
            json!({ "name": "Thôn 1", "parent_id": commune }),
        )
        .await;
    r.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        &["\"Thôn 1\"", "already exists"],
    );
    // Also at the top of the tree, where the parent is NULL.
    let r = h
        .post_json("/api/v1/zones", json!({ "name": "Xã Demo" }))
        .await;
    r.assert_error(StatusCode::CONFLICT, "conflict", &["already exists"]);
    // The same name under another parent is another zone.
    let other = h.zone("Xã Khác", None).await;
    h.zone("Thôn 1", Some(other)).await;
}

#[tokio::test]
async fn a_zone_under_an_unknown_parent_is_404() {
    let h = Harness::new().await;
    let r = h
        .post_json(
            "/api/v1/zones",
            json!({ "name": "Thôn 1", "parent_id": 999 }),
        )
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found", &["zone 999 not found"]);
    assert_eq!(h.get("/api/v1/zones").await.json(), json!([]));
}

// ---- node provisioning ------------------------------------------------------------------

#[tokio::test]
async fn provisioning_returns_a_node_config_with_everything_the_node_needs() {
    let h = Harness::new().await;
    let commune = h.zone("Xã Demo", None).await;
    let village = h.zone("Thôn 1", Some(commune)).await;
    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({ "id": "thon-1", "name": "Loa đầu thôn", "zone_id": village }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["node"]["id"], "thon-1");
    assert_eq!(v["node"]["name"], "Loa đầu thôn");
    assert_eq!(v["node"]["zone_id"], village);
    let text = v["config_toml"].as_str().expect("a config file");
    assert!(
        text.contains("Xã Demo / Thôn 1"),
        "the header names the zone: {text}"
    );
    let cfg: toml::Value = toml::from_str(text).expect("the config parses");
    assert_eq!(cfg["node_id"].as_str(), Some("thon-1"));
    assert_eq!(cfg["site"].as_str(), Some(SITE));
    assert_eq!(
        cfg["controller_url"].as_str(),
        Some("http://controller.test:8080")
    );
    assert_eq!(
        cfg["controller_public_key"].as_str(),
        Some(h.state.planner.keys().public().as_str())
    );
    let token = cfg["media_token"].as_str().expect("a media token");
    assert!(token.len() >= 40, "a full-entropy token: {token}");
    assert_eq!(cfg["mqtt"]["address"].as_str(), Some(PUBLIC_BROKER));
    assert_eq!(cfg["mqtt"]["username"].as_str(), Some("thon-1"));
    let password = cfg["mqtt"]["password"].as_str().expect("an MQTT password");
    assert!(password.len() >= 40 && password != token);

    // Listed, and the secrets are not shown again.
    let r = h.get("/api/v1/nodes/thon-1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text().contains(token) && !r.text().contains(password));
    assert_eq!(r.json()["presence"], "unknown");
}

#[tokio::test]
async fn provisioning_with_format_toml_returns_the_bare_file() {
    let h = Harness::new().await;
    let village = h.zone("Thôn 1", None).await;
    let r = h
        .post_json(
            "/api/v1/nodes?format=toml",
            json!({ "id": "thon-1", "name": "Loa", "zone_id": village }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let ct = r.header(header::CONTENT_TYPE).expect("a content type");
    assert!(ct.starts_with("application/toml"), "{ct}");
    let text = r.text();
    assert!(text.starts_with("# loa node configuration"), "{text}");
    let cfg: toml::Value = toml::from_str(&text).expect("the file parses");
    assert_eq!(cfg["node_id"].as_str(), Some("thon-1"));
    assert!(cfg["media_token"].as_str().is_some());
}

#[tokio::test]
async fn a_bad_node_id_is_422() {
    let h = Harness::new().await;
    let village = h.zone("Thôn 1", None).await;
    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({ "id": "a/b", "name": "Loa", "zone_id": village }),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["node id \"a/b\"", "letters, digits"],
    );
    let message = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        !message.contains("malformed message"),
        "a clerk's typo is not a malformed message: {message:?}"
    );
    assert_eq!(h.get("/api/v1/nodes").await.json(), json!([]));
}

#[tokio::test]
async fn a_duplicate_node_id_is_409() {
    let h = Harness::new().await;
    let village = h.zone("Thôn 1", None).await;
    h.node("thon-1", village).await;
    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({ "id": "thon-1", "name": "Loa 2", "zone_id": village }),
        )
        .await;
    r.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        &["\"thon-1\"", "already exists"],
    );
}

#[tokio::test]
async fn a_node_in_an_unknown_zone_is_404() {
    let h = Harness::new().await;
    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({ "id": "thon-1", "name": "Loa", "zone_id": 999 }),
        )
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found", &["zone 999 not found"]);
}

// ---- broadcasts -------------------------------------------------------------------------

/// Xã Demo with two villages: Thôn Nà Sài (node na-sai-1, and the cluster Cụm chợ below it
/// with node cho-1) and Thôn Bản Mế (node ban-me-1). Returns (commune, Nà Sài, Bản Mế).
async fn commune(h: &Harness) -> (i64, i64, i64) {
    let commune = h.zone("Xã Demo", None).await;
    let na_sai = h.zone("Thôn Nà Sài", Some(commune)).await;
    let market = h.zone("Cụm chợ", Some(na_sai)).await;
    let ban_me = h.zone("Thôn Bản Mế", Some(commune)).await;
    h.node("na-sai-1", na_sai).await;
    h.node("cho-1", market).await;
    h.node("ban-me-1", ban_me).await;
    (commune, na_sai, ban_me)
}

#[tokio::test]
async fn a_broadcast_to_a_zone_without_nodes_is_422() {
    let h = Harness::new().await;
    let commune = h.zone("Xã Demo", None).await;
    let empty = h.zone("Thôn Trống", Some(commune)).await;
    let a = h.announcement("Lịch tiêm chủng").await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({ "announcement_id": a, "zones": [empty] }),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["no loudspeaker nodes"],
    );
    assert_eq!(h.get("/api/v1/broadcasts").await.json(), json!([]));
}

#[tokio::test]
async fn a_broadcast_of_an_unknown_announcement_is_404() {
    let h = Harness::new().await;
    let (commune, _, _) = commune(&h).await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({ "announcement_id": 999, "zones": [commune] }),
        )
        .await;
    r.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        &["announcement 999 not found"],
    );
}

#[tokio::test]
async fn a_broadcast_to_an_unknown_zone_is_404() {
    let h = Harness::new().await;
    commune(&h).await;
    let a = h.announcement("Lịch tiêm chủng").await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({ "announcement_id": a, "zones": [999] }),
        )
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found", &["zone 999 not found"]);
}

#[tokio::test]
async fn a_broadcast_to_a_village_plans_one_delivery_per_node_below_it() {
    let h = Harness::new().await;
    let (_, na_sai, _) = commune(&h).await;
    let a = h.announcement("Lịch tiêm chủng").await;
    let at = Utc::now() + Duration::hours(1);
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({
                "announcement_id": a,
                "zones": [na_sai],
                "at": at.to_rfc3339(),
                "priority": "priority",
                "expires_in_minutes": 30,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let b = r.json();
    assert_eq!(b["announcement_id"], a);
    assert_eq!(b["title"], "Lịch tiêm chủng");
    assert_eq!(b["priority"], "priority");
    assert_eq!(b["zone_ids"], json!([na_sai]));
    assert_eq!(b["cancelled_at"], Value::Null);
    let start = time(&b["start_at"]);
    assert!(
        (start - at).num_milliseconds().abs() <= 1,
        "{start} vs {at}"
    );
    assert_eq!(time(&b["expires_at"]) - start, Duration::minutes(30));
    assert_eq!(b["summary"], json!({ "planned": 2 }));

    // One planned delivery per node under the village, the cluster's included; none for
    // Bản Mế.
    let mut lines: Vec<(String, String, String)> = b["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            assert!(d["times"]["planned"].is_string(), "{d}");
            assert_eq!(d["reason"], Value::Null, "{d}");
            (
                d["node_id"].as_str().unwrap().to_string(),
                d["zone"].as_str().unwrap().to_string(),
                d["stage"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    lines.sort();
    let line = |n: &str, z: &str| (n.to_string(), z.to_string(), "planned".to_string());
    assert_eq!(
        lines,
        vec![
            line("cho-1", "Xã Demo / Thôn Nà Sài / Cụm chợ"),
            line("na-sai-1", "Xã Demo / Thôn Nà Sài"),
        ]
    );

    // Each targeted node got a new plan (signed and stored; the broker is not reached here),
    // after the first (empty) one every node gets when it is provisioned.
    for (node, version) in [("na-sai-1", 2), ("cho-1", 2), ("ban-me-1", 1)] {
        let n = h.get(&format!("/api/v1/nodes/{node}")).await.json();
        assert_eq!(n["plan_version"], version, "{node}: {n}");
    }

    // And it reads back the same.
    let id = b["id"].as_i64().expect("an id");
    let again = h.get(&format!("/api/v1/broadcasts/{id}")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), b);
}

#[tokio::test]
async fn a_broadcast_already_past_its_expiry_is_422() {
    let h = Harness::new().await;
    let (commune, _, _) = commune(&h).await;
    let a = h.announcement("Lịch tiêm chủng").await;
    let at = Utc::now() - Duration::hours(2);
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({ "announcement_id": a, "zones": [commune], "at": at.to_rfc3339(), "expires_in_minutes": 60 }),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["already past its expiry", "later time"],
    );
    assert_eq!(h.get("/api/v1/broadcasts").await.json(), json!([]));
}

/// Creates a broadcast of a new announcement to the whole commune, now; returns its id.
async fn broadcast_now(h: &Harness) -> i64 {
    let (commune, _, _) = commune(h).await;
    let a = h.announcement("Cắt điện").await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({ "announcement_id": a, "zones": [commune] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["summary"], json!({ "planned": 3 }));
    r.json()["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn cancelling_a_broadcast_cancels_every_delivery_with_the_reason() {
    let h = Harness::new().await;
    let id = broadcast_now(&h).await;
    let before = Utc::now();
    let reason = "sai nội dung, sẽ phát lại";
    let r = h
        .post_json(
            &format!("/api/v1/broadcasts/{id}/cancel"),
            json!({ "reason": reason }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let b = r.json();
    assert_eq!(b["cancel_reason"], reason);
    assert!(
        time(&b["cancelled_at"]) >= before - Duration::seconds(1),
        "{b}"
    );
    assert_eq!(b["summary"], json!({ "cancelled": 3 }));
    let deliveries = b["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 3);
    for d in deliveries {
        assert_eq!(d["stage"], "cancelled", "{d}");
        assert_eq!(d["reason"], reason, "{d}");
        assert!(
            time(&d["times"]["cancelled"]) >= before - Duration::seconds(1),
            "{d}"
        );
        assert!(
            d["times"]["planned"].is_string(),
            "the planned time stays: {d}"
        );
    }
    // Every node got a plan without the item (its third: provisioned, planned, cancelled).
    for node in ["na-sai-1", "cho-1", "ban-me-1"] {
        let n = h.get(&format!("/api/v1/nodes/{node}")).await.json();
        assert_eq!(n["plan_version"], 3, "{node}: {n}");
    }
}

#[tokio::test]
async fn cancelling_without_a_reason_gives_the_default_one() {
    let h = Harness::new().await;
    let id = broadcast_now(&h).await;
    let r = h
        .call(
            axum::http::Request::post(format!("/api/v1/broadcasts/{id}/cancel"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let b = r.json();
    assert_eq!(b["cancel_reason"], "withdrawn by staff");
    assert!(b["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["stage"] == "cancelled" && d["reason"] == "withdrawn by staff"));
}

#[tokio::test]
async fn cancelling_a_broadcast_twice_is_409() {
    let h = Harness::new().await;
    let id = broadcast_now(&h).await;
    let uri = format!("/api/v1/broadcasts/{id}/cancel");
    let r = h.post_json(&uri, json!({ "reason": "first" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.post_json(&uri, json!({ "reason": "second" })).await;
    r.assert_error(StatusCode::CONFLICT, "conflict", &["already cancelled"]);
    // The first cancellation stands.
    let b = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(b["cancel_reason"], "first");

    let r = h
        .post_json("/api/v1/broadcasts/999/cancel", json!({}))
        .await;
    r.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        &["broadcast 999 not found"],
    );
}

#[tokio::test]
async fn broadcasts_are_listed_newest_first() {
    let h = Harness::new().await;
    let first = broadcast_now(&h).await;
    let a = h.get("/api/v1/announcements").await.json()[0]["id"].clone();
    let commune = h.get("/api/v1/zones").await.json()[0]["id"].clone();
    let second = h
        .broadcast(&json!(a), &[commune.as_i64().unwrap()], None)
        .await;

    let r = h.get("/api/v1/broadcasts").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.json();
    let ids: Vec<i64> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![second, first]);
    assert_eq!(list[1]["title"], "Cắt điện");
    assert_eq!(list[1]["zone_ids"], json!([commune]));
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not a time: {v}: {e}"))
}

// ---- health and metrics -----------------------------------------------------------------

#[tokio::test]
async fn healthz_answers_with_the_database_ok_and_mqtt_disconnected() {
    let h = Harness::new().await;
    let r = h.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["database"], "ok", "{v}");
    assert_eq!(v["mqtt"], "disconnected", "{v}");
    assert_eq!(v["status"], "degraded", "{v}");
    assert_eq!(v["site"], SITE, "{v}");
}

#[tokio::test]
async fn metrics_start_with_no_malformed_messages() {
    let h = Harness::new().await;
    let r = h.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(
        text.lines().any(|l| l == "loa_malformed_messages_total 0"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "loa_mqtt_connected 0"), "{text}");
}

// ---- loudness ----------------------------------------------------------------------------

/// A 3-second stereo 1 kHz sine at `dbfs` (peak), as 16-bit 48 kHz WAV: EBU Tech 3341's first
/// test signal, which reads −23.0 LUFS at −23 dBFS.
fn sine_wav(dbfs: f64) -> Vec<u8> {
    let (rate, secs, amp) = (48_000u32, 3u32, 10f64.powf(dbfs / 20.0));
    let frames = rate * secs;
    let data_len = frames * 4;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&2u16.to_le_bytes()); // stereo
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 4).to_le_bytes());
    w.extend_from_slice(&4u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let v = (amp
            * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / rate as f64).sin()
            * 32767.0) as i16;
        w.extend_from_slice(&v.to_le_bytes());
        w.extend_from_slice(&v.to_le_bytes());
    }
    w
}

#[tokio::test]
async fn uploads_are_measured_for_loudness_and_plans_carry_the_gain_that_evens_them_out() {
    let h = Harness::new().await;
    let zone = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", zone).await;
    let mut gains = Vec::new();
    for (dbfs, want_lufs) in [(-23.0, -23.0), (-10.0, -10.0)] {
        let r = h.upload(&format!("sine{dbfs}.wav"), sine_wav(dbfs)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let lufs = r.json()["loudness_lufs"].as_f64().expect("measured");
        assert!(
            (lufs - want_lufs).abs() < 0.2,
            "{dbfs} dBFS sine measured {lufs} LUFS"
        );
        let a = h
            .post_json(
                "/api/v1/announcements",
                json!({"title": "sine", "media_sha256": r.json()["sha256"]}),
            )
            .await
            .json();
        let b = h
            .post_json(
                "/api/v1/broadcasts",
                json!({"announcement_id": a["id"], "zones": [zone]}),
            )
            .await;
        assert_eq!(b.status, StatusCode::CREATED, "{}", b.text());
        let sealed = h.state.store.sealed_plans().await.unwrap();
        let key = h.state.planner.keys().current().verifying_key();
        let plan =
            loa_protocol::Plan::open(&sealed[0].1, &[key], "na-sai-1", None, chrono::Utc::now())
                .unwrap()
                .0;
        gains.push(plan.items.last().unwrap().parts[0].gain_db);
    }
    // Towards −16 LUFS: the quiet one boosted (at most 6 dB), the loud one cut.
    assert_eq!(gains[0], 6.0, "{gains:?}");
    assert!((gains[1] + 6.0).abs() < 0.2, "{gains:?}");
}

// ---- the speaker check ----------------------------------------------------------------------

#[tokio::test]
async fn a_speaker_check_asked_for_goes_out_in_the_nodes_plan() {
    let h = Harness::new().await;
    let village = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", village).await;
    let before = h.plan("na-sai-1").await;
    assert_eq!(before.speaker_check, None);

    let r = h
        .post_json("/api/v1/nodes/na-sai-1/speaker-check", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let asked: DateTime<Utc> = r.json()["speaker_check_requested_at"]
        .as_str()
        .expect("the request's time")
        .parse()
        .unwrap();
    assert!((Utc::now() - asked).num_seconds().abs() < 5, "{asked}");
    let after = h.plan("na-sai-1").await;
    assert!(after.version > before.version);
    assert_eq!(after.speaker_check, Some(asked));

    let r = h
        .post_json("/api/v1/nodes/no-such-node/speaker-check", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
}
