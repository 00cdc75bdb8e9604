//! The staff pages under `/ui/`, over the real router and a real SQLite: each page rendered
//! by a real request and checked for what matters to its reader; sign in and out; roles and
//! CSRF on forms; the emergency form's two steps; the translation files.

mod common;

use axum::http::{header, StatusCode};
use chrono::{Duration, Utc};
use common::ui::{account, assert_has, between, form_request, get_request, post, sign_in};
use common::Harness;
use loa_controller::http::pages::i18n::{self, Lang};
use loa_controller::http::pages::render::{nav_keys, TEMPLATES};
use loa_protocol::{Event, EventBody, Stage};
use serde_json::json;
use std::collections::BTreeSet;

/// A commune with one village and one node in it.
async fn commune(h: &Harness) -> (i64, i64) {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let village = h.zone("Thôn Nà Sài", Some(commune)).await;
    h.node("na-sai-1", village).await;
    (commune, village)
}

#[tokio::test]
async fn the_login_page_is_vietnamese_by_default_and_english_when_chosen() {
    let h = Harness::new().await;
    let vi = h.call_as(get_request("/ui/login", None)).await;
    assert_eq!(vi.status, StatusCode::OK);
    assert_has(&vi, r#"<html lang="vi">"#);
    assert_has(&vi, "Đăng nhập");
    assert_has(&vi, r#"id="login-form""#);

    let en = h.call_as(get_request("/ui/login?lang=en", None)).await;
    assert_has(&en, r#"<html lang="en">"#);
    assert_has(&en, "Sign in");
    let cookie = en
        .header(header::SET_COOKIE)
        .expect("the language is remembered");
    assert!(cookie.starts_with("loa_lang=en"), "{cookie}");

    let again = h
        .call_as(get_request("/ui/login", Some("loa_lang=en")))
        .await;
    assert_has(&again, "Sign in");
}

#[tokio::test]
async fn a_page_asked_for_without_an_account_leads_to_the_login_page() {
    let h = Harness::new().await;
    let r = h.call_as(get_request("/ui/broadcasts", None)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header(header::LOCATION),
        Some("/ui/login?next=/ui/broadcasts")
    );
}

#[tokio::test]
async fn ui_without_its_slash_leads_to_the_pages() {
    let h = Harness::new().await;
    let r = h.call_as(get_request("/ui", None)).await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.header(header::LOCATION), Some("/ui/"));
}

#[tokio::test]
async fn a_wrong_password_is_told_in_vietnamese() {
    let h = Harness::new().await;
    account(&h, "can-bo", "operator", &[], "vi").await;
    let r = h
        .call_as(form_request(
            "/ui/login",
            None,
            &[("username", "can-bo"), ("password", "sai-mat-khau")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_has(&r, "Sai tên đăng nhập hoặc mật khẩu.");
    assert!(r.header(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn signing_out_needs_the_pages_token_and_ends_the_session() {
    let h = Harness::new().await;
    account(&h, "can-bo", "operator", &[], "vi").await;
    let s = sign_in(&h, "can-bo").await;

    let refused = h
        .call_as(form_request("/ui/logout", Some(&s.cookie), &[]))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_has(&refused, "auth.csrf");

    let out = h
        .call_as(form_request(
            "/ui/logout",
            Some(&s.cookie),
            &[("_csrf", &s.csrf)],
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.header(header::LOCATION), Some("/ui/login"));
    let after = h.call_as(get_request("/ui/", Some(&s.cookie))).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the session is over");
}

#[tokio::test]
async fn the_dashboard_lists_an_offline_node_with_its_village_and_last_seen() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let other = h.zone("Bản Phiêng", Some(1)).await;
    h.node("phieng-1", other).await;
    let seen = Utc::now() - Duration::minutes(5);
    h.state
        .store
        .record_node_state(
            "na-sai-1",
            "offline",
            r#"{"node":"na-sai-1","presence":"offline"}"#,
            (1, 0),
            seen,
        )
        .await
        .unwrap();
    account(&h, "xem", "viewer", &[], "vi").await;
    let s = sign_in(&h, "xem").await;

    let r = h.call_as(get_request("/ui/", Some(&s.cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_has(&r, r#"data-test="commune">Xã Tả Lùng<"#);
    assert_has(&r, r#"data-zone="Xã Tả Lùng / Thôn Nà Sài""#);
    assert_has(&r, r#"data-node="na-sai-1" data-presence="offline""#);
    assert_has(&r, "Mất kết nối");
    let local = seen
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string();
    assert_has(&r, &local);
    assert_has(&r, "Cán bộ xem");
    // A viewer is not offered the operators' actions.
    assert!(!r.text().contains("nav-emergency"));
    let _ = village;
}

#[tokio::test]
async fn an_account_limited_to_a_village_sees_only_its_loudspeakers() {
    let h = Harness::new().await;
    let (commune, village) = commune(&h).await;
    let other = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("phieng-1", other).await;
    account(&h, "thon", "viewer", &[village], "vi").await;
    let s = sign_in(&h, "thon").await;
    let r = h.call_as(get_request("/ui/", Some(&s.cookie))).await;
    assert_has(&r, r#"data-node="na-sai-1""#);
    assert!(!r.text().contains("phieng-1"), "{}", r.text());
}

#[tokio::test]
async fn the_dashboard_shows_todays_programme_and_problems_first() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let a = h.announcement("Bản tin sáng").await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": a, "zones": [village]}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    let item = loa_protocol::item_id(id);
    h.ingest(
        "na-sai-1",
        vec![Event {
            seq: 1,
            at: Utc::now(),
            body: EventBody::Item {
                item,
                stage: Stage::Failed,
                reason: Some("không tải được tệp".into()),
                start_error_ms: None,
            },
        }],
    )
    .await;
    let page = h.get("/ui/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_has(&page, r#"data-test="programme-item""#);
    assert_has(&page, "Bản tin sáng");
    assert_has(&page, r#"data-test="delivery" data-stage="failed""#);
    assert_has(&page, "không tải được tệp");
}

#[tokio::test]
async fn the_delivery_page_shows_played_with_the_time_per_village() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let a = h.announcement("Thông báo tiêm chủng").await;
    let id = h.broadcast(&json!(a), &[village], None).await;
    let item = loa_protocol::item_id(id);
    let t0 = Utc::now();
    let steps = [
        (Stage::Received, None),
        (Stage::Ready, None),
        (Stage::Playing, Some(12)),
        (Stage::Played, None),
    ];
    let events = steps
        .iter()
        .enumerate()
        .map(|(i, (stage, err))| Event {
            seq: i as u64 + 1,
            at: t0 + Duration::seconds(i as i64),
            body: EventBody::Item {
                item: item.clone(),
                stage: *stage,
                reason: None,
                start_error_ms: *err,
            },
        })
        .collect();
    h.ingest("na-sai-1", events).await;

    let page = h.get(&format!("/ui/broadcasts/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_has(&page, r#"data-zone="Xã Tả Lùng / Thôn Nà Sài""#);
    assert_has(&page, r#"data-node="na-sai-1" data-stage="played""#);
    let played = (t0 + Duration::seconds(3))
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string();
    assert_has(&page, &format!("Đã phát: {played}"));
    assert_has(&page, "lệch giờ bắt đầu 12 ms");

    let list = h.get("/ui/broadcasts").await;
    assert_has(&list, &format!(r#"data-test="broadcast" data-id="{id}""#));
    assert_has(&list, "1 / 1");
}

#[tokio::test]
async fn a_viewer_gets_403_on_the_operators_pages_and_actions() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let a = h.announcement("Bản tin").await;
    account(&h, "xem", "viewer", &[], "vi").await;
    let s = sign_in(&h, "xem").await;
    for uri in ["/ui/emergency", "/ui/announcements"] {
        let r = h.call_as(get_request(uri, Some(&s.cookie))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert_has(&r, "Tài khoản của bạn không có quyền làm việc này.");
    }
    let (zone, ann) = (village.to_string(), a.to_string());
    let r = post(
        &h,
        &s,
        "/ui/emergency",
        &[
            ("zones", &zone),
            ("announcement_id", &ann),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let list = h.get("/api/v1/broadcasts").await.json();
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was broadcast");
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let a = h.announcement("Bản tin").await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;
    let (zone, ann) = (village.to_string(), a.to_string());
    for csrf in [None, Some("not-the-token")] {
        let mut fields = vec![
            ("zones", zone.as_str()),
            ("announcement_id", ann.as_str()),
            ("confirm", "yes"),
        ];
        if let Some(c) = csrf {
            fields.push(("_csrf", c));
        }
        let r = h
            .call_as(form_request("/ui/emergency", Some(&s.cookie), &fields))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        assert_has(&r, "Trang đã cũ");
    }
    let list = h.get("/api/v1/broadcasts").await.json();
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was broadcast");
}

#[tokio::test]
async fn the_emergency_form_confirms_then_broadcasts_an_emergency() {
    let h = Harness::new().await;
    let (commune, village) = commune(&h).await;
    let other = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("phieng-1", other).await;
    let a = h.announcement("Cảnh báo lũ quét").await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;

    let page = h
        .call_as(get_request("/ui/emergency", Some(&s.cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_has(&page, r#"id="emergency-form""#);
    assert_has(&page, "Cảnh báo lũ quét");
    assert_has(&page, &format!(r#"name="zones" value="{village}""#));

    // Nothing chosen: the form again, with what to do.
    let empty = h
        .call_as(form_request(
            "/ui/emergency",
            Some(&s.cookie),
            &[("_csrf", &s.csrf)],
        ))
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&empty, "Hãy chọn ít nhất một vùng phát.");

    let (zone, ann) = (village.to_string(), a.to_string());
    let confirm = post(
        &h,
        &s,
        "/ui/emergency",
        &[("zones", &zone), ("announcement_id", &ann)],
    )
    .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text());
    assert_has(&confirm, r#"id="emergency-confirm""#);
    assert_has(&confirm, "Phát khẩn cấp");
    assert_has(&confirm, "1 cụm loa");
    let none = h.get("/api/v1/broadcasts").await.json();
    assert_eq!(
        none.as_array().unwrap().len(),
        0,
        "not before the confirmation"
    );

    let done = post(
        &h,
        &s,
        "/ui/emergency",
        &[
            ("zones", &zone),
            ("announcement_id", &ann),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let list = h.get("/api/v1/broadcasts").await.json();
    let b = &list[0];
    assert_eq!(b["priority"], "emergency");
    assert_eq!(b["zone_ids"], json!([village]));
    let id = b["id"].as_i64().unwrap();
    assert_eq!(
        done.header(header::LOCATION),
        Some(format!("/ui/broadcasts/{id}?emergency=1").as_str())
    );
    let plan = h.plan("na-sai-1").await;
    assert!(
        plan.items
            .iter()
            .any(|i| i.priority == loa_protocol::Priority::Emergency),
        "the node's plan carries the emergency"
    );
    let page = h
        .call_as(get_request(
            &format!("/ui/broadcasts/{id}"),
            Some(&s.cookie),
        ))
        .await;
    assert_has(&page, "Khẩn cấp");
}

#[tokio::test]
async fn an_operator_withdraws_a_broadcast_from_its_page() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let a = h.announcement("Bản tin").await;
    let at = Utc::now() + Duration::hours(3);
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": a, "zones": [village], "at": at}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;
    let page = h
        .call_as(get_request(
            &format!("/ui/broadcasts/{id}"),
            Some(&s.cookie),
        ))
        .await;
    assert_has(&page, r#"id="cancel-button""#);
    let r = post(
        &h,
        &s,
        &format!("/ui/broadcasts/{id}/cancel"),
        &[("reason", "đổi giờ")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let b = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(b["deliveries"][0]["stage"], "cancelled");
    assert_eq!(b["cancel_reason"], "đổi giờ");
}

#[tokio::test]
async fn the_announcements_page_lists_recordings_and_offers_upload_and_preview() {
    let h = Harness::new().await;
    h.announcement("Lịch tiêm chủng").await;
    account(&h, "van-hanh", "operator", &[], "en").await;
    let s = sign_in(&h, "van-hanh").await;
    let r = h
        .call_as(get_request("/ui/announcements", Some(&s.cookie)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The account's language is English.
    assert_has(&r, r#"<html lang="en">"#);
    assert_has(&r, "Lịch tiêm chủng");
    assert_has(&r, r#"<span class="badge">vi</span>"#);
    for hook in [
        "upload-form",
        "upload-progress",
        "add-variant",
        "tts-preview",
        "tts-save",
    ] {
        assert_has(&r, &format!(r#"id="{hook}""#));
    }
    assert_has(&r, &format!(r#"content="{}""#, s.csrf));
}

#[tokio::test]
async fn the_static_files_are_served_to_anyone() {
    let h = Harness::new().await;
    let css = h.call_as(get_request("/ui/static/app.css", None)).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        css.header(header::CONTENT_TYPE),
        Some("text/css; charset=utf-8")
    );
    let js = h.call_as(get_request("/ui/static/app.js", None)).await;
    assert_has(&js, "X-CSRF-Token");
    let none = h.call_as(get_request("/ui/static/nope.txt", None)).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

/// Every `t("…")` key written in a template.
fn template_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (_, src) in TEMPLATES {
        for quote in ['"', '\''] {
            let open = format!("t({quote}");
            let mut rest = *src;
            while let Some(i) = rest.find(&open) {
                // Not the end of another name (`tojson(`, `get(`…).
                let before = src.len() - rest.len() + i;
                let prev = src[..before].chars().last();
                rest = &rest[i + open.len()..];
                if prev.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let end = rest.find(quote).expect("a closing quote");
                // `t("stage." ~ d.stage)`: a prefix; the test lists those keys itself.
                if !rest[end + 1..].trim_start().starts_with('~') {
                    keys.insert(rest[..end].to_owned());
                }
            }
        }
    }
    keys
}

#[test]
fn both_translation_files_have_the_same_keys_and_every_key_used_exists() {
    let vi: BTreeSet<String> = i18n::keys(Lang::Vi).into_iter().collect();
    let en: BTreeSet<String> = i18n::keys(Lang::En).into_iter().collect();
    assert_eq!(
        vi.symmetric_difference(&en).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys in one file only"
    );
    let mut used = template_keys();
    assert!(used.len() > 50, "the scan found the keys: {used:?}");
    used.extend(nav_keys().map(str::to_owned));
    // Keys the templates build from data (`t("stage." ~ d.stage)` and the like).
    for st in Stage::ALL {
        used.insert(format!(
            "stage.{}",
            serde_json::to_value(st).unwrap().as_str().unwrap()
        ));
    }
    for p in ["normal", "priority", "emergency"] {
        used.insert(format!("priority.{p}"));
    }
    for p in ["online", "offline", "unknown"] {
        used.insert(format!("presence.{p}"));
    }
    for r in ["viewer", "operator", "admin"] {
        used.insert(format!("role.{r}"));
    }
    for l in ["vi", "hmn", "tai", "dao", "muong", "en"] {
        used.insert(format!("lang.{l}"));
    }
    for st in ["draft", "active", "paused", "cancelled"] {
        used.insert(format!("status.{st}"));
    }
    for d in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
        used.insert(format!("day.{d}"));
    }
    for a in ["pause", "resume", "cancel"] {
        used.insert(format!("sch.do_{a}"));
    }
    for k in ["daily", "weekdays", "once", "cron"] {
        used.insert(format!("sch.kind_{k}"));
    }
    for k in ["schedule", "broadcast"] {
        used.insert(format!("sch.kind.{k}"));
    }
    // The security page looks these up by a report's kind.
    for k in [
        "events_refused",
        "state_refused",
        "state_replayed",
        "no_key",
        "plan_refused_by_node",
    ] {
        used.insert(format!("security.kind.{k}"));
    }
    let missing: Vec<_> = used.iter().filter(|k| !vi.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "keys used but not translated: {missing:?}"
    );
}

#[test]
fn api_error_codes_are_translated_with_the_apis_text_as_fallback() {
    assert_eq!(
        i18n::error_text(Lang::Vi, "media.not_audio", "not audio"),
        i18n::lookup(Lang::Vi, "error.media.not_audio").unwrap()
    );
    assert_eq!(
        i18n::error_text(Lang::En, "invalid", "volume is 0 to 100"),
        "Please check: volume is 0 to 100"
    );
    assert_eq!(
        i18n::error_text(Lang::Vi, "some.new_code", "what the API said"),
        "what the API said"
    );
}

#[tokio::test]
async fn a_schedule_is_checked_for_conflicts_before_it_is_saved_then_paused() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    let a = h.announcement("Bản tin sáng").await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;
    let (zone, ann) = (village.to_string(), a.to_string());
    let fields = |action: &'static str, name: &'static str| {
        vec![
            ("name", name),
            ("announcement_id", ann.as_str()),
            ("zones", zone.as_str()),
            ("kind", "weekdays"),
            ("days", "Mon"),
            ("days", "Wed"),
            ("time", "06:30"),
            ("priority", "normal"),
            ("action", action),
        ]
    };
    let schedule_form = |f: Vec<(&str, &str)>, csrf: bool| {
        let mut f: Vec<(String, String)> = f
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if csrf {
            f.push(("_csrf".into(), s.csrf.clone()));
        }
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        form_request("/ui/schedules", Some(&s.cookie), &f)
    };

    let form = h
        .call_as(get_request("/ui/schedules/new", Some(&s.cookie)))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text());
    assert_has(&form, r#"id="schedule-form""#);

    let refused = h
        .call_as(schedule_form(fields("save", "Sáng thứ Hai, thứ Tư"), false))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let checked = h
        .call_as(schedule_form(fields("check", "Sáng thứ Hai, thứ Tư"), true))
        .await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.text());
    assert_has(&checked, r#"id="next-airings""#);
    assert_has(&checked, "06:30:00");
    assert_has(&checked, "Không trùng giờ với lịch nào.");
    assert_eq!(
        h.get("/api/v1/schedules")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let saved = h
        .call_as(schedule_form(fields("save", "Sáng thứ Hai, thứ Tư"), true))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let list = h.get("/api/v1/schedules").await.json();
    assert_eq!(list[0]["recurrence"]["rule"]["expr"], "0 30 6 * * Mon,Wed");
    let id = list[0]["id"].as_i64().unwrap();

    // The same slot again: the overlap is shown and nothing saved until accepted.
    let clash = h
        .call_as(schedule_form(fields("save", "Trùng giờ"), true))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.text());
    assert_has(&clash, r#"data-test="conflict""#);
    assert_has(&clash, "Sáng thứ Hai, thứ Tư");
    assert_eq!(
        h.get("/api/v1/schedules")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mut accepted = fields("save", "Trùng giờ");
    accepted.push(("accept_conflicts", "yes"));
    let ok = h.call_as(schedule_form(accepted, true)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());

    let page = h
        .call_as(get_request("/ui/schedules", Some(&s.cookie)))
        .await;
    assert_has(
        &page,
        &format!(r#"id="schedule-{id}" data-status="active""#),
    );
    assert_has(&page, "Lúc 06:30 các ngày: Thứ Hai, Thứ Tư");
    let paused = post(
        &h,
        &s,
        &format!("/ui/schedules/{id}/status"),
        &[("to", "pause")],
    )
    .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.text());
    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert_eq!(one["schedule"]["status"], "paused");

    let edit = h
        .call_as(get_request(
            &format!("/ui/schedules/{id}/edit"),
            Some(&s.cookie),
        ))
        .await;
    assert_has(&edit, r#"value="06:30""#);
    assert_has(&edit, r#"value="Wed" data-test="day-choice" checked"#);
}

#[tokio::test]
async fn the_week_view_shows_each_villages_programme() {
    let h = Harness::new().await;
    let (commune, village) = commune(&h).await;
    let other = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("phieng-1", other).await;
    let a = h.announcement("Bản tin chiều").await;
    let r = h
        .post_json(
            "/api/v1/schedules",
            json!({"name": "Bản tin 17 giờ", "announcement_id": a, "zones": [village],
                   "recurrence": {"rule": {"kind": "cron", "expr": "0 0 17 * * *"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    account(&h, "xem", "viewer", &[], "vi").await;
    let s = sign_in(&h, "xem").await;
    let week = h
        .call_as(get_request("/ui/schedules/week", Some(&s.cookie)))
        .await;
    assert_eq!(week.status, StatusCode::OK, "{}", week.text());
    assert_has(&week, r#"data-village="Xã Tả Lùng / Thôn Nà Sài""#);
    assert!(!week.text().contains("Bản Phiêng"), "no airing there");
    assert_eq!(
        week.text().matches(r#"data-test="week-item""#).count(),
        7,
        "every day at 17:00"
    );
    assert_has(&week, "<b>17:00</b>");
    // A viewer reads schedules but may not make them.
    let list = h
        .call_as(get_request("/ui/schedules", Some(&s.cookie)))
        .await;
    assert_has(&list, "Bản tin 17 giờ");
    assert!(!list.text().contains("new-schedule"));
    let new = h
        .call_as(get_request("/ui/schedules/new", Some(&s.cookie)))
        .await;
    assert_eq!(new.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_admin_adds_a_user_and_reads_the_audit_log() {
    let h = Harness::new().await;
    let (_, village) = commune(&h).await;
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(&h, "quan-ly").await;
    let page = h.call_as(get_request("/ui/users", Some(&s.cookie))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_has(&page, r#"data-test="user" data-username="quan-tri""#);
    assert_has(&page, "POST /api/v1/zones");
    let zone = village.to_string();
    let r = post(
        &h,
        &s,
        "/ui/users",
        &[
            ("username", "truong-thon"),
            ("password", "mat-khau-truong-thon"),
            ("role", "viewer"),
            ("language", "vi"),
            ("zones", &zone),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let page = h.call_as(get_request("/ui/users", Some(&s.cookie))).await;
    assert_has(&page, r#"data-username="truong-thon""#);
    assert_has(&page, "Xã Tả Lùng / Thôn Nà Sài");
    assert_has(&page, "POST /ui/users");
    assert!(
        !page.text().contains("mat-khau-truong-thon"),
        "no password in the log"
    );
    // The new account signs in and sees only its village; it is no admin.
    let t = sign_in(&h, "truong-thon").await;
    let users = h.call_as(get_request("/ui/users", Some(&t.cookie))).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_report_page_counts_each_village_and_offers_the_csv_and_print() {
    let h = Harness::new().await;
    let (commune, village) = commune(&h).await;
    let other = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("phieng-1", other).await;
    let a = h.announcement("Bản tin sáng").await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": a, "zones": [commune]}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    let item = loa_protocol::item_id(id);
    let events = [Stage::Received, Stage::Ready, Stage::Playing, Stage::Played]
        .iter()
        .enumerate()
        .map(|(i, stage)| Event {
            seq: i as u64 + 1,
            at: Utc::now(),
            body: EventBody::Item {
                item: item.clone(),
                stage: *stage,
                reason: None,
                start_error_ms: None,
            },
        })
        .collect();
    h.ingest("na-sai-1", events).await;

    let page = h.get("/ui/reports").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let row = |zone: i64| {
        let text = page.text();
        between(&text, &format!(r#"data-zone="{zone}">"#), "</tr>").to_owned()
    };
    // Nà Sài: 1 node, 1 targeted, 1 played, 100 %; Phiêng: 1 targeted, none played yet.
    let na_sai = row(village);
    assert!(
        na_sai.contains("<td>Thôn Nà Sài</td><td>1</td><td>1</td><td>1</td>"),
        "{na_sai}"
    );
    assert!(na_sai.contains("<td>100.0 %</td>"), "{na_sai}");
    let phieng = row(other);
    assert!(
        phieng.contains("<td>Bản Phiêng</td><td>1</td><td>1</td><td>0</td>"),
        "{phieng}"
    );
    assert!(phieng.contains("<td>0.0 %</td>"), "{phieng}");
    assert_has(&page, r#"id="report-total""#);
    assert_has(&page, "Tổng cộng");
    // The CSV link asks the API for the same period, in the page's language.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .date_naive();
    assert_has(
        &page,
        &format!("/api/v1/reports/villages?format=csv&amp;from={today}&amp;to={today}&amp;lang=vi"),
    );
    assert_has(&page, r#"id="report-print""#);

    // A viewer of one village sees that village only; a bad date is told in words.
    account(&h, "truong-thon", "viewer", &[village], "vi").await;
    let s = sign_in(&h, "truong-thon").await;
    let mine = h.call_as(get_request("/ui/reports", Some(&s.cookie))).await;
    assert_has(&mine, &format!(r#"data-zone="{village}""#));
    assert!(!mine.text().contains(&format!(r#"data-zone="{other}""#)));
    let bad = h
        .call_as(get_request("/ui/reports?from=2026-13-01", Some(&s.cookie)))
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
}
