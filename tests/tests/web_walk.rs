//! A clerk's day in a real headless browser (Debian's Chromium over WebDriver), against a real
//! controller on its embedded broker with real village nodes: the ten everyday tasks a new
//! operator is shown, one after the other, each checked against the API and photographed at
//! office size (1280×900) and at phone size (390×844):
//!
//! 1. upload a recording;
//! 2. schedule it with a repeat ("every other Monday", twice, validity dates);
//! 3. the chairman (an admin) approves it, since approval is on and nobody approves their own;
//! 4. a one-off broadcast, checked first;
//! 5. an emergency through its confirmation;
//! 6. read a delivery;
//! 7. find a station's fault from the dashboard (a village node that died);
//! 8. move a loudspeaker to another village (the admin);
//! 9. run the month's report;
//! 10. download it as CSV.
//!
//! The screenshots land in `target/ui-screenshots/walk-NN-*-{office,phone}.png`.

mod common;

use chrono::{Datelike, Utc};
use common::{fixture, start_node, Output, TONE};
use loa_e2e::browser::Browser;
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::wait;
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// Two windows on the same controller: the office PC and a phone.
struct Screens {
    office: Browser,
    phone: Browser,
    base: String,
}

impl Screens {
    /// Photographs the office window's page, then the same address on the phone.
    async fn shot(&self, name: &str) {
        self.office
            .screenshot(&format!("walk-{name}-office"))
            .await
            .unwrap();
        let url = self.office.url().await;
        self.phone.goto(&url).await.unwrap();
        self.phone.find("#main h1").await.unwrap();
        self.phone
            .screenshot(&format!("walk-{name}-phone"))
            .await
            .unwrap();
    }

    /// Signs both windows in as `username` (signing out whoever was in).
    async fn as_user(&self, username: &str) {
        for b in [&self.office, &self.phone] {
            if b.client
                .find(fantoccini::Locator::Css("#logout-button"))
                .await
                .is_ok()
            {
                b.sign_out().await.unwrap();
            }
            b.sign_in(&self.base, username).await.unwrap();
        }
    }
}

/// The broadcast id in a `/ui/broadcasts/{id}` address.
async fn broadcast_in_address(b: &Browser) -> i64 {
    b.wait_js(
        "a broadcast's page",
        "/^\\/ui\\/broadcasts\\/\\d+/.test(location.pathname)",
    )
    .await
    .unwrap();
    b.url()
        .await
        .split("/ui/broadcasts/")
        .nth(1)
        .and_then(|rest| rest.split(['?', '#']).next())
        .and_then(|id| id.parse().ok())
        .expect("the broadcast's id in the address")
}

/// Waits until the broadcast's delivery on `node` is `played`.
async fn played_on(api: &loa_e2e::api::Api, broadcast: i64, node: &str) {
    wait::until(
        &format!("broadcast {broadcast} played on {node}"),
        LONG,
        || async move {
            let stages = api.stages(broadcast).await?;
            Ok(stages
                .iter()
                .any(|(n, s)| n == node && s == "played")
                .then_some(()))
        },
    )
    .await
    .unwrap();
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_operator_does_the_ten_everyday_tasks_on_an_office_pc_and_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let base = controller.url.clone();
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let na_sai = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    let phieng = api.zone("Bản Phiêng", Some(commune)).await.unwrap();
    let _na_sai_1 = start_node(&api, dir.path(), "na-sai-1", na_sai, Output::WavFiles)
        .await
        .unwrap();
    let mut phieng_1 = start_node(&api, dir.path(), "phieng-1", phieng, Output::WavFiles)
        .await
        .unwrap();
    // A spare loudspeaker, put up in Nà Sài and to be moved.
    api.provision(
        "du-phong",
        "Loa dự phòng",
        na_sai,
        &dir.path().join("spare"),
    )
    .await
    .unwrap();
    api.put("/api/v1/settings", json!({"require_approval": true}))
        .await
        .unwrap();
    api.account("van-thu", "operator").await.unwrap();
    api.account("chu-tich", "admin").await.unwrap();

    let screens = Screens {
        office: Browser::start().await.unwrap(),
        phone: Browser::start_sized(390, 844).await.unwrap(),
        base: base.clone(),
    };
    let b = &screens.office;
    screens.as_user("van-thu").await;

    // 1. Upload a recording.
    b.goto(&format!("{base}/ui/announcements")).await.unwrap();
    b.fill("#upload-title", "Thông báo tiêm phòng")
        .await
        .unwrap();
    let file = fixture(TONE).canonicalize().unwrap();
    b.fill(".variant-file", file.to_str().unwrap())
        .await
        .unwrap();
    b.click("#upload-submit").await.unwrap();
    b.wait_js(
        "the uploaded announcement in the list",
        "document.body.innerText.includes('Thông báo tiêm phòng') && document.querySelector('[data-test=announcement]')",
    )
    .await
    .unwrap();
    screens.shot("01-upload").await;
    let announcements = api.get("/api/v1/announcements").await.unwrap();
    let recording = find(&announcements, "title", "Thông báo tiêm phòng")["id"].clone();

    // 2. Schedule it every other Monday at 07:00, twice 10 minutes apart, for this month and
    // the next.
    // The commune's date, not UTC's: from 17:00 UTC it is already tomorrow in Asia/Ho_Chi_Minh
    // (UTC+7 all year), and the month's report counts the commune's days.
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let today = Utc::now().with_timezone(&vietnam).date_naive();
    b.goto(&format!("{base}/ui/schedules/new")).await.unwrap();
    b.fill("#schedule-name", "Tiêm phòng cách tuần")
        .await
        .unwrap();
    b.select("#schedule-announcement", &recording.to_string())
        .await
        .unwrap();
    b.click(&format!("[data-test=zone-choice][value='{na_sai}']"))
        .await
        .unwrap();
    b.click("[data-test=rule-kind][value=weeks]").await.unwrap();
    b.click("[data-test=day-choice][value=Mon]").await.unwrap();
    b.select("#schedule-interval", "2").await.unwrap();
    b.set_value("#schedule-time", "07:00").await.unwrap();
    b.set_value("#schedule-repeat-times", "2").await.unwrap();
    b.set_value("#schedule-repeat-gap", "10").await.unwrap();
    b.set_value("#schedule-valid-from", &today.to_string())
        .await
        .unwrap();
    let until = today + chrono::Duration::days(60);
    b.set_value("#schedule-valid-until", &until.to_string())
        .await
        .unwrap();
    b.click("#schedule-check").await.unwrap();
    if let Ok(e) = b
        .client
        .find(fantoccini::Locator::Css("#schedule-error"))
        .await
    {
        panic!("the check refused the form: {}", e.text().await.unwrap());
    }
    let airings = b.find("#next-airings").await.unwrap().text().await.unwrap();
    assert!(airings.contains("07:00"), "{airings}");
    assert!(airings.contains("07:10"), "the repeat is shown: {airings}");
    b.click("#schedule-save").await.unwrap();
    b.find("#schedules").await.unwrap();
    let row = b
        .find("[data-test=schedule] [data-test=schedule-rule]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("Thứ Hai"), "the rule in words: {row}");
    screens.shot("02-schedule").await;
    let schedules = api.get("/api/v1/schedules").await.unwrap();
    let schedule = find(&schedules, "name", "Tiêm phòng cách tuần").clone();
    assert_eq!(schedule["status"], "draft", "{schedule:#}");
    assert_eq!(schedule["zone_ids"], json!([na_sai]));

    // 3. The chairman approves it.
    screens.as_user("chu-tich").await;
    b.goto(&format!("{base}/ui/schedules")).await.unwrap();
    b.click(&format!(
        "#schedule-{} [data-test=schedule-approve]",
        schedule["id"]
    ))
    .await
    .unwrap();
    b.find(&format!(
        "#schedule-{} [data-test=schedule-approver]",
        schedule["id"]
    ))
    .await
    .unwrap();
    screens.shot("03-approve").await;
    let approved = api
        .get(&format!("/api/v1/schedules/{}", schedule["id"]))
        .await
        .unwrap()["schedule"]
        .clone();
    assert_eq!(approved["status"], "active", "{approved:#}");
    assert_eq!(approved["approved_by"], "chu-tich", "{approved:#}");
    screens.as_user("van-thu").await;

    // 4. A one-off broadcast now, to Nà Sài, checked before it is made.
    b.goto(&format!("{base}/ui/broadcasts/new")).await.unwrap();
    b.select("#broadcast-announcement", &recording.to_string())
        .await
        .unwrap();
    b.click(&format!("[data-test=zone-choice][value='{na_sai}']"))
        .await
        .unwrap();
    b.click("#broadcast-check").await.unwrap();
    b.find("#broadcast-checked").await.unwrap();
    screens.shot("04-broadcast-check").await;
    b.click("#broadcast-save").await.unwrap();
    let one_off = broadcast_in_address(b).await;
    played_on(&api, one_off, "na-sai-1").await;

    // 5. An emergency to the whole commune, through its confirmation.
    b.goto(&format!("{base}/ui/emergency")).await.unwrap();
    b.click(&format!("[data-test=zone-choice][value='{na_sai}']"))
        .await
        .unwrap();
    b.select("#emergency-announcement", &recording.to_string())
        .await
        .unwrap();
    b.click("#emergency-next").await.unwrap();
    b.find("#emergency-confirm").await.unwrap();
    screens.shot("05-emergency-confirm").await;
    b.click("#emergency-confirm").await.unwrap();
    let emergency = broadcast_in_address(b).await;
    assert_eq!(
        api.broadcast_status(emergency).await.unwrap()["priority"],
        "emergency"
    );
    played_on(&api, emergency, "na-sai-1").await;

    // 6. Read a delivery: the one-off broadcast played on Nà Sài's loudspeaker, step by step.
    b.goto(&format!("{base}/ui/broadcasts/{one_off}"))
        .await
        .unwrap();
    b.find("[data-node='na-sai-1'][data-stage=played]")
        .await
        .unwrap();
    let steps = b.find("[data-node='na-sai-1']").await.unwrap();
    let steps = steps.text().await.unwrap();
    assert!(steps.contains("Đã phát"), "{steps}");
    screens.shot("06-delivery").await;

    // 7. Bản Phiêng's node dies; the dashboard says so first, and its station page says why.
    phieng_1.kill();
    let offline = wait::until("Bản Phiêng's node offline", LONG, || {
        let api = api.clone();
        async move {
            let faults = api.get("/api/v1/faults").await?;
            Ok(faults
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["kind"] == "offline" && f["node_id"] == "phieng-1")
                .cloned())
        }
    })
    .await
    .unwrap();
    assert_eq!(offline["node_id"], "phieng-1", "{offline:#}");
    b.goto(&format!("{base}/ui/")).await.unwrap();
    let fault = "#faults [data-test=fault][data-kind=offline][data-node='phieng-1']";
    b.find(fault).await.unwrap();
    screens.shot("07-dashboard-fault").await;
    b.click(&format!("{fault} a[href='/ui/nodes/phieng-1']"))
        .await
        .unwrap();
    b.find("#station[data-node='phieng-1'][data-presence=offline]")
        .await
        .unwrap();
    b.find("#station-faults [data-test=fault][data-kind=offline]")
        .await
        .unwrap();
    screens.shot("07-station").await;

    // 8. The chairman moves the spare loudspeaker from Nà Sài to Bản Phiêng.
    screens.as_user("chu-tich").await;
    b.goto(&format!("{base}/ui/zones")).await.unwrap();
    b.select("#node-du-phong .node-move-zone", &phieng.to_string())
        .await
        .unwrap();
    b.click("#node-du-phong .move-save").await.unwrap();
    b.find("#moved").await.unwrap();
    screens.shot("08-move").await;
    let moved = api.get("/api/v1/nodes/du-phong").await.unwrap();
    assert_eq!(moved["zone_id"], phieng, "{moved:#}");
    screens.as_user("van-thu").await;

    // 9. The month's report.
    let first = today.with_day(1).unwrap();
    b.goto(&format!("{base}/ui/reports")).await.unwrap();
    b.set_value("#report-from", &first.to_string())
        .await
        .unwrap();
    b.set_value("#report-to", &today.to_string()).await.unwrap();
    b.click("#report-show").await.unwrap();
    let row = b
        .find(&format!("[data-test=report-village][data-zone='{na_sai}']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("Thôn Nà Sài"), "{row}");
    screens.shot("09-report").await;

    // 10. Download it as CSV, as the browser would, with the operator's session.
    let href = b
        .find("#report-csv")
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("a CSV link");
    assert!(href.contains(&first.to_string()), "the month's CSV: {href}");
    let (status, disposition, text) = b.download(&href).await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(disposition.contains("attachment"), "{disposition}");
    let line = text
        .lines()
        .find(|l| l.contains("Thôn Nà Sài"))
        .unwrap_or_else(|| panic!("the village in the CSV:\n{text}"));
    // Nà Sài's loudspeaker played the one-off broadcast and the emergency (the spare, moved
    // away before it ever connected, played nothing).
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(
        (cells[3], cells[10]),
        ("2", "1"),
        "played, emergencies played: {line}"
    );
    screens.shot("10-csv").await;

    screens.office.close().await.unwrap();
    screens.phone.close().await.unwrap();
}
