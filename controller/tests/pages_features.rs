//! What the pages do beyond reading, as the API does it, over the real router and a real
//! SQLite: approving schedules (approve, send back with a reason, never one's own), schedule
//! forms with repeats, monthly and every-other-week rules and validity dates shown in words,
//! a one-off broadcast checked for overlaps and quiet hours (an emergency exempt),
//! announcements with categories, search and an archive, moving a loudspeaker to another
//! village, removing an empty zone, and what the audit log keeps of a form.

mod common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::ui::{account, assert_has, assert_redirect, page, post, sign_in, Session};
use common::Harness;
use serde_json::json;

/// A commune with two villages, a loudspeaker in each: (commune, Nà Sài, Phiêng).
async fn commune(h: &Harness) -> (i64, i64, i64) {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let na_sai = h.zone("Thôn Nà Sài", Some(commune)).await;
    let phieng = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("na-sai-1", na_sai).await;
    h.node("phieng-1", phieng).await;
    (commune, na_sai, phieng)
}

async fn require_approval(h: &Harness) {
    let r = h
        .put_json("/api/v1/settings", json!({"require_approval": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Saves a daily schedule through the schedule form as `s`; returns its id.
async fn schedule_by_form(h: &Harness, s: &Session, name: &str, zone: i64, ann: i64) -> i64 {
    let (zone, ann) = (zone.to_string(), ann.to_string());
    let r = post(
        h,
        s,
        "/ui/schedules",
        &[
            ("name", name),
            ("announcement_id", &ann),
            ("zones", &zone),
            ("kind", "daily"),
            ("time", "06:30"),
            ("action", "save"),
            ("accept_conflicts", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let list = h.get("/api/v1/schedules").await.json();
    let found = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .expect("the schedule is saved");
    found["id"].as_i64().unwrap()
}

#[tokio::test]
async fn an_admin_approves_a_draft_on_the_page_and_who_wrote_and_approved_it_is_shown() {
    let h = Harness::new().await;
    let (_, village, _) = commune(&h).await;
    let a = h.announcement("Bản tin sáng").await;
    require_approval(&h).await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let op = sign_in(&h, "van-hanh").await;
    let id = schedule_by_form(&h, &op, "Bản tin sáng thôn", village, a).await;

    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert_eq!(one["schedule"]["status"], "draft");
    assert_eq!(one["schedule"]["created_by"], "van-hanh");

    // The operator may not approve; the admin sees who wrote it and the two choices.
    let refused = post(&h, &op, &format!("/ui/schedules/{id}/approve"), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let admin = sign_in(&h, "quan-ly").await;
    let list = page(&h, &admin, "/ui/schedules").await;
    assert_has(&list, "Người soạn: van-hanh");
    assert_has(&list, r#"data-test="schedule-approve""#);
    assert_has(&list, r#"data-test="schedule-send-back""#);

    let ok = post(&h, &admin, &format!("/ui/schedules/{id}/approve"), &[]).await;
    assert_redirect(&ok, &format!("/ui/schedules#schedule-{id}"));
    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert_eq!(one["schedule"]["status"], "active");
    assert_eq!(one["schedule"]["approved_by"], "quan-ly");
    assert!(one["schedule"]["approved_at"].is_string());
    let list = page(&h, &op, "/ui/schedules").await;
    assert_has(
        &list,
        &format!(r#"id="schedule-{id}" data-status="active""#),
    );
    assert_has(&list, "Người phê duyệt: quan-ly");

    // Approving twice is told plainly.
    let again = post(&h, &admin, &format!("/ui/schedules/{id}/approve"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_has(&again, "Lịch phát này không chờ phê duyệt.");
}

#[tokio::test]
async fn a_draft_sent_back_shows_its_reason_to_its_author_until_changed() {
    let h = Harness::new().await;
    let (_, village, _) = commune(&h).await;
    let a = h.announcement("Bản tin sáng").await;
    require_approval(&h).await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let op = sign_in(&h, "van-hanh").await;
    let admin = sign_in(&h, "quan-ly").await;
    let id = schedule_by_form(&h, &op, "Bản tin sáng thôn", village, a).await;
    let uri = format!("/ui/schedules/{id}/send-back");

    // No reason: refused with what to do, and nothing changes.
    let empty = post(&h, &admin, &uri, &[("reason", "  ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&empty, "Hãy ghi lý do trả lại");
    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert!(one["schedule"]["returned"].is_null());

    let reason = "Giờ phát trùng giờ họp thôn; hãy chuyển sang 17:00";
    let sent = post(&h, &admin, &uri, &[("reason", reason)]).await;
    assert_redirect(&sent, &format!("/ui/schedules#schedule-{id}"));
    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert_eq!(one["schedule"]["status"], "draft");
    assert_eq!(one["schedule"]["returned"]["by"], "quan-ly");
    assert_eq!(one["schedule"]["returned"]["reason"], reason);

    let mine = page(&h, &op, "/ui/schedules").await;
    assert_has(&mine, r#"data-test="schedule-returned""#);
    assert_has(&mine, &format!("Bị quan-ly trả lại: {reason}"));

    // The author changes it: the reason is answered, and it waits for approval again.
    let (zone, ann) = (village.to_string(), a.to_string());
    let edited = post(
        &h,
        &op,
        &format!("/ui/schedules/{id}"),
        &[
            ("name", "Bản tin chiều thôn"),
            ("announcement_id", &ann),
            ("zones", &zone),
            ("kind", "daily"),
            ("time", "17:00"),
            ("action", "save"),
            ("accept_conflicts", "yes"),
        ],
    )
    .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.text());
    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert_eq!(one["schedule"]["status"], "draft");
    assert!(one["schedule"]["returned"].is_null());
    let mine = page(&h, &op, "/ui/schedules").await;
    assert!(!mine.text().contains(reason));

    // Through the API the same: a reason is needed.
    let api = h
        .post_json(
            &format!("/api/v1/schedules/{id}/send-back"),
            json!({"reason": ""}),
        )
        .await;
    api.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "schedule.no_reason",
        &["why"],
    );
}

#[tokio::test]
async fn an_admin_cannot_approve_their_own_schedule_while_approval_is_on() {
    let h = Harness::new().await;
    let (_, village, _) = commune(&h).await;
    let a = h.announcement("Bản tin sáng").await;
    require_approval(&h).await;
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let admin = sign_in(&h, "quan-ly").await;
    let id = schedule_by_form(&h, &admin, "Lịch của quản lý", village, a).await;

    let list = page(&h, &admin, "/ui/schedules").await;
    assert_has(&list, "Chờ quản trị viên khác phê duyệt");
    assert!(!list.text().contains(r#"data-test="schedule-approve""#));

    for uri in ["approve", "send-back"] {
        let r = post(
            &h,
            &admin,
            &format!("/ui/schedules/{id}/{uri}"),
            &[("reason", "tự trả lại")],
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{uri}: {}", r.text());
        assert_has(&r, "Bạn là người soạn lịch phát này");
    }
    let one = h.get(&format!("/api/v1/schedules/{id}")).await.json();
    assert_eq!(one["schedule"]["status"], "draft");

    // Another admin (the harness's own account) may.
    let ok = h
        .post_json(&format!("/api/v1/schedules/{id}/approve"), json!({}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(ok.json()["schedule"]["approved_by"], "quan-tri");
}

#[tokio::test]
async fn a_schedule_with_repeats_a_monthly_rule_and_validity_dates_is_saved_and_read_in_words() {
    let h = Harness::new().await;
    let (_, village, _) = commune(&h).await;
    let a = h.announcement("Họp thôn").await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    account(&h, "officer", "operator", &[], "en").await;
    let s = sign_in(&h, "van-hanh").await;
    let today = Utc::now().date_naive();
    let (from, until) = (today.to_string(), (today + Duration::days(400)).to_string());
    let (zone, ann) = (village.to_string(), a.to_string());
    let r = post(
        &h,
        &s,
        "/ui/schedules",
        &[
            ("name", "Họp cuối tháng"),
            ("announcement_id", &ann),
            ("zones", &zone),
            ("kind", "monthly"),
            ("nth", "-1"),
            ("weekday", "Fri"),
            ("time", "16:00"),
            ("repeat_times", "2"),
            ("repeat_gap", "10"),
            ("valid_from", &from),
            ("valid_until", &until),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let r = post(
        &h,
        &s,
        "/ui/schedules",
        &[
            ("name", "Vệ sinh đường làng"),
            ("announcement_id", &ann),
            ("zones", &zone),
            ("kind", "weeks"),
            ("interval", "2"),
            ("days", "Mon"),
            ("time", "07:00"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

    let list = h.get("/api/v1/schedules").await.json();
    let monthly = &list[0];
    assert_eq!(monthly["recurrence"]["rule"]["kind"], "rrule");
    assert_eq!(
        monthly["recurrence"]["rule"]["rule"],
        "FREQ=MONTHLY;BYDAY=-1FR"
    );
    assert_eq!(
        monthly["recurrence"]["repeat"],
        json!({"times": 2, "gap_minutes": 10})
    );
    assert_eq!(monthly["recurrence"]["valid_from"], from.as_str());
    assert_eq!(monthly["recurrence"]["valid_until"], until.as_str());
    assert_eq!(
        list[1]["recurrence"]["rule"]["rule"],
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
    );
    // Every airing is a Friday in the last week of its month.
    let id = monthly["id"].as_i64().unwrap();
    let next = h.get(&format!("/api/v1/schedules/{id}")).await.json()["next"].clone();
    for t in next.as_array().unwrap() {
        let t = chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap();
        use chrono::Datelike;
        assert_eq!(t.weekday(), chrono::Weekday::Fri, "{t}");
        assert!((t + Duration::days(7)).month() != t.month(), "{t}");
    }

    let fmt = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
    let page_vi = page(&h, &s, "/ui/schedules").await;
    assert_has(
        &page_vi,
        &format!(
            "Thứ Sáu cuối cùng của tháng, lúc 16:00; phát 2 lần, cách nhau 10 phút; từ {} đến {}",
            fmt(today),
            fmt(today + Duration::days(400))
        ),
    );
    assert_has(&page_vi, "Thứ Hai cách tuần, lúc 07:00");
    let en = sign_in(&h, "officer").await;
    let page_en = page(&h, &en, "/ui/schedules").await;
    assert_has(&page_en, "The last Friday of the month, at 16:00");
    assert_has(&page_en, "Every other Monday, at 07:00");

    // The edit form gives the choices back as they were made.
    let edit = page(&h, &s, &format!("/ui/schedules/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.text());
    assert_has(&edit, r#"value="monthly" data-test="rule-kind" checked"#);
    assert_has(&edit, r#"<option value="-1" selected>"#);
    assert_has(&edit, r#"<option value="Fri" selected>"#);
    assert_has(
        &edit,
        r#"name="repeat_times" type="number" min="1" max="24" value="2""#,
    );
    assert_has(
        &edit,
        &format!(r#"name="valid_until" type="date" value="{until}""#),
    );

    // A validity that ends before it starts is told, and the form keeps what was typed.
    let bad = post(
        &h,
        &s,
        "/ui/schedules",
        &[
            ("name", "Sai ngày"),
            ("announcement_id", &ann),
            ("zones", &zone),
            ("kind", "daily"),
            ("time", "06:00"),
            ("valid_from", &until),
            ("valid_until", &from),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    assert_has(&bad, r#"id="schedule-error""#);
    assert_has(&bad, &format!(r#"value="{until}""#));
    assert_eq!(
        h.get("/api/v1/schedules")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_one_off_broadcast_is_checked_for_overlaps_and_quiet_hours_and_an_emergency_is_not() {
    let h = Harness::new().await;
    let (commune, na_sai, phieng) = commune(&h).await;
    let a = h.announcement("Thông báo tiêm phòng").await;
    let other = h.announcement("Bản tin tối").await;
    // Nà Sài sleeps from 22:00; a broadcast already plays in Phiêng tomorrow at 23:00.
    let r = h
        .put_json(
            &format!("/api/v1/zones/{na_sai}/quiet-hours"),
            json!({"start": "22:00", "end": "05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tz: chrono_tz::Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
    let tomorrow = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    let at = tomorrow
        .and_hms_opt(23, 0, 0)
        .unwrap()
        .and_local_timezone(tz)
        .unwrap()
        .with_timezone(&Utc);
    let existing = h.broadcast(&json!(other), &[phieng], Some(at)).await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;

    let form = page(&h, &s, "/ui/broadcasts/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text());
    assert_has(&form, r#"id="broadcast-form""#);

    let (zone, ann, date) = (commune.to_string(), a.to_string(), tomorrow.to_string());
    let fields = |priority: &'static str, action: &'static str| {
        vec![
            ("announcement_id", ann.clone()),
            ("zones", zone.clone()),
            ("date", date.clone()),
            ("time", "23:00".to_owned()),
            ("priority", priority.to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let h = &h;
        let s = &s;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(h, s, "/ui/broadcasts/new", &f).await
        }
    };
    let count = || async {
        h.get("/api/v1/broadcasts")
            .await
            .json()
            .as_array()
            .unwrap()
            .len()
    };

    let checked = send(fields("normal", "check")).await;
    assert_eq!(checked.status, StatusCode::CONFLICT, "{}", checked.text());
    assert_has(
        &checked,
        r#"data-test="quiet-zone">Xã Tả Lùng / Thôn Nà Sài<"#,
    );
    assert_has(&checked, r#"data-test="conflict""#);
    assert_has(&checked, "Bản tin tối");
    assert_has(&checked, "Sẽ phát trên 1 cụm loa.");
    // Saving without accepting shows the same and makes nothing.
    let refused = send(fields("normal", "save")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(count().await, 1);

    let mut accepted = fields("normal", "save");
    accepted.push(("accept", "yes".to_owned()));
    let made = send(accepted).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    let id = h.get("/api/v1/broadcasts").await.json()[0]["id"]
        .as_i64()
        .unwrap();
    assert_ne!(id, existing);
    let b = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    let nodes: Vec<&str> = b["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        ["phieng-1"],
        "the village in quiet hours is left out"
    );

    // Only the sleeping village: nothing would play; said so.
    let mut quiet_only = fields("normal", "check");
    quiet_only[1].1 = na_sai.to_string();
    let none = send(quiet_only).await;
    assert_eq!(
        none.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        none.text()
    );
    assert_has(&none, "đang trong giờ nghỉ");

    // An emergency: no overlap or quiet hours to accept; it reaches both villages.
    let emergency = send(fields("emergency", "check")).await;
    assert_eq!(emergency.status, StatusCode::OK, "{}", emergency.text());
    assert_has(&emergency, r#"id="broadcast-exempt""#);
    assert!(!emergency.text().contains(r#"data-test="quiet-zone""#));
    assert!(!emergency.text().contains(r#"data-test="conflict""#));
    assert_has(&emergency, "Sẽ phát trên 2 cụm loa.");
    let made = send(fields("emergency", "save")).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    let id = h.get("/api/v1/broadcasts").await.json()[0]["id"]
        .as_i64()
        .unwrap();
    let b = h.get(&format!("/api/v1/broadcasts/{id}")).await.json();
    assert_eq!(b["priority"], "emergency");
    assert_eq!(b["deliveries"].as_array().unwrap().len(), 2);

    // The API's dry run answers the same and makes nothing.
    let before = count().await;
    let body = json!({"announcement_id": a, "zones": [commune], "at": at.to_rfc3339()});
    let dry = h.post_json("/api/v1/broadcasts?dry_run=true", body).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
    let dry = dry.json();
    assert_eq!(dry["quiet_zones"], json!(["Xã Tả Lùng / Thôn Nà Sài"]));
    assert_eq!(dry["nodes"], 1);
    assert!(!dry["conflicts"].as_array().unwrap().is_empty());
    assert_eq!(count().await, before);
}

#[tokio::test]
async fn announcements_are_filed_by_category_found_and_archived_out_of_the_pickers() {
    let h = Harness::new().await;
    let (_, village, _) = commune(&h).await;
    let storm = h.announcement("Cảnh báo bão số 3").await;
    let vaccine = h.announcement("Lịch tiêm phòng tháng 12").await;
    let r = h
        .post_json(
            "/api/v1/schedules",
            json!({"name": "Nhắc phòng bão", "announcement_id": storm, "zones": [village],
                   "recurrence": {"rule": {"kind": "cron", "expr": "0 0 18 * * *"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let schedule = r.json()["schedule"]["id"].as_i64().unwrap();
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;

    let r = post(
        &h,
        &s,
        &format!("/ui/announcements/{storm}"),
        &[("category", "Thời tiết")],
    )
    .await;
    assert_redirect(&r, &format!("/ui/announcements#announcement-{storm}"));
    let r = h
        .call(
            axum::http::Request::builder()
                .method("PATCH")
                .uri(format!("/api/v1/announcements/{vaccine}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(r#"{"category": "Y tế"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["category"], "Y tế");

    let by_category = page(
        &h,
        &s,
        "/ui/announcements?category=Th%E1%BB%9Di+ti%E1%BA%BFt",
    )
    .await;
    assert_has(&by_category, &format!(r#"data-id="{storm}""#));
    assert!(!by_category
        .text()
        .contains(&format!(r#"data-id="{vaccine}""#)));
    let by_words = page(&h, &s, "/ui/announcements?q=ti%C3%AAm+PH%C3%92NG").await;
    assert_has(&by_words, &format!(r#"data-id="{vaccine}""#));
    assert!(!by_words.text().contains(&format!(r#"data-id="{storm}""#)));
    let api = h.get("/api/v1/announcements?q=b%C3%A3o").await.json();
    assert_eq!(api.as_array().unwrap().len(), 1);
    assert_eq!(api[0]["id"], storm);

    // Archived: out of the list and the pickers, kept in the archive, and back again.
    let r = post(
        &h,
        &s,
        &format!("/ui/announcements/{storm}"),
        &[("archive", "yes")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let list = page(&h, &s, "/ui/announcements").await;
    assert!(!list.text().contains(&format!(r#"data-id="{storm}""#)));
    for picker in ["/ui/schedules/new", "/ui/emergency", "/ui/broadcasts/new"] {
        let p = page(&h, &s, picker).await;
        assert!(!p.text().contains("Cảnh báo bão số 3"), "{picker}");
        assert_has(&p, "Lịch tiêm phòng tháng 12");
    }
    // A schedule that plays it still shows it when edited.
    let edit = page(&h, &s, &format!("/ui/schedules/{schedule}/edit")).await;
    assert_has(
        &edit,
        &format!(r#"<option value="{storm}" selected>Cảnh báo bão số 3"#),
    );
    let archive = page(&h, &s, "/ui/announcements?archived=true").await;
    assert_has(&archive, &format!(r#"data-id="{storm}""#));
    assert_has(&archive, r#"data-test="announcement-restore""#);
    assert!(h
        .state
        .store
        .announcement(storm)
        .await
        .unwrap()
        .archived_at
        .is_some());
    let r = post(
        &h,
        &s,
        &format!("/ui/announcements/{storm}"),
        &[("archive", "no"), ("from_archive", "1")],
    )
    .await;
    assert_redirect(
        &r,
        &format!("/ui/announcements?archived=true#announcement-{storm}"),
    );
    let a = h.state.store.announcement(storm).await.unwrap();
    assert!(a.archived_at.is_none());
    assert_eq!(
        a.category.as_deref(),
        Some("Thời tiết"),
        "the category stays"
    );
}

#[tokio::test]
async fn a_loudspeaker_moved_to_another_village_plays_that_villages_programme() {
    let h = Harness::new().await;
    let (_, na_sai, phieng) = commune(&h).await;
    let a = h.announcement("Bản tin thôn").await;
    let daily = |name: &str, zone: i64, time: &str| {
        json!({"name": name, "announcement_id": a, "zones": [zone],
               "recurrence": {"rule": {"kind": "cron", "expr": format!("0 {time} * * *")}},
               "accept_conflicts": true})
    };
    let mut ids = Vec::new();
    for (name, zone, time) in [
        ("Nà Sài sáng", na_sai, "0 6"),
        ("Phiêng chiều", phieng, "30 17"),
    ] {
        let r = h
            .post_json("/api/v1/schedules", daily(name, zone, time))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(r.json()["schedule"]["id"].as_i64().unwrap());
    }
    h.state.materializer.pass(Utc::now()).await.unwrap();
    let open_for = |schedule: i64| {
        let h = &h;
        async move {
            let mut n = 0;
            for o in h
                .state
                .store
                .schedule_occurrences(schedule, 100)
                .await
                .unwrap()
            {
                for d in h.state.store.deliveries_of(o.id).await.unwrap() {
                    if d.node_id == "na-sai-1" && d.stage == loa_protocol::Stage::Planned {
                        n += 1;
                    }
                }
            }
            n
        }
    };
    let before = open_for(ids[0]).await;
    assert!(before > 0);
    assert_eq!(open_for(ids[1]).await, 0);

    account(&h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(&h, "quan-ly").await;
    let zones = page(&h, &s, "/ui/zones").await;
    assert_has(&zones, r#"action="/ui/nodes/na-sai-1/zone""#);
    let to = phieng.to_string();
    let r = post(&h, &s, "/ui/nodes/na-sai-1/zone", &[("zone_id", &to)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let back = r.header(axum::http::header::LOCATION).unwrap().to_owned();
    assert_eq!(
        h.state.store.node("na-sai-1").await.unwrap().zone_id,
        phieng
    );
    assert_eq!(
        open_for(ids[0]).await,
        0,
        "its old village's programme is withdrawn"
    );
    let joined = open_for(ids[1]).await;
    assert!(joined > 0, "its new village's programme reaches it");
    let plan = h.plan("na-sai-1").await;
    assert_eq!(
        plan.items.len(),
        joined,
        "its new plan holds Phiêng's airings only"
    );

    let notice = page(&h, &s, &back).await;
    assert_has(&notice, r#"id="moved""#);
    assert_has(&notice, "Xã Tả Lùng / Bản Phiêng");

    // Moving it where it already is, is told.
    let same = post(&h, &s, "/ui/nodes/na-sai-1/zone", &[("zone_id", &to)]).await;
    assert_eq!(same.status, StatusCode::CONFLICT);
    assert_has(&same, "Cụm loa đã ở vùng phát này.");
}

#[tokio::test]
async fn an_empty_zone_is_removed_and_one_in_use_is_refused_saying_why() {
    let h = Harness::new().await;
    let (commune, village, _) = commune(&h).await;
    let empty = h.zone("Xóm Mới", Some(commune)).await;
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(&h, "quan-ly").await;

    let zones = page(&h, &s, "/ui/zones").await;
    assert_has(&zones, &format!(r#"action="/ui/zones/{empty}/remove""#));
    let r = post(&h, &s, &format!("/ui/zones/{empty}/remove"), &[]).await;
    assert_redirect(&r, "/ui/zones#add-zone");
    assert!(h.state.store.zone(empty).await.is_err());

    let used = post(&h, &s, &format!("/ui/zones/{village}/remove"), &[]).await;
    assert_eq!(used.status, StatusCode::CONFLICT, "{}", used.text());
    assert_has(&used, r#"id="zones-error""#);
    assert_has(&used, "Thôn Nà Sài: 1 cụm loa");
    let top = post(&h, &s, &format!("/ui/zones/{commune}/remove"), &[]).await;
    assert_eq!(top.status, StatusCode::CONFLICT);
    assert_has(&top, "Xã Tả Lùng: 2 vùng phát bên dưới");
    assert!(h.state.store.zone(village).await.is_ok());

    let api = h
        .call(
            axum::http::Request::builder()
                .method("DELETE")
                .uri(format!("/api/v1/zones/{village}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    api.assert_error(StatusCode::CONFLICT, "zone.not_empty", &["1 loudspeaker"]);
}

#[tokio::test]
async fn the_audit_log_records_what_a_form_chose() {
    let h = Harness::new().await;
    let (_, village, _) = commune(&h).await;
    let a = h.announcement("Bản tin sáng").await;
    account(&h, "van-hanh", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-hanh").await;
    schedule_by_form(&h, &s, "Bản tin sáng thôn", village, a).await;

    let log = h.state.store.audit_log(10).await.unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == "POST /ui/schedules")
        .expect("the form is audited");
    let detail: serde_json::Value =
        serde_json::from_str(entry.detail.as_deref().unwrap()).expect("the choices, as JSON");
    assert_eq!(
        detail["zones"],
        json!([format!("{village} Xã Tả Lùng / Thôn Nà Sài")])
    );
    assert_eq!(detail["time"], "06:30");
    assert_eq!(detail["kind"], "daily");
    assert_eq!(detail["name"], "Bản tin sáng thôn");
    assert!(detail.get("_csrf").is_none(), "no CSRF token in the log");
    assert!(!entry.detail.as_deref().unwrap().contains("bytes"));

    // A password typed in a form is blanked.
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let admin = sign_in(&h, "quan-ly").await;
    let r = post(
        &h,
        &admin,
        "/ui/users",
        &[
            ("username", "truong-thon"),
            ("password", "mat-khau-bi-mat"),
            ("role", "viewer"),
            ("language", "vi"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let log = h.state.store.audit_log(10).await.unwrap();
    let entry = log.iter().find(|e| e.action == "POST /ui/users").unwrap();
    let detail = entry.detail.as_deref().unwrap();
    assert!(detail.contains(r#""password":"***""#), "{detail}");
    assert!(detail.contains(r#""username":"truong-thon""#), "{detail}");
}
