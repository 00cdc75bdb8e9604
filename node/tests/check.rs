//! `loa-node check` as an installer runs it: the built binary, as a process, against a real
//! controller (its built-in broker) started from the workspace's built binaries
//! (`cargo build --workspace --bins` first).

use loa_e2e::procs::{bin, unused_port, with_audio, Broker, Controller, Node};
use std::path::Path;
use std::time::Duration;

/// Every check a config without `[relay]` gets, in order.
const CHECKS: [&str; 8] = [
    "config",
    "controller key",
    "node key",
    "data directory",
    "broker",
    "controller",
    "media token",
    "audio output",
];

/// Runs `loa-node check --config FILE`; returns whether it exited 0, and its output.
async fn check(config: &Path) -> (bool, String) {
    check_with(config, &[]).await
}

/// Runs `loa-node check --config FILE ARGS…`.
async fn check_with(config: &Path, args: &[&str]) -> (bool, String) {
    let run = tokio::process::Command::new(bin("loa-node").unwrap())
        .arg("check")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("loa-node check finishes within a minute")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown when a test fails, or with --nocapture.
    eprintln!("$ loa-node check --config {}\n{stdout}", config.display());
    assert!(
        stderr.trim().is_empty(),
        "nothing but the check lines is printed:\n{stderr}"
    );
    (out.status.success(), stdout)
}

/// The line of check `what`, with its mark: (passed, line).
fn line(out: &str, what: &str) -> (bool, String) {
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix("✓ ") {
            if rest.starts_with(&format!("{what}:")) {
                return (true, l.to_string());
            }
        }
        if let Some(rest) = l.strip_prefix("✗ ") {
            if rest.starts_with(&format!("{what}:")) {
                return (false, l.to_string());
            }
        }
    }
    panic!("no line for the {what} check in:\n{out}")
}

fn write(dir: &Path, name: &str, toml: &toml::Table) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, toml::to_string(toml).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_a_good_config_and_names_a_wrong_password_or_media_token() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = controller.api();
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let provisioned = api
        .provision("thon-1", "Loa đầu thôn", zone, &dir.path().join("data"))
        .await
        .unwrap();
    let good: toml::Table =
        toml::from_str(&with_audio(&provisioned, toml::toml! { sink = "null" }).unwrap()).unwrap();

    let (ok, out) = check(&write(dir.path(), "good.toml", &good)).await;
    assert!(ok, "a good config passes:\n{out}");
    for what in CHECKS {
        let (passed, l) = line(&out, what);
        assert!(passed, "{l}");
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with('✓')).count(),
        CHECKS.len(),
        "one line per check:\n{out}"
    );

    let mut bad_password = good.clone();
    bad_password["mqtt"]["password"] = "not-the-password".into();
    let (ok, out) = check(&write(dir.path(), "password.toml", &bad_password)).await;
    assert!(!ok, "a wrong password fails:\n{out}");
    let (passed, l) = line(&out, "broker");
    assert!(!passed && l.contains("login of thon-1"), "{l}");
    assert!(
        l.contains("username or password") && l.contains("what to do: "),
        "{l}"
    );
    for what in ["controller", "media token", "audio output"] {
        assert!(line(&out, what).0, "only the broker fails:\n{out}");
    }

    let mut bad_token = good.clone();
    bad_token["media_token"] = "not-the-token".into();
    let (ok, out) = check(&write(dir.path(), "token.toml", &bad_token)).await;
    assert!(!ok, "a wrong media token fails:\n{out}");
    let (passed, l) = line(&out, "media token");
    assert!(
        !passed && l.contains("does not accept this media token"),
        "{l}"
    );
    assert!(l.contains("reset this node's secrets"), "{l}");
    assert!(
        line(&out, "broker").0,
        "the broker still accepts it:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_says_the_controller_cannot_be_reached_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let key = loa_protocol::public_key_b64(&loa_protocol::generate_key());
    // Nothing listens on this port.
    let port = unused_port();
    let wav_dir = dir.path().join("wav");
    let cfg = toml::toml! {
        node_id = "thon-1"
        site = "xa-demo"
        controller_url = (format!("http://127.0.0.1:{port}"))
        controller_public_key = key
        media_token = "some-token"
        data_dir = (dir.path().join("data").display().to_string())
        [mqtt]
        address = (format!("127.0.0.1:{port}"))
        username = "thon-1"
        password = "pw"
        [audio]
        sink = "wav"
        wav_dir = (wav_dir.display().to_string())
    };
    let (ok, out) = check(&write(dir.path(), "node.toml", &cfg)).await;
    assert!(!ok, "{out}");
    let (passed, l) = line(&out, "broker");
    assert!(
        !passed && l.contains(&format!("cannot reach the broker at 127.0.0.1:{port}")),
        "{l}"
    );
    assert!(l.contains("network link"), "{l}");
    for what in ["controller", "media token"] {
        let (passed, l) = line(&out, what);
        assert!(
            !passed
                && l.contains(&format!(
                    "cannot reach the controller at http://127.0.0.1:{port}"
                )),
            "{l}"
        );
    }
    for what in ["config", "controller key", "data directory", "audio output"] {
        assert!(line(&out, what).0, "{what} passes:\n{out}");
    }
    assert!(
        !wav_dir.join("loa-check.wav").exists(),
        "the audio check leaves no file behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_line_of_a_toml_error_a_missing_key_and_a_missing_gpio_chip() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("node.toml");
    std::fs::write(
        &broken,
        "node_id = \"thon-1\"\nsite = \"xa-demo\"\ncontroller_url = http://10.0.0.1\n",
    )
    .unwrap();
    let (ok, out) = check(&broken).await;
    assert!(!ok);
    let (passed, l) = line(&out, "config");
    assert!(!passed, "{l}");
    assert!(
        l.contains(&format!("{}: line 3, column 18", broken.display())),
        "{l}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with('✗')).count(),
        1,
        "the other checks need a config:\n{out}"
    );

    let no_key = toml::toml! {
        node_id = "thon-1"
        site = "xa-demo"
        controller_url = "http://127.0.0.1:9"
        media_token = "t"
        data_dir = (dir.path().join("data").display().to_string())
        [mqtt]
        address = "127.0.0.1:9"
        username = "thon-1"
        password = "pw"
        [audio]
        sink = "null"
        [relay]
        chip = "/dev/gpiochip-absent"
        line = 17
    };
    let (ok, out) = check(&write(dir.path(), "nokey.toml", &no_key)).await;
    assert!(!ok);
    let (passed, l) = line(&out, "controller key");
    assert!(
        !passed && l.contains("controller_public_key is missing"),
        "{l}"
    );
    // There is no GPIO chip on this machine (nor at that path anywhere): the check says so.
    let (passed, l) = line(&out, "amplifier relay");
    assert!(
        !passed && l.contains("cannot open GPIO line 17 on /dev/gpiochip-absent"),
        "{l}"
    );
    assert!(l.contains("the node still plays"), "{l}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_saves_the_installers_location_and_the_running_node_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let api = controller.api();
    let zone = api.zone("Thôn Nà Sài", None).await.unwrap();
    let data = dir.path().join("data");
    let provisioned = api
        .provision("thon-1", "Loa đầu thôn", zone, &data)
        .await
        .unwrap();
    let text = with_audio(&provisioned, toml::toml! { sink = "null" }).unwrap();
    let config = write(dir.path(), "node.toml", &toml::from_str(&text).unwrap());

    // Not a place: the line says what to give, and nothing is saved.
    let (ok, out) = check_with(&config, &["--location", "95.1,104.1486"]).await;
    assert!(!ok, "{out}");
    let (passed, l) = line(&out, "location");
    assert!(!passed && l.contains("latitude -90..90"), "{l}");
    assert!(!data.join("location.json").exists());

    let (ok, out) = check_with(&config, &["--location", "22.3364,104.1486"]).await;
    assert!(ok, "{out}");
    let (passed, l) = line(&out, "location");
    assert!(passed && l.contains("22.3364, 104.1486 saved"), "{l}");
    assert!(data.join("location.json").exists());
    // A later check without --location shows the one saved.
    let (_, out) = check(&config).await;
    assert!(
        line(&out, "location").1.contains("22.3364, 104.1486"),
        "{out}"
    );

    // The node reports it in its state, and the controller keeps it as the installer's.
    let mut node = Node::start("thon-1", &dir.path().join("node"), &text, None).unwrap();
    let placed = loa_e2e::wait::until("the installer's location", Duration::from_secs(30), || {
        let api = api.clone();
        async move {
            let n = api.get("/api/v1/nodes/thon-1").await?;
            Ok((n["location"]["source"] == "installer").then_some(n))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", node.log_tail()));
    assert_eq!(placed["location"]["latitude"], 22.3364);
    assert_eq!(placed["location"]["longitude"], 104.1486);
    node.kill();
}
