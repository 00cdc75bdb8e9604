//! Programmes end to end: cron schedules materialised into plans, nodes joining later, a
//! controller killed mid-programme, a node cut off from the broker, programme files.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{bin, Broker, Controller};
use loa_e2e::wait;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

/// A schedule firing every `secs` seconds (cron counts seconds first).
fn every(secs: u32) -> Value {
    json!({"rule": {"kind": "cron", "expr": format!("*/{secs} * * * * *")}})
}

async fn schedule(
    api: &Api,
    name: &str,
    announcement: i64,
    zones: &[i64],
    recurrence: Value,
) -> i64 {
    let v = api
        .post(
            "/api/v1/schedules",
            json!({"name": name, "announcement_id": announcement, "zones": zones,
                   "recurrence": recurrence, "expires_in_minutes": 1, "accept_conflicts": true}),
        )
        .await
        .unwrap();
    v["schedule"]["id"].as_i64().unwrap()
}

async fn occurrences(api: &Api, schedule: i64) -> Vec<Value> {
    api.get(&format!("/api/v1/schedules/{schedule}/occurrences"))
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The deliveries of one occurrence: (node, stage, reason).
async fn deliveries(api: &Api, occurrence: i64) -> Vec<(String, String, String)> {
    let v = api.broadcast_status(occurrence).await.unwrap();
    v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["node_id"].as_str().unwrap().to_string(),
                d["stage"].as_str().unwrap().to_string(),
                d["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn start(o: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(o["start_at"].as_str().unwrap()).unwrap()
}

/// Waits until `n` occurrences of the schedule have every delivery `played`.
async fn wait_played(api: &Api, schedule: i64, n: usize) -> Vec<Value> {
    wait::until(
        &format!("{n} occurrences of schedule {schedule} played"),
        LONG,
        || async {
            let mut done = Vec::new();
            for o in occurrences(api, schedule).await {
                let d = deliveries(api, o["id"].as_i64().unwrap()).await;
                if !d.is_empty() && d.iter().all(|(_, s, _)| s == "played") {
                    done.push(o);
                }
            }
            Ok((done.len() >= n).then_some(done))
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cron_programme_plays_each_firing_once_reaches_nodes_added_later_and_stops_when_cancelled(
) {
    let dir = tempfile::tempdir().unwrap();
    let c = Controller::start_with(
        &dir.path().join("controller"),
        Broker::embedded(),
        &[("LOA_PLAN_HORIZON_SECS", "20")],
    )
    .await
    .unwrap();
    let api = c.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let village = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    let first = start_node(&api, dir.path(), "na-sai-1", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api.announcement("Bản tin", &fixture(TONE)).await.unwrap();
    // Targeting the commune targets the village's nodes, present and future.
    let s = schedule(&api, "Bản tin 5 giây", a, &[commune], every(5)).await;
    wait_played(&api, s, 2).await;

    let later = start_node(&api, dir.path(), "na-sai-2", village, Output::WavFiles)
        .await
        .unwrap();
    let l = &later;
    wait::until(
        "the node added later to play the programme",
        LONG,
        || async move { Ok((!wav_files(l).is_empty()).then_some(())) },
    )
    .await
    .unwrap();

    let cancelled = api
        .post(&format!("/api/v1/schedules/{s}/cancel"), json!({}))
        .await
        .unwrap();
    assert_eq!(cancelled["schedule"]["status"], "cancelled");
    // Every occurrence is one instant, once; future ones ended cancelled.
    let occ = occurrences(&api, s).await;
    let starts: HashSet<_> = occ.iter().map(start).collect();
    assert_eq!(starts.len(), occ.len(), "an instant materialised twice");
    let now = chrono::Utc::now();
    let mut withdrawn = 0;
    for o in &occ {
        if start(o) > now {
            withdrawn += 1;
            for (node, stage, reason) in deliveries(&api, o["id"].as_i64().unwrap()).await {
                assert_eq!(stage, "cancelled", "{node}: future delivery after cancel");
                assert!(reason.contains("cancelled"), "{reason}");
            }
        }
    }
    assert!(
        withdrawn > 0,
        "the 20 s horizon held future occurrences to withdraw"
    );
    let before = (wav_files(&first).len(), wav_files(&later).len());
    // Give a cancelled programme the time of two more firings: nothing plays.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        (wav_files(&first).len(), wav_files(&later).len()),
        before,
        "played after cancel"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_controller_killed_mid_programme_ends_with_each_occurrence_once_played_late_or_missed() {
    let dir = tempfile::tempdir().unwrap();
    // Plans reach 4 s ahead; what fell in downtime may play up to 6 s late.
    let mut c = Controller::start_with(
        &dir.path().join("controller"),
        Broker::embedded(),
        &[("LOA_PLAN_HORIZON_SECS", "4"), ("LOA_LATE_GRACE_SECS", "6")],
    )
    .await
    .unwrap();
    let api = c.api();
    let village = api.zone("Bản Phiêng", None).await.unwrap();
    let node = start_node(&api, dir.path(), "phieng", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api.announcement("Bản tin", &fixture(TONE)).await.unwrap();
    let s = schedule(&api, "Mỗi 3 giây", a, &[village], every(3)).await;
    wait_played(&api, s, 2).await;

    c.kill();
    let killed = chrono::Utc::now();
    wait::until("16 s of downtime", Duration::from_secs(30), || async move {
        Ok((chrono::Utc::now() - killed > chrono::Duration::seconds(16)).then_some(()))
    })
    .await
    .unwrap();
    c.restart().await.unwrap();
    let restarted = chrono::Utc::now();

    // Settle: everything up to a little after the restart has ended one way or the other.
    let settled = wait::until(
        "every occurrence up to the restart to end",
        LONG,
        || async {
            let occ = occurrences(&api, s).await;
            let mut all = Vec::new();
            for o in occ
                .iter()
                .filter(|o| start(o) < restarted + chrono::Duration::seconds(3))
            {
                let d = deliveries(&api, o["id"].as_i64().unwrap()).await;
                if d.iter().any(|(_, st, _)| st != "played" && st != "missed") {
                    return Ok(None);
                }
                all.push((start(o), d));
            }
            Ok(Some(all))
        },
    )
    .await
    .unwrap();

    // Exactly once: one occurrence per 3-second instant, none skipped, none doubled.
    let starts: Vec<_> = settled.iter().map(|(t, _)| *t).collect();
    let unique: HashSet<_> = starts.iter().collect();
    assert_eq!(
        unique.len(),
        starts.len(),
        "an instant materialised twice: {starts:?}"
    );
    for w in starts.windows(2) {
        assert_eq!(
            (w[1] - w[0]).num_seconds(),
            3,
            "a firing was dropped between {} and {}",
            w[0],
            w[1]
        );
    }
    let missed: Vec<_> = settled.iter().filter(|(_, d)| d[0].1 == "missed").collect();
    let played = settled.iter().filter(|(_, d)| d[0].1 == "played").count();
    assert!(
        !missed.is_empty(),
        "firings older than the grace window are missed"
    );
    for (t, d) in &missed {
        assert!(
            d[0].2.contains("controller was not running"),
            "{t}: {}",
            d[0].2
        );
        assert!(
            *t < restarted - chrono::Duration::seconds(6),
            "{t} was within the grace window"
        );
    }
    assert!(
        settled
            .iter()
            .any(|(t, d)| d[0].1 == "played" && *t > killed + chrono::Duration::seconds(4)),
        "a firing of the downtime inside the grace window played late"
    );
    wait_all_events_stored(&api, &node, LONG).await.unwrap();
    let before_plays = wav_files(&node)
        .iter()
        .filter(|p| started_before(p, restarted))
        .count();
    assert!(before_plays <= played + 2, "no item played twice");
}

/// Whether a wav sink file (named `YYYYmmddTHHMMSS-item.wav` by planned start) was planned
/// before `t`.
fn started_before(path: &std::path::Path, t: chrono::DateTime<chrono::Utc>) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    chrono::NaiveDateTime::parse_from_str(&name[..15], "%Y%m%dT%H%M%S")
        .map(|n| n.and_utc() < t)
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_cut_off_from_the_broker_plays_its_programme_on_time_and_reports_it_all_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut mosquitto = Mosquitto::start(&dir.path().join("mosquitto"), "")
        .await
        .unwrap();
    let c = Controller::start_with(
        &dir.path().join("controller"),
        Broker::External {
            url: mosquitto.url(),
            username: None,
            password: None,
        },
        &[("LOA_PLAN_HORIZON_SECS", "60")],
    )
    .await
    .unwrap();
    let api = c.api();
    let village = api.zone("Thôn Cốc Lầy", None).await.unwrap();
    let node = start_node(&api, dir.path(), "coc-lay", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api.announcement("Bản tin", &fixture(TONE)).await.unwrap();
    let s = schedule(&api, "Mỗi 4 giây", a, &[village], every(4)).await;
    wait_played(&api, s, 1).await;

    // The broker goes down for a window holding at least three whole firings (the play
    // counted as the broker stops may belong to the firing just before).
    mosquitto.stop();
    let down = chrono::Utc::now();
    let n = &node;
    let plays_at_stop = wav_files(n).len();
    wait::until("four plays while the broker is down", LONG, || async move {
        Ok((wav_files(n).len() >= plays_at_stop + 4).then_some(()))
    })
    .await
    .unwrap();
    let up = chrono::Utc::now();
    mosquitto.restart().await.unwrap();

    // Every firing of the window ends played, with its start error on record, none twice.
    let window: Vec<Value> = wait::until(
        "the offline plays to reach the controller",
        LONG,
        || async {
            let occ: Vec<Value> = occurrences(&api, s)
                .await
                .into_iter()
                .filter(|o| start(o) > down && start(o) < up)
                .collect();
            for o in &occ {
                let d = deliveries(&api, o["id"].as_i64().unwrap()).await;
                if d.iter().any(|(_, st, _)| st != "played") {
                    return Ok(None);
                }
            }
            Ok((occ.len() >= 3).then_some(occ))
        },
    )
    .await
    .unwrap();
    for o in &window {
        let v = api
            .broadcast_status(o["id"].as_i64().unwrap())
            .await
            .unwrap();
        let err = v["deliveries"][0]["start_error_ms"].as_i64().unwrap();
        assert!(
            err.abs() < 1000,
            "played on time from the stored plan, off by {err} ms"
        );
    }
    wait_all_events_stored(&api, &node, LONG).await.unwrap();
    let labels: Vec<String> = wav_files(&node)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    let unique: HashSet<&String> = labels.iter().collect();
    assert_eq!(unique.len(), labels.len(), "an item played twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn programme_files_load_at_start_and_are_marked_as_files_and_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let schedules = dir.path().join("schedules");
    std::fs::create_dir_all(&schedules).unwrap();
    let tone = fixture(TONE);
    std::fs::write(
        schedules.join("10-ban-tin.toml"),
        format!(
            "[[programme]]\nname = \"Bản tin sáng\"\nzones = [\"Xã Demo\"]\ncron = \"0 0 6 * * Mon-Sat\"\n\
             announcement = \"{}\"\n",
            tone.display()
        ),
    )
    .unwrap();
    std::fs::write(
        schedules.join("20-broken.toml"),
        format!(
            "[[programme]]\nname = \"Sai\"\nzones = [\"Thôn Không Có\"]\ncron = \"0 0 7 * * Mon\"\n\
             announcement = \"{}\"\n",
            tone.display()
        ),
    )
    .unwrap();

    // The zones exist first (a commune sets them up once), then the controller starts with files.
    let data = dir.path().join("controller");
    let mut c = Controller::start(&data, Broker::embedded()).await.unwrap();
    let api = c.api();
    api.zone("Xã Demo", None).await.unwrap();
    c.env
        .push(("LOA_SCHEDULES_DIR".into(), schedules.display().to_string()));
    c.restart().await.unwrap();

    let list = api.get("/api/v1/schedules").await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "the good file loads, the broken one does not: {list:#?}"
    );
    assert_eq!(list[0]["source"], "file");
    assert_eq!(list[0]["name"], "Bản tin sáng");
    assert!(list[0]["source_file"]
        .as_str()
        .unwrap()
        .ends_with("10-ban-tin.toml"));
    assert_eq!(list[0]["source_line"], 1);
    let one = api
        .get(&format!("/api/v1/schedules/{}", list[0]["id"]))
        .await
        .unwrap();
    let next = one["next"][0].as_str().unwrap();
    assert!(
        next.contains("T06:00:00+07:00"),
        "06:00 in the commune's time: {next}"
    );
    let log = c.log_tail();
    assert!(
        log.contains("20-broken.toml:3") && log.contains("Thôn Không Có"),
        "the error names the file, the line and the zone: {log}"
    );
    // A file schedule is changed in its file, not through the API.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/schedules/{}/cancel",
            c.url, list[0]["id"]
        ))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // `schedules check` tells an installer what is wrong in a file, before any controller runs.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("sang.toml"),
        format!(
            "[[programme]]\nname = \"Bản tin sáng\"\nzones = [\"Xã Demo\"]\ncron = \"0 6 * * 1-6\"\n\
             announcement = \"{}\"\n",
            tone.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(bin("loa-controller").unwrap())
        .args(["schedules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a broken file fails the check");
    assert!(
        text.contains("sang.toml:4"),
        "file and line of the cron rule: {text}"
    );
    assert!(text.contains("6 or 7 fields"), "what is wrong: {text}");
    // Zone names are only known to a running controller: offline, both files are well formed.
    let good = std::process::Command::new(bin("loa-controller").unwrap())
        .args(["schedules", "check"])
        .arg(&schedules)
        .output()
        .unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("2 programme(s), no errors"));
}
