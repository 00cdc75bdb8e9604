//! The admins' pages under `/ui/`, over the real router and a real SQLite: the zones and
//! loudspeakers page (the tree with inherited quiet hours and languages, adding a zone, sound,
//! provisioning with the config file to download, new credentials), the commune settings, and
//! changing an account (role, zones, password, disabling, API tokens). Each change is checked
//! where it lands: the store, the node's new plan, a sign-in that works or not.

mod common;

use axum::http::{header, StatusCode};
use common::ui::{
    account, assert_has, assert_redirect, between, form_request, page, post, sign_in, Session,
};
use common::{Harness, Reply};
use loa_protocol::{AfterPreempt, Plan};
use serde_json::json;

/// A commune with one village (its node `na-sai-1`) and the signed-in admin `quan-ly`.
async fn setup(h: &Harness) -> (i64, i64, Session) {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let village = h.zone("Thôn Nà Sài", Some(commune)).await;
    h.node("na-sai-1", village).await;
    account(h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(h, "quan-ly").await;
    (commune, village, s)
}

fn labels(plan: &Plan) -> Vec<Vec<String>> {
    plan.items
        .iter()
        .map(|i| i.parts.iter().map(|p| p.label().to_owned()).collect())
        .collect()
}

#[tokio::test]
async fn the_zones_page_shows_the_tree_its_nodes_and_inherited_quiet_hours() {
    let h = Harness::new().await;
    let (commune, village, s) = setup(&h).await;
    let r = h
        .put_json(
            &format!("/api/v1/zones/{commune}/quiet-hours"),
            json!({"start": "22:00", "end": "05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let p = page(&h, &s, "/ui/zones").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    assert_has(
        &p,
        &format!(r#"id="zone-{village}" data-zone-id="{village}" data-depth="1""#),
    );
    assert_has(&p, r#"data-node="na-sai-1" data-presence="unknown""#);
    assert_has(&p, r#"name="volume" min="0" max="100" value="80""#);
    assert_has(&p, "22:00–05:00 <span class=\"muted\">(theo Xã Tả Lùng)");
    assert_has(&p, r#"id="provision""#);
    assert_has(&p, r#"id="nav-zones""#);
    assert_has(&p, r#"id="nav-settings""#);
}

#[tokio::test]
async fn a_zone_is_renamed_on_the_page_and_a_taken_name_is_told() {
    let h = Harness::new().await;
    let (commune, village, s) = setup(&h).await;
    h.zone("Bản Phiêng", Some(commune)).await;
    let uri = format!("/ui/zones/{village}/rename");
    let r = post(&h, &s, &uri, &[("name", "Thôn Nà Sài Trên")]).await;
    assert_redirect(&r, &format!("/ui/zones#zone-{village}"));
    assert_eq!(
        h.state.store.zone(village).await.unwrap().name,
        "Thôn Nà Sài Trên"
    );
    let taken = post(&h, &s, &uri, &[("name", "Bản Phiêng")]).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_has(&taken, r#"id="zones-error""#);
    let none = h
        .call_as(form_request(&uri, Some(&s.cookie), &[("name", "X")]))
        .await;
    assert_eq!(none.status, StatusCode::FORBIDDEN, "no _csrf");
    assert_eq!(
        h.state.store.zone(village).await.unwrap().name,
        "Thôn Nà Sài Trên"
    );
}

#[tokio::test]
async fn quiet_hours_are_set_and_cleared_on_the_page() {
    let h = Harness::new().await;
    let (_, village, s) = setup(&h).await;
    let uri = format!("/ui/zones/{village}/quiet-hours");
    let r = post(&h, &s, &uri, &[("start", "21:30"), ("end", "05:30")]).await;
    assert_redirect(&r, &format!("/ui/zones#zone-{village}"));
    let quiet = h.state.store.zones_quiet().await.unwrap();
    let q = quiet
        .iter()
        .find(|z| z.id == village)
        .unwrap()
        .quiet
        .unwrap();
    assert_eq!(q.start.format("%H:%M").to_string(), "21:30");

    let bad = post(&h, &s, &uri, &[("start", "21:30")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&bad, r#"id="zones-error""#);

    let r = post(&h, &s, &uri, &[("clear", "1")]).await;
    assert_redirect(&r, &format!("/ui/zones#zone-{village}"));
    let quiet = h.state.store.zones_quiet().await.unwrap();
    assert!(quiet.iter().all(|z| z.quiet.is_none()));
}

#[tokio::test]
async fn a_nodes_volume_and_chime_set_on_the_page_reach_its_plan() {
    let h = Harness::new().await;
    let (_, _, s) = setup(&h).await;
    let r = post(&h, &s, "/ui/nodes/na-sai-1/sound", &[("volume", "35")]).await;
    assert_redirect(&r, "/ui/zones#node-na-sai-1");
    assert_eq!(h.plan("na-sai-1").await.volume, 35);
    let node = h.state.store.node("na-sai-1").await.unwrap();
    assert!(!node.chime, "an unticked box turns the chime off");

    let r = post(
        &h,
        &s,
        "/ui/nodes/na-sai-1/sound",
        &[("volume", "80"), ("chime", "on")],
    )
    .await;
    assert_redirect(&r, "/ui/zones#node-na-sai-1");
    assert_eq!(h.plan("na-sai-1").await.volume, 80);
    assert!(h.state.store.node("na-sai-1").await.unwrap().chime);

    let bad = post(&h, &s, "/ui/nodes/na-sai-1/sound", &[("volume", "140")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h.plan("na-sai-1").await.volume, 80);
}

#[tokio::test]
async fn a_zones_languages_set_on_the_page_reach_its_nodes_plans() {
    let h = Harness::new().await;
    let (commune, village, s) = setup(&h).await;
    let vi = h.uploaded("tone-44100-stereo.mp3").await;
    let hmn = h.uploaded("tone-22050-mono.ogg").await;
    let a = h
        .post_json(
            "/api/v1/announcements",
            json!({"title": "Thông báo tiêm phòng", "recordings": [
                {"language": "vi", "media_sha256": vi},
                {"language": "hmn", "media_sha256": hmn},
            ]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let b = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": a.json()["id"], "zones": [commune]}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text());
    assert_eq!(labels(&h.plan("na-sai-1").await), [["vi"]]);

    let uri = format!("/ui/zones/{village}/languages");
    let r = post(&h, &s, &uri, &[("languages", "hmn, vi")]).await;
    assert_redirect(&r, &format!("/ui/zones#zone-{village}"));
    assert_eq!(labels(&h.plan("na-sai-1").await), [["hmn", "vi"]]);
    let p = page(&h, &s, "/ui/zones").await;
    assert_has(&p, r#"value="hmn, vi""#);

    let bad = post(&h, &s, &uri, &[("languages", "vi, vi")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&bad, "appears twice");

    let r = post(&h, &s, &uri, &[("inherit", "1")]).await;
    assert_redirect(&r, &format!("/ui/zones#zone-{village}"));
    assert_eq!(labels(&h.plan("na-sai-1").await), [["vi"]]);
}

/// Follows the config page's download link; returns the response.
async fn download(h: &Harness, s: &Session, config_page: &Reply) -> Reply {
    let href = between(
        &config_page.text(),
        r#"id="config-download" class="button big" href=""#,
        "\"",
    )
    .replace("&#x2f;", "/")
    .replace("&amp;", "&");
    page(h, s, &href).await
}

#[tokio::test]
async fn a_zone_is_added_and_a_node_provisioned_with_its_config_file_to_download() {
    let h = Harness::new().await;
    let (commune, _, s) = setup(&h).await;
    let parent = commune.to_string();
    let r = post(
        &h,
        &s,
        "/ui/zones",
        &[("name", "Bản Phiêng"), ("parent_id", &parent)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let zone = h.state.store.zone_by_name("Bản Phiêng").await.unwrap();
    assert_eq!(zone.parent_id, Some(commune));
    let zone_id = zone.id.to_string();

    let made = post(
        &h,
        &s,
        "/ui/nodes",
        &[
            ("name", "Loa đầu bản"),
            ("id", "phieng-1"),
            ("zone_id", &zone_id),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert_has(&made, r#"id="config-warning""#);
    let file = download(&h, &s, &made).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    assert_eq!(
        file.header(header::CONTENT_DISPOSITION),
        Some("attachment; filename=\"node.toml\"")
    );
    let config: toml::Value = toml::from_str(&file.text()).expect("the config parses");
    assert_eq!(config["node_id"].as_str(), Some("phieng-1"));
    let first_password = config["mqtt"]["password"].as_str().unwrap().to_owned();
    assert!(
        !made.text().contains(&first_password),
        "no secret in the page"
    );
    assert_eq!(
        h.state.store.node("phieng-1").await.unwrap().zone_id,
        zone.id
    );

    // Another admin cannot fetch it.
    account(&h, "quan-ly-2", "admin", &[], "vi").await;
    let other = sign_in(&h, "quan-ly-2").await;
    let theirs = download(&h, &other, &made).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);

    // New credentials: a confirmation first, then a new file with a new password.
    let confirm = page(&h, &s, "/ui/nodes/phieng-1/credentials").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text());
    assert_has(&confirm, r#"id="credentials-confirm""#);
    let again = post(&h, &s, "/ui/nodes/phieng-1/credentials", &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let config: toml::Value = toml::from_str(&download(&h, &s, &again).await.text()).unwrap();
    assert_eq!(config["node_id"].as_str(), Some("phieng-1"));
    assert_ne!(config["mqtt"]["password"].as_str().unwrap(), first_password);

    // A clerk's mistake is told on the zones page.
    let dup = post(
        &h,
        &s,
        "/ui/nodes",
        &[("name", "Loa"), ("id", "phieng-1"), ("zone_id", &zone_id)],
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text());
    assert_has(&dup, r#"id="zones-error""#);
}

#[tokio::test]
async fn the_settings_page_saves_the_communes_settings_and_replans() {
    let h = Harness::new().await;
    let (_, _, s) = setup(&h).await;
    let chime = h.uploaded("tone-8000-mono.wav").await;
    let p = page(&h, &s, "/ui/settings").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    assert_has(&p, r#"id="time-zone" value="Asia/Ho_Chi_Minh" readonly"#);
    assert_has(&p, &format!(r#"data-test="chime-choice" value="{chime}""#));

    let r = post(
        &h,
        &s,
        "/ui/settings",
        &[
            ("require_approval", "on"),
            ("chime_media", &chime),
            ("after_preempt", "resume"),
            ("languages", "vi, hmn"),
        ],
    )
    .await;
    assert_redirect(&r, "/ui/settings?saved=1");
    let now = h.get("/api/v1/settings").await.json();
    assert_eq!(now["require_approval"], true);
    assert_eq!(now["chime_media"], chime);
    assert_eq!(now["after_preempt"], "resume");
    assert_eq!(now["languages"], json!(["vi", "hmn"]));
    assert_eq!(h.plan("na-sai-1").await.after_preempt, AfterPreempt::Resume);
    let p = page(&h, &s, "/ui/settings?saved=1").await;
    assert_has(&p, r#"id="settings-saved""#);

    // No chime; a bad language is refused and nothing changes.
    let r = post(
        &h,
        &s,
        "/ui/settings",
        &[
            ("chime_media", ""),
            ("after_preempt", "resume"),
            ("languages", "vi"),
        ],
    )
    .await;
    assert_redirect(&r, "/ui/settings?saved=1");
    let now = h.get("/api/v1/settings").await.json();
    assert!(now["chime_media"].is_null());
    assert_eq!(now["require_approval"], false);
    let bad = post(&h, &s, "/ui/settings", &[("languages", "tiếng việt!")]).await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    assert_has(&bad, r#"id="settings-error""#);
    assert_eq!(
        h.get("/api/v1/settings").await.json()["languages"],
        json!(["vi"])
    );
}

#[tokio::test]
async fn an_admin_changes_an_accounts_role_zones_password_and_access() {
    let h = Harness::new().await;
    let (_, village, s) = setup(&h).await;
    account(&h, "can-bo", "operator", &[], "vi").await;
    let id = h
        .state
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "can-bo")
        .unwrap()
        .id;
    let users = page(&h, &s, "/ui/users").await;
    assert_has(&users, &format!(r#"href="/ui/users/{id}""#));
    let p = page(&h, &s, &format!("/ui/users/{id}")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    assert_has(
        &p,
        r#"data-username="can-bo" data-role="operator" data-disabled="false""#,
    );

    let zone = village.to_string();
    let uri = format!("/ui/users/{id}");
    let r = post(&h, &s, &uri, &[("role", "viewer"), ("zones", &zone)]).await;
    assert_redirect(&r, &uri);
    let u = h.state.store.user(id).await.unwrap();
    assert_eq!(
        (u.role.as_str(), u.zone_ids.clone()),
        ("viewer", vec![village])
    );

    let r = post(
        &h,
        &s,
        &format!("{uri}/password"),
        &[("password", "mat-khau-moi-123")],
    )
    .await;
    assert_redirect(&r, &uri);
    let short = post(&h, &s, &format!("{uri}/password"), &[("password", "ngan")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&short, r#"id="account-error""#);
    let login = |pw: &'static str| {
        form_request(
            "/ui/login",
            None,
            &[("username", "can-bo"), ("password", pw)],
        )
    };
    assert_eq!(
        h.call_as(login("mat-khau-can-bo")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call_as(login("mat-khau-moi-123")).await.status,
        StatusCode::SEE_OTHER
    );

    let r = post(&h, &s, &format!("{uri}/disabled"), &[("disabled", "true")]).await;
    assert_redirect(&r, &uri);
    assert_has(&page(&h, &s, &uri).await, r#"data-disabled="true""#);
    assert_eq!(
        h.call_as(login("mat-khau-moi-123")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = post(&h, &s, &format!("{uri}/disabled"), &[("disabled", "false")]).await;
    assert_redirect(&r, &uri);
    assert_eq!(
        h.call_as(login("mat-khau-moi-123")).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_api_token_is_shown_once_works_and_is_revoked_on_the_page() {
    let h = Harness::new().await;
    let (_, _, s) = setup(&h).await;
    let me = h.state.store.users().await.unwrap();
    let id = me.iter().find(|u| u.username == "quan-ly").unwrap().id;
    let uri = format!("/ui/users/{id}");
    let made = post(
        &h,
        &s,
        &format!("{uri}/tokens"),
        &[("name", "báo cáo lên tỉnh")],
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let token = between(&made.text(), r#"<code id="new-token">"#, "<").to_owned();
    assert!(token.starts_with("loa_"), "{token}");
    let with_token = |t: &str| {
        axum::http::Request::builder()
            .uri("/api/v1/me")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(h.call_as(with_token(&token)).await.status, StatusCode::OK);
    let again = page(&h, &s, &uri).await;
    assert!(!again.text().contains(&token), "shown only once");

    let token_id = between(&again.text(), r#"data-token-id=""#, "\"").to_owned();
    let r = post(&h, &s, &format!("/ui/tokens/{token_id}/revoke"), &[]).await;
    assert_redirect(&r, &uri);
    assert_eq!(
        h.call_as(with_token(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_has(&page(&h, &s, &uri).await, r#"data-revoked="true""#);
}

#[tokio::test]
async fn the_page_keeps_an_admin_who_can_sign_in() {
    let h = Harness::new().await;
    let (_, _, s) = setup(&h).await;
    let users = h.state.store.users().await.unwrap();
    let id = |name: &str| users.iter().find(|u| u.username == name).unwrap().id;
    let (me, first) = (id("quan-ly"), id("quan-tri"));

    let own = post(
        &h,
        &s,
        &format!("/ui/users/{me}/disabled"),
        &[("disabled", "true")],
    )
    .await;
    assert_eq!(
        own.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        own.text()
    );
    assert_has(&own, "disable your own account");

    // With the first admin a viewer, the signed-in admin is the last: it cannot step down.
    let r = post(&h, &s, &format!("/ui/users/{first}"), &[("role", "viewer")]).await;
    assert_redirect(&r, &format!("/ui/users/{first}"));
    let last = post(&h, &s, &format!("/ui/users/{me}"), &[("role", "operator")]).await;
    assert_eq!(
        last.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        last.text()
    );
    assert_has(&last, "no admin who can sign in");
    assert_eq!(h.state.store.user(me).await.unwrap().role.as_str(), "admin");
}

#[tokio::test]
async fn operators_and_viewers_get_403_on_the_admin_pages_and_forms() {
    let h = Harness::new().await;
    let (commune, village, _) = setup(&h).await;
    for role in ["operator", "viewer"] {
        account(&h, role, role, &[], "vi").await;
        let s = sign_in(&h, role).await;
        let dash = page(&h, &s, "/ui/").await;
        assert!(
            !dash.text().contains(r#"id="nav-zones""#),
            "{role} sees no zones page"
        );
        assert!(!dash.text().contains(r#"id="nav-settings""#));
        for uri in [
            "/ui/zones".to_owned(),
            "/ui/settings".to_owned(),
            "/ui/users/1".to_owned(),
            "/ui/nodes/na-sai-1/credentials".to_owned(),
        ] {
            let r = page(&h, &s, &uri).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} GET {uri}");
        }
        for uri in [
            "/ui/zones".to_owned(),
            format!("/ui/zones/{village}/quiet-hours"),
            format!("/ui/zones/{village}/languages"),
            "/ui/nodes".to_owned(),
            "/ui/nodes/na-sai-1/sound".to_owned(),
            "/ui/nodes/na-sai-1/credentials".to_owned(),
            "/ui/settings".to_owned(),
            "/ui/users/1".to_owned(),
            "/ui/users/1/password".to_owned(),
            "/ui/users/1/disabled".to_owned(),
            "/ui/users/1/tokens".to_owned(),
            "/ui/tokens/1/revoke".to_owned(),
        ] {
            let r = post(
                &h,
                &s,
                &uri,
                &[
                    ("volume", "5"),
                    ("name", "x"),
                    ("zone_id", &commune.to_string()),
                ],
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} POST {uri}");
        }
    }
    assert_eq!(
        h.state.store.node("na-sai-1").await.unwrap().volume,
        80,
        "as provisioned"
    );
    assert_eq!(h.state.store.zones().await.unwrap().len(), 2);
}

#[tokio::test]
async fn admin_forms_without_their_csrf_token_are_refused() {
    let h = Harness::new().await;
    let (_, village, s) = setup(&h).await;
    let no_csrf = |uri: &str, fields: &[(&str, &str)]| form_request(uri, Some(&s.cookie), fields);
    let cases = [
        no_csrf("/ui/zones", &[("name", "Bản Mới"), ("parent_id", "1")]),
        no_csrf(
            &format!("/ui/zones/{village}/languages"),
            &[("languages", "hmn")],
        ),
        no_csrf(
            &format!("/ui/zones/{village}/quiet-hours"),
            &[("start", "22:00"), ("end", "05:00")],
        ),
        no_csrf("/ui/nodes/na-sai-1/sound", &[("volume", "5")]),
        no_csrf("/ui/nodes", &[("name", "Loa"), ("zone_id", "1")]),
        no_csrf("/ui/nodes/na-sai-1/credentials", &[]),
        no_csrf("/ui/settings", &[("languages", "hmn")]),
        no_csrf("/ui/users/1", &[("role", "viewer")]),
        no_csrf("/ui/users/1/password", &[("password", "mat-khau-moi-123")]),
        no_csrf("/ui/users/1/disabled", &[("disabled", "true")]),
        no_csrf("/ui/users/1/tokens", &[("name", "x")]),
        no_csrf("/ui/tokens/1/revoke", &[]),
    ];
    for req in cases {
        let uri = req.uri().to_string();
        let r = h.call_as(req).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {uri}: {}", r.text());
        assert_has(&r, "Trang đã cũ; hãy tải lại trang rồi thử lại.");
    }
    assert_eq!(
        h.state.store.node("na-sai-1").await.unwrap().volume,
        80,
        "as provisioned"
    );
    assert_eq!(h.state.store.zone_languages(village).await.unwrap(), ["vi"]);
    assert_eq!(h.state.store.zones().await.unwrap().len(), 2);
    assert_eq!(h.state.store.user(1).await.unwrap().role.as_str(), "admin");
    assert_eq!(
        h.state.store.tokens().await.unwrap().len(),
        1,
        "the harness's own token"
    );
}
