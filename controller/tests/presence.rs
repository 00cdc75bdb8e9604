//! Presence as evidence over a real SQLite: the controller's own downtime is not online time
//! in the report, every node is `unknown` on a start until it shows itself, and one still
//! unknown after the grace is `offline`; the pages say so in Vietnamese, and do not show a
//! node playing on the word of a state the controller cannot vouch for.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::ui::{account, assert_has, page, sign_in};
use common::Harness;
use loa_controller::report::{village_tallies, Period, Report};
use loa_controller::sweep;
use loa_protocol::Presence;

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

#[tokio::test]
async fn the_controllers_downtime_is_not_online_time_and_silence_after_a_start_ends_offline() {
    let h = Harness::new().await;
    let tz = h.state.tz;
    let date = Utc::now().with_timezone(&tz).date_naive() - Duration::days(3);
    let p = Period::new(date, date, tz).unwrap();
    let at = |hours: f64| p.start + Duration::milliseconds((hours * 3_600_000.0) as i64);
    let village = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", village).await;
    h.node("na-sai-2", village).await;
    backdate_nodes(&h, at(-48.0)).await;
    let store = &h.state.store;

    // Both online since before the day; the controller's last sign of life at 04:00; it
    // starts again the next morning (30 h), when na-sai-2 shows itself at once.
    h.presence_at("na-sai-1", Presence::Online, at(-1.0)).await;
    h.presence_at("na-sai-2", Presence::Online, at(-1.0)).await;
    store.mark_alive(at(4.0)).await.unwrap();
    assert_eq!(sweep::on_start(store, at(30.0)).await.unwrap(), 2);
    for id in ["na-sai-1", "na-sai-2"] {
        assert_eq!(store.node(id).await.unwrap().presence, "unknown", "{id}");
    }
    h.presence_at("na-sai-2", Presence::Online, at(30.01)).await;

    // The day counts 00:00–04:00 online for each: nothing after was confirmed.
    let facts = store.report_facts(p.start, p.end).await.unwrap();
    let now = at(48.0);
    let rows = village_tallies(&facts, &p, now);
    let report = Report::new(&p, tz, now, &rows);
    let v = &report.villages[0];
    assert_eq!(
        (v.numbers.online_hours, v.numbers.node_hours),
        (8.0, 48.0),
        "only the confirmed hours count"
    );

    // The grace (say six minutes) passes: the silent node is offline, the other stays online.
    let offline = store.unknown_to_offline(at(30.0), at(30.1)).await.unwrap();
    assert_eq!(offline, ["na-sai-1"]);
    assert_eq!(store.node("na-sai-1").await.unwrap().presence, "offline");
    assert_eq!(store.node("na-sai-2").await.unwrap().presence, "online");
    // A second sweep changes nothing.
    assert!(store
        .unknown_to_offline(at(30.0), at(30.2))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_dashboard_shows_an_unknown_node_as_unknown_and_not_playing() {
    let h = Harness::new().await;
    let village = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", village).await;
    let store = &h.state.store;
    // Its last state said it was playing an item, then the controller restarted.
    store
        .record_node_state(
            "na-sai-1",
            "online",
            r#"{"node":"na-sai-1","presence":"online","playing":"o1"}"#,
            (1, 1),
            Utc::now() - Duration::minutes(10),
        )
        .await
        .unwrap();
    sweep::on_start(store, Utc::now()).await.unwrap();
    account(&h, "chu-tich", "admin", &[], "vi").await;
    let s = sign_in(&h, "chu-tich").await;

    let r = page(&h, &s, "/ui/").await;
    assert_has(&r, r#"data-node="na-sai-1" data-presence="unknown""#);
    assert_has(&r, "Chưa rõ");
    assert!(
        !r.text().contains("stage-playing"),
        "an unknown node is not shown on air"
    );
    let r = page(&h, &s, "/ui/zones").await;
    assert_has(&r, r#"data-presence="unknown""#);
}
