//! Broker access per node on a real Mosquitto, set up with the files `loa-controller
//! mosquitto-config` writes: nobody gets in without an account, a node reaches only its own
//! topics, and the controller and its nodes still do their work through it.

mod common;

use common::*;
use loa_e2e::api::Api;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::probe::{self, Probe};
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::wait;
use loa_protocol::Topics;
use rumqttc::{ConnectReturnCode, Publish};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The controller's own broker account.
const CONTROLLER_USER: &str = "loa-ctl";
const CONTROLLER_PASSWORD: &str = "mat-khau-bo-dieu-khien";

/// A commune whose controller runs on a Mosquitto configured from its own node registry.
struct Site {
    mosquitto: Mosquitto,
    controller: Controller,
    api: Api,
    topics: Topics,
    /// Village 1's node (provisioned, not started).
    a: Prepared,
    /// Village 2's node (provisioned, never started).
    b: Prepared,
    village_a: i64,
}

/// Provisions nodes A and B through the API (on the embedded broker, as a commune starts),
/// gives both a retained plan, writes Mosquitto's files with the real `mosquitto-config`,
/// starts Mosquitto with them and moves the controller onto it, keeping the files up to date
/// itself from then on (`[mqtt] mosquitto_dir` and `mosquitto_pid_file`).
async fn site(dir: &Path) -> anyhow::Result<Site> {
    // Mosquitto started as root reads its files as user `mosquitto`: it must reach them.
    reachable_by_others(dir)?;
    let mut controller = Controller::start(&dir.join("controller"), Broker::embedded()).await?;
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await?;
    let village_a = api.zone("Thôn Nà Sài", Some(commune)).await?;
    let village_b = api.zone("Bản Phiêng", Some(commune)).await?;
    let a = prepare_node(&api, dir, "thon-a", village_a, Output::WavFiles).await?;
    let b = prepare_node(&api, dir, "thon-b", village_b, Output::WavFiles).await?;
    // A settings change publishes a plan, which the controller keeps and republishes on
    // the next broker it connects to (retained).
    for id in ["thon-a", "thon-b"] {
        api.patch(&format!("/api/v1/nodes/{id}"), json!({"volume": 70}))
            .await?;
    }
    controller.kill();

    let files = dir.join("mosquitto-files");
    let printed = controller.mosquitto_config(&files, CONTROLLER_USER, CONTROLLER_PASSWORD)?;
    let (passwd, acl) = (files.join("loa.passwd"), files.join("loa.acl"));
    assert_eq!(
        printed,
        format!(
            "password_file {}\nacl_file {}\n",
            passwd.canonicalize()?.display(),
            acl.canonicalize()?.display()
        )
    );
    reachable_by_others(&files)?;
    let mosquitto = Mosquitto::start_with_files(&dir.join("mosquitto"), &passwd, &acl).await?;
    // The nodes were given the embedded broker's address; they move to Mosquitto too.
    let (mut a, mut b) = (a, b);
    for node in [&mut a, &mut b] {
        node.config = with_broker(&node.config, mosquitto.port)?;
    }

    let config = dir.join("controller.toml");
    std::fs::write(
        &config,
        format!(
            "[mqtt]\nmosquitto_dir = {:?}\nmosquitto_pid_file = {:?}\n",
            files.display().to_string(),
            mosquitto.pid_file().display().to_string()
        ),
    )?;
    controller.broker = Broker::External {
        url: mosquitto.url(),
        username: Some(CONTROLLER_USER.into()),
        password: Some(CONTROLLER_PASSWORD.into()),
    };
    controller
        .env
        .push(("LOA_CONFIG".into(), config.display().to_string()));
    // Comes back only once its own account is let in (it waits for MQTT "connected").
    controller
        .restart()
        .await
        .map_err(|e| anyhow::anyhow!("{e}\nmosquitto: {}", mosquitto.log_tail()))?;
    Ok(Site {
        mosquitto,
        controller,
        api,
        topics: Topics::for_site("xa-demo"),
        a,
        b,
        village_a,
    })
}

/// Lets other users through `dir` (not read it): what a site's `/etc/mosquitto` is.
fn reachable_by_others(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o711))?;
    Ok(())
}

/// A node's config file with another broker port.
fn with_broker(config: &str, port: u16) -> anyhow::Result<String> {
    let mut v: toml::Table = toml::from_str(config)?;
    let mqtt = v["mqtt"].as_table_mut().expect("an [mqtt] table");
    mqtt.insert("address".into(), format!("127.0.0.1:{port}").into());
    Ok(toml::to_string(&v)?)
}

/// A node's MQTT password, from its config file.
fn password_of(node: &Prepared) -> String {
    let v: toml::Table = toml::from_str(&node.config).unwrap();
    v["mqtt"]["password"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_clients_and_wrong_passwords_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path()).await.unwrap();
    let port = site.mosquitto.port;

    let anonymous = probe::refusal(port, "someone", None).await.unwrap();
    assert_eq!(anonymous, ConnectReturnCode::NotAuthorized);
    let wrong = probe::refusal(port, "thon-a", Some(("thon-a", "not-its-password")))
        .await
        .unwrap();
    assert_eq!(wrong, ConnectReturnCode::NotAuthorized);
    // B's password is no key to A's account.
    let crossed = probe::refusal(port, "thon-a", Some(("thon-a", &password_of(&site.b))))
        .await
        .unwrap();
    assert_eq!(crossed, ConnectReturnCode::NotAuthorized);
    // The positive control: A's own password lets it in.
    Probe::connect(port, "thon-a", Some(("thon-a", &password_of(&site.a))))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn new_credentials_let_the_node_in_and_shut_the_old_password_out() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path()).await.unwrap();
    let port = site.mosquitto.port;
    let old = password_of(&site.a);
    let mut connected = Probe::connect(port, "thon-a", Some(("thon-a", &old)))
        .await
        .unwrap();

    // The running controller rewrites the files and signals Mosquitto, which reloads them
    // and disconnects the session whose password no longer matches.
    let sent = Instant::now();
    let v = site
        .api
        .post("/api/v1/nodes/thon-a/credentials", json!({}))
        .await
        .unwrap();
    let new: toml::Table = toml::from_str(v["config_toml"].as_str().unwrap()).unwrap();
    let new = new["mqtt"]["password"].as_str().unwrap().to_string();
    cut_after(&mut connected, sent, &site).await;
    wait::until(
        "the new password to be accepted",
        Duration::from_secs(10),
        || async {
            Ok(Probe::connect(port, "thon-a", Some(("thon-a", &new)))
                .await
                .ok()
                .map(|_| ()))
        },
    )
    .await
    .unwrap();
    let refused = probe::refusal(port, "thon-a", Some(("thon-a", &old)))
        .await
        .unwrap();
    assert_eq!(refused, ConnectReturnCode::NotAuthorized);
}

#[tokio::test(flavor = "multi_thread")]
async fn decommissioning_cuts_the_live_connection_and_the_account_stays_shut() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path()).await.unwrap();
    let port = site.mosquitto.port;
    let password = password_of(&site.a);
    let mut connected = Probe::connect(port, "thon-a", Some(("thon-a", &password)))
        .await
        .unwrap();
    connected
        .subscribe(&site.topics.plan("thon-a"))
        .await
        .unwrap();
    connected
        .message_on(&site.topics.plan("thon-a"))
        .await
        .unwrap();

    let sent = Instant::now();
    let gone = site.api.delete("/api/v1/nodes/thon-a").await.unwrap();
    assert_eq!(gone["id"], "thon-a");
    cut_after(&mut connected, sent, &site).await;
    let refused = probe::refusal(port, "thon-a", Some(("thon-a", &password)))
        .await
        .unwrap();
    assert_eq!(refused, ConnectReturnCode::NotAuthorized);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_node_decommissioned_is_cut_off_and_its_reconnects_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path()).await.unwrap();
    let node = site.a.start().unwrap();
    wait_presence(&site.api, "thon-a", "online")
        .await
        .unwrap_or_else(|e| panic!("{e}\nnode: {}", node.log_tail()));
    // What the node's own log says each time the broker refuses it.
    let refusals = || {
        std::fs::read_to_string(node.dir.join("node.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("NotAuthorized"))
            .count()
    };
    assert_eq!(refusals(), 0);

    site.api.delete("/api/v1/nodes/thon-a").await.unwrap();
    // The real node reconnects (with backoff) as soon as it is cut, with the only password it
    // has: Mosquitto refuses it ("not authorised"), again and again.
    wait::until(
        "Mosquitto to refuse the decommissioned node twice",
        Duration::from_secs(20),
        || async { Ok((refusals() >= 2).then_some(())) },
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nnode: {}\nmosquitto: {}",
            node.log_tail(),
            site.mosquitto.log_tail()
        )
    });
}

/// What the issue asks: the old session is gone within a second of the request.
const CUT_WITHIN: Duration = Duration::from_secs(1);

/// Waits for Mosquitto to close `probe`, and says how long after `since` it did.
async fn cut_after(probe: &mut Probe, since: Instant, site: &Site) {
    probe.closed_within(CUT_WITHIN).await.unwrap_or_else(|e| {
        panic!(
            "{e}: the revoked session lives on\nmosquitto: {}\ncontroller: {}",
            site.mosquitto.log_tail(),
            site.controller.log_tail()
        )
    });
    eprintln!(
        "revoked session closed {:?} after the request was sent",
        since.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_reads_only_its_own_plan_and_writes_only_its_own_state_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = site(dir.path()).await.unwrap();
    let t = site.topics.clone();
    let port = site.mosquitto.port;
    let a_password = password_of(&site.a);
    let a_account = Some(("thon-a", a_password.as_str()));
    let foreign = |probe: &Probe| -> Vec<String> {
        probe
            .seen()
            .iter()
            .filter(|m| m.topic.contains("/node/thon-b/"))
            .map(|m| m.topic.clone())
            .collect()
    };

    // Reading: B's plan is retained, so a subscriber allowed to read it would get it at
    // once. A subscribes to it (and to wildcards over it) before its own plan, whose arrival
    // therefore comes after anything B's would have brought.
    let mut a = Probe::connect(port, "thon-a", a_account).await.unwrap();
    for filter in [
        t.plan("thon-b"),
        t.ack("thon-b"),
        format!("{}/node/+/plan", t.root()),
        format!("{}/#", t.root()),
    ] {
        // Mosquitto 2.0 grants the subscription and filters each message by the ACL.
        a.subscribe(&filter).await.unwrap();
    }
    a.subscribe(&t.plan("thon-a")).await.unwrap();
    let own = a.message_on(&t.plan("thon-a")).await.unwrap();
    assert!(own.retain && !own.payload.is_empty());
    // Resubscribing brings A's retained plan again: a barrier behind anything still queued.
    a.subscribe(&t.plan("thon-a")).await.unwrap();
    a.message_on(&t.plan("thon-a")).await.unwrap();
    assert_eq!(
        foreign(&a),
        Vec::<String>::new(),
        "A read B's topics\n{}",
        site.mosquitto.log_tail()
    );
    drop(a);

    // Writing: what reaches the controller's account. It is the controller's session, so
    // the controller steps aside while the test uses it (one client per username).
    site.controller.kill();
    let controller_account = Some((CONTROLLER_USER, CONTROLLER_PASSWORD));
    let mut watcher = Probe::connect(port, CONTROLLER_USER, controller_account)
        .await
        .unwrap();
    watcher.subscribe(&t.plan("thon-b")).await.unwrap();
    let b_plan = watcher.message_on(&t.plan("thon-b")).await.unwrap();
    for filter in [
        format!("{}/node/+/state", t.root()),
        format!("{}/node/+/events", t.root()),
    ] {
        watcher.subscribe(&filter).await.unwrap();
    }
    let mut a = Probe::connect(port, "thon-a", a_account).await.unwrap();
    for topic in [t.events("thon-b"), t.state("thon-b"), t.plan("thon-b")] {
        a.publish(&topic, b"forged by A", true).await.unwrap();
    }
    // The positive controls, after: A's own events and state do arrive, in order.
    a.publish(&t.events("thon-a"), b"from A", false)
        .await
        .unwrap();
    a.publish(&t.state("thon-a"), b"from A", true)
        .await
        .unwrap();
    watcher.message_on(&t.events("thon-a")).await.unwrap();
    watcher.message_on(&t.state("thon-a")).await.unwrap();
    assert_eq!(
        foreign(&watcher),
        [t.plan("thon-b")],
        "only B's real plan reached the controller's account, none of A's writes"
    );

    // Nor did anything stay retained on B's topics: a new subscriber finds B's plan as the
    // controller signed it and no state for B.
    let mut fresh = Probe::connect(port, CONTROLLER_USER, controller_account)
        .await
        .unwrap();
    for topic in [t.plan("thon-b"), t.state("thon-b"), t.state("thon-a")] {
        fresh.subscribe(&topic).await.unwrap();
    }
    fresh.message_on(&t.state("thon-a")).await.unwrap();
    let retained: Vec<&Publish> = fresh
        .seen()
        .iter()
        .filter(|m| m.topic.contains("/node/thon-b/"))
        .collect();
    assert_eq!(retained.len(), 1, "{retained:?}");
    assert_eq!(retained[0].topic, t.plan("thon-b"));
    assert_eq!(retained[0].payload, b_plan.payload, "A overwrote B's plan");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_controller_and_its_nodes_play_a_broadcast_through_the_configured_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path()).await.unwrap();
    let node_a = site.a.start().unwrap();
    // A node provisioned now is let in by the files the running controller rewrites, once
    // Mosquitto has reloaded them (SIGHUP).
    let c = prepare_node(
        &site.api,
        dir.path(),
        "thon-c",
        site.village_a,
        Output::WavFiles,
    )
    .await
    .unwrap();
    let acl = std::fs::read_to_string(dir.path().join("mosquitto-files/loa.acl")).unwrap();
    assert!(acl.contains("user thon-c\n"), "{acl}");
    let node_c = c.start().unwrap();

    let announcement = site
        .api
        .announcement("Thông báo lịch tiêm chủng", &fixture(TONE))
        .await
        .unwrap();
    let id = site
        .api
        .broadcast(json!({"announcement_id": announcement, "zones": [site.village_a]}))
        .await
        .unwrap();
    let status = wait_settled(&site.api, id, &["played"], Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nnode A: {}\nnode C: {}\ncontroller: {}\nmosquitto: {}",
                node_a.log_tail(),
                node_c.log_tail(),
                site.controller.log_tail(),
                site.mosquitto.log_tail()
            )
        });
    let mut played: Vec<&str> = status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["node_id"].as_str().unwrap())
        .collect();
    played.sort();
    assert_eq!(played, ["thon-a", "thon-c"]);
    assert_eq!(wav_files(&node_a).len(), 1);
    assert_eq!(wav_files(&node_c).len(), 1);
}
