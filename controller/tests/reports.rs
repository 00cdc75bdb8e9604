//! The delivery report per village, over the real router and a real SQLite: a commune with two
//! villages (one with a loudspeaker cluster zone below it), a day of bulletins fed through the
//! ingest as nodes report them, presence changes received at chosen instants, and the exact
//! numbers of every column, the CSV bytes, a village account's view and the refusals.
//!
//! The day is three days before today in the commune's time zone, so it is over and the
//! controller's clock at request time does not cut it short; the nodes are backdated to a month
//! before it, as in a commune that has run for a while.

mod common;

use axum::http::{header, StatusCode};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::Harness;
use loa_controller::report::{village_tallies, Period, Report};
use loa_controller::store::occurrences::NewOccurrence;
use loa_protocol::{Event, EventBody, Presence, Priority, Stage};
use serde_json::{json, Value};

const VILLAGE_A: &str = "Thôn Nà Sài, xóm \"Trên\"";
const VILLAGE_B: &str = "Bản Phiêng";

struct Day {
    h: Harness,
    date: NaiveDate,
    /// The day's local midnight.
    start: DateTime<Utc>,
    a: i64,
    b: i64,
    /// The announcement's recording, in milliseconds.
    media_ms: i64,
}

impl Day {
    fn at(&self, hours: f64) -> DateTime<Utc> {
        self.start + Duration::milliseconds((hours * 3_600_000.0) as i64)
    }

    fn query(&self, extra: &str) -> String {
        format!(
            "/api/v1/reports/villages?from={d}&to={d}{extra}",
            d = self.date
        )
    }
}

/// An occurrence of `announcement` at `at` for `nodes`, as the planner would have made it.
async fn occurrence(
    h: &Harness,
    announcement: i64,
    priority: Priority,
    at: DateTime<Utc>,
    zones: &[i64],
    nodes: &[&str],
) -> i64 {
    let nodes: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    h.state
        .store
        .create_occurrence(
            &NewOccurrence {
                announcement_id: announcement,
                priority,
                start_at: at,
                expires_at: at + Duration::minutes(30),
                chime: None,
                volume: None,
            },
            zones,
            &nodes,
        )
        .await
        .unwrap()
        .id
}

/// What one node reported, in order: (occurrence, stage, when by its clock).
async fn reports(h: &Harness, node: &str, steps: &[(i64, Stage, DateTime<Utc>)]) {
    let events = steps
        .iter()
        .enumerate()
        .map(|(i, &(occ, stage, at))| Event {
            seq: i as u64 + 1,
            at,
            body: EventBody::Item {
                item: loa_protocol::item_id(occ),
                stage,
                reason: matches!(stage, Stage::Failed | Stage::Missed).then(|| "why".into()),
                start_error_ms: None,
            },
        })
        .collect();
    h.ingest(node, events).await;
}

/// Provisioning happened a month before the day: the nodes count for all of it.
async fn backdate_nodes(h: &Harness, to: DateTime<Utc>) {
    let url = format!("sqlite://{}", h.state.cfg.data_dir.join("loa.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE nodes SET created_at = ?")
        .bind(loa_controller::store::ts(to))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// The day, as the module comment tells. Bulletins (local times):
/// - 06:00 normal to the commune: na-sai-1 played (90 s), na-sai-2 failed then missed,
///   phieng-1 played (120 s), phieng-2 failed;
/// - 09:00 emergency to Phiêng: phieng-1 played without a `playing` step (the recording's
///   length counts), phieng-2 played (30 s);
/// - 17:00 normal to Nà Sài, cancelled by staff;
/// - 20:00 priority to the commune: na-sai-1 played (60 s), na-sai-2 only ready, phieng-1
///   played (60 s), phieng-2 cut by an emergency and not played again yet;
/// - 21:00 emergency to Nà Sài: na-sai-1 played (48 s), na-sai-2 missed;
/// - one a second before the day and one at the next midnight, both played: not counted.
///
/// Presence (controller receive times): all four online two hours before the day; na-sai-1
/// offline 03:00–05:00; na-sai-2 offline from 12:00 on (said twice) and back the next day;
/// phieng-1 online all day (said again at 08:00); phieng-2 offline 01:00–01:30 and from 23:00.
async fn day() -> Day {
    let h = Harness::new().await;
    let tz = h.state.tz;
    let date = Utc::now().with_timezone(&tz).date_naive() - Duration::days(3);
    let start = Period::new(date, date, tz).unwrap().start;
    let commune = h.zone("Xã Tả Lùng", None).await;
    let a = h.zone(VILLAGE_A, Some(commune)).await;
    let b = h.zone(VILLAGE_B, Some(commune)).await;
    let cluster = h.zone("Cụm loa chợ", Some(b)).await;
    h.node("na-sai-1", a).await;
    h.node("na-sai-2", a).await;
    h.node("phieng-1", b).await;
    h.node("phieng-2", cluster).await;
    backdate_nodes(&h, start - Duration::days(30)).await;
    let ann = h.announcement("Bản tin sáng").await;
    let media = h.get("/api/v1/media").await.json();
    let media_ms = media[0]["duration_ms"].as_i64().unwrap();
    let d = Day {
        h,
        date,
        start,
        a,
        b,
        media_ms,
    };
    let h = &d.h;
    let all = ["na-sai-1", "na-sai-2", "phieng-1", "phieng-2"];
    let (normal, priority, emergency) = (Priority::Normal, Priority::Priority, Priority::Emergency);
    let o1 = occurrence(h, ann, normal, d.at(6.0), &[commune], &all).await;
    let o2 = occurrence(h, ann, emergency, d.at(9.0), &[b], &all[2..]).await;
    let o3 = occurrence(h, ann, normal, d.at(17.0), &[a], &all[..2]).await;
    let o4 = occurrence(h, ann, priority, d.at(20.0), &[commune], &all).await;
    let o5 = occurrence(h, ann, emergency, d.at(21.0), &[a], &all[..2]).await;
    let before = occurrence(
        h,
        ann,
        normal,
        d.at(0.0) - Duration::seconds(1),
        &[a],
        &all[..1],
    )
    .await;
    let after = occurrence(h, ann, normal, d.at(24.0), &[a], &all[..1]).await;
    h.state
        .store
        .cancel_occurrence(o3, "đổi lịch")
        .await
        .unwrap();

    use Stage::*;
    let s = |hours: f64, secs: i64| d.at(hours) + Duration::seconds(secs);
    reports(
        h,
        "na-sai-1",
        &[
            (before, Played, s(0.0, -1)),
            (o1, Received, s(5.0, 0)),
            (o1, Ready, s(5.5, 0)),
            (o1, Playing, s(6.0, 0)),
            (o1, Played, s(6.0, 90)),
            (o4, Playing, s(20.0, 0)),
            (o4, Played, s(20.0, 60)),
            (o5, Playing, s(21.0, 0)),
            (o5, Played, s(21.0, 48)),
            (after, Played, s(24.0, 30)),
        ],
    )
    .await;
    reports(
        h,
        "na-sai-2",
        &[
            (o1, Received, s(5.0, 0)),
            (o1, Failed, s(5.5, 0)),
            (o1, Missed, s(6.5, 0)),
            (o4, Ready, s(11.0, 0)),
            (o5, Missed, s(21.5, 0)),
        ],
    )
    .await;
    reports(
        h,
        "phieng-1",
        &[
            (o1, Playing, s(6.0, 0)),
            (o1, Played, s(6.0, 120)),
            (o2, Played, s(9.0, 100)),
            (o4, Playing, s(20.0, 0)),
            (o4, Played, s(20.0, 60)),
        ],
    )
    .await;
    reports(
        h,
        "phieng-2",
        &[
            (o1, Failed, s(5.9, 0)),
            (o2, Playing, s(9.0, 0)),
            (o2, Played, s(9.0, 30)),
            (o4, Playing, s(20.0, 0)),
            (o4, Preempted, s(20.0, 20)),
        ],
    )
    .await;

    let (on, off) = (Presence::Online, Presence::Offline);
    let mut presence: Vec<(&str, Presence, f64)> = vec![
        ("na-sai-1", on, -2.0),
        ("na-sai-2", on, -2.0),
        ("phieng-1", on, -2.0),
        ("phieng-2", on, -2.0),
        ("phieng-2", off, 1.0),
        ("phieng-2", on, 1.5),
        ("na-sai-1", off, 3.0),
        ("na-sai-1", on, 5.0),
        ("phieng-1", on, 8.0),
        ("na-sai-2", off, 12.0),
        ("na-sai-2", off, 13.0),
        ("phieng-2", off, 23.0),
        ("na-sai-2", on, 25.0),
    ];
    presence.sort_by(|x, y| x.2.total_cmp(&y.2));
    for (node, p, hours) in presence {
        h.presence_at(node, p, d.at(hours)).await;
    }
    d
}

fn village<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["villages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

#[tokio::test]
async fn each_village_gets_its_bulletins_coverage_airtime_and_online_time() {
    let d = day().await;
    let r = d.h.get(&d.query("")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["from"], d.date.to_string());
    assert_eq!(v["to"], d.date.to_string());
    assert_eq!(v["time_zone"], "Asia/Ho_Chi_Minh");
    assert!(
        v["generated_at"].as_str().unwrap().ends_with("+07:00"),
        "{}",
        v["generated_at"]
    );
    let names: Vec<&str> = v["villages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [VILLAGE_B, VILLAGE_A],
        "by name; no row for the commune itself"
    );

    // Nà Sài: 4 bulletins × 2 nodes; 3 played (90 + 60 + 48 s = 3.3 min); 2 missed; the
    // cancelled pair out of the coverage: 3 / 6. Online 22 h + 12 h of 48 h.
    assert_eq!(
        village(&v, VILLAGE_A),
        &json!({
            "zone_id": d.a, "name": VILLAGE_A, "nodes": 2,
            "targeted": 8, "played": 3, "failed": 2, "missed": 2, "cancelled": 2, "pending": 1,
            "coverage_percent": 50.0, "emergencies": 2, "emergencies_played": 1,
            "minutes_on_air": 3.3, "online_hours": 34.0, "node_hours": 48.0,
            "online_percent": 70.8,
        })
    );
    // Phiêng (phieng-2 stands in a cluster zone below it): 3 bulletins × 2 nodes; 4 played
    // (120 s + the recording + 30 s + 60 s); 1 failed; the preempted one not settled.
    // Online 24 h + 22.5 h of 48 h.
    let airtime_ms = 210_000 + d.media_ms;
    let minutes = (airtime_ms as f64 / 6_000.0).round() / 10.0;
    assert_eq!(
        village(&v, VILLAGE_B),
        &json!({
            "zone_id": d.b, "name": VILLAGE_B, "nodes": 2,
            "targeted": 6, "played": 4, "failed": 1, "missed": 0, "cancelled": 0, "pending": 1,
            "coverage_percent": 66.7, "emergencies": 2, "emergencies_played": 2,
            "minutes_on_air": minutes, "online_hours": 46.5, "node_hours": 48.0,
            "online_percent": 96.9,
        })
    );
    let total_minutes = ((198_000 + airtime_ms) as f64 / 6_000.0).round() / 10.0;
    assert_eq!(
        v["total"],
        json!({
            "nodes": 4, "targeted": 14, "played": 7, "failed": 3, "missed": 2, "cancelled": 2,
            "pending": 2, "coverage_percent": 58.3, "emergencies": 4, "emergencies_played": 3,
            "minutes_on_air": total_minutes, "online_hours": 80.5, "node_hours": 96.0,
            "online_percent": 83.9,
        })
    );

    // Two days: the bulletin a second before midnight joins, and the evening before counts
    // its two hours online for each node.
    let two =
        d.h.get(&format!(
            "/api/v1/reports/villages?from={}&to={}",
            d.date - Duration::days(1),
            d.date
        ))
        .await
        .json();
    let a = village(&two, VILLAGE_A);
    assert_eq!((&a["targeted"], &a["played"]), (&json!(9), &json!(4)));
    assert_eq!(
        (&two["total"]["online_hours"], &two["total"]["node_hours"]),
        (&json!(88.5), &json!(192.0))
    );
}

#[tokio::test]
async fn a_node_decommissioned_later_still_counts_for_the_days_it_served() {
    let d = day().await;
    let report = || async {
        let mut v = d.h.get(&d.query("")).await.json();
        v.as_object_mut().unwrap().remove("generated_at");
        v
    };
    let before = report().await;
    let r =
        d.h.call_as(
            axum::http::Request::delete("/api/v1/nodes/phieng-1")
                .header(header::AUTHORIZATION, format!("Bearer {}", d.h.admin_token))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let after = report().await;
    assert_eq!(
        after, before,
        "the day's report is the same after decommissioning"
    );
    assert_eq!(village(&after, VILLAGE_B)["nodes"], 2, "{after:#}");
}

#[tokio::test]
async fn presence_is_recorded_only_when_it_changes_at_the_receive_time() {
    let d = day().await;
    let history =
        d.h.state
            .store
            .presence_history(d.at(-3.0), d.at(48.0))
            .await
            .unwrap();
    let times = |node: &str| -> Vec<(DateTime<Utc>, bool)> { history[node].clone() };
    assert_eq!(
        times("na-sai-2"),
        [(d.at(-2.0), true), (d.at(12.0), false), (d.at(25.0), true)],
        "the second offline changed nothing"
    );
    assert_eq!(times("phieng-1"), [(d.at(-2.0), true)]);
    // The node's record shows its last state.
    let node = d.h.get("/api/v1/nodes/na-sai-2").await.json();
    assert_eq!(node["presence"], "online");

    // Asked during the day (at noon), online time ends at noon: the same store, another clock.
    let p = Period::new(d.date, d.date, d.h.state.tz).unwrap();
    let facts = d.h.state.store.report_facts(p.start, p.end).await.unwrap();
    let noon = d.at(12.0);
    let rows = village_tallies(&facts, &p, noon);
    let report = Report::new(&p, d.h.state.tz, noon, &rows);
    let a = report
        .villages
        .iter()
        .find(|v| v.name == VILLAGE_A)
        .unwrap();
    // na-sai-1: 00–03 and 05–12; na-sai-2: 00–12 (it went offline at noon).
    assert_eq!(
        (
            a.numbers.online_hours,
            a.numbers.node_hours,
            a.numbers.online_percent
        ),
        (22.0, 24.0, Some(91.7))
    );
}

#[tokio::test]
async fn the_csv_has_a_bom_a_header_quoted_names_and_the_total() {
    let d = day().await;
    let r = d.h.get(&d.query("&format=csv")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        r.header(header::CONTENT_DISPOSITION).unwrap(),
        format!("attachment; filename=\"bao-cao-loa-{}.csv\"", d.date)
    );
    assert_eq!(&r.body[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = std::str::from_utf8(&r.body[3..]).expect("UTF-8");
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    // Minutes to one decimal, as the report rounds them.
    let minutes_b = ((210_000 + d.media_ms) as f64 / 6_000.0).round() / 10.0;
    let minutes_all = ((408_000 + d.media_ms) as f64 / 6_000.0).round() / 10.0;
    assert_eq!(
        lines,
        [
            "Thôn/bản,Số cụm loa,Bản tin cần phát,Đã phát,Lỗi hoặc bỏ lỡ,Trong đó bỏ lỡ,Đã hủy,\
             Chưa xong,Tỷ lệ phát (%),Bản tin khẩn cấp,Khẩn cấp đã phát,Thời lượng phát (phút),\
             Giờ trực tuyến,Giờ cụm loa trong kỳ,Trực tuyến (%)"
                .to_owned(),
            format!("Bản Phiêng,2,6,4,1,0,0,1,66.7,2,2,{minutes_b:.1},46.5,48.0,96.9"),
            "\"Thôn Nà Sài, xóm \"\"Trên\"\"\",2,8,3,2,2,2,1,50.0,2,1,3.3,34.0,48.0,70.8"
                .to_owned(),
            format!("Tổng cộng,4,14,7,3,2,2,2,58.3,4,3,{minutes_all:.1},80.5,96.0,83.9"),
        ]
    );
    assert!(text.ends_with("\r\n"));

    // In English on request; a period's file name carries both dates.
    let from = d.date - Duration::days(6);
    let r =
        d.h.get(&format!(
            "/api/v1/reports/villages?from={from}&to={}&format=csv&lang=en",
            d.date
        ))
        .await;
    assert!(r.text().starts_with("\u{feff}Village,Loudspeaker nodes,"));
    assert_eq!(
        r.header(header::CONTENT_DISPOSITION).unwrap(),
        format!("attachment; filename=\"bao-cao-loa-{from}_{}.csv\"", d.date)
    );
}

/// Makes an account with an API token; returns the token.
async fn viewer(h: &Harness, name: &str, zones: &[i64]) -> String {
    let r = h
        .post_json(
            "/api/v1/users",
            json!({"username": name, "password": "mat-khau-dai", "role": "viewer", "zone_ids": zones}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    let t = h
        .post_json(&format!("/api/v1/users/{id}/tokens"), json!({"name": "t"}))
        .await;
    t.json()["token"].as_str().unwrap().to_owned()
}

async fn get_as(h: &Harness, uri: &str, token: &str) -> common::Reply {
    h.call(
        axum::http::Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_village_viewer_gets_its_village_and_a_total_over_it_only() {
    let d = day().await;
    let token = viewer(&d.h, "truong-ban-phieng", &[d.b]).await;
    let v = get_as(&d.h, &d.query(""), &token).await.json();
    let rows = v["villages"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v:#}");
    assert_eq!(rows[0]["name"], VILLAGE_B);
    let mut total = rows[0].clone();
    total.as_object_mut().unwrap().remove("zone_id");
    total.as_object_mut().unwrap().remove("name");
    assert_eq!(v["total"], total, "the total is over its village only");

    let csv = get_as(&d.h, &d.query("&format=csv"), &token).await.text();
    assert!(!csv.contains("Nà Sài"), "{csv}");
    assert_eq!(
        csv.split_terminator("\r\n").count(),
        3,
        "header, its village, total"
    );
}

#[tokio::test]
async fn bad_periods_and_formats_are_refused_with_the_reason() {
    let h = Harness::new().await;
    let cases = [
        ("from=24/11/2026", "report.bad_date", "YYYY-MM-DD"),
        (
            "from=2026-11-24&to=2026-11-31",
            "report.bad_date",
            "to must be a date",
        ),
        ("from=2026-11-25&to=2026-11-24", "report.backwards", "after"),
        (
            "from=2025-01-01&to=2026-01-02",
            "report.too_long",
            "at most 366 days",
        ),
        (
            "from=2026-11-24&format=xlsx",
            "report.format",
            "json or csv",
        ),
    ];
    for (query, code, says) in cases {
        h.get(&format!("/api/v1/reports/villages?{query}"))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, code, &[says]);
    }
    // Today, when no date is given: an empty commune, with nothing to divide by.
    let v = h.get("/api/v1/reports/villages").await.json();
    let today = Utc::now().with_timezone(&h.state.tz).date_naive();
    assert_eq!(v["from"], today.to_string());
    assert_eq!(v["villages"], json!([]));
    assert_eq!(v["total"]["coverage_percent"], Value::Null);
    assert_eq!(v["total"]["online_percent"], Value::Null);
}
