//! A full disk, on a node and on the controller, made real with a small tmpfs that a filler
//! file fills to the last byte: nothing crashes, the reason is said plainly, nothing a node
//! reports is lost, and everything goes on once the filler is deleted.
//!
//! These tests mount tmpfs, so they need root; without it they fail saying so.

mod common;

use common::*;
use loa_e2e::procs::{Broker, Controller, Node};
use loa_e2e::tmpfs::Tmpfs;
use loa_e2e::wait;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(45);

/// A log file's text without its colours.
fn log_text(log: &Path) -> String {
    let raw = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // An SGR sequence: ESC [ … m.
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits until `log` holds `text`.
async fn wait_log(log: &Path, text: &str) {
    let what = format!("{} to say {text:?}", log.display());
    wait::until(&what, LONG, || async {
        Ok(log_text(log).contains(text).then_some(()))
    })
    .await
    .unwrap();
}

fn node_log(node: &Node) -> std::path::PathBuf {
    node.dir.join("node.log")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_disk_is_full_says_so_keeps_its_events_and_plays_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, api, _) = embedded_controller(dir.path()).await;
    let village = api.zone("Bản Đầy", None).await.unwrap();
    let prepared = prepare_node(&api, dir.path(), "ban-day", village, Output::WavFiles)
        .await
        .unwrap();
    // The node's whole data directory (plan, ledger, spool, media cache) on 2 MB.
    let disk = Tmpfs::mount(&prepared.dir.join("data"), 2 << 20).unwrap();
    let mut node = prepared.start().unwrap();
    wait_presence(&api, "ban-day", "online").await.unwrap();

    disk.fill().unwrap();
    let a = api.announcement("Họp thôn", &fixture(TONE)).await.unwrap();
    let b = api
        .broadcast(json!({"announcement_id": a, "zones": [village]}))
        .await
        .unwrap();
    // The plan is applied from memory, the download fails, and the failure reaches the
    // controller although the node could not write it to its spool.
    let cache = disk.dir().join("cache");
    let delivery = api.wait_stage(b, "failed", LONG).await.unwrap();
    let reason = delivery["reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with("disk full: ") && reason.contains(&cache.display().to_string()),
        "the controller is told the node's disk is full, and where: {delivery:#}"
    );
    wait_log(&node_log(&node), "disk full: ").await;
    assert!(
        node.is_running(),
        "the node did not crash: {}",
        node.log_tail()
    );
    assert!(
        wav_files(&node).is_empty(),
        "nothing played without its media"
    );

    disk.free().unwrap();
    wait_settled(&api, b, &["played"], LONG).await.unwrap();
    assert_eq!(wav_files(&node).len(), 1);
    // Every event numbered while the disk was full reached the controller, and the held
    // ones were written to the spool (its counter too) once there was room.
    wait_all_events_stored(&api, &node, LONG).await.unwrap();
    let status = api.broadcast_status(b).await.unwrap();
    let times = status["deliveries"][0]["times"].as_object().unwrap();
    for step in ["received", "ready", "playing", "played"] {
        assert!(times.contains_key(step), "{step} was lost: {status:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_controller_whose_disk_is_full_answers_507_leaves_events_unacknowledged_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // Database and media store on 32 MB; the log beside, so that it can still be read.
    let disk = Tmpfs::mount(&dir.path().join("controller"), 32 << 20).unwrap();
    let log = dir.path().join("controller.log");
    let c = Controller::start_logging_to(disk.dir(), Broker::embedded(), &log)
        .await
        .unwrap();
    let api = c.api();
    let village = api.zone("Thôn Đĩa Đầy", None).await.unwrap();
    let node = start_node(&api, dir.path(), "dia-day", village, Output::WavFiles)
        .await
        .unwrap();
    let a = api.announcement("Lịch họp", &fixture(TONE)).await.unwrap();
    let b = api
        .broadcast(json!({"announcement_id": a, "zones": [village], "at": in_secs(6)}))
        .await
        .unwrap();
    wait_settled(&api, b, &["ready"], LONG).await.unwrap();

    disk.fill().unwrap();
    // An upload and an API write are refused plainly, not with a 500.
    let upload = api.upload(&fixture(TONE)).await.unwrap_err().to_string();
    assert!(
        upload.starts_with("507") && upload.contains(r#""code":"disk.full""#),
        "{upload}"
    );
    let write = api.zone("Thôn Mới", None).await.unwrap_err().to_string();
    assert!(
        write.starts_with("507") && write.contains(r#""code":"disk.full""#),
        "{write}"
    );
    // The node plays; its events cannot be stored, so they are not acknowledged and stay in
    // its spool. Reading still works.
    let ledger = node.dir.join("data/ledger.json");
    wait::until("the node to play and record it", LONG, || async {
        let l: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ledger).unwrap_or_default()).unwrap_or_default();
        Ok((l["items"]["o1"]["done"] == true).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(wav_files(&node).len(), 1);
    wait_log(
        &log,
        "disk full: cannot store what a node sent; not acknowledged, so the node keeps it and \
         sends it again node=dia-day channel=events",
    )
    .await;
    assert!(
        events_unacked(&node) > 0,
        "the node keeps what was not stored: {}",
        c.log_tail()
    );
    let status = api.broadcast_status(b).await.unwrap();
    assert_ne!(status["deliveries"][0]["stage"], "played", "{status:#}");

    disk.free().unwrap();
    wait_settled(&api, b, &["played"], LONG)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", log_text(&log)));
    wait_all_events_stored(&api, &node, LONG)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.log_tail()));
    api.upload(&fixture(TONE)).await.unwrap();
    api.zone("Thôn Mới", None).await.unwrap();
}
