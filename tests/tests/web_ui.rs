//! The staff web application in a real headless browser (Debian's Chromium over WebDriver),
//! against a real controller with a real node on its embedded broker, as a clerk and an
//! official use it:
//!
//! - an operator signs in, uploads a recording (with the progress bar), schedules it for one
//!   village after checking conflicts, and the delivery reaches `played` on the node;
//! - the operator types a text, hears the preview (text-to-speech), saves it, and broadcasts it
//!   as an emergency through the confirmation step; it plays;
//! - a viewer cannot reach the operator's actions, and exports the report as CSV.
//!
//! Screenshots of the main pages (and the admin's, and the dashboard on a phone) are kept in
//! `target/ui-screenshots/` for a look by eye.

mod common;

use chrono::{Duration as Span, Utc};
use common::{fixture, start_node, Output, TONE};
use fantoccini::Locator;
use loa_e2e::api::Api;
use loa_e2e::browser::Browser;
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::wait;
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// The only delivery of the occurrence, once it is `stage`.
async fn wait_played(api: &Api, occurrence: i64) -> Value {
    api.wait_stage(occurrence, "played", LONG).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn clerks_schedule_and_broadcast_and_officials_export_the_report_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let base = controller.url.clone();
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let village = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    api.zone("Bản Phiêng", Some(commune)).await.unwrap();
    let _node = start_node(&api, dir.path(), "na-sai-1", village, Output::WavFiles)
        .await
        .unwrap();
    api.account("van-thu", "operator").await.unwrap();
    api.account("can-bo-xa", "viewer").await.unwrap();

    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/")).await.unwrap();
    b.find("#login-form").await.unwrap();
    b.screenshot("01-login").await.unwrap();
    b.sign_in(&base, "van-thu").await.unwrap();
    b.screenshot("02-dashboard").await.unwrap();

    // Upload a recording: the file goes up with a progress bar, then the list shows it.
    b.goto(&format!("{base}/ui/announcements")).await.unwrap();
    b.fill("#upload-title", "Thông báo họp thôn").await.unwrap();
    let file = fixture(TONE).canonicalize().unwrap();
    b.fill(".variant-file", file.to_str().unwrap())
        .await
        .unwrap();
    b.click("#upload-submit").await.unwrap();
    b.wait_js(
        "the uploaded announcement in the list",
        "document.body.innerText.includes('Thông báo họp thôn') && document.querySelector('[data-test=announcement]')",
    )
    .await.unwrap();
    b.screenshot("03-announcements").await.unwrap();
    let announcements = api.get("/api/v1/announcements").await.unwrap();
    let recording = announcements
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Thông báo họp thôn")
        .expect("the upload made an announcement")
        .clone();
    assert_eq!(recording["recordings"][0]["language"], "vi");

    // Schedule it for one village, 50 s from now (a cron rule for that one second), after
    // checking conflicts.
    // The commune's time zone, Asia/Ho_Chi_Minh, is UTC+7 all year.
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let at = (Utc::now() + Span::seconds(50)).with_timezone(&vietnam);
    let cron = at.format("%S %M %H %d %m *").to_string();
    b.goto(&format!("{base}/ui/schedules/new")).await.unwrap();
    b.fill("#schedule-name", "Họp thôn Nà Sài").await.unwrap();
    b.select("#schedule-announcement", &recording["id"].to_string())
        .await
        .unwrap();
    b.click(&format!("[data-test=zone-choice][value='{village}']"))
        .await
        .unwrap();
    b.click("[data-test=rule-kind][value=cron]").await.unwrap();
    b.fill("#schedule-cron", &cron).await.unwrap();
    b.click("#schedule-check").await.unwrap();
    let airings = b.find("#next-airings").await.unwrap().text().await.unwrap();
    assert!(
        airings.contains(&at.format("%H:%M:%S").to_string()),
        "the next airing is shown before saving: {airings}"
    );
    b.screenshot("04-schedule-check").await.unwrap();
    b.click("#schedule-save").await.unwrap();
    b.find("#schedules").await.unwrap();
    let schedules = api.get("/api/v1/schedules").await.unwrap();
    let schedule = schedules
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Họp thôn Nà Sài")
        .expect("saved")
        .clone();
    assert_eq!(schedule["zone_ids"], json!([village]));
    let occurrence = wait::until("the schedule's occurrence", LONG, || {
        let api = api.clone();
        let id = schedule["id"].clone();
        async move {
            let occ = api
                .get(&format!("/api/v1/schedules/{id}/occurrences"))
                .await?;
            Ok(occ[0]["id"].as_i64())
        }
    })
    .await
    .unwrap();
    let played = wait_played(&api, occurrence).await;
    assert_eq!(played["node_id"], "na-sai-1");
    b.goto(&format!("{base}/ui/schedules/week")).await.unwrap();
    b.find("#week").await.unwrap();
    b.screenshot("05-week").await.unwrap();
    b.goto(&format!("{base}/ui/broadcasts/{occurrence}"))
        .await
        .unwrap();
    b.find("[data-node='na-sai-1'][data-stage=played]")
        .await
        .unwrap();
    b.screenshot("06-delivery").await.unwrap();

    // Type a text, hear it, save it; then broadcast it as an emergency.
    b.goto(&format!("{base}/ui/announcements")).await.unwrap();
    b.fill("#tts-title", "Cảnh báo lũ").await.unwrap();
    b.fill(
        "#tts-text",
        "Khẩn cấp: nước suối đang lên nhanh, bà con thôn Nà Sài không qua ngầm.",
    )
    .await
    .unwrap();
    b.click("#tts-preview").await.unwrap();
    b.wait_js(
        "the preview to be heard",
        "(function(a){ return a && a.src && a.readyState >= 1 && a.duration > 1; })(document.getElementById('tts-audio'))",
    )
    .await
    .unwrap();
    b.click("#tts-save").await.unwrap();
    b.wait_js(
        "the text announcement in the list",
        "document.body.innerText.includes('Cảnh báo lũ')",
    )
    .await
    .unwrap();
    let warning = api.get("/api/v1/announcements").await.unwrap();
    let warning = warning
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Cảnh báo lũ")
        .expect("saved from the text")["id"]
        .clone();

    b.goto(&format!("{base}/ui/emergency")).await.unwrap();
    b.click(&format!("[data-test=zone-choice][value='{village}']"))
        .await
        .unwrap();
    b.select("#emergency-announcement", &warning.to_string())
        .await
        .unwrap();
    b.click("#emergency-next").await.unwrap();
    b.find("#emergency-confirm").await.unwrap();
    b.screenshot("07-emergency-confirm").await.unwrap();
    b.click("#emergency-confirm").await.unwrap();
    b.wait_js(
        "the emergency's delivery page",
        "location.pathname.startsWith('/ui/broadcasts/')",
    )
    .await
    .unwrap();
    let id: i64 = b
        .url()
        .await
        .split("/ui/broadcasts/")
        .nth(1)
        .and_then(|rest| rest.split(['?', '#']).next())
        .and_then(|id| id.parse().ok())
        .expect("the emergency's id in the address");
    let status = api.broadcast_status(id).await.unwrap();
    assert_eq!(status["priority"], "emergency");
    wait_played(&api, id).await;
    b.sign_out().await.unwrap();

    // An official: no operator actions, and the report as CSV.
    b.sign_in(&base, "can-bo-xa").await.unwrap();
    let nav = b.find("header").await.unwrap().text().await.unwrap();
    assert!(
        !nav.contains("Phát khẩn cấp"),
        "no emergency action for a viewer: {nav}"
    );
    b.goto(&format!("{base}/ui/emergency")).await.unwrap();
    let code = b.find("#error-code").await.unwrap().text().await.unwrap();
    assert!(code.contains("auth.forbidden"), "{code}");
    b.screenshot("08-viewer-refused").await.unwrap();
    assert!(b
        .client
        .find(Locator::Css("#emergency-form"))
        .await
        .is_err());
    b.goto(&format!("{base}/ui/reports")).await.unwrap();
    let row = b
        .find(&format!(
            "[data-test=report-village][data-zone='{village}']"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("Thôn Nà Sài"), "{row}");
    b.screenshot("09-report").await.unwrap();
    let href = b
        .find("#report-csv")
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("a CSV link");
    // Downloaded as the browser would, with the viewer's session.
    let (status, disposition, text) = b.download(&href).await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(disposition.contains("attachment"), "{disposition}");
    let line = text
        .lines()
        .find(|l| l.contains("Thôn Nà Sài"))
        .unwrap_or_else(|| panic!("the village in the CSV:\n{text}"));
    // Nodes 1, targeted 2 (the scheduled bulletin and the emergency), played 2.
    assert!(line.contains(",1,2,2,"), "{line}");
    b.sign_out().await.unwrap();

    // The admin's pages, for the record.
    b.sign_in(&base, "e2e-admin").await.unwrap();
    for (page, name) in [
        ("/ui/zones", "10-zones"),
        ("/ui/settings", "11-settings"),
        ("/ui/users", "12-users"),
    ] {
        b.goto(&format!("{base}{page}")).await.unwrap();
        b.find("#main h1").await.unwrap();
        assert!(
            b.client.find(Locator::Css("#error-code")).await.is_err(),
            "{page}"
        );
        b.screenshot(name).await.unwrap();
    }
    let zones = b.text().await.unwrap();
    assert!(zones.contains("Cụm loa na-sai-1"), "{zones}");
    b.close().await.unwrap();

    // On a phone.
    let phone = Browser::start_sized(390, 844).await.unwrap();
    phone.sign_in(&base, "can-bo-xa").await.unwrap();
    phone.screenshot("13-phone-dashboard").await.unwrap();
    phone.close().await.unwrap();
}
