//! Who may do what, over the real router and a real SQLite: every route of the API (the roles
//! written on its handlers, as the generated document and the guard read them) called by
//! anonymous, viewer, operator and admin; a route added without a role; accounts limited to one village asking
//! about another; browser sessions with their CSRF token; login throttling; API tokens; and
//! the audit log.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Harness, Reply};
use loa_controller::auth::policy::Access;
use loa_controller::store::accounts::Role;
use serde_json::{json, Value};

/// Makes an account with an API token; returns the token.
async fn account(h: &Harness, name: &str, role: &str, zones: &[i64]) -> String {
    let r = h
        .post_json(
            "/api/v1/users",
            json!({"username": name, "password": format!("mat-khau-{name}"), "role": role, "zone_ids": zones}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    let t = h
        .post_json(
            &format!("/api/v1/users/{id}/tokens"),
            json!({"name": "script"}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text());
    t.json()["token"].as_str().unwrap().to_owned()
}

async fn send(h: &Harness, method: Method, uri: &str, token: Option<&str>, body: Value) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = if body.is_null() {
        req.body(Body::empty()).unwrap()
    } else {
        req.header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    h.call_as(req).await
}

/// A commune with villages A (Nà Sài) and B (Phiêng), a node in each, an announcement, a
/// broadcast and a schedule in each village.
struct World {
    commune: i64,
    a: i64,
    b: i64,
    announcement: i64,
    broadcast_a: i64,
    broadcast_b: i64,
    schedule_a: i64,
    schedule_b: i64,
    sha: String,
    /// A relay source the operator removes (the admin then finds it gone).
    source: i64,
    /// A live session the admin started (the operator may follow and stop it, not speak),
    /// once the role matrix has made it.
    live: i64,
}

async fn world(h: &Harness) -> World {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let a = h.zone("Thôn Nà Sài", Some(commune)).await;
    let b = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("na-sai-1", a).await;
    h.node("phieng-1", b).await;
    let announcement = h.announcement("Bản tin").await;
    let sha = h.uploaded("tone-44100-stereo.mp3").await;
    let at = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let mut ids = Vec::new();
    for zone in [a, b] {
        let r = h
            .post_json(
                "/api/v1/broadcasts",
                json!({"announcement_id": announcement, "zones": [zone], "at": at}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    let mut schedules = Vec::new();
    for (zone, hour) in [(a, 7), (b, 8)] {
        let r = h
            .post_json(
                "/api/v1/schedules",
                json!({"name": format!("Bản tin {hour}h"), "announcement_id": announcement, "zones": [zone],
                       "recurrence": {"rule": {"kind": "cron", "expr": format!("0 0 {hour} * * *")}},
                       "accept_conflicts": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        schedules.push(r.json()["schedule"]["id"].as_i64().unwrap());
    }
    let source = h
        .post_json(
            "/api/v1/sources",
            json!({"name": "Đài tỉnh", "url": "http://radio.example:8000/tinh.mp3"}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    World {
        source,
        // Made by the test that needs it (it would be one more broadcast in village a).
        live: 0,
        commune,
        a,
        b,
        announcement,
        broadcast_a: ids[0],
        broadcast_b: ids[1],
        schedule_a: schedules[0],
        schedule_b: schedules[1],
        sha,
    }
}

/// Every route of the policy table with a request that reaches its handler. The table is
/// checked against the policy, so a route added there without a line here fails this test.
fn requests(
    w: &World,
    spare_token: i64,
    viewer_id: i64,
) -> Vec<(Method, &'static str, String, Value)> {
    let (a, sa, sb) = (w.a, w.schedule_a, w.schedule_b);
    let ann = w.announcement;
    vec![
        (Method::GET, "/healthz", "/healthz".into(), Value::Null),
        (Method::GET, "/time", "/time".into(), Value::Null),
        (Method::GET, "/metrics", "/metrics".into(), Value::Null),
        (
            Method::GET,
            "/media/{sha256}",
            format!("/media/{}", w.sha),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/login",
            "/api/v1/login".into(),
            json!({"username": "x", "password": "y"}),
        ),
        (
            Method::POST,
            "/api/v1/logout",
            "/api/v1/logout".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/openapi.json",
            "/api/v1/openapi.json".into(),
            Value::Null,
        ),
        (Method::GET, "/api/v1/me", "/api/v1/me".into(), Value::Null),
        (
            Method::GET,
            "/api/v1/zones",
            "/api/v1/zones".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/nodes",
            "/api/v1/nodes".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/nodes/{id}",
            "/api/v1/nodes/na-sai-1".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/nodes/{id}/station",
            "/api/v1/nodes/na-sai-1/station".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/faults",
            "/api/v1/faults".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/map/stations",
            "/api/v1/map/stations".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/media",
            "/api/v1/media".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/media/{sha256}",
            format!("/api/v1/media/{}", w.sha),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/media/{sha256}/audio",
            format!("/api/v1/media/{}/audio", w.sha),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/announcements",
            "/api/v1/announcements".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/broadcasts",
            "/api/v1/broadcasts".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/broadcasts/{id}",
            format!("/api/v1/broadcasts/{}", w.broadcast_a),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/schedules",
            "/api/v1/schedules".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/schedules/{id}",
            format!("/api/v1/schedules/{sa}"),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/schedules/{id}/occurrences",
            format!("/api/v1/schedules/{sa}/occurrences"),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/settings",
            "/api/v1/settings".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/tts/voices",
            "/api/v1/tts/voices".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/tts/preview",
            "/api/v1/tts/preview".into(),
            json!({"text": ""}),
        ),
        (
            Method::POST,
            "/api/v1/tts/announcements",
            "/api/v1/tts/announcements".into(),
            json!({"title": "x", "text": ""}),
        ),
        (
            Method::GET,
            "/api/v1/cap",
            "/api/v1/cap".into(),
            Value::Null,
        ),
        (
            // A JSON body: refused as not a CAP alert (415) once the role is allowed.
            Method::POST,
            "/api/v1/cap",
            "/api/v1/cap".into(),
            json!({}),
        ),
        (
            Method::GET,
            "/api/v1/reports/villages",
            "/api/v1/reports/villages?format=csv".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/media",
            "/api/v1/media?name=x.mp3".into(),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/announcements",
            "/api/v1/announcements".into(),
            json!({"title": "Mới", "media_sha256": w.sha}),
        ),
        (
            Method::POST,
            "/api/v1/broadcasts",
            "/api/v1/broadcasts".into(),
            json!({"announcement_id": ann, "zones": [a], "at": (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339()}),
        ),
        (
            Method::POST,
            "/api/v1/broadcasts/{id}/cancel",
            format!("/api/v1/broadcasts/{}/cancel", w.broadcast_b),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/schedules",
            "/api/v1/schedules".into(),
            json!({"name": "x", "announcement_id": ann, "zones": [a], "recurrence": {"rule": {"kind": "cron", "expr": "bad"}}}),
        ),
        (
            Method::PUT,
            "/api/v1/schedules/{id}",
            format!("/api/v1/schedules/{sa}"),
            json!({"name": "x", "announcement_id": ann, "zones": [a], "recurrence": {"rule": {"kind": "cron", "expr": "bad"}}}),
        ),
        (
            Method::POST,
            "/api/v1/schedules/{id}/pause",
            format!("/api/v1/schedules/{sa}/pause"),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/schedules/{id}/resume",
            format!("/api/v1/schedules/{sa}/resume"),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/schedules/{id}/cancel",
            format!("/api/v1/schedules/{sb}/cancel"),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/schedules/{id}/approve",
            format!("/api/v1/schedules/{sa}/approve"),
            Value::Null,
        ),
        (
            // Not a draft: refused (409), past the role check.
            Method::POST,
            "/api/v1/schedules/{id}/send-back",
            format!("/api/v1/schedules/{sa}/send-back"),
            json!({"reason": "đổi giờ"}),
        ),
        (
            Method::PATCH,
            "/api/v1/announcements/{id}",
            format!("/api/v1/announcements/{ann}"),
            json!({"category": "Tin tức"}),
        ),
        (
            // The commune has villages under it: refused (409), past the role check.
            Method::DELETE,
            "/api/v1/zones/{id}",
            format!("/api/v1/zones/{}", w.commune),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/zones",
            "/api/v1/zones".into(),
            json!({"name": "Bản Mới", "parent_id": w.commune}),
        ),
        (
            Method::PATCH,
            "/api/v1/zones/{id}",
            format!("/api/v1/zones/{}", w.b),
            json!({"name": "Bản Phiêng Mới"}),
        ),
        (
            Method::PUT,
            "/api/v1/zones/{id}/quiet-hours",
            format!("/api/v1/zones/{a}/quiet-hours"),
            json!({}),
        ),
        (
            Method::PUT,
            "/api/v1/zones/{id}/languages",
            format!("/api/v1/zones/{a}/languages"),
            json!({"languages": ["vi"]}),
        ),
        (
            Method::POST,
            "/api/v1/nodes",
            "/api/v1/nodes".into(),
            json!({"name": "", "zone_id": a}),
        ),
        (
            Method::PATCH,
            "/api/v1/nodes/{id}",
            "/api/v1/nodes/na-sai-1".into(),
            json!({"volume": 70}),
        ),
        (
            Method::POST,
            "/api/v1/nodes/{id}/credentials",
            "/api/v1/nodes/phieng-1/credentials".into(),
            Value::Null,
        ),
        (
            Method::PUT,
            "/api/v1/settings",
            "/api/v1/settings".into(),
            json!({}),
        ),
        (
            Method::GET,
            "/api/v1/users",
            "/api/v1/users".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/users",
            "/api/v1/users".into(),
            json!({"username": "x", "password": "short", "role": "viewer"}),
        ),
        (
            Method::PATCH,
            "/api/v1/users/{id}",
            format!("/api/v1/users/{viewer_id}"),
            json!({"role": "viewer"}),
        ),
        (
            Method::GET,
            "/api/v1/tokens",
            "/api/v1/tokens".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/users/{id}/tokens",
            format!("/api/v1/users/{viewer_id}/tokens"),
            json!({"name": ""}),
        ),
        (
            Method::POST,
            "/api/v1/tokens/{id}/revoke",
            format!("/api/v1/tokens/{spare_token}/revoke"),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/audit",
            "/api/v1/audit".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/nodes/{id}/speaker-check",
            "/api/v1/nodes/na-sai-1/speaker-check".into(),
            json!({}),
        ),
        (
            Method::PUT,
            "/api/v1/nodes/{id}/location",
            "/api/v1/nodes/na-sai-1/location".into(),
            json!({"latitude": 22.3364, "longitude": 104.1486}),
        ),
        (
            Method::DELETE,
            "/api/v1/nodes/{id}/location",
            "/api/v1/nodes/na-sai-1/location".into(),
            Value::Null,
        ),
        (
            // The spare node moves to the other village before it is taken out of service.
            Method::POST,
            "/api/v1/nodes/{id}/zone",
            "/api/v1/nodes/du-phong-1/zone".into(),
            json!({"zone_id": w.b}),
        ),
        (
            Method::GET,
            "/api/v1/sources",
            "/api/v1/sources".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/live",
            "/api/v1/live".into(),
            json!({"zones": [a]}),
        ),
        (
            Method::GET,
            "/api/v1/live/{id}",
            format!("/api/v1/live/{}", w.live),
            Value::Null,
        ),
        (
            // Not a WebSocket request: the admin gets as far as 422; the operator is not
            // the session's speaker (403 `live.not_yours`, not a role refusal).
            Method::GET,
            "/api/v1/live/{id}/audio",
            format!("/api/v1/live/{}/audio", w.live),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/live/{id}/stop",
            format!("/api/v1/live/{}/stop", w.live),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/sources",
            "/api/v1/sources".into(),
            json!({"name": "VOV1", "url": "https://radio.example/vov1.mp3"}),
        ),
        // Node releases (admins). No release is uploaded in this world (that needs the offline
        // release key; controller/tests/releases.rs does it): an admin's 404 for release 999
        // is allowed below, the roles are what is checked here.
        (
            Method::GET,
            "/api/v1/releases",
            "/api/v1/releases".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/releases",
            "/api/v1/releases".into(),
            json!({}),
        ),
        (
            Method::GET,
            "/api/v1/releases/{id}",
            "/api/v1/releases/999".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/releases/{id}/rollout",
            "/api/v1/releases/999/rollout".into(),
            json!({"all": true}),
        ),
        (
            // A node's download, with its media token: staff tokens are refused.
            Method::GET,
            "/releases/{id}",
            "/releases/999".into(),
            Value::Null,
        ),
        (
            // Staff tokens are not node media tokens: refused before any relay starts.
            Method::GET,
            "/streams/{id}",
            format!("/streams/{}", w.source),
            Value::Null,
        ),
        (
            Method::DELETE,
            "/api/v1/sources/{id}",
            format!("/api/v1/sources/{}", w.source),
            Value::Null,
        ),
        (
            // A spare node the admin takes out of service.
            Method::DELETE,
            "/api/v1/nodes/{id}",
            "/api/v1/nodes/du-phong-1".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/security/reports",
            "/api/v1/security/reports".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/keys",
            "/api/v1/keys".into(),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/v1/keys/rotate",
            "/api/v1/keys/rotate".into(),
            Value::Null,
        ),
        (
            // No node has seen the next key yet: refused without `force`.
            Method::POST,
            "/api/v1/keys/commit",
            "/api/v1/keys/commit".into(),
            json!({}),
        ),
    ]
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_policy_says() {
    let h = Harness::new().await;
    let mut w = world(&h).await;
    w.live = h
        .post_json("/api/v1/live", json!({"zones": [w.a]}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    // A spare node the admin takes out of service (the last call made on it).
    h.node("du-phong-1", w.a).await;
    let viewer = account(&h, "can-bo-xa", "viewer", &[]).await;
    let operator = account(&h, "van-thu", "operator", &[]).await;
    let viewer_id = h
        .get("/api/v1/users")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "can-bo-xa")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    account(&h, "spare", "viewer", &[]).await;
    let spare_token = h
        .get("/api/v1/tokens")
        .await
        .json()
        .as_array()
        .unwrap()
        .last()
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let admin = h.admin_token.clone();
    let lines = requests(&w, spare_token, viewer_id);

    // Every route the policy names is exercised here, and nothing else.
    // (The pages under /ui/ are checked by the pages' own tests and in the browser.)
    let table = loa_controller::http::policy();
    let mut policy: Vec<(String, String)> = table
        .routes()
        .filter(|(_, r, _)| !r.starts_with("/ui"))
        .map(|(m, r, _)| (m.to_owned(), r.to_owned()))
        .collect();
    let mut tested: Vec<(String, String)> = lines
        .iter()
        .map(|(m, r, _, _)| (m.to_string(), r.to_string()))
        .collect();
    policy.sort();
    tested.sort();
    assert_eq!(policy, tested, "the matrix must cover the policy table");

    let callers: [(&str, Option<&str>, Option<Role>); 4] = [
        ("anonymous", None, None),
        ("viewer", Some(&viewer), Some(Role::Viewer)),
        ("operator", Some(&operator), Some(Role::Operator)),
        ("admin", Some(&admin), Some(Role::Admin)),
    ];
    for (method, route, uri, body) in &lines {
        let access = table.access(method, route);
        for (who, token, role) in &callers {
            let r = send(&h, method.clone(), uri, *token, body.clone()).await;
            let code = r.status;
            match (access, role) {
                (Access::Public, _) => assert!(
                    code != StatusCode::UNAUTHORIZED
                        || *route == "/media/{sha256}"
                        || *route == "/streams/{id}"
                        || *route == "/releases/{id}"
                        || *route == "/api/v1/login",
                    "{who} {method} {uri}: {code} {}",
                    r.text()
                ),
                (Access::Role(_), None) => assert_eq!(
                    code,
                    StatusCode::UNAUTHORIZED,
                    "{who} {method} {uri}: {}",
                    r.text()
                ),
                (Access::Role(need), Some(have)) if have < &need => assert_eq!(
                    (code, r.json()["code"].as_str().unwrap().to_owned()),
                    (StatusCode::FORBIDDEN, "auth.forbidden".to_owned()),
                    "{who} {method} {uri}"
                ),
                (Access::Role(_), Some(_)) => assert!(
                    code != StatusCode::UNAUTHORIZED
                        && (code != StatusCode::FORBIDDEN
                            || (*route == "/api/v1/live/{id}/audio"
                                && r.json()["code"] == "live.not_yours"))
                        // The operator removed the source just before the admin asks.
                        && (code != StatusCode::NOT_FOUND
                            || (*route == "/api/v1/sources/{id}" && *who == "admin")
                            || route.starts_with("/api/v1/releases/{id}"))
                        && code != StatusCode::METHOD_NOT_ALLOWED
                        && code.as_u16() < 500,
                    "{who} {method} {uri}: {code} {}",
                    r.text()
                ),
            }
        }
    }
}

/// A handler annotated without `x-loa-role`: the guard must not let it through.
#[utoipa::path(post, path = "/api/v1/forgotten", responses((status = 204)))]
async fn forgotten() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn a_route_added_without_a_role_is_refused_to_all_but_admins() {
    let mut h = Harness::new().await;
    let viewer = account(&h, "can-bo", "viewer", &[]).await;
    let operator = account(&h, "van-thu", "operator", &[]).await;
    h.app = loa_controller::http::app_with(
        h.state.clone(),
        utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(forgotten)),
    );
    let post = |token: Option<String>| {
        let h = &h;
        async move {
            send(
                h,
                Method::POST,
                "/api/v1/forgotten",
                token.as_deref(),
                Value::Null,
            )
            .await
        }
    };
    post(None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "auth.required", &[]);
    for token in [viewer, operator] {
        post(Some(token))
            .await
            .assert_error(StatusCode::FORBIDDEN, "auth.forbidden", &[]);
    }
    let r = post(Some(h.admin_token.clone())).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    // The document says so too.
    let doc = send(&h, Method::GET, "/api/v1/openapi.json", None, Value::Null)
        .await
        .json();
    assert_eq!(
        doc["paths"]["/api/v1/forgotten"]["post"]["x-loa-role"],
        "admin"
    );
}

#[tokio::test]
async fn a_village_account_sees_and_acts_on_its_village_only() {
    let h = Harness::new().await;
    let w = world(&h).await;
    let viewer = account(&h, "truong-thon", "viewer", &[w.a]).await;
    let operator = account(&h, "loa-thon", "operator", &[w.a]).await;
    let get = |uri: String, t: String| {
        let h = &h;
        async move { send(h, Method::GET, &uri, Some(&t), Value::Null).await }
    };

    // Another village's records are refused…
    for uri in [
        format!("/api/v1/broadcasts/{}", w.broadcast_b),
        format!("/api/v1/schedules/{}", w.schedule_b),
        format!("/api/v1/schedules/{}/occurrences", w.schedule_b),
        "/api/v1/nodes/phieng-1".to_string(),
    ] {
        let r = get(uri.clone(), viewer.clone()).await;
        r.assert_error(StatusCode::FORBIDDEN, "auth.zone", &["outside the zones"]);
    }
    // …its own are not, and lists hold only what concerns it.
    assert_eq!(
        get(
            format!("/api/v1/broadcasts/{}", w.broadcast_a),
            viewer.clone()
        )
        .await
        .status,
        StatusCode::OK
    );
    let ids = |v: Value, key: &str| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].clone())
            .collect()
    };
    assert_eq!(
        ids(
            get("/api/v1/broadcasts".into(), viewer.clone())
                .await
                .json(),
            "id"
        ),
        [json!(w.broadcast_a)]
    );
    assert_eq!(
        ids(
            get("/api/v1/schedules".into(), viewer.clone()).await.json(),
            "id"
        ),
        [json!(w.schedule_a)]
    );
    assert_eq!(
        ids(
            get("/api/v1/nodes".into(), viewer.clone()).await.json(),
            "id"
        ),
        [json!("na-sai-1")]
    );
    let zones = get("/api/v1/zones".into(), viewer.clone()).await.json();
    assert_eq!(ids(zones, "id"), [json!(w.a)], "its village's subtree only");

    // A broadcast to the whole commune concerns the village: visible, with its node only.
    let whole = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": w.announcement, "zones": [w.commune],
            "at": (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339()}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let v = get(format!("/api/v1/broadcasts/{whole}"), viewer.clone())
        .await
        .json();
    assert_eq!(ids(v["deliveries"].clone(), "node_id"), [json!("na-sai-1")]);

    // The village operator broadcasts in its village, not in another nor the whole commune.
    let body = |zone: i64| json!({"announcement_id": w.announcement, "zones": [zone]});
    let r = send(
        &h,
        Method::POST,
        "/api/v1/broadcasts",
        Some(&operator),
        body(w.a),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    for zone in [w.b, w.commune] {
        send(
            &h,
            Method::POST,
            "/api/v1/broadcasts",
            Some(&operator),
            body(zone),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "auth.zone", &[]);
    }
    send(
        &h,
        Method::POST,
        &format!("/api/v1/broadcasts/{}/cancel", w.broadcast_b),
        Some(&operator),
        Value::Null,
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "auth.zone", &[]);
    send(
        &h,
        Method::POST,
        &format!("/api/v1/schedules/{}/pause", w.schedule_b),
        Some(&operator),
        Value::Null,
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "auth.zone", &[]);
    let r = send(
        &h,
        Method::POST,
        &format!("/api/v1/schedules/{}/pause", w.schedule_a),
        Some(&operator),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_village_viewer_does_not_see_another_village_in_the_report() {
    let h = Harness::new().await;
    let w = world(&h).await;
    let viewer = account(&h, "truong-thon", "viewer", &[w.a]).await;
    let names = |v: &Value| -> Vec<Value> {
        v["villages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect()
    };
    let all = h.get("/api/v1/reports/villages").await.json();
    assert_eq!(names(&all), [json!("Bản Phiêng"), json!("Thôn Nà Sài")]);
    let r = send(
        &h,
        Method::GET,
        "/api/v1/reports/villages",
        Some(&viewer),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mine = r.json();
    assert_eq!(names(&mine), [json!("Thôn Nà Sài")]);
    assert_eq!(
        mine["total"]["nodes"], 1,
        "the total covers its village only"
    );
    let csv = send(
        &h,
        Method::GET,
        "/api/v1/reports/villages?format=csv",
        Some(&viewer),
        Value::Null,
    )
    .await
    .text();
    assert!(!csv.contains("Phiêng"), "{csv}");
}

/// Signs in with a password like a browser; returns the session cookie and CSRF token.
async fn sign_in(h: &Harness, username: &str, password: &str) -> Reply {
    send(
        h,
        Method::POST,
        "/api/v1/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

#[tokio::test]
async fn a_browser_session_needs_its_csrf_token_for_changes() {
    let h = Harness::new().await;
    let w = world(&h).await;
    account(&h, "van-thu", "operator", &[]).await;
    let r = sign_in(&h, "van-thu", "mat-khau-van-thu").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let set_cookie = r.header(header::SET_COOKIE).unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();

    let with_cookie = |method: Method, uri: &str, csrf: Option<&str>, body: Value| {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        h.call_as(req.body(Body::from(body.to_string())).unwrap())
    };
    let me = with_cookie(Method::GET, "/api/v1/me", None, json!(null)).await;
    assert_eq!(me.json()["user"]["username"], "van-thu");
    let body = json!({"announcement_id": w.announcement, "zones": [w.a]});
    with_cookie(Method::POST, "/api/v1/broadcasts", None, body.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "auth.csrf", &["reload"]);
    with_cookie(
        Method::POST,
        "/api/v1/broadcasts",
        Some("wrong"),
        body.clone(),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "auth.csrf", &[]);
    let ok = with_cookie(Method::POST, "/api/v1/broadcasts", Some(&csrf), body).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());

    // After signing out the cookie is worth nothing.
    let out = with_cookie(Method::POST, "/api/v1/logout", None, json!(null)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out
        .header(header::SET_COOKIE)
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        with_cookie(Method::GET, "/api/v1/me", None, json!(null))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_name_and_per_address() {
    let h = Harness::new().await;
    account(&h, "van-thu", "operator", &[]).await;
    for _ in 0..5 {
        sign_in(&h, "van-thu", "sai-mat-khau").await.assert_error(
            StatusCode::UNAUTHORIZED,
            "auth.bad_login",
            &["wrong user name or password"],
        );
    }
    // Even the right password waits now, and so does any name from the same address.
    sign_in(&h, "van-thu", "mat-khau-van-thu")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "auth.throttled", &["minute"]);
    sign_in(&h, "khong-co", "mat-khau-bat-ky")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "auth.throttled", &[]);
}

#[tokio::test]
async fn unknown_names_and_disabled_accounts_cannot_sign_in() {
    let h = Harness::new().await;
    // An unknown name answers like a wrong password.
    sign_in(&h, "khong-co", "mat-khau-bat-ky")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "auth.bad_login", &[]);
    account(&h, "nghi-viec", "viewer", &[]).await;
    let users = h.get("/api/v1/users").await.json();
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nghi-viec")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        sign_in(&h, "nghi-viec", "mat-khau-nghi-viec").await.status,
        StatusCode::OK
    );
    let r = send(
        &h,
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(&h.admin_token),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    sign_in(&h, "nghi-viec", "mat-khau-nghi-viec")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "auth.bad_login", &[]);
}

#[tokio::test]
async fn tokens_can_be_revoked_and_the_last_admin_cannot_be_removed() {
    let h = Harness::new().await;
    let token = account(&h, "script", "viewer", &[]).await;
    assert_eq!(
        send(&h, Method::GET, "/api/v1/zones", Some(&token), Value::Null)
            .await
            .status,
        StatusCode::OK
    );
    let id = h
        .get("/api/v1/tokens")
        .await
        .json()
        .as_array()
        .unwrap()
        .last()
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = h
        .post_json(&format!("/api/v1/tokens/{id}/revoke"), json!(null))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        send(&h, Method::GET, "/api/v1/zones", Some(&token), Value::Null)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let me = h.get("/api/v1/me").await.json();
    let admin_id = me["user"]["id"].as_i64().unwrap();
    send(
        &h,
        Method::PATCH,
        &format!("/api/v1/users/{admin_id}"),
        Some(&h.admin_token),
        json!({"role": "operator"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &["no admin"]);
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_who_what_and_no_secrets() {
    let h = Harness::new().await;
    let w = world(&h).await;
    account(&h, "van-thu", "operator", &[]).await;
    sign_in(&h, "van-thu", "sai-mat-khau").await;
    let log = h.get("/api/v1/audit?limit=500").await.json();
    let entries = log.as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {log:#}"))
    };
    let b = find("POST /api/v1/broadcasts");
    assert_eq!(b["username"], "quan-tri");
    assert_eq!(b["status"], 201);
    assert!(b["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("\"announcement_id\":{}", w.announcement)));
    assert!(b["at"].is_string());
    let user = find("POST /api/v1/users");
    let detail = user["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"password\":\"***\"") && !detail.contains("mat-khau-van-thu"),
        "{detail}"
    );
    let failed = entries
        .iter()
        .find(|e| e["action"] == "POST /api/v1/login" && e["status"] == 401)
        .unwrap();
    assert!(failed["detail"].as_str().unwrap().contains("van-thu"));
    assert!(
        !log.to_string().contains("sai-mat-khau"),
        "no password in the log"
    );
    // Reading is not a change.
    assert!(!entries
        .iter()
        .any(|e| e["action"].as_str().unwrap().starts_with("GET")));
}
