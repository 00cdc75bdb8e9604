//! The controller's configuration: a TOML file, overridden by environment variables and flags.
//!
//! `loa-controller config` prints the defaults as a commented file to start from.
//!
//! Just over 500 lines: one struct per section of the file, each field with the comment that
//! `loa-controller config` prints; the tests are in `config_tests.rs`, and the `[relay]` and
//! `[live]` sections in `config_audio.rs`.

use clap::Args;
use serde::{Deserialize, Serialize};

pub use crate::config_audio::{LiveConfig, RelayConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything `serve` needs. Every field has a default, so an empty file is a valid config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The commune's id: the MQTT topics live under `loa/v1/{site}`.
    pub site: String,
    /// Where the database, the signing key and the media live.
    pub data_dir: PathBuf,
    /// The address the HTTP API and media server listen on.
    pub http_listen: SocketAddr,
    /// The URL nodes use to reach this controller's HTTP server (media downloads).
    /// Default: `http://{http_listen}`, with 127.0.0.1 for an unspecified address.
    pub public_url: Option<String>,
    pub mqtt: MqttConfig,
    /// The commune's time zone, for times entered by staff.
    pub time_zone: String,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// How long after its start a broadcast may still play, by default, in minutes.
    pub default_expiry_minutes: i64,
    /// How far ahead schedules are materialised into plans, in seconds (48 h): a node cut off
    /// from the controller keeps playing this much of its programme.
    pub plan_horizon_secs: i64,
    /// How late an occurrence missed while the controller was down may still play, in seconds.
    pub late_grace_secs: i64,
    /// How long a node may stay `unknown` (not heard from since the controller started or
    /// reconnected to its broker) before it is shown offline, in seconds. Default: 1.5 × the
    /// nodes' MQTT keep-alive + 15 s (555 s for 360 s), the time the broker takes to publish
    /// a dead node's will (see `controller/src/presence.rs`, `docs/field.md`).
    pub presence_grace_secs: i64,
    /// How long a node accepts a plan after it was issued, in seconds (72 h). A plan captured
    /// and replayed later is refused; every node gets a fresh plan after a third of this.
    pub plan_validity_secs: i64,
    /// The standing programme files (`*.toml`) loaded at start; none when absent.
    pub schedules_dir: Option<PathBuf>,
    /// The request rate per client on the API and the pages (see `docs/limits.md`).
    pub limits: crate::limits::LimitsConfig,
    /// HTTPS and MQTT over TLS, when a certificate is given.
    pub tls: TlsConfig,
    /// Relayed stations: what the villages are sent (see docs/live.md).
    pub relay: RelayConfig,
    /// Live sessions from a sound card on this machine (see docs/live.md).
    pub live: LiveConfig,
    /// The release key's public half (base64), from `loa-controller release keygen`: uploaded
    /// node releases must be signed by it, and it is written into every node config made from
    /// now on (`[update] release_key`). Absent, no release is taken. Not the plan key.
    pub release_key: Option<String>,
    /// CAP alerts polled from a feed (see docs/cap.md).
    pub cap: CapConfig,
}

/// `[cap]`: a feed of CAP 1.2 alerts the controller polls (an Atom or RSS feed of CAP
/// entries, or a URL answering one alert). Alerts POSTed to `/api/v1/cap` need none of this.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapConfig {
    /// The feed's URL; no polling when absent.
    pub feed_url: Option<String>,
    /// Seconds between two polls.
    pub poll_secs: u64,
}

impl Default for CapConfig {
    fn default() -> Self {
        CapConfig {
            feed_url: None,
            poll_secs: 60,
        }
    }
}

/// The commune's certificate (see `scripts/make-ca.sh` and docs/tls.md). With `cert` and
/// `key`, the HTTP server speaks only HTTPS and the embedded broker only MQTT over TLS.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate (PEM), followed by any intermediate certificates.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// The CA certificate (PEM) that signed `cert`, or an external `mqtts://` broker's: the
    /// controller's MQTT client trusts it, and it is written into every node config made
    /// from now on, so nodes trust it too.
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `embedded` runs rumqttd inside the controller; `external` uses the broker at `url`.
    pub broker: BrokerKind,
    /// Where the embedded broker listens.
    pub listen: SocketAddr,
    /// For an external broker: `mqtt://host:port`.
    pub url: Option<String>,
    /// The controller's own account on an external broker.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The broker address written into node configs: `host:port` as nodes reach it.
    /// Default: the embedded broker's address (127.0.0.1 for an unspecified one), or `url`.
    pub public_address: Option<String>,
    /// With Mosquitto: a directory where the controller keeps `loa.passwd` and `loa.acl` up
    /// to date itself, rewriting them whenever a node is provisioned or given new credentials
    /// (needs `username` and `password`). See docs/mosquitto.md.
    pub mosquitto_dir: Option<PathBuf>,
    /// Mosquitto's pid file: after a rewrite the controller sends that process SIGHUP, so it
    /// reloads the files (it must be allowed to signal it). Without it, something else must
    /// reload Mosquitto (docs/mosquitto.md: a systemd path unit).
    pub mosquitto_pid_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    Embedded,
    External,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            site: "xa-demo".into(),
            data_dir: PathBuf::from("loa-data"),
            http_listen: "127.0.0.1:8080".parse().expect("valid address"),
            public_url: None,
            mqtt: MqttConfig::default(),
            time_zone: "Asia/Ho_Chi_Minh".into(),
            release_key: None,
            max_upload_bytes: 64 * 1024 * 1024,
            default_expiry_minutes: 60,
            plan_horizon_secs: 48 * 3600,
            late_grace_secs: 600,
            presence_grace_secs: crate::presence::Grace::for_keep_alive(
                loa_protocol::NODE_KEEP_ALIVE_SECS as i64,
            )
            .0
            .num_seconds(),
            plan_validity_secs: 72 * 3600,
            schedules_dir: None,
            limits: Default::default(),
            tls: TlsConfig::default(),
            relay: RelayConfig::default(),
            live: LiveConfig::default(),
            cap: CapConfig::default(),
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            broker: BrokerKind::Embedded,
            listen: "127.0.0.1:1883".parse().expect("valid address"),
            url: None,
            username: None,
            password: None,
            public_address: None,
            mosquitto_dir: None,
            mosquitto_pid_file: None,
        }
    }
}

/// Overrides on the command line, each with an environment variable.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// A TOML config file (see `loa-controller config`).
    #[arg(long, short, env = "LOA_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "LOA_SITE")]
    pub site: Option<String>,
    #[arg(long, env = "LOA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(long, env = "LOA_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    #[arg(long, env = "LOA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Run the embedded broker on this address.
    #[arg(long, env = "LOA_MQTT_LISTEN")]
    pub mqtt_listen: Option<SocketAddr>,
    /// Use the external broker at this URL (`mqtt://host:port`) instead of the embedded one.
    #[arg(long, env = "LOA_MQTT_URL")]
    pub mqtt_url: Option<String>,
    #[arg(long, env = "LOA_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    #[arg(long, env = "LOA_MQTT_PASSWORD", hide_env_values = true)]
    pub mqtt_password: Option<String>,
    /// The broker address to write into node configs (`host:port`).
    #[arg(long, env = "LOA_MQTT_PUBLIC_ADDRESS")]
    pub mqtt_public_address: Option<String>,
    /// Load the standing programme from this directory's `*.toml` files.
    #[arg(long, env = "LOA_SCHEDULES_DIR")]
    pub schedules_dir: Option<PathBuf>,
    /// How far ahead plans reach, in seconds.
    #[arg(long, env = "LOA_PLAN_HORIZON_SECS")]
    pub plan_horizon_secs: Option<i64>,
    /// How late an occurrence missed during downtime may still play, in seconds.
    #[arg(long, env = "LOA_LATE_GRACE_SECS")]
    pub late_grace_secs: Option<i64>,
    /// Seconds a node may stay `unknown` before it is shown offline.
    #[arg(long, env = "LOA_PRESENCE_GRACE_SECS")]
    pub presence_grace_secs: Option<i64>,
    /// Requests per minute each client may keep up on the API and the pages; 0: no limit.
    #[arg(long, env = "LOA_REQUESTS_PER_MINUTE")]
    pub requests_per_minute: Option<u32>,
    /// Seconds a relay runs on after its last village left (`[relay] linger_secs`).
    #[arg(long, env = "LOA_RELAY_LINGER_SECS")]
    pub relay_linger_secs: Option<u64>,
    /// Hand the stations' relays to this Icecast (`[relay] icecast_url`).
    #[arg(long, env = "LOA_RELAY_ICECAST_URL")]
    pub relay_icecast_url: Option<String>,
    /// The sound card live sessions may speak from (`[live] capture_device`).
    #[arg(long, env = "LOA_LIVE_CAPTURE_DEVICE")]
    pub live_capture_device: Option<String>,
    /// Hold that sound card to real time (`[live] capture_pace`; inputs without a clock).
    #[arg(long, env = "LOA_LIVE_CAPTURE_PACE")]
    pub live_capture_pace: Option<bool>,
    /// Serve HTTPS and MQTT over TLS with this certificate (PEM); needs --tls-key.
    #[arg(long, env = "LOA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "LOA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The CA certificate (PEM) to trust for MQTT and to give nodes.
    #[arg(long, env = "LOA_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// The release key's public half (base64): node releases must be signed by it.
    #[arg(long, env = "LOA_RELEASE_KEY")]
    pub release_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// The file (if any), then environment and flags on top.
    pub fn load(over: &Overrides) -> Result<Config, ConfigError> {
        let mut cfg = match &over.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        let o = over.clone();
        if let Some(v) = o.site {
            cfg.site = v;
        }
        if let Some(v) = o.data_dir {
            cfg.data_dir = v;
        }
        if let Some(v) = o.http_listen {
            cfg.http_listen = v;
        }
        if let Some(v) = o.public_url {
            cfg.public_url = Some(v);
        }
        if let Some(v) = o.mqtt_listen {
            cfg.mqtt.listen = v;
            cfg.mqtt.broker = BrokerKind::Embedded;
        }
        if let Some(v) = o.mqtt_url {
            cfg.mqtt.url = Some(v);
            cfg.mqtt.broker = BrokerKind::External;
        }
        if let Some(v) = o.mqtt_username {
            cfg.mqtt.username = Some(v);
        }
        if let Some(v) = o.mqtt_password {
            cfg.mqtt.password = Some(v);
        }
        if let Some(v) = o.mqtt_public_address {
            cfg.mqtt.public_address = Some(v);
        }
        if let Some(v) = o.schedules_dir {
            cfg.schedules_dir = Some(v);
        }
        if let Some(v) = o.plan_horizon_secs {
            cfg.plan_horizon_secs = v;
        }
        if let Some(v) = o.late_grace_secs {
            cfg.late_grace_secs = v;
        }
        if let Some(v) = o.presence_grace_secs {
            cfg.presence_grace_secs = v;
        }
        if let Some(v) = o.relay_linger_secs {
            cfg.relay.linger_secs = v;
        }
        if let Some(v) = &o.relay_icecast_url {
            cfg.relay.icecast_url = Some(v.clone());
        }
        if let Some(v) = &o.live_capture_device {
            cfg.live.capture_device = Some(v.clone());
        }
        if let Some(v) = o.live_capture_pace {
            cfg.live.capture_pace = v;
        }
        if let Some(v) = o.requests_per_minute {
            cfg.limits.requests_per_minute = v;
        }
        if let Some(v) = o.tls_cert {
            cfg.tls.cert = Some(v);
        }
        if let Some(v) = o.tls_key {
            cfg.tls.key = Some(v);
        }
        if let Some(v) = o.tls_ca {
            cfg.tls.ca = Some(v);
        }
        if let Some(v) = o.release_key {
            cfg.release_key = Some(v);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.relay.check().map_err(ConfigError::Invalid)?;
        loa_protocol::error::check_id("site", &self.site).map_err(|e| match e {
            loa_protocol::ProtocolError::Malformed(rule) => ConfigError::Invalid(rule),
            other => ConfigError::Invalid(other.to_string()),
        })?;
        if let Some(k) = &self.release_key {
            loa_protocol::verifying_key_from_b64(k)
                .map_err(|e| ConfigError::Invalid(format!("release_key: {e}")))?;
        }
        if self.mqtt.broker == BrokerKind::External && self.mqtt.url.is_none() {
            return Err(ConfigError::Invalid(
                "mqtt.broker = \"external\" needs mqtt.url (mqtt://host:port)".into(),
            ));
        }
        if self.mqtt.mosquitto_dir.is_some()
            && (self.mqtt.username.is_none() || self.mqtt.password.is_none())
        {
            return Err(ConfigError::Invalid(
                "mqtt.mosquitto_dir needs the controller's own account: mqtt.username and \
                 mqtt.password"
                    .into(),
            ));
        }
        crate::schedule::rule::parse_tz(&self.time_zone)
            .map_err(|e| ConfigError::Invalid(format!("time_zone: {e}")))?;
        if self.plan_horizon_secs < 1 || self.late_grace_secs < 0 {
            return Err(ConfigError::Invalid(
                "plan_horizon_secs must be positive and late_grace_secs not negative".into(),
            ));
        }
        if self.presence_grace_secs < 1 {
            return Err(ConfigError::Invalid(
                "presence_grace_secs must be positive".into(),
            ));
        }
        if self.plan_validity_secs < 60 {
            return Err(ConfigError::Invalid(
                "plan_validity_secs must be at least 60".into(),
            ));
        }
        if self.default_expiry_minutes < 1 {
            return Err(ConfigError::Invalid(
                "default_expiry_minutes must be at least 1".into(),
            ));
        }
        self.limits.validate().map_err(ConfigError::Invalid)?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert and tls.key go together: give both (HTTPS) or neither (plain HTTP)"
                    .into(),
            ));
        }
        if self.https()
            && self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://"))
        {
            return Err(ConfigError::Invalid(
                "public_url starts with http:// but tls.cert makes the server speak HTTPS only; \
                 write https://"
                    .into(),
            ));
        }
        if self.mqtt_tls() && self.tls.ca.is_none() && self.mqtt.broker == BrokerKind::Embedded {
            return Err(ConfigError::Invalid(
                "tls.ca is needed with tls.cert: the controller's MQTT client and the nodes \
                 must trust the CA that signed the certificate"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether the HTTP server speaks HTTPS.
    pub fn https(&self) -> bool {
        self.tls.cert.is_some()
    }

    /// Whether the broker speaks MQTT over TLS: the embedded one with a certificate, an
    /// external one given as `mqtts://`.
    pub fn mqtt_tls(&self) -> bool {
        match self.mqtt.broker {
            BrokerKind::Embedded => self.https(),
            BrokerKind::External => self
                .mqtt
                .url
                .as_deref()
                .is_some_and(|u| u.starts_with("mqtts://")),
        }
    }

    /// The URL nodes use for media.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let scheme = if self.https() { "https" } else { "http" };
                format!("{scheme}://{}", loopback_if_unspecified(self.http_listen))
            }
        }
    }

    /// The broker address (`host:port`) nodes use.
    pub fn public_broker_address(&self) -> String {
        if let Some(addr) = &self.mqtt.public_address {
            return addr.clone();
        }
        match self.mqtt.broker {
            BrokerKind::Embedded => loopback_if_unspecified(self.mqtt.listen).to_string(),
            BrokerKind::External => self
                .mqtt
                .url
                .as_deref()
                .map(|u| {
                    u.trim_start_matches("mqtts://")
                        .trim_start_matches("mqtt://")
                        .trim_end_matches('/')
                        .to_string()
                })
                .unwrap_or_default(),
        }
    }

    /// The defaults as a TOML file.
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&Config::default()).expect("defaults serialise");
        let body = body.replace(
            "[tls]\n",
            "[tls]\n\
             # cert = \"/etc/loa/tls/server.pem\"  # the server certificate (PEM)\n\
             # key = \"/etc/loa/tls/server.key\"   # its private key (PEM, chmod 600)\n\
             # ca = \"/etc/loa/tls/ca.pem\"        # the CA that signed it: nodes and the controller trust it\n",
        );
        format!(
            "# loa-controller configuration. Every key is optional; these are the defaults.\n\
             # Environment variables (LOA_SITE, LOA_DATA_DIR, LOA_HTTP_LISTEN, LOA_PUBLIC_URL,\n\
             # LOA_MQTT_LISTEN, LOA_MQTT_URL, LOA_MQTT_USERNAME, LOA_MQTT_PASSWORD,\n\
             # LOA_MQTT_PUBLIC_ADDRESS, LOA_SCHEDULES_DIR, LOA_PLAN_HORIZON_SECS,\n\
             # LOA_LATE_GRACE_SECS, LOA_PRESENCE_GRACE_SECS, LOA_REQUESTS_PER_MINUTE,\n\
             # LOA_RELAY_LINGER_SECS) and flags\n\
             # override the file.\n\
             # For an external broker (Mosquitto): [mqtt] broker = \"external\",\n\
             # url = \"mqtt://host:1883\", username and password of the controller's account;\n\
             # mosquitto_dir (and mosquitto_pid_file) keep Mosquitto's password and ACL files\n\
             # up to date (docs/mosquitto.md).\n\
             # TLS (docs/tls.md; scripts/make-ca.sh makes the files): with a certificate, HTTP\n\
             # becomes HTTPS and the embedded broker speaks MQTT over TLS only. Env LOA_TLS_CERT,\n\
             # LOA_TLS_KEY, LOA_TLS_CA; the keys are under [tls] at the end. An external broker\n\
             # over TLS: url = \"mqtts://host:8883\" (trusting tls.ca).\n\
             # Node updates over the air (docs/field.md): release_key = \"…\", the public half\n\
             # printed by `loa-controller release keygen` (env LOA_RELEASE_KEY); without it no\n\
             # release is accepted.\n\n{body}"
        )
    }
}

fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    a
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
