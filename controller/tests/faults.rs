//! Faults in sight, over a real SQLite and the real ingest: each kind of fault (an emergency
//! not played, offline, a device error, a refused plan, a clock off, a low disk) is listed by
//! `GET /api/v1/faults` with its village and since when, most urgent first; the dashboard
//! shows them before anything else, emergencies red and by village, linked to each station's
//! page; the station page shows the state, the faults, their history (written by the sweep)
//! and what the station played today; an account limited to a village sees only its own.

mod common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::ui::{account, assert_has, page, sign_in};
use common::Harness;
use loa_controller::faults::FaultKind;
use loa_controller::http::pages::i18n::{self, Lang};
use loa_controller::sweep;
use loa_protocol::{Event, EventBody, Presence};
use serde_json::{json, Value};

/// The commune: village A (three stations with a fault each, one healthy), village B (one
/// offline, one refusing its plans) and an emergency to B that began two minutes ago.
struct Commune {
    h: Harness,
    a: i64,
    emergency: i64,
}

const MB: u64 = 1_000_000;

async fn commune() -> Commune {
    let h = Harness::new().await;
    let xa = h.zone("Xã Tả Lùng", None).await;
    let a = h.zone("Thôn Nà Sài", Some(xa)).await;
    let b = h.zone("Bản Khoang", Some(xa)).await;
    for id in ["loi-1", "lech-1", "day-1", "tot-1"] {
        h.node(id, a).await;
    }
    for id in ["mat-1", "tu-choi-1"] {
        h.node(id, b).await;
    }
    let now = Utc::now();
    let held = |h: &Harness, id: &'static str| {
        let store = h.state.store.clone();
        async move { store.node(id).await.unwrap().plan_version }
    };
    let tot = held(&h, "tot-1").await;
    h.state_at(
        "tot-1",
        |s| {
            s.software = Some("0.1.0".into());
            s.plan_version = Some(tot);
            s.clock_offset_ms = Some(150);
            s.disk_free_bytes = Some(5_000 * MB);
        },
        now,
    )
    .await;
    h.state_at(
        "loi-1",
        |s| s.device_error = Some("no output device named loa_usb".into()),
        now,
    )
    .await;
    h.state_at("lech-1", |s| s.clock_offset_ms = Some(-5_300), now)
        .await;
    h.state_at("day-1", |s| s.disk_free_bytes = Some(40 * MB), now)
        .await;
    h.presence_at("mat-1", Presence::Online, now - Duration::minutes(30))
        .await;
    h.presence_at("mat-1", Presence::Offline, now - Duration::minutes(10))
        .await;

    let ann = h.announcement("Cảnh báo lũ quét").await;
    let r = h
        .post_json(
            "/api/v1/broadcasts",
            json!({"announcement_id": ann, "zones": [b], "priority": "emergency",
                   "at": (now - Duration::seconds(120)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let emergency = r.json()["id"].as_i64().unwrap();

    // tu-choi-1 holds its first plan and refuses the one with the emergency.
    h.state_at("tu-choi-1", |s| s.plan_version = Some(1), now)
        .await;
    h.ingest(
        "tu-choi-1",
        vec![Event {
            seq: 1,
            at: Utc::now(),
            body: EventBody::PlanRejected {
                version: Some(2),
                reason: "bad signature".into(),
            },
        }],
    )
    .await;
    Commune { h, a, emergency }
}

fn kinds_of(faults: &Value, node: &str) -> Vec<String> {
    faults
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["node_id"] == node)
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_kind_of_fault_is_listed_with_its_village_most_urgent_first() {
    let c = commune().await;
    let r = c.h.get("/api/v1/faults").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let faults = r.json();
    let list = faults.as_array().unwrap();

    // The emergency first, red, one per station of village B that has not played it.
    assert_eq!(list[0]["kind"], "emergency_not_played", "{faults:#}");
    let red: Vec<&Value> = list
        .iter()
        .filter(|f| f["severity"] == "emergency")
        .collect();
    assert_eq!(red.len(), 2, "{faults:#}");
    assert!(list[..2].iter().all(|f| f["severity"] == "emergency"));
    for f in &red {
        assert_eq!(f["kind"], "emergency_not_played");
        assert_eq!(f["zone"], "Xã Tả Lùng / Bản Khoang");
        assert_eq!(f["occurrence_id"], c.emergency);
        assert_eq!(f["title"], "Cảnh báo lũ quét");
        assert_eq!(f["stage"], "planned");
        assert!(f["since"].is_string(), "{f}");
    }

    assert_eq!(kinds_of(&faults, "loi-1"), ["device_error"]);
    assert_eq!(kinds_of(&faults, "lech-1"), ["clock_offset"]);
    assert_eq!(kinds_of(&faults, "day-1"), ["low_disk"]);
    assert_eq!(kinds_of(&faults, "tot-1"), Vec::<String>::new());
    assert_eq!(
        kinds_of(&faults, "mat-1"),
        ["emergency_not_played", "offline"]
    );
    assert_eq!(
        kinds_of(&faults, "tu-choi-1"),
        ["emergency_not_played", "plan_refused"]
    );

    let one = |node: &str, kind: &str| {
        list.iter()
            .find(|f| f["node_id"] == node && f["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} on {node}: {faults:#}"))
            .clone()
    };
    let f = one("loi-1", "device_error");
    assert_eq!(f["zone"], "Xã Tả Lùng / Thôn Nà Sài");
    assert_eq!(f["severity"], "warning");
    assert!(f["detail"].as_str().unwrap().contains("loa_usb"), "{f}");
    let f = one("lech-1", "clock_offset");
    assert_eq!(
        (&f["severity"], &f["value"]),
        (&json!("notice"), &json!(-5300))
    );
    assert_eq!(f["detail"], "clock 5.3 s ahead of the controller's");
    let f = one("day-1", "low_disk");
    assert_eq!(f["detail"], "40.0 MB free on its disk");
    let f = one("mat-1", "offline");
    let since: chrono::DateTime<Utc> = serde_json::from_value(f["since"].clone()).unwrap();
    assert!(
        (Utc::now() - Duration::minutes(10) - since)
            .num_seconds()
            .abs()
            < 5,
        "offline since its will, not since now: {f}"
    );
    let f = one("tu-choi-1", "plan_refused");
    assert!(
        f["detail"].as_str().unwrap().contains("bad signature"),
        "{f}"
    );
}

#[tokio::test]
async fn the_dashboard_shows_the_faults_first_emergencies_red_by_village_with_links_to_stations() {
    let c = commune().await;
    account(&c.h, "chu-tich", "viewer", &[], "vi").await;
    let s = sign_in(&c.h, "chu-tich").await;
    let r = page(&c.h, &s, "/ui/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.text();
    let faults_at = text.find(r#"id="faults""#).expect("a fault section");
    let on_air_at = text.find(r#"id="on-air""#).expect("the on-air section");
    assert!(faults_at < on_air_at, "the faults come first");

    assert_has(&r, "Cần xử lý");
    assert_has(
        &r,
        &format!(
            r#"data-test="emergency-fault" data-broadcast="{}""#,
            c.emergency
        ),
    );
    assert_has(&r, "Bản tin khẩn cấp «Cảnh báo lũ quét» chưa phát được ở:");
    assert_has(
        &r,
        r#"data-test="emergency-village" data-zone="Xã Tả Lùng / Bản Khoang""#,
    );
    assert!(
        !text.contains(r#"data-test="emergency-village" data-zone="Xã Tả Lùng / Thôn Nà Sài""#),
        "village A had no emergency"
    );
    assert_has(&r, r#"class="fault-emergency""#);
    for (kind, node) in [
        ("offline", "mat-1"),
        ("device_error", "loi-1"),
        ("plan_refused", "tu-choi-1"),
        ("clock_offset", "lech-1"),
        ("low_disk", "day-1"),
    ] {
        assert_has(
            &r,
            &format!(r#"data-test="fault" data-kind="{kind}" data-node="{node}""#),
        );
        assert_has(&r, &format!(r#"href="/ui/nodes/{node}""#));
    }
    assert_has(&r, "Lỗi thiết bị âm thanh");
    assert_has(&r, "Lệch đồng hồ");
    assert_has(&r, "Sắp đầy bộ nhớ");
    assert!(!text.contains(r#"id="no-faults""#));

    // In English too.
    let r = page(&c.h, &s, "/ui/?lang=en").await;
    assert_has(&r, "Needs attention");
    assert_has(
        &r,
        "Emergency bulletin «Cảnh báo lũ quét» not played yet in:",
    );
}

#[tokio::test]
async fn a_commune_without_faults_says_so() {
    let h = Harness::new().await;
    let v = h.zone("Thôn Nà Sài", None).await;
    h.node("tot-1", v).await;
    let held = h.state.store.node("tot-1").await.unwrap().plan_version;
    h.state_at("tot-1", |s| s.plan_version = Some(held), Utc::now())
        .await;
    assert_eq!(h.get("/api/v1/faults").await.json(), json!([]));
    account(&h, "chu-tich", "viewer", &[], "vi").await;
    let s = sign_in(&h, "chu-tich").await;
    let r = page(&h, &s, "/ui/").await;
    assert_has(&r, r#"id="no-faults""#);
}

#[tokio::test]
async fn an_account_limited_to_a_village_sees_only_its_faults_and_stations() {
    let c = commune().await;
    account(&c.h, "truong-thon", "viewer", &[c.a], "vi").await;
    let s = sign_in(&c.h, "truong-thon").await;
    let r = page(&c.h, &s, "/ui/").await;
    assert_has(&r, r#"data-node="loi-1""#);
    assert!(
        !r.text().contains("emergency-village"),
        "the emergency was in village B"
    );
    assert!(!r.text().contains(r#"data-node="mat-1""#));

    let r = page(&c.h, &s, "/ui/nodes/loi-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = page(&c.h, &s, "/ui/nodes/mat-1").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // The API answers the same, through the account's session.
    let r =
        c.h.call_as(common::ui::get_request("/api/v1/faults", Some(&s.cookie)))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let faults = r.json();
    assert!(
        faults
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["zone_id"] == c.a),
        "{faults:#}"
    );
    assert_eq!(kinds_of(&faults, "loi-1"), ["device_error"]);
    let r =
        c.h.call_as(common::ui::get_request(
            "/api/v1/nodes/mat-1/station",
            Some(&s.cookie),
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
}

#[tokio::test]
async fn the_sweep_keeps_when_each_fault_began_and_ended_and_the_station_page_shows_it() {
    let h = Harness::new().await;
    let v = h.zone("Thôn Nà Sài", None).await;
    h.node("loi-1", v).await;
    let store = &h.state.store;
    let tz = h.state.tz;
    let t0 = Utc::now() - Duration::minutes(20);

    h.state_at(
        "loi-1",
        |s| s.device_error = Some("ALSA: device busy".into()),
        t0,
    )
    .await;
    sweep::record_faults(store, t0, tz).await.unwrap();
    // A second pass changes nothing.
    sweep::record_faults(store, t0 + Duration::seconds(5), tz)
        .await
        .unwrap();
    let st = h.get("/api/v1/nodes/loi-1/station").await;
    assert_eq!(st.status, StatusCode::OK, "{}", st.text());
    let st = st.json();
    assert_eq!(st["history"].as_array().unwrap().len(), 1, "{st:#}");
    assert_eq!(st["history"][0]["kind"], "device_error");
    assert!(st["history"][0]["ended_at"].is_null());
    // The fault now dates from when the sweep first saw it.
    let since: chrono::DateTime<Utc> =
        serde_json::from_value(st["faults"][0]["since"].clone()).unwrap();
    assert_eq!(since.timestamp_millis(), t0.timestamp_millis());

    // The device is back ten minutes later; then the node goes offline.
    let t1 = t0 + Duration::minutes(10);
    h.state_at("loi-1", |s| s.software = Some("0.1.0".into()), t1)
        .await;
    sweep::record_faults(store, t1, tz).await.unwrap();
    let t2 = t1 + Duration::minutes(5);
    h.presence_at("loi-1", Presence::Offline, t2).await;
    sweep::record_faults(store, t2, tz).await.unwrap();

    let st = h.get("/api/v1/nodes/loi-1/station").await.json();
    let history = st["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{st:#}");
    assert_eq!(history[0]["kind"], "offline");
    assert!(history[0]["ended_at"].is_null());
    assert_eq!(history[1]["kind"], "device_error");
    let ended: chrono::DateTime<Utc> =
        serde_json::from_value(history[1]["ended_at"].clone()).unwrap();
    assert_eq!(ended.timestamp_millis(), t1.timestamp_millis());
    assert_eq!(
        st["faults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["offline"]
    );

    account(&h, "chu-tich", "viewer", &[], "vi").await;
    let s = sign_in(&h, "chu-tich").await;
    let r = page(&h, &s, "/ui/nodes/loi-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_has(
        &r,
        r#"id="station" data-node="loi-1" data-presence="offline""#,
    );
    assert_has(
        &r,
        r#"data-test="history" data-kind="offline" data-open="yes""#,
    );
    assert_has(
        &r,
        r#"data-test="history" data-kind="device_error" data-open="no""#,
    );
    assert_has(&r, "ALSA: device busy");
    assert_has(&r, "đang diễn ra");
}

#[tokio::test]
async fn the_station_page_shows_its_state_and_what_it_played_today() {
    let h = Harness::new().await;
    let v = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", v).await;
    let ann = h.announcement("Bản tin sáng").await;
    let b = h.broadcast(&json!(ann), &[v], None).await;
    let held = h.state.store.node("na-sai-1").await.unwrap().plan_version;
    h.state_at(
        "na-sai-1",
        |s| {
            s.software = Some("0.1.0".into());
            s.plan_version = Some(held);
            s.clock_offset_ms = Some(-1_340);
            s.disk_free_bytes = Some(2_500 * MB);
            s.cache_bytes = Some(12 * MB);
        },
        Utc::now(),
    )
    .await;
    let item = loa_protocol::item_id(b);
    let at = Utc::now();
    h.ingest(
        "na-sai-1",
        [
            loa_protocol::Stage::Received,
            loa_protocol::Stage::Ready,
            loa_protocol::Stage::Playing,
            loa_protocol::Stage::Played,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, stage)| Event {
            seq: i as u64 + 1,
            at,
            body: EventBody::Item {
                item: item.clone(),
                stage,
                reason: None,
                start_error_ms: None,
            },
        })
        .collect(),
    )
    .await;

    let st = h.get("/api/v1/nodes/na-sai-1/station").await.json();
    assert_eq!(st["software"], "0.1.0");
    assert_eq!(st["clock_offset_ms"], -1340);
    assert_eq!(st["disk_free_bytes"], 2_500 * MB);
    assert_eq!(st["zone"], "Thôn Nà Sài");
    assert_eq!(st["faults"], json!([]));
    assert_eq!(st["today"][0]["occurrence_id"], b);
    assert_eq!(st["today"][0]["stage"], "played");

    account(&h, "chu-tich", "viewer", &[], "vi").await;
    let s = sign_in(&h, "chu-tich").await;
    let r = page(&h, &s, "/ui/nodes/na-sai-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_has(&r, "Phiên bản phần mềm");
    assert_has(&r, "0.1.0");
    assert_has(&r, "-1.3 giây");
    assert_has(&r, "2500 MB");
    assert_has(&r, r#"id="no-station-faults""#);
    assert_has(&r, r#"data-test="today" data-stage="played""#);
    assert_has(&r, "Bản tin sáng");
    assert_has(&r, r#"id="no-history""#);

    // Linked from the dashboard and the zones page.
    let r = page(&h, &s, "/ui/").await;
    assert_has(&r, r#"href="/ui/nodes/na-sai-1""#);
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(&h, "quan-ly").await;
    let r = page(&h, &s, "/ui/zones").await;
    assert_has(&r, r#"href="/ui/nodes/na-sai-1""#);

    let r = page(&h, &s, "/ui/nodes/khong-co").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_thresholds_are_commune_settings_with_defaults_and_clear_errors() {
    let c = commune().await;
    let st = c.h.get("/api/v1/settings").await.json();
    assert_eq!(
        (
            &st["fault_emergency_after_secs"],
            &st["fault_clock_offset_ms"],
            &st["fault_low_disk_bytes"]
        ),
        (&json!(60), &json!(2000), &json!(100 * 1024 * 1024))
    );
    // A wider clock tolerance, a smaller disk threshold, a later emergency deadline.
    let r =
        c.h.put_json(
            "/api/v1/settings",
            json!({"fault_clock_offset_ms": 10_000, "fault_low_disk_bytes": 10 * MB,
                   "fault_emergency_after_secs": 600}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let faults = c.h.get("/api/v1/faults").await.json();
    assert_eq!(kinds_of(&faults, "lech-1"), Vec::<String>::new());
    assert_eq!(kinds_of(&faults, "day-1"), Vec::<String>::new());
    assert_eq!(kinds_of(&faults, "mat-1"), ["offline"]);

    let r =
        c.h.put_json("/api/v1/settings", json!({"fault_emergency_after_secs": 0}))
            .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &["fault_emergency_after_secs", "1 to 86400"],
    );
}

#[test]
fn every_fault_kind_has_its_words_in_both_languages() {
    for k in FaultKind::ALL {
        for lang in [Lang::Vi, Lang::En] {
            let key = format!("fault.kind.{}", k.as_str());
            assert!(i18n::lookup(lang, &key).is_some(), "{key} in {lang:?}");
        }
    }
}

#[tokio::test]
async fn an_admin_sets_the_thresholds_on_the_settings_page() {
    let h = Harness::new().await;
    account(&h, "quan-ly", "admin", &[], "vi").await;
    let s = sign_in(&h, "quan-ly").await;
    let p = page(&h, &s, "/ui/settings").await;
    assert_has(&p, "Khi nào báo sự cố");
    assert_has(
        &p,
        r#"name="fault_low_disk_mib" type="number" min="0" value="100""#,
    );
    let r = common::ui::post(
        &h,
        &s,
        "/ui/settings",
        &[
            ("languages", "vi"),
            ("after_preempt", "replay"),
            ("fault_emergency_after_secs", "120"),
            ("fault_clock_offset_ms", "3000"),
            ("fault_low_disk_mib", "50"),
        ],
    )
    .await;
    common::ui::assert_redirect(&r, "/ui/settings?saved=1");
    let st = h.get("/api/v1/settings").await.json();
    assert_eq!(st["fault_emergency_after_secs"], 120);
    assert_eq!(st["fault_clock_offset_ms"], 3000);
    assert_eq!(st["fault_low_disk_bytes"], 50 * 1024 * 1024);

    // Out of range: said on the page, nothing saved.
    let r = common::ui::post(
        &h,
        &s,
        "/ui/settings",
        &[
            ("languages", "vi"),
            ("after_preempt", "replay"),
            ("fault_emergency_after_secs", "0"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_has(&r, "fault_emergency_after_secs");
    assert_eq!(
        h.get("/api/v1/settings").await.json()["fault_emergency_after_secs"],
        120
    );
}

#[tokio::test]
async fn a_loudspeaker_not_heard_by_its_speaker_check_is_a_fault_and_staff_can_ask_again() {
    let h = Harness::new().await;
    let v = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", v).await;
    let checked: chrono::DateTime<Utc> = "2026-12-06T20:30:00Z".parse().unwrap();
    h.state_at(
        "na-sai-1",
        |s| {
            s.speaker_check = Some(loa_protocol::SpeakerCheck {
                at: checked,
                passed: false,
                level_db: Some(-71.5),
                detail: "the test signal was heard too weakly: -71.5 dBFS, at least -55.0 needed"
                    .into(),
            })
        },
        Utc::now(),
    )
    .await;
    let faults = h.get("/api/v1/faults").await.json();
    let silent = faults
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "speaker_silent")
        .unwrap_or_else(|| panic!("{faults:#}"));
    assert_eq!(silent["node_id"], "na-sai-1");
    assert_eq!(silent["since"], json!(checked));
    assert!(
        silent["detail"].as_str().unwrap().contains("too weakly"),
        "{silent:#}"
    );

    account(&h, "van-thu", "operator", &[], "vi").await;
    let s = sign_in(&h, "van-thu").await;
    let dash = page(&h, &s, "/ui/").await;
    assert_has(&dash, r#"data-kind="speaker_silent" data-node="na-sai-1""#);
    assert_has(&dash, "Loa không phát ra tiếng");
    let station = page(&h, &s, "/ui/nodes/na-sai-1").await;
    assert_has(&station, r#"id="speaker-check" data-passed="no""#);
    assert_has(&station, "-71.5 dBFS");

    // "Kiểm tra loa ngay": the request goes out in the node's plan.
    let before = h.plan("na-sai-1").await;
    assert_eq!(before.speaker_check, None);
    let r = common::ui::post(&h, &s, "/ui/nodes/na-sai-1/speaker-check", &[]).await;
    common::ui::assert_redirect(&r, "/ui/nodes/na-sai-1?asked=1");
    let after = h.plan("na-sai-1").await;
    assert!(after
        .speaker_check
        .is_some_and(|t| (Utc::now() - t).num_seconds() < 5));
    assert_has(
        &page(&h, &s, "/ui/nodes/na-sai-1?asked=1").await,
        r#"id="speaker-check-asked""#,
    );

    // A check that passes clears the fault.
    h.state_at(
        "na-sai-1",
        |s| {
            s.speaker_check = Some(loa_protocol::SpeakerCheck {
                at: Utc::now(),
                passed: true,
                level_db: Some(-31.0),
                detail: "heard at -31.0 dBFS (match 0.93)".into(),
            })
        },
        Utc::now(),
    )
    .await;
    let faults = h.get("/api/v1/faults").await.json();
    assert!(kinds_of(&faults, "na-sai-1").is_empty(), "{faults:#}");
}
