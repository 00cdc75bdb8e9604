//! The node's configuration file (`node.toml`), as the controller writes it at provisioning.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::audio::AudioConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub node_id: String,
    pub site: String,
    /// The controller's HTTP base URL (media downloads).
    pub controller_url: String,
    /// The controller's Ed25519 public key, base64: plans and acks must be signed by it.
    pub controller_public_key: String,
    /// Sent as `Authorization: Bearer …` on media downloads.
    pub media_token: String,
    /// Where the plan, the media cache, the event spool and the ledger live.
    pub data_dir: PathBuf,
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub audio: AudioConfig,
    /// Bytes of media the cache may hold (default 512 MiB).
    #[serde(default = "default_cache_budget")]
    pub cache_budget_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `host:port` of the broker.
    pub address: String,
    pub username: String,
    pub password: String,
    /// Keep-alive in seconds: how soon a dead link is noticed (and the last will published).
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
}

fn default_keep_alive() -> u64 {
    30
}

fn default_cache_budget() -> u64 {
    512 * 1024 * 1024
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
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        loa_protocol::error::check_id("node_id", &self.node_id).map_err(|e| e.to_string())?;
        loa_protocol::error::check_id("site", &self.site).map_err(|e| e.to_string())?;
        loa_protocol::verifying_key_from_b64(&self.controller_public_key)
            .map_err(|e| format!("controller_public_key: {e}"))?;
        self.broker_host_port()?;
        if !self.controller_url.starts_with("http://")
            && !self.controller_url.starts_with("https://")
        {
            return Err("controller_url must start with http:// or https://".into());
        }
        Ok(())
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
