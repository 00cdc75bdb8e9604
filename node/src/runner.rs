//! The runner: the node's main loop. It owns the plan, the ledger and the spool, asks the
//! [`agenda`](crate::agenda) what is due, carries out its actions (report, fetch, play), and
//! sleeps until the next deadline or until the link, a download or the player says something.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{
    Ack, AfterPreempt, EventBody, NodeState, Plan, PlanItem, Presence, Stage, Topics, PART_GAP_MS,
};
use rumqttc::{AsyncClient, QoS};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agenda::{self, Action, World};
use crate::audio::{self, AudioError};
use crate::cache::{self, Cache, CORRUPT_REASON};
use crate::config::NodeConfig;
use crate::ended;
use crate::fetch;
use crate::intake::{Intake, PlanStore};
use crate::ledger::Ledger;
use crate::link::{self, LinkEvent};
use crate::relay::Relay;
use crate::session::Session;
use crate::spool::Spool;
use crate::trust::Trust;

/// How long after a failed download or a failed playback to try again.
const RETRY_AFTER_SECS: i64 = 5;

/// What the player thread reports.
enum PlayerMsg {
    /// The first frame reached the device; no start error when the item was restarted after
    /// an emergency (its planned instant is long past).
    Started {
        item: String,
        start_error_ms: Option<i64>,
    },
    /// One part (the chime, one language) played to its end.
    PartDone {
        item: String,
        part: usize,
        label: String,
    },
    Finished {
        item: String,
        result: Result<audio::ItemReport, AudioError>,
    },
    /// The cached file failed its hash check and was deleted; nothing was played.
    Corrupt { item: String },
}

/// What a download task reports.
struct Fetched {
    sha256: String,
    result: Result<(), String>,
}

struct Playing {
    item: String,
    /// Its media, kept from eviction even if the item leaves the plan while it plays.
    media: Vec<String>,
    priority: loa_protocol::Priority,
    stop: Arc<AtomicBool>,
    /// The emergency that interrupted it, once one has.
    preempted_by: Option<String>,
}

/// Runs the node until `shutdown` is cancelled.
pub async fn run(cfg: NodeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
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

    let mut node = Runner {
        plans: PlanStore::open(
            &data,
            Trust::open(&data, &cfg.controller_public_key),
            &cfg.node_id,
        ),
        session,
        key: cfg.signing_key(),
        ledger: Ledger::load(&ledger_path),
        ledger_path,
        spool,
        wake_sender,
        client,
        topics,
        http: crate::tls::http_client(&cfg)?,
        cache,
        relay,
        fetching: HashSet::new(),
        fetch_retry: HashMap::new(),
        play_retry: HashMap::new(),
        playing: None,
        device_error: None,
        clock_offset_ms: None,
        started: std::time::Instant::now(),
        cfg,
    };
    if let Some(v) = node.plans.version() {
        tracing::info!(
            version = v,
            "playing from the plan kept on disk until the broker is reachable"
        );
    }
    node.evict();
    node.recover_ended();
    let (fetch_tx, mut fetch_rx) = mpsc::channel::<Fetched>(64);
    let (player_tx, mut player_rx) = mpsc::channel::<PlayerMsg>(16);
    let (clock_tx, mut clock_rx) = mpsc::channel::<i64>(4);
    tracker.spawn(measure_clock(
        node.http.clone(),
        node.cfg.controller_url.clone(),
        node.cfg.clock_check_secs.max(60),
        clock_tx,
        shutdown.clone(),
    ));

    loop {
        let wake = node.step(&fetch_tx, &player_tx, &tracker);
        let sleep = match wake {
            Some(t) => (t - Utc::now()).to_std().unwrap_or_default(),
            None => std::time::Duration::from_secs(60),
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(ev) = link_rx.recv() => match ev {
                LinkEvent::Connected => {
                    let _ = connected_tx.send(true);
                    node.publish_state();
                }
                LinkEvent::Disconnected(why) => {
                    tracing::warn!(reason = %why, "offline; playing from the stored plan");
                    let _ = connected_tx.send(false);
                }
                LinkEvent::Plan(bytes) => node.on_plan(&bytes),
                LinkEvent::Ack(bytes) => node.on_ack(&bytes),
            },
            Some(f) = fetch_rx.recv() => node.on_fetched(f),
            Some(m) = player_rx.recv() => node.on_player(m),
            Some(offset) = clock_rx.recv() => {
                // The state reports the offset to 10 ms: a smaller change is not worth a
                // message on a metered link.
                if node.clock_offset_ms.is_none_or(|o| (o - offset).abs() >= 10) {
                    tracing::info!(offset_ms = offset, "clock offset against the controller");
                    node.clock_offset_ms = Some(offset);
                    node.publish_state();
                }
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    if let Some(p) = &node.playing {
        p.stop.store(true, Ordering::Relaxed);
    }
    node.relay.off(Utc::now());
    tracker.close();
    tracker.wait().await;
    tracing::info!("node stopped");
    Ok(())
}

struct Runner {
    cfg: NodeConfig,
    plans: PlanStore,
    /// Stamps the node's states (session, serial).
    session: Arc<Session>,
    /// The node's own key: states and events are signed with it.
    key: ed25519_dalek::SigningKey,
    ledger: Ledger,
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
    /// Media being downloaded now.
    fetching: HashSet<String>,
    /// Media whose download failed, and when to try again.
    fetch_retry: HashMap<String, DateTime<Utc>>,
    /// Items whose playback failed for a reason that may pass, and when to try again.
    play_retry: HashMap<String, DateTime<Utc>>,
    playing: Option<Playing>,
    device_error: Option<String>,
    /// The controller's clock minus ours, last measured.
    clock_offset_ms: Option<i64>,
    started: std::time::Instant,
}

impl Runner {
    /// Asks the agenda what is due and does it; returns when to look again.
    fn step(
        &mut self,
        fetch_tx: &mpsc::Sender<Fetched>,
        player_tx: &mpsc::Sender<PlayerMsg>,
        tracker: &TaskTracker,
    ) -> Option<DateTime<Utc>> {
        self.persist();
        let now = Utc::now();
        self.fetch_retry.retain(|_, t| *t > now);
        self.play_retry.retain(|_, t| *t > now);
        let relay_wake = self.relay.drive(now);
        let Some(plan) = self.plans.current().cloned() else {
            return relay_wake;
        };
        let cache = &self.cache;
        let cached = |sha: &str| cache.contains(sha);
        let busy = |sha: &str| self.fetching.contains(sha) || self.fetch_retry.contains_key(sha);
        let held = |item: &str| self.play_retry.contains_key(item);
        let playing = self.playing.as_ref().map(|p| p.item.clone());
        let playing_priority = self.playing.as_ref().map(|p| p.priority);
        let (actions, mut wake) = agenda::decide(
            &plan,
            &self.ledger,
            &World {
                now,
                cached: &cached,
                fetch_busy: &busy,
                playing: playing.as_deref(),
                playing_priority,
                held: &held,
                prepare_lead: agenda::prepare_lead(self.relay.lead()),
            },
        );
        for action in actions {
            match action {
                Action::Report {
                    item,
                    stage,
                    reason,
                } => {
                    let expires = plan
                        .items
                        .iter()
                        .find(|i| i.id == item)
                        .map(|i| i.expires_at);
                    self.report(&item, stage, reason, None, expires.unwrap_or(now));
                }
                Action::Fetch { sha256, url, .. } => {
                    self.start_fetch(sha256, url, fetch_tx, tracker)
                }
                Action::Play(item) => self.start_play(item, &plan, player_tx),
                Action::Preempt { item, by } => {
                    if let Some(p) = self
                        .playing
                        .as_mut()
                        .filter(|p| p.item == item && p.preempted_by.is_none())
                    {
                        tracing::warn!(item = %item, emergency = %by, "emergency: interrupting what plays");
                        p.preempted_by = Some(by);
                        p.stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        // A Play above may have made the relay due now.
        let relay_wake = self.relay.drive(Utc::now());
        for t in self
            .fetch_retry
            .values()
            .chain(self.play_retry.values())
            .chain(relay_wake.as_ref())
        {
            wake = Some(wake.map_or(*t, |w| w.min(*t)));
        }
        wake
    }

    /// Writes an item event to the spool and the ledger, and wakes the sender.
    fn report(
        &mut self,
        item: &str,
        stage: Stage,
        reason: Option<String>,
        start_error_ms: Option<i64>,
        expires_at: DateTime<Utc>,
    ) {
        tracing::info!(item, stage = %stage, reason = reason.as_deref().unwrap_or(""), "delivery step");
        self.ledger
            .record(item, stage, expires_at, reason.as_deref());
        self.append(EventBody::Item {
            item: item.to_string(),
            stage,
            reason,
            start_error_ms,
        });
        if let Err(e) = self.ledger.save(&self.ledger_path) {
            disk_error(&e, &self.ledger_path, "the ledger");
        }
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
        if self.ledger.unsaved() {
            if let Err(e) = self.ledger.save(&self.ledger_path) {
                tracing::debug!(error = %e, "the ledger is still not written");
            }
        }
    }

    fn on_plan(&mut self, bytes: &[u8]) {
        match self.plans.offer(bytes, Utc::now()) {
            Intake::Applied => {
                let plan = self.plans.current().expect("just applied");
                let version = plan.version;
                tracing::info!(version, items = plan.items.len(), "plan applied");
                // An item withdrawn from the plan stops if it is on air.
                if let Some(p) = &self.playing {
                    if !plan.items.iter().any(|i| i.id == p.item) {
                        tracing::info!(item = %p.item, "item withdrawn while playing; stopping");
                        p.stop.store(true, Ordering::Relaxed);
                    }
                }
                let in_plan: HashSet<&str> = plan.items.iter().map(|i| i.id.as_str()).collect();
                self.ledger.prune(Utc::now(), &in_plan);
                self.append(EventBody::PlanApplied { version });
                self.evict();
                self.publish_state();
            }
            // The plan again: the controller republishes every plan after it (re)connects to
            // the broker, a roll call; answering with the state shows this node is here.
            Intake::Same => self.publish_state(),
            Intake::Rejected(e) => {
                tracing::warn!(error = %e, "plan refused");
                self.append(EventBody::PlanRejected {
                    version: None,
                    reason: e.to_string(),
                });
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
        self.fetching.insert(sha256.clone());
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

    fn on_fetched(&mut self, f: Fetched) {
        self.fetching.remove(&f.sha256);
        let Err(reason) = f.result else {
            tracing::info!(sha256 = %f.sha256, "media cached and verified");
            self.evict();
            self.publish_state();
            return;
        };
        let now = Utc::now();
        tracing::warn!(sha256 = %f.sha256, reason = %reason, retry_in_s = RETRY_AFTER_SECS, "media download failed; will retry");
        self.fetch_retry
            .insert(f.sha256.clone(), now + Duration::seconds(RETRY_AFTER_SECS));
        let Some(plan) = self.plans.current().cloned() else {
            return;
        };
        for item in plan
            .items
            .iter()
            .filter(|i| i.media().any(|m| m.sha256 == f.sha256))
        {
            let entry = self.ledger.get(&item.id);
            let already =
                entry.is_some_and(|e| e.done || e.last_failure.as_deref() == Some(reason.as_str()));
            if !already && now < item.expires_at {
                // Reported once per distinct reason; retried until the item expires.
                self.report(
                    &item.id,
                    Stage::Failed,
                    Some(reason.clone()),
                    None,
                    item.expires_at,
                );
            }
        }
    }

    fn start_play(&mut self, item: PlanItem, plan: &Plan, tx: &mpsc::Sender<PlayerMsg>) {
        let stop = Arc::new(AtomicBool::new(false));
        let media: Vec<String> = item.media().map(|m| m.sha256.clone()).collect();
        let now = Utc::now();
        for sha in &media {
            self.cache.touch(sha, now);
        }
        self.playing = Some(Playing {
            item: item.id.clone(),
            media: media.clone(),
            priority: item.priority,
            stop: stop.clone(),
            preempted_by: None,
        });
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
        let entry = self.ledger.get(&item.id);
        // Played before and cut by an emergency: a restart, not an on-time start.
        let restart = entry.is_some_and(|e| e.reported >= Stage::Playing);
        let from = match plan.after_preempt {
            AfterPreempt::Resume => entry.and_then(|e| e.resume_from).unwrap_or_default(),
            AfterPreempt::Replay => audio::Position::default(),
        };
        let files: Vec<(PathBuf, String)> = media
            .iter()
            .map(|sha| (self.cache.path(sha), sha.clone()))
            .collect();
        let audio_cfg = self.cfg.audio.clone();
        let tx = tx.clone();
        let label = format!("{}-{}", item.start_at.format("%Y%m%dT%H%M%S"), item.id);
        let ended_dir = ended::dir(&self.cfg.data_dir);
        tracing::info!(item = %item.id, title = %item.title, start_at = %item.start_at, parts = ?labels, from_part = from.part, from_ms = from.ms, "preparing playback");
        // The player owns a thread: hashing, decoding and the device are blocking work.
        std::thread::spawn(move || {
            // A file damaged on the card since it was fetched is deleted here, and fetched again.
            if !files
                .iter()
                .all(|(path, sha)| cache::verify_file(path, sha))
            {
                let _ = tx.blocking_send(PlayerMsg::Corrupt { item: item.id });
                return;
            }
            let result = audio::open_sink(&audio_cfg, &label).and_then(|mut sink| {
                // The first samples are decoded before the wait: at the instant, only the
                // write is left to do.
                let mut hold = || wait_until(item.start_at, &stop);
                let mut on_first = || {
                    let err = (Utc::now() - item.start_at).num_milliseconds();
                    let _ = tx.blocking_send(PlayerMsg::Started {
                        item: item.id.clone(),
                        start_error_ms: (!restart).then_some(err),
                    });
                };
                let mut on_part = |part: usize| {
                    let _ = tx.blocking_send(PlayerMsg::PartDone {
                        item: item.id.clone(),
                        part,
                        label: labels[part].clone(),
                    });
                };
                audio::play_item(
                    &tracks,
                    from,
                    PART_GAP_MS,
                    sink.as_mut(),
                    &stop,
                    &mut hold,
                    &mut on_first,
                    &mut on_part,
                )
            });
            if let Ok(audio::ItemReport {
                stopped_at: None, ..
            }) = &result
            {
                // Before the runner hears of it: a power cut now must not replay the item.
                if let Err(e) = ended::mark(&ended_dir, &item.id) {
                    tracing::warn!(item = %item.id, error = %e, "cannot mark the playback ended");
                }
            }
            let _ = tx.blocking_send(PlayerMsg::Finished {
                item: item.id,
                result,
            });
        });
        self.publish_state();
    }

    fn on_player(&mut self, m: PlayerMsg) {
        let expires = |s: &Self, id: &str| {
            s.plans
                .current()
                .and_then(|p| p.items.iter().find(|i| i.id == id))
                .map_or_else(Utc::now, |i| i.expires_at)
        };
        match m {
            PlayerMsg::Started {
                item,
                start_error_ms,
            } => {
                let exp = expires(self, &item);
                self.report(&item, Stage::Playing, None, start_error_ms, exp);
                self.device_error = None;
                self.publish_state();
            }
            PlayerMsg::PartDone { item, part, label } => {
                tracing::info!(item, part, label, "part played");
                self.append(EventBody::PartPlayed {
                    item,
                    part: part as u32,
                    label,
                });
            }
            PlayerMsg::Corrupt { item } => {
                let exp = expires(self, &item);
                self.playing = None;
                self.relay.ended(Utc::now());
                // The agenda sees the file gone and fetches it; it plays if still in time.
                self.report(&item, Stage::Failed, Some(CORRUPT_REASON.into()), None, exp);
                self.publish_state();
            }
            PlayerMsg::Finished { item, result } => {
                let exp = expires(self, &item);
                self.relay.ended(Utc::now());
                let preempted_by = self.playing.take().and_then(|p| p.preempted_by);
                match result {
                    Ok(audio::ItemReport {
                        stopped_at: None, ..
                    }) => {
                        self.report(&item, Stage::Played, None, None, exp);
                        ended::clear(&ended::dir(&self.cfg.data_dir), &item);
                    }
                    Ok(audio::ItemReport {
                        stopped_at: Some(at),
                        ..
                    }) => match preempted_by {
                        // It replays or resumes after the emergency, if still in time.
                        Some(by) => {
                            let resume = self.plans.current().map(|p| p.after_preempt)
                                == Some(AfterPreempt::Resume);
                            let (how, from) = if resume {
                                ("resumes", Some(at))
                            } else {
                                ("replays from the start", None)
                            };
                            self.report(
                                &item,
                                Stage::Preempted,
                                Some(format!(
                                    "interrupted by emergency item {by}; {how} after it"
                                )),
                                None,
                                exp,
                            );
                            self.ledger.set_resume(&item, from);
                            let _ = self.ledger.save(&self.ledger_path);
                        }
                        None => tracing::info!(item, "playback stopped: the item was withdrawn"),
                    },
                    Err(AudioError::Decode(why)) => {
                        // The file will not decode next time either.
                        self.report(
                            &item,
                            Stage::Failed,
                            Some(format!("cannot decode the media: {why}")),
                            None,
                            exp,
                        );
                        self.ledger.finish(&item);
                        let _ = self.ledger.save(&self.ledger_path);
                    }
                    Err(e) => {
                        let why = e.to_string();
                        self.device_error = Some(why.clone());
                        self.report(&item, Stage::Failed, Some(why), None, exp);
                        self.play_retry
                            .insert(item, Utc::now() + Duration::seconds(RETRY_AFTER_SECS));
                    }
                }
                self.publish_state();
            }
        }
    }

    /// Publishes the retained node state; never blocks the loop (dropped if the queue is full).
    fn publish_state(&self) {
        let (session, serial) = self.session.stamp();
        let state = NodeState {
            node: self.cfg.node_id.clone(),
            presence: Presence::Online,
            session,
            serial,
            at: Some(Utc::now()),
            software: Some(env!("CARGO_PKG_VERSION").to_string()),
            plan_version: self.plans.version(),
            playing: self.playing.as_ref().map(|p| p.item.clone()),
            volume: self.plans.current().map(|p| p.volume),
            cache_bytes: Some(self.cache.total_bytes()),
            unacked_events: self
                .spool
                .lock()
                .ok()
                .and_then(|s| s.pending_count().ok())
                .map(|n| n as u64),
            device_error: self.device_errors(),
            clock_offset_ms: self.clock_offset_ms,
            uptime_secs: Some(self.started.elapsed().as_secs()),
            controller_keys: self.plans.trust().key_names(),
        };
        if let Err(e) = self.client.try_publish(
            self.topics.state(&self.cfg.node_id),
            QoS::AtLeastOnce,
            true,
            state.seal(&self.key),
        ) {
            tracing::debug!(error = %e, "state not queued");
        }
    }
}

impl Runner {
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
        keep.extend(self.playing.iter().flat_map(|p| p.media.iter().cloned()));
        self.cache.evict(self.cfg.cache_budget_bytes, &keep);
    }

    /// Reports `played` for items the player marked ended but the ledger never recorded (the
    /// power went between the two), and clears the marks.
    fn recover_ended(&mut self) {
        let dir = ended::dir(&self.cfg.data_dir);
        for item in ended::marked(&dir) {
            if !self.ledger.is_done(&item) {
                let exp = self
                    .plans
                    .current()
                    .and_then(|p| p.items.iter().find(|i| i.id == item))
                    .map_or_else(Utc::now, |i| i.expires_at);
                tracing::info!(item = %item, "played to its end before the power went; reporting it");
                if self
                    .ledger
                    .get(&item)
                    .is_none_or(|e| e.reported < Stage::Playing)
                {
                    // It started too, though when was not kept.
                    self.report(&item, Stage::Playing, None, None, exp);
                }
                self.report(&item, Stage::Played, None, None, exp);
            }
            ended::clear(&dir, &item);
        }
    }

    /// The audio device's and the relay's last errors, for the node state.
    fn device_errors(&self) -> Option<String> {
        let errors: Vec<&str> = [self.device_error.as_deref(), self.relay.error()]
            .into_iter()
            .flatten()
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }
}

/// Logs a file the node could not write, saying so plainly when the disk is full.
fn disk_error(e: &std::io::Error, path: &std::path::Path, what: &str) {
    if crate::disk::is_full(e) {
        tracing::warn!(file = %path.display(), error = %e, "disk full: cannot save {what}; kept in memory and written when there is room");
    } else {
        tracing::error!(file = %path.display(), error = %e, "cannot save {what}");
    }
}

/// Sleeps until `t` (coarsely, then finely), or until `stop` is set.
fn wait_until(t: DateTime<Utc>, stop: &AtomicBool) {
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let left = (t - Utc::now()).num_microseconds().unwrap_or(0);
        if left <= 0 {
            return;
        }
        let nap = if left > 20_000 {
            left - 10_000
        } else {
            left.min(1_000)
        };
        std::thread::sleep(std::time::Duration::from_micros(nap.min(50_000) as u64));
    }
}

/// Measures the clock against the controller at start and every `every_secs` (every ten
/// seconds until a first measurement succeeds).
async fn measure_clock(
    http: reqwest::Client,
    controller_url: String,
    every_secs: u64,
    tx: mpsc::Sender<i64>,
    shutdown: CancellationToken,
) {
    let mut measured = false;
    loop {
        match crate::clock::measure(&http, &controller_url, 3).await {
            Ok(offset) => {
                measured = true;
                if tx.send(offset.num_milliseconds()).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot measure the clock against the controller")
            }
        }
        let pause = if measured { every_secs } else { 10 };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(pause)) => {}
        }
    }
}
