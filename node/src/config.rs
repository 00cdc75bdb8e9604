//! The node's configuration file (`node.toml`), as the controller writes it at provisioning:
//! loading, with errors that name the line, and the checks of its values.

use loa_protocol::NodeFile;
use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::audio::AudioConfig;
use crate::relay::RelayConfig;

/// The node's `node.toml`: the schema both sides share ([`NodeFile`]), with the node's own
/// audio and relay sections. Reads as the file's fields through `Deref`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct NodeConfig(pub NodeFile<AudioConfig, RelayConfig>);

impl std::ops::Deref for NodeConfig {
    type Target = NodeFile<AudioConfig, RelayConfig>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for NodeConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl NodeConfig {
    /// Reads, parses and validates the file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let cfg = NodeConfig::parse(path)?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Reads and parses the file without checking the values (a TOML error names the line).
    pub fn parse(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: toml_error(&text, &e),
        })
    }

    fn validate(&self) -> Result<(), String> {
        self.validate_fields()?;
        self.check_public_key()?;
        self.check_node_key()
    }

    /// Everything but the controller's key: ids, the broker address, the controller URL.
    pub fn validate_fields(&self) -> Result<(), String> {
        loa_protocol::error::check_id("node_id", &self.node_id).map_err(|e| e.to_string())?;
        loa_protocol::error::check_id("site", &self.site).map_err(|e| e.to_string())?;
        self.broker_host_port()?;
        if !self.controller_url.starts_with("http://")
            && !self.controller_url.starts_with("https://")
        {
            return Err("controller_url must start with http:// or https://".into());
        }
        if let Some(pem) = &self.ca_pem {
            crate::tls::ca_certificates(pem)?;
        }
        if let Some(c) = &self.audio.speaker_check {
            c.validate()?;
        }
        if let Some(r) = &self.relay {
            // The player is handed an item this long ahead and holds the device meanwhile.
            if r.lead_ms > 60_000 {
                return Err(format!(
                    "relay.lead_ms is {} ms; at most 60000 (one minute) is allowed",
                    r.lead_ms
                ));
            }
            if r.hold_ms > 3_600_000 {
                return Err(format!(
                    "relay.hold_ms is {} ms; at most 3600000 (one hour) is allowed",
                    r.hold_ms
                ));
            }
        }
        Ok(())
    }

    /// The controller's public key is there and is an Ed25519 key.
    pub fn check_public_key(&self) -> Result<(), String> {
        if self.controller_public_key.trim().is_empty() {
            return Err("controller_public_key is missing".into());
        }
        loa_protocol::verifying_key_from_b64(&self.controller_public_key)
            .map(drop)
            .map_err(|e| format!("controller_public_key: {e}"))
    }

    /// The node's own key is there and is an Ed25519 secret key.
    pub fn check_node_key(&self) -> Result<(), String> {
        if self.node_key.trim().is_empty() {
            return Err("node_key is missing".into());
        }
        loa_protocol::signing_key_from_b64(&self.node_key)
            .map(drop)
            .map_err(|e| format!("node_key: {e}"))
    }

    /// The key the node signs its events and states with.
    pub fn signing_key(&self) -> ed25519_dalek::SigningKey {
        loa_protocol::signing_key_from_b64(&self.node_key)
            .expect("checked when the config was loaded")
    }

    /// The broker's host and port.
    pub fn broker_host_port(&self) -> Result<(String, u16), String> {
        let (host, port) = self
            .mqtt
            .address
            .rsplit_once(':')
            .ok_or("mqtt.address must be host:port")?;
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("mqtt.address: bad port {port:?}"))?;
        Ok((host.to_string(), port))
    }

    pub fn public_key(&self) -> ed25519_dalek::VerifyingKey {
        loa_protocol::verifying_key_from_b64(&self.controller_public_key)
            .expect("checked when the config was loaded")
    }
}

/// A TOML error on one line, with the line and column it points at.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
node_id = "thon-1"
site = "xa-demo"
controller_url = "http://10.0.0.1:8080"
controller_public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
node_key = "XLbU0qJVJXkTUmtMEdvrTs6hJ0Rna3r7wiOyZWTGgMI="
media_token = "t"
data_dir = "/var/lib/loa-node"

[mqtt]
address = "10.0.0.1:1883"
username = "thon-1"
password = "pw"
"#;

    fn load_text(text: &str) -> Result<NodeConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        NodeConfig::load(&path)
    }

    #[test]
    fn a_toml_error_names_the_line_on_one_line() {
        let text = GOOD.replace("media_token = \"t\"", "media_token = t");
        let e = load_text(&text).unwrap_err().to_string();
        assert!(e.contains("node.toml: line 7, column 15: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn relay_is_optional_with_defaults_and_rejects_unknown_keys() {
        assert_eq!(load_text(GOOD).unwrap().relay, None);
        let cfg = load_text(&format!("{GOOD}\n[relay]\nline = 17\n")).unwrap();
        let relay = cfg.0.relay.unwrap();
        assert_eq!((relay.line, relay.lead_ms, relay.hold_ms), (17, 1500, 3000));
        let e = load_text(&format!("{GOOD}\n[relay]\nline = 17\npin = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `pin`"), "{e}");
        let e = load_text(&format!("{GOOD}\n[relay]\nline = 17\nlead_ms = 600000\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("relay.lead_ms"), "{e}");
    }

    #[test]
    fn tls_settings_parse_and_a_bad_ca_is_named() {
        let cfg = load_text(GOOD).unwrap();
        assert!(!cfg.mqtt.tls && cfg.ca_pem.is_none());
        let ca = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUV0VmUzKS\n-----END CERTIFICATE-----\n";
        let text = GOOD.replace("[mqtt]\n", "[mqtt]\ntls = true\n").replace(
            "media_token",
            &format!("ca_pem = \"\"\"\n{ca}\"\"\"\nmedia_token"),
        );
        let cfg = load_text(&text).unwrap();
        assert!(cfg.mqtt.tls);
        assert_eq!(cfg.ca_pem.as_deref(), Some(ca));
        let text = GOOD.replace("media_token", "ca_pem = \"not a certificate\"\nmedia_token");
        let e = load_text(&text).unwrap_err().to_string();
        assert!(e.contains("ca_pem holds no certificate"), "{e}");
    }

    #[test]
    fn a_missing_controller_key_is_named() {
        let text = GOOD
            .lines()
            .filter(|l| !l.starts_with("controller_public_key"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = load_text(&text).unwrap_err().to_string();
        assert!(e.contains("controller_public_key is missing"), "{e}");
    }

    #[test]
    fn a_missing_or_bad_node_key_is_named() {
        let text = GOOD
            .lines()
            .filter(|l| !l.starts_with("node_key"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = load_text(&text).unwrap_err().to_string();
        assert!(e.contains("node_key is missing"), "{e}");
        let text = GOOD.replace("node_key = \"XLbU", "node_key = \"xx");
        let e = load_text(&text).unwrap_err().to_string();
        assert!(e.contains("node_key: "), "{e}");
    }
}
