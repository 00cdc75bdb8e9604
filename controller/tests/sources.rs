//! Relay sources through the API: an operator registers a station's stream, lists the
//! sources and removes one; a bad URL, an empty name and a second source of the same name are
//! refused with a message.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Harness;
use serde_json::json;

#[tokio::test]
async fn sources_are_registered_listed_and_removed() {
    let h = Harness::new().await;
    let vov = h
        .post_json(
            "/api/v1/sources",
            json!({"name": "VOV1", "url": "https://stream.example/vov1.mp3"}),
        )
        .await;
    assert_eq!(vov.status, StatusCode::CREATED, "{}", vov.text());
    let vov = vov.json();
    assert_eq!(vov["name"], "VOV1");
    assert_eq!(vov["url"], "https://stream.example/vov1.mp3");
    let tinh = h
        .post_json(
            "/api/v1/sources",
            json!({"name": " Đài tỉnh ", "url": "http://10.0.0.5:8000/tinh.aac"}),
        )
        .await
        .json();
    assert_eq!(tinh["name"], "Đài tỉnh", "the name is trimmed");

    let list = h.get("/api/v1/sources").await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    // By name, in byte order.
    assert_eq!(names, ["VOV1", "Đài tỉnh"]);

    let r = h
        .call(
            Request::builder()
                .method(Method::DELETE)
                .uri(format!("/api/v1/sources/{}", vov["id"]))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let list = h.get("/api/v1/sources").await.json();
    assert_eq!(list, json!([tinh]));
    let again = h
        .call(
            Request::builder()
                .method(Method::DELETE)
                .uri(format!("/api/v1/sources/{}", vov["id"]))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_sources_are_refused_with_a_reason_and_not_kept() {
    let h = Harness::new().await;
    h.post_json(
        "/api/v1/sources",
        json!({"name": "VOV1", "url": "https://stream.example/vov1.mp3"}),
    )
    .await;
    h.post_json(
        "/api/v1/sources",
        json!({"name": "VOV1", "url": "https://other.example/a.mp3"}),
    )
    .await
    .assert_error(
        StatusCode::CONFLICT,
        "conflict",
        &["VOV1", "already exists"],
    );
    h.post_json(
        "/api/v1/sources",
        json!({"name": "Đài tỉnh", "url": "rtsp://cam.example/live"}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "source.bad_url",
        &["http://", "https://", "rtsp://"],
    );
    h.post_json(
        "/api/v1/sources",
        json!({"name": "Đài tỉnh", "url": "not a url"}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "source.bad_url",
        &["not a URL"],
    );
    h.post_json(
        "/api/v1/sources",
        json!({"name": "  ", "url": "https://stream.example/x.mp3"}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["source name", "empty"],
    );
    let list = h.get("/api/v1/sources").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}
