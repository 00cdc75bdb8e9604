//! Tests of [`super`] (`config.rs`).

use super::*;

#[test]
fn printed_defaults_parse_back_to_the_defaults() {
    let text = Config::default_toml();
    let cfg: Config = toml::from_str(&text).unwrap();
    assert_eq!(cfg.site, "xa-demo");
    assert_eq!(cfg.mqtt.broker, BrokerKind::Embedded);
}

#[test]
fn flags_override_the_file_and_an_external_broker_needs_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "site = \"xa-a\"\n[mqtt]\nbroker = \"external\"\n").unwrap();
    let over = Overrides {
        config: Some(path.clone()),
        ..Default::default()
    };
    assert!(matches!(Config::load(&over), Err(ConfigError::Invalid(m)) if m.contains("mqtt.url")));
    let over = Overrides {
        config: Some(path),
        site: Some("xa-b".into()),
        mqtt_url: Some("mqtt://10.0.0.2:1883".into()),
        ..Default::default()
    };
    let cfg = Config::load(&over).unwrap();
    assert_eq!(cfg.site, "xa-b");
    assert_eq!(cfg.public_broker_address(), "10.0.0.2:1883");
}

#[test]
fn keeping_mosquittos_files_needs_the_controllers_account() {
    let mut cfg: Config =
        toml::from_str("[mqtt]\nmosquitto_dir = \"/etc/mosquitto/loa\"\n").unwrap();
    assert!(matches!(cfg.validate(), Err(ConfigError::Invalid(m)) if m.contains("username")));
    cfg.mqtt.username = Some("loa-controller".into());
    cfg.mqtt.password = Some("pw".into());
    cfg.validate().unwrap();
}

#[test]
fn unknown_keys_are_named() {
    let err = toml::from_str::<Config>("sitee = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sitee"), "{err}");
}

#[test]
fn tls_needs_cert_and_key_together_and_a_ca_for_the_embedded_broker() {
    let load = |text: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&Overrides {
            config: Some(path),
            ..Default::default()
        })
    };
    let e = load("[tls]\ncert = \"s.pem\"\n").unwrap_err().to_string();
    assert!(e.contains("tls.cert and tls.key go together"), "{e}");
    let e = load("[tls]\ncert = \"s.pem\"\nkey = \"s.key\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls.ca is needed"), "{e}");
    let e = load("[tls]\ncert = \"s.pem\"\nkey = \"s.key\"\ncaa = \"c.pem\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("caa"), "{e}");

    let cfg = load("[tls]\ncert = \"s.pem\"\nkey = \"s.key\"\nca = \"c.pem\"\n").unwrap();
    assert!(cfg.https() && cfg.mqtt_tls());
    assert_eq!(cfg.public_url(), "https://127.0.0.1:8080");
    let e = load("public_url = \"http://loa.vn\"\n[tls]\ncert = \"s\"\nkey = \"k\"\nca = \"c\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("public_url"), "{e}");
    let plain = load("").unwrap();
    assert!(!plain.https() && !plain.mqtt_tls());
    assert_eq!(plain.public_url(), "http://127.0.0.1:8080");
}

#[test]
fn flags_set_tls_and_an_mqtts_url_means_tls_to_an_external_broker() {
    let over = Overrides {
        tls_ca: Some("ca.pem".into()),
        mqtt_url: Some("mqtts://broker.xa-demo.vn:8883".into()),
        ..Default::default()
    };
    let cfg = Config::load(&over).unwrap();
    assert!(!cfg.https() && cfg.mqtt_tls());
    assert_eq!(cfg.public_broker_address(), "broker.xa-demo.vn:8883");
    let over = Overrides {
        tls_cert: Some("s.pem".into()),
        tls_key: Some("s.key".into()),
        tls_ca: Some("ca.pem".into()),
        ..Default::default()
    };
    let cfg = Config::load(&over).unwrap();
    assert_eq!(cfg.tls.key.as_deref(), Some(Path::new("s.key")));
    assert!(cfg.https() && cfg.mqtt_tls());
}

#[test]
fn a_release_key_that_is_not_a_public_key_is_refused_at_start() {
    let over = Overrides {
        release_key: Some("not a key".into()),
        ..Default::default()
    };
    assert!(
        matches!(Config::load(&over), Err(ConfigError::Invalid(m)) if m.starts_with("release_key"))
    );
    let key = loa_protocol::public_key_b64(&loa_protocol::generate_key());
    let over = Overrides {
        release_key: Some(key.clone()),
        ..Default::default()
    };
    assert_eq!(Config::load(&over).unwrap().release_key, Some(key));
}
