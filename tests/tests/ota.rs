//! Over-the-air update of a node, with rollback, on real parts: a real controller with its
//! broker, real node processes, two real builds of the node (the same code with the version
//! strings `0.1.0` and `0.2.0-ota`, see `loa_e2e::rebuild`), and a release that crashes at
//! start (a shell script signed as a release: it is the keeper's rollback that is under test
//! there, not a third build).
//!
//! systemd is not PID 1 here, so a small restart loop stands in for the unit's `Restart=` and
//! `RestartForceExitStatus=75`: it starts the packaged binary (`target/debug/loa-node`, the
//! keeper) again whenever it exits with the switch status 75.
//!
//! The specification: a node on 0.1.0 → 0.2.0-ota rolled out to it alone → it runs 0.2.0-ota
//! and says so, while a node not in the rollout stays on 0.1.0 → a release that crashes at
//! start rolled out to it → the keeper goes back to 0.2.0-ota within the (shortened) trial
//! window and the controller shows `rolled_back` with the reason → a bundle signed by another
//! key is refused at upload.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::procs::bin;
use loa_e2e::wait;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const V2: &str = "0.2.0-ota";
/// The trial window in this test (120 s in the field).
const TRIAL_SECS: u64 = 15;

/// systemd's `Restart=` for the node's unit, as a thread: runs `binary run --config CONFIG`
/// in its own process group, again after each exit with status 75, and stops on any other.
struct RestartLoop {
    pid: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    /// Every exit status seen, in order.
    exits: Arc<Mutex<Vec<Option<i32>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RestartLoop {
    fn start(binary: PathBuf, config: PathBuf, log: PathBuf) -> RestartLoop {
        let (pid, stop, exits) = (
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(Mutex::new(Vec::new())),
        );
        let (p, s, e) = (pid.clone(), stop.clone(), exits.clone());
        let thread = std::thread::spawn(move || loop {
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("the node's log opens");
            let mut child = Command::new(&binary)
                .arg("run")
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "info,rumqttc=warn")
                .stdout(Stdio::from(out.try_clone().expect("log")))
                .stderr(Stdio::from(out))
                .spawn()
                .expect("the node starts");
            p.store(child.id(), Ordering::SeqCst);
            let status = child.wait().expect("the node is waited for");
            e.lock().unwrap().push(status.code());
            if status.code() != Some(75) || s.load(Ordering::SeqCst) {
                return;
            }
        });
        RestartLoop {
            pid,
            stop,
            exits,
            thread: Some(thread),
        }
    }

    fn exits(&self) -> Vec<Option<i32>> {
        self.exits.lock().unwrap().clone()
    }
}

impl Drop for RestartLoop {
    /// Stops the service as systemd would: SIGTERM to the keeper (which passes it on to the
    /// release it runs).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let pid = self.pid.load(Ordering::SeqCst);
        if pid != 0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A release bundle signed with the key file at `key`, made by the controller's CLI.
fn bundle(dir: &Path, key: &Path, version: &str, binary: &Path) -> Vec<u8> {
    std::fs::read(loa_e2e::release::bundle(dir, key, version, binary).unwrap()).unwrap()
}

/// A fresh release key from the controller's CLI: the key file and its public half.
fn keygen(out: &Path) -> String {
    loa_e2e::release::keygen(out).unwrap()
}

/// The node's last state, as the node list shows it.
async fn state(api: &Api, node: &str) -> anyhow::Result<Value> {
    let nodes = api.get("/api/v1/nodes").await?;
    nodes
        .as_array()
        .and_then(|a| a.iter().find(|n| n["id"] == node))
        .map(|n| n["state"].clone())
        .ok_or_else(|| anyhow::anyhow!("{node} not listed"))
}

/// Waits until the release's progress row for `node` satisfies `want`.
async fn wait_progress(
    api: &Api,
    release: i64,
    node: &str,
    what: &str,
    timeout: Duration,
    want: impl Fn(&Value) -> bool,
) -> Value {
    wait::until(what, timeout, || async {
        let p = api.get(&format!("/api/v1/releases/{release}")).await?;
        Ok(p["nodes"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["node"] == node))
            .filter(|n| want(n))
            .cloned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_node_takes_a_new_version_and_rolls_back_one_that_crashes() {
    let dir = tempfile::tempdir().unwrap();
    // The second build runs while the commune is set up.
    let v2_build = tokio::task::spawn_blocking(|| loa_e2e::rebuild::node_with_version(V2));

    let key_file = dir.path().join("release.key");
    let public = keygen(&key_file);
    let controller = loa_e2e::procs::Controller::start_with(
        &dir.path().join("controller"),
        loa_e2e::procs::Broker::embedded(),
        &[("LOA_RELEASE_KEY", public.as_str())],
    )
    .await
    .unwrap();
    let api = controller.api();
    let village = api.zone("Thôn Nà Sài", None).await.unwrap();

    // The node under test, kept by the packaged binary under the restart loop.
    let p = prepare_node(&api, dir.path(), "thon-ota", village, Output::WavFiles)
        .await
        .unwrap();
    assert_eq!(config_value(&p.config, &["update", "release_key"]), public);
    let mut cfg: toml::Table = toml::from_str(&p.config).unwrap();
    cfg["update"]
        .as_table_mut()
        .unwrap()
        .insert("trial_secs".into(), (TRIAL_SECS as i64).into());
    std::fs::create_dir_all(&p.dir).unwrap();
    let config = p.dir.join("node.toml");
    std::fs::write(&config, toml::to_string(&cfg).unwrap()).unwrap();
    let node_log = p.dir.join("node.log");
    let service = RestartLoop::start(bin("loa-node").unwrap(), config, node_log.clone());
    // A node that is not in the rollout.
    let _other = start_node(&api, dir.path(), "thon-khac", village, Output::WavFiles)
        .await
        .unwrap();
    for n in ["thon-ota", "thon-khac"] {
        wait::until(
            &format!("{n} to report 0.1.0"),
            Duration::from_secs(30),
            || async {
                let s = state(&api, n).await?;
                Ok((s["software"] == "0.1.0" && s["arch"].is_string()).then_some(()))
            },
        )
        .await
        .unwrap();
    }

    // 0.2.0-ota, to this one node: stripped, as a release build would be (a debug build's
    // symbols would put it over the controller's upload limit).
    let built = v2_build.await.unwrap().unwrap();
    let v2 = dir.path().join("loa-node-v2");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&v2)
        .arg(&built)
        .status()
        .unwrap();
    assert!(status.success(), "strip failed");
    let _ = std::fs::remove_dir_all(built.parent().unwrap().parent().unwrap());
    let release = api
        .post_bytes("/api/v1/releases", bundle(dir.path(), &key_file, V2, &v2))
        .await
        .unwrap();
    let id = release["id"].as_i64().unwrap();
    api.post(
        &format!("/api/v1/releases/{id}/rollout"),
        json!({"nodes": ["thon-ota"]}),
    )
    .await
    .unwrap();
    wait_progress(
        &api,
        id,
        "thon-ota",
        "thon-ota to run 0.2.0-ota",
        Duration::from_secs(60),
        |n| n["status"] == "running" && n["software"] == V2,
    )
    .await;
    assert_eq!(
        state(&api, "thon-khac").await.unwrap()["software"],
        "0.1.0",
        "a node not in the rollout stays on its version"
    );
    // The keeper took the node's confirmation: 0.2.0-ota is the version that runs from now on.
    let kept = dir.path().join("thon-ota/data/releases/state.json");
    wait::until(
        "the keeper to keep 0.2.0-ota",
        Duration::from_secs(5),
        || async {
            let v: Value = serde_json::from_slice(&std::fs::read(&kept)?)?;
            Ok((v["active"] == V2 && v["trial"].is_null()).then_some(()))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", loa_e2e::procs::tail(&node_log, 60)));

    // A release that crashes at start: rolled back to 0.2.0-ota by the keeper.
    let crash = dir.path().join("crash.sh");
    std::fs::write(
        &crash,
        "#!/bin/sh\necho 'this release crashes at start' >&2\nexit 3\n",
    )
    .unwrap();
    let v3 = api
        .post_bytes(
            "/api/v1/releases",
            bundle(dir.path(), &key_file, "0.3.0-crash", &crash),
        )
        .await
        .unwrap();
    let v3 = v3["id"].as_i64().unwrap();
    api.post(
        &format!("/api/v1/releases/{v3}/rollout"),
        json!({"nodes": ["thon-ota"]}),
    )
    .await
    .unwrap();
    let row = wait_progress(
        &api,
        v3,
        "thon-ota",
        "the crashing release to be rolled back",
        Duration::from_secs(TRIAL_SECS + 45),
        |n| n["status"] == "rolled_back",
    )
    .await;
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exited (status 3) before connecting"),
        "the reason says why: {row}"
    );
    assert_eq!(row["software"], V2, "back on the version before it: {row}");
    let progress = api.get(&format!("/api/v1/releases/{v3}")).await.unwrap();
    assert_eq!(progress["nodes"][0]["node"], "thon-ota", "failures first");
    assert_eq!(
        service.exits(),
        [Some(75), Some(75)],
        "the node asked to be restarted once per switch, and runs on"
    );

    // A bundle signed by another key is refused at upload (the node's own refusal is its
    // unit test, `only_the_release_key_verifies_a_release`).
    let other_key = dir.path().join("other.key");
    keygen(&other_key);
    let refused = api
        .post_bytes(
            "/api/v1/releases",
            bundle(dir.path(), &other_key, "0.4.0", &v2),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("release.bad_signature"), "{refused}");
    drop(service);
    let log = std::fs::read_to_string(&node_log).unwrap_or_default();
    assert!(
        log.contains("rolling back to the previous version"),
        "{log}"
    );
}
