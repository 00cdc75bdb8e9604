//! The runner: the node's I/O. It owns the link, the spool, the cache, the relay and the
//! player's handle; it hands every input (a plan, a download's end, what the player said, the
//! clock) to the [`Agenda`] machine, carries out the actions it returns (send a step, fetch,
//! play, stop) and sleeps until the next deadline or until something else happens.
//!
//! Just over 500 lines: the I/O loop and its carrying out of the agenda's actions read best in one place; the speaker check and the state have their own files beside it.

use chrono::{DateTime, Utc};
use loa_protocol::{Ack, EventBody, Plan, PlanItem, Topics};
use rumqttc::AsyncClient;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agenda::{self, Action, Agenda, Input, StopWhy};
use crate::audio::{self, Position};
use crate::cache::Cache;
use crate::config::NodeConfig;
use crate::fetch;
use crate::intake::{Intake, PlanStore};
use crate::ledger::Ledger;
use crate::link::{self, LinkEvent};
use crate::player::{Job, Player, PlayerEvent, StreamJob};
use crate::relay::Relay;
use crate::session::Session;
use crate::spool::Spool;
use crate::stream::StreamSource;
use crate::trust::Trust;

mod speaker;
mod state;
mod update;

/// What a download task reports.
struct Fetched {
    sha256: String,
    result: Result<(), String>,
}

/// Why the node stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `shutdown` was cancelled.
    Stopped,
    /// A new release is installed and on trial: exit with [`crate::update::SWITCH_EXIT_CODE`]
    /// so that systemd starts the keeper again.
    Switch,
}

/// Runs the node until `shutdown` is cancelled.
pub async fn run(cfg: NodeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_node(cfg, shutdown).await.map(drop)
}

/// Runs the node until `shutdown` is cancelled or it stops to switch to a new release.
pub async fn run_node(cfg: NodeConfig, shutdown: CancellationToken) -> anyhow::Result<Exit> {
    // The node stops itself (to switch versions) through this child of the caller's token.
    let shutdown = shutdown.child_token();
    let data = cfg.data_dir.clone();
    std::fs::create_dir_all(&data)
        .map_err(|e| anyhow::anyhow!("cannot create the data directory {}: {e}", data.display()))?;
    let cache_dir = data.join("cache");
    let cache = Cache::open(&cache_dir).map_err(|e| {
        anyhow::anyhow!("cannot create the media cache {}: {e}", cache_dir.display())
    })?;
    let relay = Relay::from_config(cfg.relay.as_ref());
    let ledger_path = data.join("ledger.json");
    let spool = Arc::new(Mutex::new(Spool::open(&data.join("spool"))?));
    let topics = Topics::for_site(&cfg.site);
    let session = Arc::new(Session::open(&data));
    let (client, eventloop) = link::client(&cfg, &topics, &session)?;
    let tracker = TaskTracker::new();

    let (link_tx, mut link_rx) = mpsc::channel(64);
    tracker.spawn(link::run(
        client.clone(),
        eventloop,
        topics.clone(),
        cfg.node_id.clone(),
        link::Signer {
            key: cfg.signing_key(),
            session: session.clone(),
        },
        link_tx,
        shutdown.clone(),
    ));
    let (connected_tx, connected_rx) = watch::channel(false);
    let wake_sender = Arc::new(Notify::new());
    tracker.spawn(crate::sender::run(
        cfg.signing_key(),
        client.clone(),
        topics.clone(),
        cfg.node_id.clone(),
        spool.clone(),
        wake_sender.clone(),
        connected_rx,
        shutdown.clone(),
    ));

    let (player_tx, mut player_rx) = mpsc::channel::<PlayerEvent>(16);
    let mut node = Runner {
        plans: PlanStore::open(
            &data,
            Trust::open(&data, &cfg.controller_public_key),
            &cfg.node_id,
        ),
        session,
        key: cfg.signing_key(),
        agenda: Agenda::new(
            Ledger::load(&ledger_path),
            agenda::prepare_lead(relay.lead()),
        ),
        ledger_path,
        spool,
        wake_sender,
        client,
        topics,
        http: crate::tls::http_client(cfg.ca_pem.as_deref())?,
        cache,
        relay,
        player: Player::spawn(cfg.audio.clone(), &data, player_tx),
        clock_offset_ms: None,
        started: std::time::Instant::now(),
        speaker: speaker::SpeakerState::load(&data),
        update: update::UpdateState::load(&data, shutdown.clone()),
        cfg,
    };
    if let Some(v) = node.plans.version() {
        tracing::info!(
            version = v,
            "playing from the plan kept on disk until the broker is reachable"
        );
    }
    node.evict();
    let (fetch_tx, mut fetch_rx) = mpsc::channel::<Fetched>(64);
    // Playbacks that ended before the power went are reported before anything else.
    let mut wake = None;
    for item in node.player.recovered() {
        tracing::info!(item = %item, "played to its end before the power went; reporting it");
        wake = node.feed(Input::Recovered(item), &fetch_tx, &tracker);
    }
    let (clock_tx, mut clock_rx) = mpsc::channel::<i64>(4);
    tracker.spawn(crate::clock::watch(
        node.http.clone(),
        node.cfg.controller_url.clone(),
        node.cfg.clock_check_secs.max(60),
        clock_tx,
        shutdown.clone(),
    ));

    let (speaker_tx, mut speaker_rx) = mpsc::channel(1);
    let (release_tx, mut release_rx) = mpsc::channel(1);
    wake = node.feed(Input::Tick, &fetch_tx, &tracker).or(wake);
    loop {
        node.maybe_check_speaker(&speaker_tx);
        let sleep = match wake {
            Some(t) => (t - Utc::now()).to_std().unwrap_or_default(),
            None => std::time::Duration::from_secs(60),
        };
        let input = tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(ev) = link_rx.recv() => match ev {
                LinkEvent::Connected => {
                    let _ = connected_tx.send(true);
                    // A node that reconnects with its session kept is not sent its retained
                    // plan again: connected, holding a verified plan, is a plan taken.
                    if node.plans.current().is_some() {
                        node.plan_taken();
                    }
                    node.publish_state();
                    Input::Tick
                }
                LinkEvent::Disconnected(why) => {
                    tracing::warn!(reason = %why, "offline; playing from the stored plan");
                    let _ = connected_tx.send(false);
                    Input::Tick
                }
                LinkEvent::Plan(bytes) => node.on_plan(&bytes),
                LinkEvent::Ack(bytes) => {
                    node.on_ack(&bytes);
                    Input::Tick
                }
            },
            Some(f) = fetch_rx.recv() => node.on_fetched(f),
            Some(m) = player_rx.recv() => Input::Player(m),
            Some(offset) = clock_rx.recv() => {
                // The state reports the offset to 10 ms: a smaller change is not worth a
                // message on a metered link.
                if node.clock_offset_ms.is_none_or(|o| (o - offset).abs() >= 10) {
                    tracing::info!(offset_ms = offset, "clock offset against the controller");
                    node.clock_offset_ms = Some(offset);
                    node.publish_state();
                }
                Input::Tick
            }
            Some(verdict) = speaker_rx.recv() => {
                node.speaker_checked(verdict);
                Input::Tick
            }
            Some(done) = release_rx.recv() => {
                node.on_installed(done);
                Input::Tick
            }
            _ = tokio::time::sleep(sleep) => Input::Tick,
        };
        wake = node.feed(input, &fetch_tx, &tracker);
        node.consider_release(&release_tx, &tracker);
    }
    let exit = if node.update.switching {
        Exit::Switch
    } else {
        Exit::Stopped
    };
    node.relay.off(Utc::now());
    // Stops what plays and joins the player thread (a blocking join, off the runtime).
    let _ = tokio::task::spawn_blocking(move || drop(node)).await;
    tracker.close();
    tracker.wait().await;
    tracing::info!("node stopped");
    Ok(exit)
}

struct Runner {
    cfg: NodeConfig,
    plans: PlanStore,
    /// Stamps the node's states (session, serial).
    session: Arc<Session>,
    /// The node's own key: states and events are signed with it.
    key: ed25519_dalek::SigningKey,
    /// The node's half of the lifecycle; it keeps the ledger, saved here at `ledger_path`.
    agenda: Agenda,
    ledger_path: PathBuf,
    spool: Arc<Mutex<Spool>>,
    /// Tells the sender there is something new to send.
    wake_sender: Arc<Notify>,
    client: AsyncClient,
    topics: Topics,
    http: reqwest::Client,
    cache: Cache,
    /// The amplifier relay (a no-op without `[relay]` in the config).
    relay: Relay,
    player: Player,
    /// The controller's clock minus ours, last measured.
    clock_offset_ms: Option<i64>,
    started: std::time::Instant,
    /// The speaker check's last verdict, and whether one runs.
    speaker: speaker::SpeakerState,
    /// Over-the-air updates: the release state, the current attempt, the trial's confirmation.
    update: update::UpdateState,
}

impl Runner {
    /// Hands one input to the agenda and carries out what it returns; returns when to look
    /// again.
    fn feed(
        &mut self,
        input: Input,
        fetch_tx: &mpsc::Sender<Fetched>,
        tracker: &TaskTracker,
    ) -> Option<DateTime<Utc>> {
        self.persist();
        let now = Utc::now();
        // What the player says changes what the state shows (except a part's end).
        let mut state_changed = matches!(
            input,
            Input::Player(
                PlayerEvent::Started { .. }
                    | PlayerEvent::Corrupt { .. }
                    | PlayerEvent::Finished { .. }
            )
        );
        if let Input::Player(PlayerEvent::Finished { item, result }) = &input {
            self.relay.ended(now);
            if matches!(
                result,
                Ok(audio::ItemReport {
                    stopped_at: Some(_),
                    ..
                })
            ) && self
                .agenda
                .on_air()
                .is_some_and(|p| p.preempted_by.is_none())
            {
                tracing::info!(item = %item, "playback stopped: the item was withdrawn");
            }
        }
        if let Input::Player(PlayerEvent::Corrupt { .. }) = &input {
            self.relay.ended(now);
        }
        let relay_wake = self.relay.drive(now);
        let plan = self.plans.current().cloned();
        let cache = &self.cache;
        let step = self
            .agenda
            .handle(input, now, plan.as_ref(), &|sha| cache.contains(sha));
        // Items whose end the ledger now records: their end marks go once the ledger is on disk.
        let mut recorded = Vec::new();
        for action in step.actions {
            match action {
                Action::Report {
                    item,
                    stage,
                    reason,
                    start_error_ms,
                } => {
                    tracing::info!(item, stage = %stage, reason = reason.as_deref().unwrap_or(""), "delivery step");
                    self.append(EventBody::Item {
                        item,
                        stage,
                        reason,
                        start_error_ms,
                    });
                }
                Action::PartPlayed { item, part, label } => {
                    tracing::info!(item, part, label, "part played");
                    self.append(EventBody::PartPlayed { item, part, label });
                }
                Action::StreamGap { item, gap } => {
                    self.append(EventBody::StreamGap {
                        item,
                        from: gap.from,
                        ms: gap.ms,
                        cause: gap.cause,
                    });
                }
                Action::Fetch { sha256, url, .. } => {
                    self.start_fetch(sha256, url, fetch_tx, tracker)
                }
                Action::Play {
                    item,
                    from,
                    restart,
                } => {
                    if let Some(plan) = &plan {
                        self.start_play(item, from, restart, plan);
                        state_changed = true;
                    }
                }
                Action::Stop { item, why } => {
                    match why {
                        StopWhy::Emergency(by) => {
                            tracing::warn!(item = %item, emergency = %by, "emergency: interrupting what plays")
                        }
                        StopWhy::Withdrawn => {
                            tracing::info!(item = %item, "item withdrawn while playing; stopping")
                        }
                    }
                    self.player_stop();
                }
                Action::Recorded(item) => recorded.push(item),
            }
        }
        if self.agenda.ledger().unsaved() {
            if let Err(e) = self.agenda.ledger_mut().save(&self.ledger_path) {
                crate::disk::log_write_error(&e, &self.ledger_path, "the ledger");
            }
        }
        // Not before the save: a power cut between clearing a mark and saving the ledger
        // would leave neither saying the item played, and it would play again. While the
        // ledger cannot be saved (a full disk) the marks stay.
        if !self.agenda.ledger().unsaved() {
            for item in &recorded {
                self.player.recorded(item);
            }
        }
        if state_changed {
            self.publish_state();
        }
        // A Play above may have made the relay due now.
        let relay_wake = [relay_wake, self.relay.drive(Utc::now())];
        relay_wake.into_iter().flatten().chain(step.wake).min()
    }

    /// Spools an event and wakes the sender; held in memory (and sent) if the disk is full.
    fn append(&mut self, body: EventBody) {
        let (ev, err) = self
            .spool
            .lock()
            .expect("spool lock")
            .append(Utc::now(), body);
        if let Some(e) = err {
            if e.is_disk_full() {
                tracing::warn!(seq = ev.seq, error = %e, "disk full: event held in memory and sent all the same; written when there is room");
            } else {
                tracing::error!(seq = ev.seq, error = %e, "cannot write an event to the spool; held in memory and sent all the same");
            }
        }
        self.wake_sender.notify_one();
    }

    /// Writes what a full disk kept in memory (events, plan, ledger), once there is room.
    fn persist(&mut self) {
        let r = self.spool.lock().expect("spool lock").flush();
        match r {
            Ok(n) if n > 0 => tracing::info!(
                events = n,
                "room on the disk again: held events written to the spool"
            ),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "held events still not written"),
        }
        if let Err(e) = self.plans.flush() {
            tracing::debug!(error = %e, "the plan is still not written");
        }
        if self.agenda.ledger().unsaved() {
            if let Err(e) = self.agenda.ledger_mut().save(&self.ledger_path) {
                tracing::debug!(error = %e, "the ledger is still not written");
            }
        }
    }

    /// Offers a plan to the intake; an applied one is announced and handed to the agenda.
    fn on_plan(&mut self, bytes: &[u8]) -> Input {
        match self.plans.offer(bytes, Utc::now()) {
            Intake::Applied => {
                let plan = self.plans.current().expect("just applied");
                let version = plan.version;
                tracing::info!(version, items = plan.items.len(), "plan applied");
                self.append(EventBody::PlanApplied { version });
                self.evict();
                self.plan_taken();
                self.publish_state();
                Input::PlanApplied
            }
            // The plan again: the controller republishes every plan after it (re)connects to
            // the broker, a roll call; answering with the state shows this node is here.
            Intake::Same => {
                self.plan_taken();
                self.publish_state();
                Input::Tick
            }
            Intake::Rejected(e) => {
                tracing::warn!(error = %e, "plan refused");
                self.append(EventBody::PlanRejected {
                    version: None,
                    reason: e.to_string(),
                });
                Input::Tick
            }
        }
    }

    fn on_ack(&mut self, bytes: &[u8]) {
        match Ack::open(bytes, self.plans.trust().keys(), &self.cfg.node_id) {
            Ok(ack) => {
                let r = self.spool.lock().expect("spool lock").ack(ack.seq);
                match r {
                    Ok(n) if n > 0 => {
                        tracing::debug!(
                            seq = ack.seq,
                            removed = n,
                            "controller acknowledged events"
                        );
                        self.wake_sender.notify_one();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "cannot clear acknowledged events"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "ack refused"),
        }
    }

    fn start_fetch(
        &mut self,
        sha256: String,
        url: String,
        tx: &mpsc::Sender<Fetched>,
        tracker: &TaskTracker,
    ) {
        let (http, token, dir, tx) = (
            self.http.clone(),
            self.cfg.media_token.clone(),
            self.cache.dir().to_path_buf(),
            tx.clone(),
        );
        tracker.spawn(async move {
            let result = fetch::fetch(&http, &url, &token, &sha256, &dir)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            let _ = tx.send(Fetched { sha256, result }).await;
        });
    }

    fn on_fetched(&mut self, f: Fetched) -> Input {
        match &f.result {
            Ok(()) => {
                tracing::info!(sha256 = %f.sha256, "media cached and verified");
                self.evict();
                self.publish_state();
            }
            Err(reason) => {
                tracing::warn!(sha256 = %f.sha256, reason = %reason, retry_in_s = agenda::RETRY_AFTER_SECS, "media download failed; will retry")
            }
        }
        Input::Fetched {
            sha256: f.sha256,
            result: f.result,
        }
    }

    /// Hands an item to the player: its files, gains and labels, and the relay switched on
    /// ahead of its instant.
    fn start_play(&mut self, item: PlanItem, from: Position, restart: bool, plan: &Plan) {
        let now = Utc::now();
        let media: Vec<String> = item.media().map(|m| m.sha256.clone()).collect();
        for sha in &media {
            self.cache.touch(sha, now);
        }
        self.relay.prepare(item.start_at);
        // Loudness normalisation first (the controller measured it), then the volumes.
        let volumes = audio::volume_to_gain(plan.volume) * audio::volume_to_gain(item.volume);
        let tracks: Vec<audio::Track> = item
            .parts
            .iter()
            .map(|p| audio::Track {
                path: self.cache.path(&p.media.sha256),
                gain: audio::db_to_gain(p.gain_db) * volumes,
            })
            .collect();
        let labels: Vec<String> = item.parts.iter().map(|p| p.label().to_owned()).collect();
        let stream = item.stream.as_ref().map(|s| StreamJob {
            source: StreamSource {
                url: s.url.clone(),
                token: self.cfg.media_token.clone(),
                http: self.http.clone(),
                runtime: tokio::runtime::Handle::current(),
            },
            until: s.until,
            gain: volumes,
            jitter_ms: self.cfg.audio.jitter_ms,
        });
        tracing::info!(item = %item.id, title = %item.title, start_at = %item.start_at, parts = ?labels, from_part = from.part, from_ms = from.ms, "preparing playback");
        self.player_play(Job {
            sink_label: format!("{}-{}", item.start_at.format("%Y%m%dT%H%M%S"), item.id),
            files: media
                .iter()
                .map(|sha| (self.cache.path(sha), sha.clone()))
                .collect(),
            item: item.id,
            start_at: item.start_at,
            tracks,
            labels,
            from,
            restart,
            stream,
        });
    }

    /// Keeps the cache within its budget, sparing the media of the plan and of what plays.
    fn evict(&mut self) {
        let mut keep: HashSet<String> = self
            .plans
            .current()
            .map(|p| {
                p.items
                    .iter()
                    .flat_map(|i| i.media().map(|m| m.sha256.clone()))
                    .collect()
            })
            .unwrap_or_default();
        keep.extend(
            self.agenda
                .on_air()
                .iter()
                .flat_map(|p| p.media.iter().cloned()),
        );
        self.cache.evict(self.cfg.cache_budget_bytes, &keep);
    }
}
