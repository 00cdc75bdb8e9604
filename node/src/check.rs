//! `loa-node check`: what an installer runs in the village before leaving. One line per check,
//! ✓ or ✗, in plain words, and for a failure what to do about it:
//!
//! config file · controller key · data directory · broker login · controller reachable ·
//! media token · audio output · amplifier relay (when configured) · location (when given with
//! `--location LAT,LON`, which saves it for the node to report, or saved before).
//!
//! The broker check logs in with the node's own client id and credentials (the controller's
//! built-in broker accepts no other client id), with a clean session: if this node's service
//! is running, the broker hands the session to the check for a moment and the service
//! reconnects by itself, resubscribing and receiving its retained plan again. Nothing queued
//! for the node is lost that matters: plans and acks are retained messages.
//!
//! Just over 500 lines: each check is a short function with its plain-words advice; they
//! share the report's printing, and the installer reads them as one list.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use loa_protocol::MAX_PACKET_BYTES;
use rumqttc::{ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};

use crate::audio::{self, SinkKind};
use crate::config::{ConfigError, NodeConfig};

/// How long a network check waits for an answer.
const NET_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    /// What was checked, in a word or two.
    pub what: &'static str,
    /// What was found, in plain words.
    pub message: String,
    /// For a failure: what the installer can do.
    pub fix: Option<String>,
}

impl Outcome {
    fn pass(what: &'static str, message: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            what,
            message: message.into(),
            fix: None,
        }
    }

    fn fail(what: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            what,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok { '✓' } else { '✗' };
        write!(f, "{mark} {}: {}", self.what, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " — what to do: {fix}")?;
        }
        Ok(())
    }
}

/// Runs every check on the config at `path`, handing each outcome to `report` as it comes;
/// true if all passed. Without a readable config the other checks cannot run. `location`
/// (`LAT,LON`) is saved in the data directory for the node to report in its state.
pub async fn run(path: &Path, location: Option<&str>, mut report: impl FnMut(&Outcome)) -> bool {
    let mut all_ok = true;
    let mut note = |o: Outcome| {
        all_ok &= o.ok;
        report(&o);
    };
    let cfg = match config(path) {
        Ok((cfg, o)) => {
            note(o);
            cfg
        }
        Err(o) => {
            note(o);
            return false;
        }
    };
    note(controller_key(&cfg));
    note(node_key(&cfg));
    note(data_dir(&cfg));
    note(broker(&cfg).await);
    let http = match crate::tls::http_client(cfg.ca_pem.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            note(Outcome::fail(
                "controller",
                e.to_string(),
                "ca_pem must be the CA certificate the service centre gave",
            ));
            return false;
        }
    };
    note(controller(&cfg, &http).await);
    note(media_token(&cfg, &http).await);
    note(audio_output(&cfg).await);
    if cfg.relay.is_some() {
        note(relay(&cfg));
    }
    if let Some(o) = place(&cfg, location) {
        note(o);
    }
    all_ok
}

/// The location given is saved for the node's states; without one, the one saved before is
/// shown. Nothing to say when neither.
fn place(cfg: &NodeConfig, given: Option<&str>) -> Option<Outcome> {
    const WHAT: &str = "location";
    let Some(text) = given else {
        return crate::location::load(&cfg.data_dir).map(|l| {
            Outcome::pass(
                WHAT,
                format!(
                    "{}, {} (saved {}; reported to the service centre)",
                    l.latitude,
                    l.longitude,
                    l.set_at.format("%Y-%m-%d %H:%M UTC")
                ),
            )
        });
    };
    let l = match crate::location::parse(text, chrono::Utc::now()) {
        Ok(l) => l,
        Err(e) => return Some(Outcome::fail(WHAT, e, "give --location LAT,LON again")),
    };
    Some(match crate::location::save(&cfg.data_dir, &l) {
        Ok(()) => Outcome::pass(
            WHAT,
            format!(
                "{}, {} saved; the node reports it with its next state, and the service \
                 centre's map shows it",
                l.latitude, l.longitude
            ),
        ),
        Err(e) => Outcome::fail(
            WHAT,
            format!("cannot save it in {}: {e}", cfg.data_dir.display()),
            "make the data directory writable (see the data directory line)",
        ),
    })
}

/// The file parses and its values make sense; a TOML error names the line.
fn config(path: &Path) -> Result<(NodeConfig, Outcome), Outcome> {
    const WHAT: &str = "config";
    let cfg = NodeConfig::parse(path).map_err(|e| match e {
        ConfigError::Read { path, source } => Outcome::fail(
            WHAT,
            format!("cannot read {}: {source}", path.display()),
            "give the node.toml the service centre made for this node: --config FILE",
        ),
        e => Outcome::fail(
            WHAT,
            e.to_string(),
            "correct that line, or ask the service centre for this node's config file again",
        ),
    })?;
    cfg.validate_fields().map_err(|m| {
        Outcome::fail(
            WHAT,
            format!("{}: {m}", path.display()),
            "correct that value, or ask the service centre for this node's config file again",
        )
    })?;
    let o = Outcome::pass(
        WHAT,
        format!(
            "{} is valid (node {}, site {})",
            path.display(),
            cfg.node_id,
            cfg.site
        ),
    );
    Ok((cfg, o))
}

fn controller_key(cfg: &NodeConfig) -> Outcome {
    const WHAT: &str = "controller key";
    match cfg.check_public_key() {
        Ok(()) => Outcome::pass(
            WHAT,
            "present and valid: plans from the controller can be verified",
        ),
        Err(m) => Outcome::fail(
            WHAT,
            format!("{m}; without it the node refuses every plan"),
            "copy controller_public_key from the config file the service centre made",
        ),
    }
}

fn node_key(cfg: &NodeConfig) -> Outcome {
    const WHAT: &str = "node key";
    match cfg.check_node_key() {
        Ok(()) => Outcome::pass(
            WHAT,
            "present and valid: the controller can tell this node's reports are its own",
        ),
        Err(m) => Outcome::fail(
            WHAT,
            format!("{m}; without it the controller ignores everything this node reports"),
            "use the config file the service centre made for this node (it has node_key)",
        ),
    }
}

/// The data directory exists (or can be made) and takes a file.
fn data_dir(cfg: &NodeConfig) -> Outcome {
    const WHAT: &str = "data directory";
    let dir = &cfg.data_dir;
    let probe = dir.join(format!(".loa-check-{}", std::process::id()));
    let r = std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&probe, b"loa-node check"))
        .and_then(|_| std::fs::remove_file(&probe));
    match r {
        Ok(()) => Outcome::pass(WHAT, format!("{} is writable", dir.display())),
        Err(e) => Outcome::fail(
            WHAT,
            format!("cannot write to {}: {e}", dir.display()),
            "create it and let the user the node runs as write there (chown), or set data_dir \
             to a folder on a disk with space",
        ),
    }
}

/// A TCP connection to the broker, then an MQTT login with the node's credentials.
async fn broker(cfg: &NodeConfig) -> Outcome {
    const WHAT: &str = "broker";
    let addr = &cfg.mqtt.address;
    let (host, port) = match cfg.broker_host_port() {
        Ok(hp) => hp,
        Err(m) => return Outcome::fail(WHAT, m, "set mqtt.address to host:port"),
    };
    let reach_fix = "check this board's network link (4G signal, SIM data, cable), and that \
                     mqtt.address is the broker the service centre gave";
    match tokio::time::timeout(NET_TIMEOUT, tokio::net::TcpStream::connect((&*host, port))).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Outcome::fail(
                WHAT,
                format!("cannot reach the broker at {addr}: {e}"),
                reach_fix,
            )
        }
        Err(_) => {
            return Outcome::fail(
                WHAT,
                format!("no answer from the broker at {addr} within {NET_TIMEOUT:?}"),
                reach_fix,
            )
        }
    }
    let mut opts = MqttOptions::new(&cfg.node_id, host, port);
    opts.set_credentials(&cfg.mqtt.username, &cfg.mqtt.password);
    opts.set_clean_session(true);
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    opts.set_transport(crate::tls::mqtt_transport(
        cfg.mqtt.tls,
        cfg.ca_pem.as_deref(),
    ));
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 10);
    let login = tokio::time::timeout(NET_TIMEOUT, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    let login_fix = "the username or password in node.toml does not match the controller's: \
                     ask the service centre to reset this node's secrets and install the new \
                     config file";
    match login {
        Ok(Ok(())) => {
            let _ = client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                while eventloop.poll().await.is_ok() {}
            })
            .await;
            Outcome::pass(
                WHAT,
                format!("{addr} accepts the login of {}", cfg.mqtt.username),
            )
        }
        Ok(Err(ConnectionError::ConnectionRefused(
            code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
        ))) => Outcome::fail(
            WHAT,
            format!(
                "the broker at {addr} refused the login of {} ({code:?})",
                cfg.mqtt.username
            ),
            login_fix,
        ),
        Ok(Err(ConnectionError::ConnectionRefused(code))) => Outcome::fail(
            WHAT,
            format!("the broker at {addr} refused the connection ({code:?})"),
            "tell the service centre what the broker said",
        ),
        Ok(Err(ConnectionError::Tls(e))) => Outcome::fail(
            WHAT,
            format!("TLS with the broker at {addr} failed: {e}"),
            "ca_pem must be the commune's CA certificate the service centre gave, and the \
             broker's certificate must name the host in mqtt.address",
        ),
        // The controller's built-in broker hangs up on a bad login instead of saying why.
        Ok(Err(e)) => Outcome::fail(
            WHAT,
            format!(
                "the broker at {addr} closed the connection without accepting the login of {} \
                 ({e}): the username or password is most likely wrong",
                cfg.mqtt.username
            ),
            login_fix,
        ),
        Err(_) => Outcome::fail(
            WHAT,
            format!("the broker at {addr} did not answer the login within {NET_TIMEOUT:?}"),
            reach_fix,
        ),
    }
}

/// `GET /healthz`: the controller answers, and serves this node's site.
async fn controller(cfg: &NodeConfig, http: &reqwest::Client) -> Outcome {
    const WHAT: &str = "controller";
    let url = format!("{}/healthz", cfg.controller_url.trim_end_matches('/'));
    let resp = match tokio::time::timeout(NET_TIMEOUT, http.get(&url).send()).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return unreachable(WHAT, cfg, &plain(&e)),
        Err(_) => return unreachable(WHAT, cfg, "no answer"),
    };
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let site = body["site"].as_str().unwrap_or_default();
    if !site.is_empty() && site != cfg.site {
        return Outcome::fail(
            WHAT,
            format!(
                "{} serves site {site}, but this node belongs to site {}",
                cfg.controller_url, cfg.site
            ),
            "this config was made for another commune's controller: ask the service centre \
             for this node's config file",
        );
    }
    if status.is_success() || status.as_u16() == 503 {
        let state = body["status"].as_str().unwrap_or("ok");
        let message = if state == "ok" {
            format!("{} answers", cfg.controller_url)
        } else {
            format!(
                "{} answers, but says it is {state} (database {}, mqtt {}); the node can \
                 still play what it has",
                cfg.controller_url,
                body["database"].as_str().unwrap_or("?"),
                body["mqtt"].as_str().unwrap_or("?"),
            )
        };
        return Outcome::pass(WHAT, message);
    }
    Outcome::fail(
        WHAT,
        format!("{url} answered {status}"),
        "check controller_url: it should be the address of the commune's loa controller",
    )
}

/// `GET /media/{64 zeros}` with the node's token: 404 (no such media) means the token is good.
async fn media_token(cfg: &NodeConfig, http: &reqwest::Client) -> Outcome {
    const WHAT: &str = "media token";
    let fix = "the media_token in node.toml is not this node's: ask the service centre to reset \
               this node's secrets and install the new config file";
    if cfg.media_token.trim().is_empty() {
        return Outcome::fail(WHAT, "media_token is empty", fix);
    }
    let url = format!(
        "{}/media/{}",
        cfg.controller_url.trim_end_matches('/'),
        "0".repeat(64)
    );
    let req = http.get(&url).bearer_auth(&cfg.media_token).send();
    let status = match tokio::time::timeout(NET_TIMEOUT, req).await {
        Ok(Ok(r)) => r.status().as_u16(),
        Ok(Err(e)) => return unreachable(WHAT, cfg, &plain(&e)),
        Err(_) => return unreachable(WHAT, cfg, "no answer"),
    };
    match status {
        404 => Outcome::pass(WHAT, "the controller accepts it for media downloads"),
        403 => Outcome::fail(WHAT, "the controller does not accept this media token", fix),
        401 => Outcome::fail(WHAT, "the controller did not receive the media token", fix),
        s => Outcome::fail(
            WHAT,
            format!("unexpected answer {s} from {url}"),
            "check controller_url: it should be the address of the commune's loa controller",
        ),
    }
}

fn unreachable(what: &'static str, cfg: &NodeConfig, why: &str) -> Outcome {
    // rustls says "invalid peer certificate: …": the link works, the trust does not.
    if why.contains("certificate") {
        return Outcome::fail(
            what,
            format!(
                "{} answers, but its certificate is not trusted: {why}",
                cfg.controller_url
            ),
            "ca_pem must be the commune's CA certificate the service centre gave, and the \
             controller's certificate must name the host in controller_url",
        );
    }
    Outcome::fail(
        what,
        format!(
            "cannot reach the controller at {}: {why}",
            cfg.controller_url
        ),
        "check this board's network link (4G signal, SIM data, cable), and that controller_url \
         is the address the service centre gave",
    )
}

/// Opens the configured output and plays 100 ms of silence into it.
async fn audio_output(cfg: &NodeConfig) -> Outcome {
    const WHAT: &str = "audio output";
    let audio = cfg.audio.clone();
    let name = match audio.sink {
        SinkKind::Cpal => format!(
            "audio device {:?}",
            audio.device.as_deref().unwrap_or("default")
        ),
        SinkKind::Wav => "the wav output".to_owned(),
        SinkKind::Null => "the null output".to_owned(),
    };
    let job = tokio::task::spawn_blocking(move || {
        const LABEL: &str = "loa-check";
        let wav = audio
            .wav_dir
            .as_ref()
            .map(|d| d.join(format!("{LABEL}.wav")))
            .filter(|p| audio.sink == SinkKind::Wav && !p.exists());
        let r = audio::open_sink(&audio, LABEL).and_then(|mut sink| {
            let frames = sink.rate() as usize / 10;
            sink.write(&vec![0.0; frames * usize::from(sink.channels())])?;
            sink.finish()?;
            Ok((sink.rate(), sink.channels()))
        });
        // The wav output wrote a file of silence; the check leaves nothing behind.
        if let Some(p) = wav {
            let _ = std::fs::remove_file(p);
        }
        r
    });
    match tokio::time::timeout(Duration::from_secs(15), job).await {
        Ok(Ok(Ok((rate, ch)))) => Outcome::pass(
            WHAT,
            format!("{name} opens ({rate} Hz, {ch} ch) and played 100 ms of silence"),
        ),
        Ok(Ok(Err(e))) => Outcome::fail(
            WHAT,
            e.to_string(),
            "check the sound card is plugged in; `loa-node devices` lists the names audio.device \
             accepts",
        ),
        Ok(Err(e)) => Outcome::fail(WHAT, format!("the audio check crashed: {e}"), "report this"),
        Err(_) => Outcome::fail(
            WHAT,
            format!("{name} did not take 100 ms of silence within 15 s"),
            "another program may hold the device, or the sound card hangs: replug it or reboot",
        ),
    }
}

/// The relay's GPIO line exists and is free, or held by the node itself.
fn relay(cfg: &NodeConfig) -> Outcome {
    const WHAT: &str = "amplifier relay";
    let Some(r) = &cfg.relay else {
        return Outcome::pass(WHAT, "not configured");
    };
    match crate::relay::probe(r) {
        Ok(found) => Outcome::pass(
            WHAT,
            format!("GPIO line {} on {}: {found}", r.line, r.chip.display()),
        ),
        Err(e) => Outcome::fail(
            WHAT,
            e.to_string(),
            "check relay.chip and relay.line (`gpioinfo` lists them); without the relay the \
             node still plays, so an always-on amplifier needs no [relay] section",
        ),
    }
}

/// What went wrong with a request, in the fewest words: for a failed connection, its root
/// cause ("Connection refused", "failed to lookup address"), not reqwest's whole chain.
fn plain(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    if !e.is_connect() {
        return crate::fetch::describe(e);
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(cause) = root.source() {
        root = cause;
    }
    root.to_string()
}
