//! The releases page (`/ui/releases`, admins): the uploaded releases, a rollout to one
//! loudspeaker from the page reaching its plan, each loudspeaker's progress with the failures
//! first and their reason, every loudspeaker's version; operators get 403.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::ui::{account, assert_has, assert_redirect, page, post, sign_in};
use common::Harness;
use loa_protocol::{UpdateProgress, UpdateStatus};

#[tokio::test]
async fn a_release_is_rolled_out_from_the_page_and_its_failures_come_first() {
    let key = loa_protocol::generate_key();
    let h =
        Harness::with_config(|c| c.release_key = Some(loa_protocol::public_key_b64(&key))).await;
    let village = h.zone("Thôn Nà Sài", None).await;
    for n in ["na-sai-1", "na-sai-2"] {
        h.node(n, village).await;
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
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(&h, "quan-ly").await;
    let empty = page(&h, &s, "/ui/releases").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
    assert_has(&empty, r#"id="no-releases""#);
    assert_has(&empty, r#"data-test="node-version" data-node="na-sai-1""#);

    let binary = b"loa-node 0.2.0";
    let m = loa_protocol::ReleaseManifest {
        version: "0.2.0".into(),
        arch: "amd64".into(),
        sha256: common::sha256_hex(binary),
        size: binary.len() as u64,
    };
    let up = h
        .call(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/releases")
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(loa_protocol::release::write_bundle(
                    &m.sign(&key),
                    binary,
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    let id = up.json()["id"].as_i64().unwrap();

    let r = post(
        &h,
        &s,
        &format!("/ui/releases/{id}/rollout"),
        &[("target", "node:na-sai-1")],
    )
    .await;
    assert_redirect(&r, &format!("/ui/releases?rolled={id}"));
    assert_eq!(h.plan("na-sai-1").await.release.unwrap().version, "0.2.0");
    assert!(h.plan("na-sai-2").await.release.is_none());
    let r = post(
        &h,
        &s,
        &format!("/ui/releases/{id}/rollout"),
        &[
            ("target", &format!("zone:{village}")),
            ("allow_metered", "1"),
        ],
    )
    .await;
    assert_redirect(&r, &format!("/ui/releases?rolled={id}"));
    assert!(h.plan("na-sai-2").await.release.unwrap().allow_metered);

    // na-sai-2 runs it; na-sai-1 went back, and is listed first with why.
    h.state_at(
        "na-sai-2",
        |s| {
            s.arch = Some("amd64".into());
            s.software = Some("0.2.0".into());
        },
        chrono::Utc::now(),
    )
    .await;
    h.state_at(
        "na-sai-1",
        |s| {
            s.arch = Some("amd64".into());
            s.software = Some("0.1.0".into());
            s.update = Some(UpdateProgress {
                version: "0.2.0".into(),
                status: UpdateStatus::RolledBack,
                reason: Some("it did not connect and take a plan within 120 s".into()),
            });
        },
        chrono::Utc::now(),
    )
    .await;
    let p = page(&h, &s, &format!("/ui/releases?rolled={id}")).await;
    assert_has(&p, r#"id="rolled""#);
    assert_has(&p, r#"data-test="release" data-id"#);
    let text = p.text();
    let first = text
        .find(r#"data-node="na-sai-1" data-status="rolled_back""#)
        .expect("na-sai-1 rolled back");
    let second = text
        .find(r#"data-node="na-sai-2" data-status="running""#)
        .expect("na-sai-2 running");
    assert!(first < second, "failures first");
    assert_has(&p, "within 120 s");
    assert_has(&p, "đã quay về bản cũ");

    // A rollout naming nobody is told on the page.
    let r = post(&h, &s, &format!("/ui/releases/{id}/rollout"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_has(&r, r#"id="releases-error""#);

    account(&h, "van-hanh", "operator", &[], "vi").await;
    let op = sign_in(&h, "van-hanh").await;
    assert_eq!(
        page(&h, &op, "/ui/releases").await.status,
        StatusCode::FORBIDDEN
    );
    let r = post(
        &h,
        &op,
        &format!("/ui/releases/{id}/rollout"),
        &[("target", "all")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
