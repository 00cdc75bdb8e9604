//! TLS end to end: certificates from `scripts/make-ca.sh`, a controller serving HTTPS with its
//! embedded broker speaking MQTT over TLS, a node that trusts the commune's CA from the config
//! the controller gave it, and clients that do not trust the CA (or speak plain) turned away.

mod common;

use common::*;
use loa_e2e::mosquitto::Mosquitto;
use loa_e2e::procs::{Broker, Controller, TlsFiles};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, TlsConfiguration, Transport};
use serde_json::json;
use std::time::Duration;

/// An error with its causes, on one line (reqwest puts rustls's reason in a cause).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Logs in to the broker on `port` over `transport` and says how that ended: `Ok` on a
/// CONNACK, else the error.
async fn mqtt_login(port: u16, transport: Transport) -> Result<(), String> {
    let mut opts = MqttOptions::new("intruder", "127.0.0.1", port);
    opts.set_credentials("intruder", "guess");
    opts.set_transport(transport);
    let (_client, mut eventloop) = AsyncClient::new(opts, 10);
    let login = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(chain(&e)),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), login)
        .await
        .unwrap_or_else(|_| Err("no answer within 20 s".into()))
}

#[tokio::test(flavor = "multi_thread")]
async fn broadcast_plays_over_https_and_mqtt_tls_and_clients_without_the_ca_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let tls = TlsFiles::make(&root.join("tls")).unwrap();
    let stranger = TlsFiles::make(&root.join("stranger-ca")).unwrap();
    // Ready means /healthz answered over HTTPS (trusting the CA) and the controller's own
    // MQTT client logged in to the embedded broker over TLS.
    let controller =
        Controller::start_tls(&root.join("controller"), Broker::embedded(), tls.clone())
            .await
            .unwrap();
    let mqtt_port = controller.mqtt_port();
    assert!(controller.url.starts_with("https://"), "{}", controller.url);
    let api = controller.api();

    // The node's config carries the CA and the TLS settings: nothing else to install.
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let prepared = prepare_node(&api, root, "thon-1", zone, Output::WavFiles)
        .await
        .unwrap();
    let cfg: toml::Table = toml::from_str(&prepared.config).unwrap();
    let ca = String::from_utf8(tls.ca_pem()).unwrap();
    assert_eq!(cfg["ca_pem"].as_str(), Some(ca.as_str()));
    assert_eq!(cfg["mqtt"]["tls"].as_bool(), Some(true));
    assert_eq!(
        cfg["controller_url"].as_str(),
        Some(controller.url.as_str())
    );
    let node = prepared.start().unwrap();

    // The plan arrives over MQTT/TLS, the media over HTTPS, the events back over MQTT/TLS.
    let announcement = api
        .announcement("Thông báo lịch tiêm chủng", &fixture(TONE))
        .await
        .unwrap();
    let broadcast = api
        .broadcast(json!({"announcement_id": announcement, "zones": [zone]}))
        .await
        .unwrap();
    let status = wait_settled(&api, broadcast, &["played"], Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_tail()));
    assert_eq!(status["summary"], json!({"played": 1}), "{status:#}");
    assert_eq!(wav_files(&node).len(), 1, "one playback written");

    // Plain HTTP on the HTTPS port gets no answer.
    let plain = controller.url.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(r.is_err(), "plain HTTP was answered: {r:?}");

    // A client that does not trust the commune's CA refuses the certificate.
    let e = reqwest::Client::new()
        .get(format!("{}/healthz", controller.url))
        .send()
        .await
        .expect_err("a client without the CA connected over HTTPS");
    let e = chain(&e);
    assert!(e.contains("certificate"), "{e}");

    // MQTT: a client trusting another CA fails the handshake, a plain one gets nowhere.
    let other_ca = TlsConfiguration::Simple {
        ca: stranger.ca_pem(),
        alpn: None,
        client_auth: None,
    };
    let e = mqtt_login(mqtt_port, Transport::tls_with_config(other_ca))
        .await
        .expect_err("an MQTT client without the CA got in");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(
        mqtt_login(mqtt_port, Transport::Tcp).await.is_err(),
        "plain MQTT was accepted on the TLS listener"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_certificate_stops_the_controller_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsFiles::make(&dir.path().join("tls")).unwrap();
    let missing = dir.path().join("tls/no-such-cert.pem");
    let run = tokio::process::Command::new(loa_e2e::procs::bin("loa-controller").unwrap())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "--http-listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ])
        .arg("--tls-cert")
        .arg(&missing)
        .arg("--tls-key")
        .arg(&tls.key)
        .arg("--tls-ca")
        .arg(&tls.ca)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the controller exits at once")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-cert.pem"), "{stderr}");
}

/// Mosquitto with the same certificate, as docs/tls.md sets it up: the controller reaches it
/// at `mqtts://`, the node with `tls = true` and the CA from its config.
#[tokio::test(flavor = "multi_thread")]
async fn broadcast_plays_through_mosquitto_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let tls = TlsFiles::make(&root.join("tls")).unwrap();
    // `user root`: Mosquitto reads the key after dropping to its own user, which cannot enter
    // the test's private temporary directory (on a site the files are chowned to it instead).
    let listener_tls = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nuser root\n",
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display()
    );
    let mosquitto = Mosquitto::start(&root.join("mosquitto"), &listener_tls)
        .await
        .unwrap();
    let broker = Broker::External {
        url: format!("mqtts://127.0.0.1:{}", mosquitto.port),
        username: None,
        password: None,
    };
    let controller = Controller::start_tls(&root.join("controller"), broker, tls.clone())
        .await
        .unwrap();
    let api = controller.api();
    let zone = api.zone("Bản Phiêng", None).await.unwrap();
    let prepared = prepare_node(&api, root, "ban-1", zone, Output::WavFiles)
        .await
        .unwrap();
    let cfg: toml::Table = toml::from_str(&prepared.config).unwrap();
    assert_eq!(cfg["mqtt"]["tls"].as_bool(), Some(true));
    let node = prepared.start().unwrap();
    let announcement = api.announcement("Thông báo", &fixture(TONE)).await.unwrap();
    let broadcast = api
        .broadcast(json!({"announcement_id": announcement, "zones": [zone]}))
        .await
        .unwrap();
    wait_settled(&api, broadcast, &["played"], Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_tail()));
    let plain = mqtt_login(mosquitto.port, Transport::Tcp).await;
    assert!(plain.is_err(), "Mosquitto's TLS listener took plain MQTT");
}

/// Runs `loa-node check` on `config`; returns whether it passed, and its output.
async fn node_check(config: &std::path::Path) -> (bool, String) {
    let run = tokio::process::Command::new(loa_e2e::procs::bin("loa-node").unwrap())
        .arg("check")
        .arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("loa-node check finishes within a minute")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn node_check_passes_with_the_commune_ca_and_names_tls_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let tls = TlsFiles::make(&root.join("tls")).unwrap();
    let stranger = TlsFiles::make(&root.join("stranger-ca")).unwrap();
    let controller = Controller::start_tls(&root.join("controller"), Broker::embedded(), tls)
        .await
        .unwrap();
    let api = controller.api();
    let zone = api.zone("Thôn Cốc Lầy", None).await.unwrap();
    let prepared = prepare_node(&api, root, "thon-3", zone, Output::WavFiles)
        .await
        .unwrap();
    std::fs::create_dir_all(&prepared.dir).unwrap();
    let good = prepared.dir.join("node.toml");
    std::fs::write(&good, &prepared.config).unwrap();
    let (ok, out) = node_check(&good).await;
    assert!(ok, "the provisioned config passes over TLS:\n{out}");

    let other = String::from_utf8(stranger.ca_pem()).unwrap();
    let wrong = prepared.dir.join("wrong-ca.toml");
    let text = loa_e2e::procs::with_key(&prepared.config, "ca_pem", other.into()).unwrap();
    std::fs::write(&wrong, text).unwrap();
    let (ok, out) = node_check(&wrong).await;
    assert!(!ok, "another CA passes:\n{out}");
    let broker = out.lines().find(|l| l.contains("broker:")).unwrap_or("");
    assert!(
        broker.starts_with("✗") && broker.contains("TLS") && broker.contains("certificate"),
        "{out}"
    );
    let controller_line = out
        .lines()
        .find(|l| l.contains("controller:"))
        .unwrap_or("");
    assert!(
        controller_line.starts_with("✗")
            && controller_line.contains("certificate is not trusted")
            && controller_line.contains("ca_pem"),
        "{out}"
    );
}
