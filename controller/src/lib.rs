//! loa-controller: the commune's side of loa. A tour of the rooms:
//!
//! - [`config`]: the TOML file, environment and flags `serve` reads.
//! - [`clock`]: what time it is, as a seam tests can move.
//! - [`auth`]: staff accounts, sessions and API tokens, the role each route needs, the audit
//!   log.
//! - [`store`]: SQLite through sqlx: zones, nodes, media, occurrences, deliveries, events.
//! - [`delivery`]: the delivery lifecycle as a pure state machine.
//! - [`schedule`]: time rules (once, cron, RRULE, repeats, validity, quiet hours), the
//!   standing-programme files and their loading, the materialiser (schedules → occurrences up
//!   to the plan horizon, idempotently) and conflicts between schedules.
//! - [`media`]: the upload probe (symphonia; libopus for Ogg Opus) and the content-addressed
//!   file store.
//! - [`opus`]: the Opus encoder and Ogg pages, for what live and relayed audio send the nodes.
//! - [`mqtt`]: everything that crosses the broker: the embedded broker, the controller's link,
//!   Mosquitto's files, the planner (per-node signed plans) and ingest (node state and events
//!   in, only when the node signed them; acks out).
//! - [`presence`]: when a node counts as online, offline or unknown (evidence, not hearsay);
//!   [`sweep`] applies it on a clock and ends expired deliveries of offline nodes `missed`.
//! - [`faults`]: what needs a person (an emergency not played, a station offline, a device
//!   error, a refused plan, a clock off, a full disk), as pure rules; the sweep keeps their
//!   history.
//! - [`report`]: the delivery report per village (bulletins, coverage, airtime, online time).
//! - [`ops`]: one function for each thing staff do, with its own error; below HTTP.
//! - [`http`]: the REST API, the pages (adapters over [`ops`]), media downloads for nodes, `/healthz`, `/metrics`.
//! - [`cap`]: CAP 1.2 alerts, read, checked against the schema's rules and decided (where to
//!   play, at which priority, or why not), without I/O; `ops::cap` acts on them.
//! - [`tts`]: text-to-speech (espeak-ng behind a trait) and its cache of rendered texts.
//! - [`provision`]: the config file a new node is given.
//! - [`relay`]: the relay hub: a station pulled once, re-encoded to Ogg Opus for the nodes,
//!   recorded as evidence.
//! - [`secrets`]: node secrets; [`keys`]: the controller's signing keys and their rotation;
//!   [`release_key`]: the offline release key and signed node release bundles.
//! - [`metrics`]: counters about what came in.
//! - [`limits`]: the limits on what staff and scripts send, each with a clear error.
//! - [`tls`]: the certificate files, checked at start; [`tls_listener`] serves HTTPS with them.
//!
//! [`run`] wires them together; `main` only parses flags and calls it.

pub mod auth;
pub mod cap;
pub mod clock;
pub mod config;
mod config_audio;
pub mod delivery;
pub mod faults;
pub mod http;
pub mod keys;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod mqtt;
pub mod ops;
pub mod opus;
pub mod presence;
pub mod provision;
pub mod relay;
pub mod release_key;
pub mod report;
pub mod schedule;
pub mod secrets;
pub mod store;
pub mod sweep;
pub mod tls;
pub mod tls_listener;
pub mod tts;

use anyhow::Context;
use axum::serve::ListenerExt;
use loa_protocol::Topics;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{BrokerKind, Config};
use crate::mqtt::broker::Credentials;
use crate::mqtt::link::{BrokerAddress, CONTROLLER_ACCOUNT};
use crate::secrets::{hash_secret, new_secret};

/// Runs the controller until `shutdown` is cancelled, then drains every task.
///
/// Once listening, the actual addresses are written to `data_dir/http.addr` and (for the
/// embedded broker) `data_dir/mqtt.addr`, so a caller that asked for port 0 can find them.
pub async fn run(mut cfg: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            cfg.data_dir.display()
        )
    })?;
    let store = store::Store::open(&cfg.data_dir)
        .await
        .context("cannot open the database")?;
    let keys = Arc::new(keys::Keys::load_or_create(&cfg.data_dir)?);
    mqtt::mosquitto::refresh(&store, &cfg).await;
    sweep::on_start(&store, chrono::Utc::now()).await?;
    let media = media::MediaStore::open(&cfg.data_dir)?;
    let tts = Arc::new(tts::Tts::new(
        Arc::new(tts::EspeakNg::new()),
        &cfg.data_dir,
    )?);
    let topics = Topics::for_site(&cfg.site);
    let counters = Arc::new(metrics::Counters::default());
    let accounts = Credentials::default();

    // Certificate files are checked before anything listens: a bad one is an error naming it.
    let https = match (&cfg.tls.cert, &cfg.tls.key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    let ca_pem = cfg.tls.ca.as_deref().map(tls::read_ca_pem).transpose()?;

    let listener = tokio::net::TcpListener::bind(cfg.http_listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", cfg.http_listen))?;
    cfg.http_listen = listener.local_addr()?;
    write_addr(&cfg, "http.addr", cfg.http_listen)?;

    let broker_addr = match cfg.mqtt.broker {
        BrokerKind::Embedded => {
            let password = new_secret();
            accounts.set(CONTROLLER_ACCOUNT, &hash_secret(&password));
            for (id, hash) in store.node_credentials().await? {
                accounts.set(&id, &hash);
            }
            cfg.mqtt.listen = start_embedded_broker(cfg.mqtt.listen, &accounts, &cfg.tls)?;
            write_addr(&cfg, "mqtt.addr", cfg.mqtt.listen)?;
            let mut local = cfg.mqtt.listen;
            if local.ip().is_unspecified() {
                local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            tracing::info!(listen = %cfg.mqtt.listen, tls = cfg.mqtt_tls(), "embedded MQTT broker started");
            BrokerAddress {
                host: local.ip().to_string(),
                port: local.port(),
                username: CONTROLLER_ACCOUNT.into(),
                password,
            }
        }
        BrokerKind::External => BrokerAddress::from_url(
            cfg.mqtt.url.as_deref().unwrap_or_default(),
            cfg.mqtt
                .username
                .clone()
                .unwrap_or_else(|| CONTROLLER_ACCOUNT.into()),
            cfg.mqtt.password.clone().unwrap_or_default(),
        )?,
    };

    let transport = if cfg.mqtt_tls() {
        mqtt::link::tls_transport(ca_pem.as_deref())
    } else {
        rumqttc::Transport::Tcp
    };
    let (client, eventloop) = mqtt::link::client_with_transport(&broker_addr, transport);
    let (outbox, outgoing) = mqtt::outbox::Outbox::new(mqtt::outbox::DEPTH);
    let planner = Arc::new(mqtt::planner::Planner::new(
        store.clone(),
        keys.clone(),
        &cfg,
        outbox.clone(),
        counters.clone(),
        clock::system(),
    ));
    // Unbounded on purpose: the link task must never wait on the ingest task. Ingest
    // publishes acks through the outbox and the client, whose queue only the link task
    // drains; a bounded
    // channel here deadlocked both at 2,000 nodes (a burst of plans filled the client's queue,
    // ingest waited on it, and the link waited on ingest). The backlog is bounded by what the
    // broker has in flight to the controller.
    let (in_tx, mut in_rx) = mpsc::unbounded_channel();
    let (connected_tx, mut connected_rx) = mpsc::channel(1);
    let tracker = TaskTracker::new();
    tracker.spawn(mqtt::link::run(
        client.clone(),
        eventloop,
        topics.clone(),
        in_tx,
        connected_tx,
        counters.clone(),
        shutdown.clone(),
    ));

    tracker.spawn(mqtt::link::publish_outbox(
        client.clone(),
        outgoing,
        shutdown.clone(),
    ));

    let ingest = mqtt::ingest::Ingest {
        store: store.clone(),
        topics: topics.clone(),
        outbox,
        planner: planner.clone(),
        counters: counters.clone(),
    };
    let stop = shutdown.clone();
    tracker.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                p = in_rx.recv() => match p {
                    Some(p) => {
                        // Whatever else has arrived meanwhile goes in the same transaction.
                        let mut batch = vec![p];
                        while batch.len() < mqtt::ingest::MAX_BATCH {
                            match in_rx.try_recv() {
                                Ok(p) => batch.push(p),
                                Err(_) => break,
                            }
                        }
                        ingest.handle_many(batch, chrono::Utc::now()).await
                    }
                    None => break,
                },
            }
        }
    });

    let stop = shutdown.clone();
    let republisher = planner.clone();
    let republisher_store = store.clone();
    tracker.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                c = connected_rx.recv() => {
                    if c.is_none() { break; }
                    sweep::on_connect(&republisher_store, chrono::Utc::now()).await;
                    match republisher.republish_stored().await {
                        Ok(n) => tracing::info!(plans = n, "stored plans republished after connect"),
                        Err(e) => tracing::error!(error = %e, "cannot republish stored plans"),
                    }
                }
            }
        }
    });

    let tz = schedule::rule::parse_tz(&cfg.time_zone)?;
    if let Some(dir) = &cfg.schedules_dir {
        let (errors, touched) = schedule::programmes::sync(&store, &media, dir).await;
        if !errors.is_empty() {
            tracing::warn!(errors = errors.len(), dir = %dir.display(), "some programme files were not loaded; see the errors above");
        }
        planner.publish_all(&touched).await;
    }
    let materializer = Arc::new(schedule::materializer::Materializer::new(
        store.clone(),
        planner.clone(),
        tz,
        &cfg,
    ));
    tracker.spawn(materializer.clone().run(shutdown.clone()));
    let sweep = sweep::Sweep {
        store: store.clone(),
        counters: counters.clone(),
        grace: presence::Grace(chrono::Duration::seconds(cfg.presence_grace_secs)),
        tz,
    };
    tracker.spawn(sweep.run(shutdown.clone()));

    let public_key = keys.public();
    tracing::info!(site = %cfg.site, http = %cfg.http_listen, public_url = %cfg.public_url(), public_key = %public_key, "controller ready");
    let rate = Arc::new(http::rate::RateLimit::new(&cfg.limits));
    let clock = planner.clock().clone();
    let hub = relay::Hub::new(
        store.clone(),
        media.clone(),
        cfg.relay.bitrate,
        std::time::Duration::from_secs(cfg.relay.linger_secs),
        shutdown.clone(),
        tracker.clone(),
        cfg.relay
            .icecast_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .map(|url| relay::icecast::Handoff {
                url,
                site: cfg.site.clone(),
            }),
    );
    let state = http::AppState {
        app: ops::App {
            store,
            media,
            planner,
            counters,
            cfg: Arc::new(cfg),
            broker_accounts: accounts,
            tz,
            materializer,
            throttle: Default::default(),
            clock: clock.clone(),
            tts,
            hub,
        },
        downloads: Default::default(),
        rate,
    };
    if let Some(feed) = state.cfg.cap.feed_url.clone() {
        let every = std::time::Duration::from_secs(state.cfg.cap.poll_secs.max(1));
        tracker.spawn(ops::cap_feed::run(
            state.app.clone(),
            feed,
            every,
            shutdown.clone(),
        ));
    }
    tracker.spawn(ops::live::end_left_open(state.app.clone()));
    tracker.spawn(relay::ahead::run(
        state.hub.clone(),
        clock.clone(),
        shutdown.clone(),
    ));
    let app = http::app(state).into_make_service_with_connect_info::<SocketAddr>();
    match https {
        Some(config) => {
            // tap_io: axum gives `ConnectInfo<SocketAddr>` for a tapped listener's address.
            let listener = tls_listener::TlsListener::new(listener, config)?;
            axum::serve(listener.tap_io(|_| {}), app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .await?
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .await?
        }
    }
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    tracing::info!("controller stopped");
    Ok(())
}

/// `loa-controller user add`: creates an account in the configured data directory and, if
/// `token_name` is given, an API token for it. Returns the account and the token.
pub async fn add_user(
    cfg: &Config,
    account: &ops::users::NewAccount,
    token_name: Option<&str>,
) -> anyhow::Result<(store::accounts::User, Option<String>)> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    let store = store::Store::open(&cfg.data_dir)
        .await
        .context("cannot open the database")?;
    let user = ops::users::add_user(&store, account).await?;
    let token = match token_name {
        Some(name) => Some(ops::users::make_token(&store, user.id, name).await?.1),
        None => None,
    };
    Ok((user, token))
}

/// `loa-controller mosquitto-config`: writes Mosquitto's password and ACL files for the
/// configured data directory's node registry into `dir` (created if needed).
pub async fn mosquitto_config(
    cfg: &Config,
    dir: &std::path::Path,
) -> anyhow::Result<mqtt::mosquitto::Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir)?;
    std::fs::create_dir_all(&cfg.data_dir)?;
    let store = store::Store::open(&cfg.data_dir)
        .await
        .context("cannot open the database")?;
    Ok(mqtt::mosquitto::write_files(&store, cfg, &dir).await?)
}

fn write_addr(cfg: &Config, name: &str, addr: SocketAddr) -> anyhow::Result<()> {
    let path = cfg.data_dir.join(name);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, addr.to_string())?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// Starts the embedded broker on `listen` and says where it listens. rumqttd takes an address,
/// not a socket, so for port 0 a free port is found first; another process may take that port
/// before the broker binds it (an outgoing connection's ephemeral port, often, with many
/// processes on one machine), so a lost race is tried again on another port.
fn start_embedded_broker(
    listen: SocketAddr,
    accounts: &mqtt::broker::Credentials,
    tls: &config::TlsConfig,
) -> anyhow::Result<SocketAddr> {
    const TRIES: usize = 5;
    let mut tried = 0;
    loop {
        let addr = if listen.port() == 0 {
            free_port(listen)?
        } else {
            listen
        };
        match mqtt::broker::start_embedded(addr, accounts.clone(), tls) {
            Ok(()) => return Ok(addr),
            Err(e) if listen.port() == 0 && tried + 1 < TRIES => {
                tracing::warn!("{e:#}; trying another port");
                tried += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A port the OS says is free now, on the same address (for a broker asked to use port 0).
fn free_port(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind(addr)?;
    Ok(l.local_addr()?)
}
