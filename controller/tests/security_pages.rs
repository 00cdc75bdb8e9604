//! The admins' security pages under `/ui/`, over the real router and a real SQLite: taking a
//! loudspeaker out of service from the zones page (a confirmation, then the node gone and its
//! waiting delivery cancelled), the security page's reports in Vietnamese, and the commune's
//! key changed in two steps, with the confirmation that names the loudspeakers left behind.
//! Operators, viewers and forms without their CSRF token are refused.

mod common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::ui::{
    account, assert_has, assert_redirect, form_request, page, post, sign_in, Session,
};
use common::Harness;
use loa_protocol::{NodeState, Presence};
use serde_json::json;

/// A commune with one village (its node `na-sai-1`, named "Loa na-sai-1") and the signed-in
/// admin `quan-ly`.
async fn setup(h: &Harness) -> (i64, Session) {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let village = h.zone("Thôn Nà Sài", Some(commune)).await;
    h.node("na-sai-1", village).await;
    account(h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(h, "quan-ly").await;
    (village, s)
}

/// What the page shows of a key.
fn fingerprint(key: &str) -> &str {
    &key[..12]
}

/// `node` comes online and its state says which controller keys it accepts.
async fn reports_keys(h: &Harness, node: &str, keys: Vec<String>) {
    let key = h.node_key(node).await;
    let mut state = NodeState::offline(node, 1);
    state.presence = Presence::Online;
    state.serial = 1;
    state.controller_keys = keys;
    h.deliver(&h.topics().state(node), state.seal(&key)).await;
}

#[tokio::test]
async fn an_admin_takes_a_loudspeaker_out_of_service_from_the_zones_page() {
    let h = Harness::new().await;
    let (village, s) = setup(&h).await;
    let a = h.announcement("Họp dân").await;
    let at = Utc::now() + Duration::hours(3);
    let broadcast = h.broadcast(&json!(a), &[village], Some(at)).await;

    let zones = page(&h, &s, "/ui/zones").await;
    assert_has(
        &zones,
        r#"href="/ui/nodes/na-sai-1/decommission">Ngừng sử dụng</a>"#,
    );

    let confirm = page(&h, &s, "/ui/nodes/na-sai-1/decommission").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text());
    assert_has(&confirm, "Loa na-sai-1");
    assert_has(&confirm, "Thôn Nà Sài");
    assert_has(
        &confirm,
        "Các bản tin đang chờ phát trên cụm loa này bị hủy.",
    );
    assert_has(
        &confirm,
        "Lịch sử phát của cụm loa vẫn được giữ lại trong báo cáo.",
    );
    assert_has(
        &confirm,
        r#"id="decommission-confirm" type="submit" class="big danger""#,
    );
    assert!(
        h.state.store.node("na-sai-1").await.is_ok(),
        "the confirmation page changes nothing"
    );

    let done = post(&h, &s, "/ui/nodes/na-sai-1/decommission", &[]).await;
    assert_redirect(
        &done,
        "/ui/zones?decommissioned=na-sai-1&name=Loa+na-sai-1&cancelled=1#decommissioned",
    );
    assert!(h.state.store.node("na-sai-1").await.is_err());
    assert!(h.state.store.nodes().await.unwrap().is_empty());
    let b = h
        .get(&format!("/api/v1/broadcasts/{broadcast}"))
        .await
        .json();
    assert_eq!(b["deliveries"][0]["stage"], "cancelled", "{b:#}");
    assert_eq!(b["deliveries"][0]["reason"], "node decommissioned");

    let after = page(
        &h,
        &s,
        "/ui/zones?decommissioned=na-sai-1&name=Loa+na-sai-1&cancelled=1",
    )
    .await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text());
    assert_has(
        &after,
        "Đã ngừng sử dụng cụm loa Loa na-sai-1 (mã na-sai-1); 1 lượt phát đang chờ đã bị hủy.",
    );
    assert!(!after.text().contains(r#"data-node="na-sai-1""#));

    let again = post(&h, &s, "/ui/nodes/na-sai-1/decommission", &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.text());
    let gone = page(&h, &s, "/ui/nodes/na-sai-1/decommission").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_security_page_lists_a_refused_message_in_plain_words() {
    let h = Harness::new().await;
    let (_, s) = setup(&h).await;
    let dash = page(&h, &s, "/ui/").await;
    assert_has(&dash, r#"id="nav-security" href="/ui/security""#);
    let empty = page(&h, &s, "/ui/security").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
    assert_has(&empty, r#"<p id="no-reports">Chưa có cảnh báo nào.</p>"#);

    h.deliver(&h.topics().events("na-sai-1"), b"not signed".to_vec())
        .await;
    h.deliver(&h.topics().events("na-sai-1"), b"not signed".to_vec())
        .await;
    let p = page(&h, &s, "/ui/security").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    assert_has(&p, r#"data-node="na-sai-1" data-kind="events_refused""#);
    assert_has(&p, "<b>Loa na-sai-1</b>");
    assert_has(
        &p,
        "<td>Tin báo kết quả phát không có chữ ký hợp lệ của cụm loa</td>",
    );
    assert_has(&p, "<td>2</td>");
    // Today, in the commune's time zone.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%d/%m/%Y")
        .to_string();
    assert_has(&p, &format!("<td>{today} "));
    assert!(!p.text().contains(r#"id="no-reports""#));

    let en = page(&h, &s, "/ui/security?lang=en").await;
    assert_has(
        &en,
        "<td>A report of what was played without the loudspeaker&#x27;s valid signature</td>",
    );
}

#[tokio::test]
async fn the_key_is_changed_on_the_security_page_and_a_loudspeaker_left_behind_is_named() {
    let h = Harness::new().await;
    let (village, s) = setup(&h).await;
    h.node("na-sai-2", village).await;
    let keys = h.state.planner.keys();
    let before = keys.public();
    let p = page(&h, &s, "/ui/security").await;
    assert_has(
        &p,
        &format!(r#"<code id="key-current">{}</code>"#, fingerprint(&before)),
    );
    assert_has(&p, "khóa chứng minh các bản tin và lịch phát");
    assert_has(&p, r#"id="rotate-button""#);
    assert!(!p.text().contains(r#"id="key-next""#));

    // Step 1: the next key is made and announced.
    let r = post(&h, &s, "/ui/security/keys/rotate", &[]).await;
    assert_redirect(&r, "/ui/security?begun=1#keys");
    let next = keys.next_public().expect("a rotation under way");
    let p = page(&h, &s, "/ui/security?begun=1").await;
    assert_has(
        &p,
        &format!(r#"<code id="key-next">{}</code>"#, fingerprint(&next)),
    );
    assert_has(&p, r#"id="key-begun""#);
    assert_has(
        &p,
        r#"data-test="key-node" data-node="na-sai-1" data-knows-next="false""#,
    );
    assert_has(&p, r#"id="commit-button""#);

    // `na-sai-2` comes online and says it accepts both keys; `na-sai-1` stays silent.
    reports_keys(&h, "na-sai-2", vec![before.clone(), next.clone()]).await;
    let p = page(&h, &s, "/ui/security").await;
    assert_has(
        &p,
        r#"data-test="key-node" data-node="na-sai-2" data-knows-next="true""#,
    );

    // Step 2: refused, `na-sai-1` has not seen the next key; the confirmation names it alone.
    let refused = post(&h, &s, "/ui/security/keys/commit", &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_has(&refused, r#"data-test="behind" data-node="na-sai-1""#);
    assert_has(&refused, "<b>Loa na-sai-1</b>");
    assert!(!refused.text().contains(r#"data-node="na-sai-2""#));
    assert_has(&refused, "tệp cấu hình mới (node.toml)");
    assert_has(&refused, r#"<input type="hidden" name="force" value="1">"#);
    assert_eq!(keys.public(), before, "nothing switched");

    // Forced: the next key takes over.
    let r = post(&h, &s, "/ui/security/keys/commit", &[("force", "1")]).await;
    assert_redirect(&r, "/ui/security?switched=1#keys");
    assert_ne!(keys.public(), before);
    assert_eq!(keys.public(), next);
    let p = page(&h, &s, "/ui/security?switched=1").await;
    assert_has(&p, r#"id="key-switched""#);
    assert_has(
        &p,
        &format!(r#"<code id="key-current">{}</code>"#, fingerprint(&next)),
    );
    assert_has(&p, r#"id="rotate-button""#);

    // Nothing to switch to any more: told on the page.
    let none = post(&h, &s, "/ui/security/keys/commit", &[("force", "1")]).await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.text());
    assert_has(&none, r#"id="keys-error""#);
    assert_has(&none, "Chưa bắt đầu đổi khóa");
}

#[tokio::test]
async fn operators_and_viewers_get_403_on_the_security_pages_and_actions() {
    let h = Harness::new().await;
    setup(&h).await;
    let before = h.state.planner.keys().public();
    for role in ["operator", "viewer"] {
        account(&h, role, role, &[], "vi").await;
        let s = sign_in(&h, role).await;
        let dash = page(&h, &s, "/ui/").await;
        assert!(
            !dash.text().contains(r#"id="nav-security""#),
            "{role} sees no security page"
        );
        for uri in ["/ui/security", "/ui/nodes/na-sai-1/decommission"] {
            let r = page(&h, &s, uri).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} GET {uri}");
        }
        for uri in [
            "/ui/nodes/na-sai-1/decommission",
            "/ui/security/keys/rotate",
            "/ui/security/keys/commit",
        ] {
            let r = post(&h, &s, uri, &[("force", "1")]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} POST {uri}");
        }
    }
    assert!(h.state.store.node("na-sai-1").await.is_ok());
    assert_eq!(h.state.planner.keys().public(), before);
    assert!(h.state.planner.keys().next_public().is_none());
}

#[tokio::test]
async fn security_forms_without_their_csrf_token_are_refused() {
    let h = Harness::new().await;
    let (_, s) = setup(&h).await;
    for uri in [
        "/ui/nodes/na-sai-1/decommission",
        "/ui/security/keys/rotate",
        "/ui/security/keys/commit",
    ] {
        let r = h
            .call_as(form_request(uri, Some(&s.cookie), &[("force", "1")]))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {uri}: {}", r.text());
        assert_has(&r, "Trang đã cũ; hãy tải lại trang rồi thử lại.");
    }
    assert!(h.state.store.node("na-sai-1").await.is_ok());
    assert!(h.state.planner.keys().next_public().is_none());
}
