//! Node releases through the API: an admin uploads a bundle signed by the release key and
//! rolls it out to one node, then a zone; only the named nodes' plans carry it, only they may
//! download it, and the progress shows each node's state, failures first. Bundles not signed
//! by the release key, or whose binary does not match, are refused; with no release key
//! configured every upload is.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Harness, Reply};
use loa_protocol::{UpdateProgress, UpdateStatus};
use serde_json::json;

async fn upload(h: &Harness, bundle: Vec<u8>) -> Reply {
    h.call(
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/releases")
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(bundle))
            .unwrap(),
    )
    .await
}

async fn fetch_binary(h: &Harness, id: i64, token: &str) -> Reply {
    fetch_range(h, id, token, None).await
}

/// The binary, or the part of it from `range` on (`Range: bytes=N-`, a resumed download).
async fn fetch_range(h: &Harness, id: i64, token: &str, from: Option<u64>) -> Reply {
    let mut req = Request::builder()
        .uri(format!("/releases/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(n) = from {
        req = req.header(header::RANGE, format!("bytes={n}-"));
    }
    h.call_as(req.body(Body::empty()).unwrap()).await
}

fn bundle(key: &ed25519_dalek::SigningKey, version: &str, binary: &[u8]) -> Vec<u8> {
    let m = loa_protocol::ReleaseManifest {
        version: version.into(),
        arch: "amd64".into(),
        sha256: common::sha256_hex(binary),
        size: binary.len() as u64,
    };
    loa_protocol::release::write_bundle(&m.sign(key), binary)
}

#[tokio::test]
async fn a_signed_release_reaches_only_the_nodes_of_its_rollout_failures_first() {
    let release_key = loa_protocol::generate_key();
    let public = loa_protocol::public_key_b64(&release_key);
    let h = Harness::with_config(|c| c.release_key = Some(public.clone())).await;
    let zone = h.zone("Thôn 1", None).await;
    let other_zone = h.zone("Thôn 2", None).await;
    let a = h.node("thon-a", zone).await;
    let b = h.node("thon-b", zone).await;
    let _c = h.node("thon-c", other_zone).await;
    assert_eq!(
        a["update"]["release_key"].as_str(),
        Some(public.as_str()),
        "each new node's file names the release key, apart from the plan key"
    );
    for n in ["thon-a", "thon-b", "thon-c"] {
        h.state_at(
            n,
            |s| {
                s.arch = Some("amd64".into());
                s.software = Some("0.1.0".into());
            },
            chrono::Utc::now(),
        )
        .await;
    }

    // Refused: another key's signature, a binary that is not the one signed, not a bundle.
    let forged = upload(&h, bundle(&loa_protocol::generate_key(), "0.2.0", b"v2")).await;
    forged.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "release.bad_signature",
        &["release key"],
    );
    let mut swapped = bundle(&release_key, "0.2.0", b"v2");
    let n = swapped.len();
    swapped[n - 1] = b'X';
    upload(&h, swapped).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "release.hash_mismatch",
        &["SHA-256"],
    );
    upload(&h, b"#!/bin/sh\n".to_vec()).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "release.malformed",
        &[],
    );
    assert_eq!(
        h.get("/api/v1/releases").await.json(),
        json!([]),
        "nothing kept"
    );

    let up = upload(&h, bundle(&release_key, "0.2.0", b"v2 binary")).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    let id = up.json()["id"].as_i64().unwrap();
    assert_eq!(up.json()["version"], "0.2.0");
    upload(&h, bundle(&release_key, "0.2.0", b"v2 binary"))
        .await
        .assert_error(StatusCode::CONFLICT, "conflict", &["already uploaded"]);

    // One node first.
    let r = h
        .post_json(
            &format!("/api/v1/releases/{id}/rollout"),
            json!({"nodes": ["thon-a"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let release = h
        .plan("thon-a")
        .await
        .release
        .expect("thon-a's plan names the release");
    assert_eq!(
        (
            release.version.as_str(),
            release.size,
            release.allow_metered
        ),
        ("0.2.0", 9, false)
    );
    assert!(
        release.url.ends_with(&format!("/releases/{id}")),
        "{}",
        release.url
    );
    assert!(
        h.plan("thon-b").await.release.is_none(),
        "not in the rollout"
    );
    let token = |cfg: &toml::Value| cfg["media_token"].as_str().unwrap().to_string();
    let got = fetch_binary(&h, id, &token(&a)).await;
    assert_eq!(
        (got.status, &got.body[..]),
        (StatusCode::OK, &b"v2 binary"[..])
    );
    // A download the link cut is resumed where it stopped.
    let rest = fetch_range(&h, id, &token(&a), Some(3)).await;
    assert_eq!(
        (rest.status, &rest.body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"binary"[..])
    );
    assert_eq!(rest.header(header::CONTENT_RANGE), Some("bytes 3-8/9"));
    let past = fetch_range(&h, id, &token(&a), Some(9)).await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    fetch_binary(&h, id, &token(&b)).await.assert_error(
        StatusCode::NOT_FOUND,
        "release.not_for_node",
        &[],
    );

    // Then the zone: thon-b too, over metered links as well; thon-c (another zone) not.
    let r = h
        .post_json(
            &format!("/api/v1/releases/{id}/rollout"),
            json!({"zones": [zone], "allow_metered": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(h.plan("thon-b").await.release.unwrap().allow_metered);
    assert!(h.plan("thon-c").await.release.is_none());

    // thon-b runs it; thon-a tried it and went back.
    h.state_at(
        "thon-b",
        |s| {
            s.arch = Some("amd64".into());
            s.software = Some("0.2.0".into());
        },
        chrono::Utc::now(),
    )
    .await;
    h.state_at(
        "thon-a",
        |s| {
            s.arch = Some("amd64".into());
            s.software = Some("0.1.0".into());
            s.update = Some(UpdateProgress {
                version: "0.2.0".into(),
                status: UpdateStatus::RolledBack,
                reason: Some("it exited (status 3) before connecting and taking a plan".into()),
            });
        },
        chrono::Utc::now(),
    )
    .await;
    let p = h.get(&format!("/api/v1/releases/{id}")).await.json();
    let rows: Vec<(&str, &str)> = p["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("thon-a", "rolled_back"), ("thon-b", "running")]);
    assert!(p["nodes"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("status 3"));

    // A rollout naming nobody, or an unknown node, is refused.
    h.post_json(&format!("/api/v1/releases/{id}/rollout"), json!({}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &["nodes"]);
    h.post_json(
        &format!("/api/v1/releases/{id}/rollout"),
        json!({"nodes": ["ghost"]}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found", &["ghost"]);
}

#[tokio::test]
async fn without_a_release_key_no_release_is_taken() {
    let h = Harness::new().await;
    let key = loa_protocol::generate_key();
    upload(&h, bundle(&key, "0.2.0", b"v2")).await.assert_error(
        StatusCode::CONFLICT,
        "release.no_key",
        &["release_key"],
    );
    let zone = h.zone("Thôn 1", None).await;
    let cfg = h.node("thon-a", zone).await;
    assert!(cfg.get("update").is_none(), "no release key to write");
}
