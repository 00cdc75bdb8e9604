//! Controller and node processes, started from the workspace's built binaries.
//!
//! Just over 500 lines: the controller's and the node's process handles share the start, wait,
//! log and kill helpers below; split, each half would repeat them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait;

/// The directory holding the built binaries (`target/debug` or `target/release`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// A built binary of the workspace, or a clear error saying how to build it.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let p = bin_dir().join(name);
    anyhow::ensure!(
        p.is_file(),
        "{} is not built; run `cargo build --workspace --bins` first",
        p.display()
    );
    Ok(p)
}

/// A TCP port nothing listens on right now on 127.0.0.1 (bound, then released). Only for a
/// server that cannot report the port it bound (Mosquitto, ChromeDriver) and for tests of what
/// happens when nothing answers; the controller is started on port 0 and its ports read back.
pub fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where a child's output goes: a log file beside its data.
fn log_to(path: &Path) -> anyhow::Result<(Stdio, Stdio)> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok((Stdio::from(f.try_clone()?), Stdio::from(f)))
}

/// How the controller reaches its broker.
#[derive(Debug, Clone)]
pub enum Broker {
    /// The embedded rumqttd on this port; 0 (see [`Broker::embedded`]) lets the controller
    /// choose, and [`Controller::mqtt_port`] reads the port back.
    Embedded { port: u16 },
    /// An external broker (Mosquitto), anonymous or with the controller's account.
    External {
        url: String,
        username: Option<String>,
        password: Option<String>,
    },
}

impl Broker {
    /// The embedded broker on a port the controller chooses.
    pub fn embedded() -> Broker {
        Broker::Embedded { port: 0 }
    }
}

/// The commune's certificate files, for a controller serving HTTPS and MQTT over TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl TlsFiles {
    /// Runs the repository's `scripts/make-ca.sh` into `dir`: a new CA and a certificate for
    /// this machine (127.0.0.1 and localhost).
    pub fn make(dir: &Path) -> anyhow::Result<TlsFiles> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-ca.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(dir)
            .arg("127.0.0.1")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "make-ca.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            ca: dir.join("ca.pem"),
        })
    }

    /// The CA certificate's PEM text.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca).expect("make-ca.sh wrote ca.pem")
    }
}

/// A running `loa-controller serve`.
pub struct Controller {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub broker: Broker,
    /// `http://127.0.0.1:PORT`, stable across restarts: the port the first start bound (port
    /// 0, read back from `data_dir/http.addr`), asked for again at each restart.
    pub url: String,
    http_port: u16,
    /// Extra environment for the process.
    pub env: Vec<(String, String)>,
    /// An admin's API token, made by `loa-controller user add` before the first start.
    pub token: String,
    /// Served over HTTPS and MQTT over TLS with these files (then `url` is `https://`).
    pub tls: Option<TlsFiles>,
    /// Its stdout and stderr: `data_dir/controller.log` unless started with
    /// [`Controller::start_logging_to`].
    pub log: PathBuf,
}

impl Controller {
    pub async fn start(data_dir: &Path, broker: Broker) -> anyhow::Result<Controller> {
        Controller::start_with(data_dir, broker, &[]).await
    }

    /// Starts serving HTTPS, and MQTT over TLS on the embedded broker, with `tls`.
    pub async fn start_tls(
        data_dir: &Path,
        broker: Broker,
        tls: TlsFiles,
    ) -> anyhow::Result<Controller> {
        let mut c = Controller::new(data_dir, broker, &[])?;
        c.tls = Some(tls);
        c.spawn().await?;
        Ok(c)
    }

    /// Starts with its log at `log` rather than in its data directory, so that a test which
    /// fills the data's disk can still read what the controller says.
    pub async fn start_logging_to(
        data_dir: &Path,
        broker: Broker,
        log: &Path,
    ) -> anyhow::Result<Controller> {
        let mut c = Controller::new(data_dir, broker, &[])?;
        c.log = log.to_path_buf();
        c.spawn().await?;
        Ok(c)
    }

    /// Starts with extra environment (`LOA_PLAN_HORIZON_SECS`, `LOA_SCHEDULES_DIR`, …), kept
    /// for restarts.
    pub async fn start_with(
        data_dir: &Path,
        broker: Broker,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Controller> {
        let mut c = Controller::new(data_dir, broker, env)?;
        c.spawn().await?;
        Ok(c)
    }

    /// A controller with its admin account, not started yet.
    fn new(data_dir: &Path, broker: Broker, env: &[(&str, &str)]) -> anyhow::Result<Controller> {
        let mut c = Controller {
            child: None,
            data_dir: data_dir.to_path_buf(),
            broker,
            url: String::new(),
            http_port: 0,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            token: String::new(),
            tls: None,
            log: data_dir.join("controller.log"),
        };
        c.token = c
            .add_user("e2e-admin", "admin", Some("e2e"))?
            .unwrap_or_default();
        Ok(c)
    }

    /// A client of this controller's API, signed in as the admin.
    pub fn api(&self) -> crate::api::Api {
        let api = crate::api::Api::new(&self.url);
        let api = match &self.tls {
            Some(t) => api
                .with_ca(&t.ca_pem())
                .expect("make-ca.sh's CA is a certificate"),
            None => api,
        };
        api.with_token(&self.token)
    }

    /// `loa-controller user add` on this controller's data directory (password
    /// `mat-khau-{username}`); returns the API token if `token` names one.
    pub fn add_user(
        &self,
        username: &str,
        role: &str,
        token: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        use std::io::Write as _;
        std::fs::create_dir_all(&self.data_dir)?;
        let mut cmd = Command::new(bin("loa-controller")?);
        cmd.args(["user", "add", "--username", username, "--role", role])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(t) = token {
            cmd.args(["--token", t]);
        }
        let mut child = cmd.spawn()?;
        writeln!(child.stdin.take().expect("piped"), "mat-khau-{username}")?;
        let out = child.wait_with_output()?;
        anyhow::ensure!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout)?.trim().to_owned();
        Ok(token.map(|_| printed))
    }

    /// `loa-controller mosquitto-config --out OUT` on this controller's data directory, with
    /// the controller's broker account; returns what it printed (the mosquitto.conf lines).
    pub fn mosquitto_config(
        &self,
        out: &Path,
        username: &str,
        password: &str,
    ) -> anyhow::Result<String> {
        let out = Command::new(bin("loa-controller")?)
            .arg("mosquitto-config")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--out")
            .arg(out)
            .args(["--mqtt-username", username])
            .env("LOA_MQTT_PASSWORD", password)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "mosquitto-config failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        let _ = std::fs::remove_file(self.data_dir.join("http.addr"));
        let _ = std::fs::remove_file(self.data_dir.join("mqtt.addr"));
        let (out, err) = log_to(&self.log)?;
        let mut cmd = Command::new(bin("loa-controller")?);
        // The error itself, not anyhow's backtrace, is what a failed start's log tail must show.
        cmd.env("RUST_LIB_BACKTRACE", "0");
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http-listen")
            .arg(format!("127.0.0.1:{}", self.http_port))
            // The tests poll many times a second, far faster than any clerk; the rate limit
            // has its own tests (controller/tests/limits.rs).
            .arg("--requests-per-minute")
            .arg("0")
            .env("RUST_LOG", "info,rumqttd=warn,sqlx=warn")
            .stdout(out)
            .stderr(err);
        match &self.broker {
            Broker::Embedded { port } => {
                cmd.arg("--mqtt-listen").arg(format!("127.0.0.1:{port}"));
            }
            Broker::External {
                url,
                username,
                password,
            } => {
                cmd.arg("--mqtt-url").arg(url);
                if let Some(u) = username {
                    cmd.arg("--mqtt-username").arg(u);
                }
                if let Some(p) = password {
                    cmd.env("LOA_MQTT_PASSWORD", p);
                }
            }
        }
        if let Some(t) = &self.tls {
            cmd.arg("--tls-cert")
                .arg(&t.cert)
                .arg("--tls-key")
                .arg(&t.key)
                .arg("--tls-ca")
                .arg(&t.ca);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn()?);
        self.read_back_ports().await?;
        let health = format!("{}/healthz", self.url);
        let http = match &self.tls {
            Some(t) => reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&t.ca_pem())?)
                .build()?,
            None => reqwest::Client::new(),
        };
        let child = self.child.as_mut().expect("just spawned");
        wait::until(
            "the controller to answer /healthz with MQTT connected",
            Duration::from_secs(30),
            || {
                let exited = child.try_wait().ok().flatten();
                let (http, health) = (http.clone(), health.clone());
                async move {
                    if let Some(status) = exited {
                        anyhow::bail!("the controller exited: {status}");
                    }
                    let Ok(r) = http.get(&health).send().await else {
                        return Ok(None);
                    };
                    let v: serde_json::Value = r.json().await?;
                    Ok((v["mqtt"] == "connected").then_some(()))
                }
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}; log: {}", self.log_tail()))
    }

    /// Kills the process at once (SIGKILL): no shutdown, as a power cut would.
    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The ports the controller bound, from the files it writes once listening: the HTTP port
    /// (and so `url`), and the embedded broker's.
    async fn read_back_ports(&mut self) -> anyhow::Result<()> {
        let embedded = matches!(self.broker, Broker::Embedded { .. });
        let (http_file, mqtt_file) = (
            self.data_dir.join("http.addr"),
            self.data_dir.join("mqtt.addr"),
        );
        let child = self.child.as_mut().expect("just spawned");
        let (http, mqtt) = wait::until(
            "the controller to say where it listens",
            Duration::from_secs(30),
            || {
                let exited = child.try_wait().ok().flatten();
                let http = std::fs::read_to_string(&http_file).ok();
                let mqtt = std::fs::read_to_string(&mqtt_file).ok();
                async move {
                    if let Some(status) = exited {
                        anyhow::bail!("the controller exited: {status}");
                    }
                    let port = |text: Option<String>| -> Option<u16> {
                        text?
                            .trim()
                            .parse::<std::net::SocketAddr>()
                            .ok()
                            .map(|a| a.port())
                    };
                    Ok(match (port(http), port(mqtt)) {
                        (Some(h), m) if !embedded || m.is_some() => Some((h, m)),
                        _ => None,
                    })
                }
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}; log: {}", self.log_tail()))?;
        self.http_port = http;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.url = format!("{scheme}://127.0.0.1:{http}");
        if let (Broker::Embedded { port }, Some(m)) = (&mut self.broker, mqtt) {
            *port = m;
        }
        Ok(())
    }

    /// The embedded broker's port, once started.
    pub fn mqtt_port(&self) -> u16 {
        match self.broker {
            Broker::Embedded { port } => port,
            Broker::External { .. } => panic!("the controller runs no embedded broker"),
        }
    }

    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 40)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `loa-node run`.
pub struct Node {
    child: Option<Child>,
    pub id: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The `.asoundrc` folder given as HOME, when the node plays through ALSA capture.
    pub home: Option<PathBuf>,
}

impl Node {
    /// Writes `config_toml` into `dir/node.toml` and starts the node.
    pub fn start(
        id: &str,
        dir: &Path,
        config_toml: &str,
        home: Option<&Path>,
    ) -> anyhow::Result<Node> {
        std::fs::create_dir_all(dir)?;
        let config = dir.join("node.toml");
        std::fs::write(&config, config_toml)?;
        let mut n = Node {
            child: None,
            id: id.to_string(),
            dir: dir.to_path_buf(),
            config,
            home: home.map(Path::to_path_buf),
        };
        n.spawn()?;
        Ok(n)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let (out, err) = log_to(&self.dir.join("node.log"))?;
        let mut cmd = Command::new(bin("loa-node")?);
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,rumqttc=warn")
            .env("RUST_LIB_BACKTRACE", "0")
            .stdout(out)
            .stderr(err);
        if let Some(h) = &self.home {
            cmd.env("HOME", h);
        }
        self.child = Some(cmd.spawn()?);
        Ok(())
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends the process `signal` by name (`STOP`, `CONT`): a stopped node keeps its
    /// sockets open and sends nothing, as a board whose link went dead would.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow::anyhow!("the node is not running"))?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
        Ok(())
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn log_tail(&self) -> String {
        tail(&self.dir.join("node.log"), 40)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Rewrites the `[audio]` table of a provisioned node config.
pub fn with_audio(config_toml: &str, audio: toml::Table) -> anyhow::Result<String> {
    let mut v: toml::Table = toml::from_str(config_toml)?;
    v.insert("audio".into(), toml::Value::Table(audio));
    Ok(toml::to_string(&v)?)
}

/// Sets a top-level key of a provisioned node config.
pub fn with_key(config_toml: &str, key: &str, value: toml::Value) -> anyhow::Result<String> {
    let mut v: toml::Table = toml::from_str(config_toml)?;
    v.insert(key.into(), value);
    Ok(toml::to_string(&v)?)
}
