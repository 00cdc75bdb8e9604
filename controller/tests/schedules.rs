//! Scheduling through the API, in process with a real SQLite: conflicts shown before saving,
//! approval, quiet hours, idempotent materialisation, downtime, nodes added later, edits.
//! Materialiser passes run with the instant the test chooses (a controllable clock), so these
//! tests are exact and fast; the e2e tests in tests/tests/schedules.rs run the same code with
//! real processes and real time.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::Harness;
use serde_json::{json, Value};

/// A commune with one village and one node in it; returns (commune, village, announcement).
async fn commune(h: &Harness) -> (i64, i64, i64) {
    let commune = h.zone("Xã Tả Lùng", None).await;
    let village = h.zone("Thôn Nà Sài", Some(commune)).await;
    h.node("na-sai-1", village).await;
    let a = h.announcement("Bản tin").await;
    (commune, village, a)
}

fn daily_at(hour: u32) -> Value {
    json!({"rule": {"kind": "cron", "expr": format!("0 0 {hour} * * *")}})
}

fn body(name: &str, a: i64, zones: &[i64], recurrence: Value) -> Value {
    json!({"name": name, "announcement_id": a, "zones": zones, "recurrence": recurrence})
}

async fn create(h: &Harness, b: Value) -> Value {
    let r = h.post_json("/api/v1/schedules", b).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

async fn occurrences(h: &Harness, schedule: i64) -> Vec<Value> {
    h.get(&format!("/api/v1/schedules/{schedule}/occurrences"))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone()
}

async fn deliveries(h: &Harness, occurrence: i64) -> Vec<Value> {
    h.get(&format!("/api/v1/broadcasts/{occurrence}"))
        .await
        .json()["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

/// Creates a schedule airing `a` on `zones` daily at `hour` and materialises it now; its id.
async fn planned_daily(h: &Harness, name: &str, a: i64, zones: &[i64], hour: u32) -> i64 {
    let id = create(h, body(name, a, zones, daily_at(hour))).await["schedule"]["id"]
        .as_i64()
        .unwrap();
    h.state.materializer.pass(Utc::now()).await.unwrap();
    id
}

/// Today at `hh:mm` in Vietnam, in UTC.
fn local(days: i64, hh: u32, mm: u32) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
    let today = Utc::now().with_timezone(&tz).date_naive() + Duration::days(days);
    tz.from_local_datetime(&today.and_hms_opt(hh, mm, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn an_overlapping_schedule_is_refused_with_its_conflicts_until_the_clerk_accepts_them() {
    let h = Harness::new().await;
    let (commune, village, a) = commune(&h).await;
    let other = h.zone("Bản Phiêng", Some(commune)).await;
    h.node("phieng-1", other).await;
    let first = create(&h, body("Bản tin sáng thôn", a, &[village], daily_at(6))).await;

    // Another village at the same hour shares no loudspeaker: no conflict.
    create(&h, body("Bản tin sáng bản", a, &[other], daily_at(6))).await;

    let whole = body("Bản tin toàn xã", a, &[commune], daily_at(6));
    let dry = h
        .post_json("/api/v1/schedules?dry_run=true", whole.clone())
        .await;
    assert_eq!(dry.status, StatusCode::OK);
    assert_eq!(dry.json()["conflicts"].as_array().unwrap().len(), 2);

    let r = h.post_json("/api/v1/schedules", whole.clone()).await;
    r.assert_error(
        StatusCode::CONFLICT,
        "schedule.conflicts",
        &["overlaps 2", "accept_conflicts"],
    );
    let conflicts = r.json()["conflicts"].as_array().unwrap().clone();
    let c = conflicts
        .iter()
        .find(|c| c["id"] == first["schedule"]["id"])
        .expect("the village schedule");
    assert_eq!(c["kind"], "schedule");
    assert_eq!(c["zones"], json!(["Xã Tả Lùng / Thôn Nà Sài"]));
    let (mine, theirs) = (
        c["times"][0][0].as_str().unwrap(),
        c["times"][0][1].as_str().unwrap(),
    );
    assert_eq!(mine, theirs, "both at 06:00");
    assert!(
        mine.contains("T23:00:00"),
        "06:00 in Vietnam is 23:00 UTC: {mine}"
    );
    assert!(
        c["count"].as_u64().unwrap() >= 13,
        "every day of the 14-day window"
    );
    assert_eq!(
        h.get("/api/v1/schedules")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing saved"
    );

    let mut accepted = whole;
    accepted["accept_conflicts"] = json!(true);
    let saved = create(&h, accepted).await;
    assert_eq!(
        saved["conflicts"].as_array().unwrap().len(),
        2,
        "still shown once accepted"
    );

    // A one-off broadcast on the same node at the same time conflicts too.
    let at = local(2, 9, 0);
    let b = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": a, "zones": [village], "at": at.to_rfc3339()}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED);
    let once = json!({"rule": {"kind": "once", "at": at.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).naive_local()}});
    let r = h
        .post_json("/api/v1/schedules", body("Một lần", a, &[village], once))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["conflicts"][0]["kind"], "broadcast");
}

#[tokio::test]
async fn with_approval_on_a_schedule_reaches_nodes_only_once_approved() {
    let h = Harness::new().await;
    let (_, village, a) = commune(&h).await;
    let r = h
        .put_json("/api/v1/settings", json!({"require_approval": true}))
        .await;
    assert_eq!(r.json()["require_approval"], true);
    let s = create(&h, body("Nháp", a, &[village], daily_at(7))).await;
    let id = s["schedule"]["id"].as_i64().unwrap();
    assert_eq!(s["schedule"]["status"], "draft");

    h.state.materializer.pass(Utc::now()).await.unwrap();
    assert!(
        occurrences(&h, id).await.is_empty(),
        "a draft is not planned"
    );
    // Resuming is not approving.
    h.post_json(&format!("/api/v1/schedules/{id}/resume"), json!({}))
        .await
        .assert_error(
            StatusCode::CONFLICT,
            "schedule.awaiting_approval",
            &["approval"],
        );

    // Its author (the harness's admin) may not approve it; another admin does.
    h.post_json(&format!("/api/v1/schedules/{id}/approve"), json!({}))
        .await
        .assert_error(
            StatusCode::CONFLICT,
            "schedule.own_approval",
            &["another admin"],
        );
    let other = h
        .post_json(
            "/api/v1/users",
            json!({"username": "quan-ly-2", "password": "mat-khau-quan-ly-2", "role": "admin"}),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let token = h
        .post_json(
            &format!("/api/v1/users/{other}/tokens"),
            json!({"name": "duyệt"}),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h
        .call(
            axum::http::Request::post(format!("/api/v1/schedules/{id}/approve"))
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.json()["schedule"]["status"], "active", "{}", r.text());
    assert_eq!(r.json()["schedule"]["approved_by"], "quan-ly-2");
    assert!(r.json()["schedule"]["approved_at"].is_string());
    h.state.materializer.pass(Utc::now()).await.unwrap();
    assert!(
        !occurrences(&h, id).await.is_empty(),
        "approved: planned for the horizon"
    );

    let again = h
        .post_json(&format!("/api/v1/schedules/{id}/approve"), json!({}))
        .await;
    again.assert_error(StatusCode::CONFLICT, "schedule.not_draft", &["active"]);
}

#[tokio::test]
async fn quiet_hours_keep_normal_items_off_a_zone_but_not_emergencies() {
    let h = Harness::new().await;
    let (commune, village, a) = commune(&h).await;
    // Set on the commune: the village below inherits them.
    let r = h
        .put_json(
            &format!("/api/v1/zones/{commune}/quiet-hours"),
            json!({"start": "22:00", "end": "05:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let night = json!({"rule": {"kind": "once", "at": format!("{}T23:00:00", (Utc::now() + Duration::days(1)).with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).date_naive())}});
    let mut normal = body("Đêm", a, &[village], night.clone());
    normal["accept_conflicts"] = json!(true);
    let n = create(&h, normal).await["schedule"]["id"].as_i64().unwrap();
    let mut urgent = body("Cảnh báo lũ", a, &[village], night);
    urgent["priority"] = json!("emergency");
    urgent["accept_conflicts"] = json!(true);
    let e = create(&h, urgent).await["schedule"]["id"].as_i64().unwrap();

    h.state.materializer.pass(Utc::now()).await.unwrap();
    let normal_occ = occurrences(&h, n).await;
    let urgent_occ = occurrences(&h, e).await;
    assert_eq!((normal_occ.len(), urgent_occ.len()), (1, 1));
    assert!(
        deliveries(&h, normal_occ[0]["id"].as_i64().unwrap())
            .await
            .is_empty(),
        "normal kept out of 22:00–05:00"
    );
    assert_eq!(
        deliveries(&h, urgent_occ[0]["id"].as_i64().unwrap())
            .await
            .len(),
        1,
        "an emergency plays anyway"
    );

    let bad = h
        .put_json(
            &format!("/api/v1/zones/{commune}/quiet-hours"),
            json!({"start": "25:00", "end": "05:00"}),
        )
        .await;
    bad.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["25:00", "HH:MM"],
    );
}

#[tokio::test]
async fn materialising_twice_or_after_a_restart_never_duplicates_and_downtime_is_late_or_missed() {
    let h = Harness::with_config(|c| {
        c.plan_horizon_secs = 600;
        c.late_grace_secs = 600;
    })
    .await;
    let (_, village, a) = commune(&h).await;
    let every_minute = json!({"rule": {"kind": "cron", "expr": "0 * * * * *"}});
    let id = create(&h, body("Mỗi phút", a, &[village], every_minute)).await["schedule"]["id"]
        .as_i64()
        .unwrap();

    // The controller comes back 30 minutes later: 40 minutes of firings to write.
    let back = Utc::now() + Duration::minutes(30);
    h.state.materializer.pass(back).await.unwrap();
    let first = occurrences(&h, id).await;
    h.state.materializer.pass(back).await.unwrap();
    // A controller started afresh (a new materialiser over the same store) writes nothing twice.
    let m = &h.state.materializer;
    let restarted = loa_controller::schedule::materializer::Materializer::new(
        m.store.clone(),
        m.planner.clone(),
        m.tz,
        &h.state.cfg,
    );
    restarted.pass(back).await.unwrap();
    assert_eq!(
        occurrences(&h, id).await.len(),
        first.len(),
        "passes are idempotent"
    );
    assert!(
        (39..=41).contains(&first.len()),
        "{} firings from creation to 10 min ahead",
        first.len()
    );

    let mut missed = 0;
    let mut planned = 0;
    for o in &first {
        let start: DateTime<Utc> = o["start_at"].as_str().unwrap().parse().unwrap();
        let d = &deliveries(&h, o["id"].as_i64().unwrap()).await[0];
        if start + Duration::minutes(10) < back {
            assert_eq!(d["stage"], "missed", "{start}");
            assert!(d["reason"]
                .as_str()
                .unwrap()
                .contains("controller was not running"));
            missed += 1;
        } else {
            assert_eq!(
                d["stage"], "planned",
                "{start} is within the grace window or ahead"
            );
            planned += 1;
        }
    }
    assert!(
        missed >= 19 && planned >= 19,
        "missed {missed}, planned {planned}"
    );
}

#[tokio::test]
async fn a_node_added_later_joins_its_zones_programme_and_an_edit_withdraws_the_old_one() {
    let h = Harness::new().await;
    let (commune, village, a) = commune(&h).await;
    let id = planned_daily(&h, "Bản tin", a, &[commune], 6).await;
    let occ = occurrences(&h, id).await;
    assert!(!occ.is_empty());
    let first = occ[0]["id"].as_i64().unwrap();
    assert_eq!(deliveries(&h, first).await.len(), 1);

    h.node("na-sai-2", village).await;
    let nodes: Vec<String> = deliveries(&h, first)
        .await
        .iter()
        .map(|d| d["node_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        nodes,
        ["na-sai-1", "na-sai-2"],
        "the new node gets the programme's future occurrences"
    );

    let r = h
        .put_json(
            &format!("/api/v1/schedules/{id}"),
            body("Bản tin", a, &[commune], daily_at(7)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["schedule"]["revision"], 2);
    for d in deliveries(&h, first).await {
        assert_eq!(d["stage"], "cancelled");
        assert_eq!(d["reason"], "the schedule was changed");
    }
    h.state.materializer.pass(Utc::now()).await.unwrap();
    let after = occurrences(&h, id).await;
    let live: Vec<&Value> = after
        .iter()
        .filter(|o| o["cancelled_at"].is_null())
        .collect();
    assert!(!live.is_empty());
    for o in live {
        assert!(
            o["local_start"]
                .as_str()
                .unwrap()
                .contains("T07:00:00+07:00"),
            "{o}"
        );
    }
}

#[tokio::test]
async fn pause_withdraws_the_future_and_resume_plans_again_from_now() {
    let h = Harness::new().await;
    let (_, village, a) = commune(&h).await;
    let id = planned_daily(&h, "Tuần", a, &[village], 8).await;
    let r = h
        .post_json(&format!("/api/v1/schedules/{id}/pause"), json!({}))
        .await;
    assert_eq!(r.json()["schedule"]["status"], "paused");
    for o in occurrences(&h, id).await {
        assert!(
            o["cancelled_at"].is_string(),
            "paused: future occurrences withdrawn"
        );
    }
    h.state.materializer.pass(Utc::now()).await.unwrap();
    assert!(
        occurrences(&h, id)
            .await
            .iter()
            .all(|o| o["cancelled_at"].is_string()),
        "a paused schedule is not planned"
    );
    let r = h
        .post_json(&format!("/api/v1/schedules/{id}/resume"), json!({}))
        .await;
    assert_eq!(r.json()["schedule"]["status"], "active");
    h.state.materializer.pass(Utc::now()).await.unwrap();
    assert!(
        occurrences(&h, id)
            .await
            .iter()
            .any(|o| o["cancelled_at"].is_null()),
        "resumed: planned again"
    );
    let bad = h
        .post_json(&format!("/api/v1/schedules/{id}/resume"), json!({}))
        .await;
    bad.assert_error(StatusCode::CONFLICT, "conflict", &["active"]);
}

#[tokio::test]
async fn a_bad_time_rule_is_refused_with_what_is_wrong() {
    let h = Harness::new().await;
    let (_, village, a) = commune(&h).await;
    let five_fields = json!({"rule": {"kind": "cron", "expr": "0 6 * * 1-6"}});
    let r = h
        .post_json("/api/v1/schedules", body("Sai", a, &[village], five_fields))
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["6 or 7 fields"],
    );
    let bad_rrule = json!({"rule": {"kind": "rrule", "start": "2026-01-30T16:00:00", "rule": "FREQ=SOMETIMES"}});
    let r = h
        .post_json("/api/v1/schedules", body("Sai", a, &[village], bad_rrule))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
}

#[tokio::test]
async fn a_rule_that_airs_more_often_than_a_plan_can_carry_is_refused() {
    let h = Harness::new().await;
    let (_, village, a) = commune(&h).await;
    let every_minute = json!({"rule": {"kind": "cron", "expr": "0 * * * * *"}});
    let r = h
        .post_json(
            "/api/v1/schedules",
            body("Mỗi phút", a, &[village], every_minute),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["more than 400 times in 48 hours"],
    );
}

#[tokio::test]
async fn a_plan_too_long_for_one_message_carries_the_soonest_items_and_the_rest_follow() {
    use loa_controller::store::occurrences::NewOccurrence;
    use loa_protocol::{Event, EventBody, Priority, Stage};

    let h = Harness::new().await;
    let (_, village, a) = commune(&h).await;
    let store = &h.state.store;
    // Whole seconds: the store keeps milliseconds.
    let start = chrono::SubsecRound::trunc_subsecs(Utc::now() + Duration::hours(1), 0);
    for i in 0..450 {
        let at = start + Duration::minutes(i);
        store
            .create_occurrence(
                &NewOccurrence {
                    announcement_id: a,
                    priority: Priority::Normal,
                    start_at: at,
                    expires_at: at + Duration::minutes(30),
                    chime: None,
                    volume: None,
                },
                &[village],
                &["na-sai-1".to_string()],
            )
            .await
            .unwrap();
    }
    let current = || h.plan("na-sai-1");
    h.state.planner.publish("na-sai-1").await.unwrap();
    let plan = current().await;
    assert_eq!(
        plan.items.len(),
        loa_controller::mqtt::planner::MAX_PLAN_ITEMS
    );
    assert_eq!(plan.items[0].start_at, start, "the soonest first");
    assert!(h.state.planner.is_truncated("na-sai-1"));

    // The node reports the first item played: a new plan follows with the next one in.
    let first = plan.items[0].id.clone();
    let played = Event {
        seq: 1,
        at: Utc::now(),
        body: EventBody::Item {
            item: first.clone(),
            stage: Stage::Played,
            reason: None,
            start_error_ms: Some(1),
        },
    };
    h.ingest("na-sai-1", vec![played]).await;
    let next = current().await;
    assert!(next.version > plan.version);
    assert!(
        !next.items.iter().any(|i| i.id == first),
        "the played item left the plan"
    );
    assert_eq!(
        next.items.len(),
        loa_controller::mqtt::planner::MAX_PLAN_ITEMS,
        "the next one came in"
    );
    assert_eq!(
        next.items.last().unwrap().start_at,
        start + Duration::minutes(400)
    );
}

#[tokio::test]
async fn a_cancel_while_another_writer_holds_the_database_waits_its_turn() {
    use loa_controller::store::schedules::Status;
    use sqlx::Connection;
    let h = Harness::new().await;
    let (_, village, a) = commune(&h).await;
    let id = planned_daily(&h, "Tuần", a, &[village], 8).await;
    // Another writer (as ingest storing a node's events) holds the write lock, and commits
    // while the cancel is under way: the cancel reads the occurrences to withdraw, then
    // writes. Begun the default way (deferred) it failed with SQLITE_BUSY the moment the
    // other writer committed, and the API answered 500.
    let db = h.media_dir().parent().unwrap().join("loa.db");
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE zones SET name = name")
        .execute(&mut other)
        .await
        .unwrap();
    let (cancelled, ()) = tokio::join!(
        h.state.store.set_schedule_status(id, Status::Cancelled),
        async {
            // A pause, not a wait for an event: nothing outside SQLite shows that the cancel
            // has reached the lock. Were the commit to come first, the test would pass with
            // either kind of transaction, never fail wrongly.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            sqlx::query("COMMIT").execute(&mut other).await.unwrap();
        }
    );
    cancelled.expect("the cancel waits for the other writer, then goes through");
    assert!(occurrences(&h, id)
        .await
        .iter()
        .all(|o| o["cancelled_at"].is_string()));
}
