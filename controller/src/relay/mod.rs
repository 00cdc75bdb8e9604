//! The relay hub: a station's stream pulled once, however many villages listen, re-encoded to
//! Ogg Opus for them, and recorded as evidence.
//!
//! - [`upstream`]: the connection to the station, reconnected with backoff; [`hls`]: an HLS
//!   station's playlist and segments, [`ts`]: the audio inside an MPEG-TS segment.
//! - [`decode`]: its MP3 or AAC decoded (symphonia) to 48 kHz mono, on a blocking thread.
//! - [`backlog`]: the sound waiting between the two, and the rule that makes it an even 50
//!   frames a second: the station's sound, or silence while there is none.
//! - [`listen`]: one node's view of a relay, its own Ogg stream over the shared packets.
//! - [`record`]: the evidence file, kept in the media store when the relay ends.
//! - [`ahead`]: a station connected a few seconds before a relay's slot.
//! - [`icecast`]: a station's relay handed to an Icecast server as a source (province scale).
//! - [`feed`]: a live session's sound, pushed by the speaker's browser instead of pulled;
//!   [`capture`]: or read from a sound card on the controller's machine.
//!
//! A live session (`crate::ops::live`) is a relay of its own source (`Source::live`): the
//! pacer plays from the session's [`feed::Feed`] (a shorter backlog, shorter Ogg pages), and
//! [`Hub::end`] stops it with a short fade when the session ends; its listeners' streams end,
//! which the nodes take as the item's end.
//!
//! The [`Hub`] keeps one running relay per source. A relay starts [`ahead::AHEAD`] before a
//! slot of it, or when the first node asks for `GET /streams/{id}`, and stops [`LINGER`] (`[relay] linger_secs`) after the last one left
//! (or when the controller stops); each relay is a pacer task that every 20 ms takes a frame from the backlog, encodes
//! it once with libopus and sends the packet to every listener and to the recorder. While the
//! station is down the pacer sends silence, so the nodes' connections stay up and the
//! recording keeps the real timeline; the log says when the station went silent and for how
//! long. When a relay stops, its recording is kept and linked to the broadcasts and schedule
//! airings of that source whose window it overlaps: what the villages were sent for each.

pub mod ahead;
pub mod backlog;
pub mod capture;
pub mod decode;
pub mod feed;
pub mod hls;
pub mod icecast;
pub mod listen;
pub mod record;
pub mod ts;
pub mod upstream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::media::MediaStore;
use crate::opus::encode::{EncodeError, Encoder};
use crate::opus::ogg_out::{LIVE_PACKETS_PER_PAGE, PACKETS_PER_PAGE};
use crate::opus::{Packet, FRAME};
use crate::store::sources::Source;
use crate::store::Store;
use backlog::{Backlog, Frame};

/// How long a relay runs on with nobody listening, by default: a node that reconnects finds
/// it still up.
pub const LINGER: Duration = Duration::from_secs(30);
/// Packets a listener may fall behind before it skips ahead: 5 s.
const FAN_OUT: usize = 250;
/// Frames a live relay fades out over when its session ends: 100 ms.
const FADE_FRAMES: usize = 5;

/// Who wants a relay kept running besides the nodes listening to `/streams/{id}`: the
/// hand-off to Icecast (which is not a village), and the airings of it on air or due.
#[derive(Default)]
pub struct Attendance {
    /// Connections handing the relay to Icecast (subscribed, but not villages).
    pub pushers: AtomicUsize,
    /// Unix milliseconds until which an airing wants the relay up.
    kept_until_ms: AtomicI64,
}

impl Attendance {
    /// Whether the relay is wanted, with `receivers` subscribed to it.
    fn wanted(&self, receivers: usize) -> bool {
        receivers > self.pushers.load(Ordering::Relaxed)
            || chrono::Utc::now().timestamp_millis() < self.kept_until_ms.load(Ordering::Relaxed)
    }
}

/// The running relays, one per source.
pub struct Hub {
    store: Store,
    media: MediaStore,
    bitrate: u32,
    linger: Duration,
    relays: Mutex<HashMap<i64, Running>>,
    /// Live sessions' sound, by their source.
    feeds: Mutex<HashMap<i64, Arc<feed::Feed>>>,
    /// The controller's shutdown: every relay stops with it.
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Tells one run of a source's relay from the next.
    generation: std::sync::atomic::AtomicU64,
    /// Where stations' relays are handed over, when they are (`[relay] icecast_url`).
    handoff: Option<icecast::Handoff>,
}

struct Running {
    tx: broadcast::Sender<Packet>,
    pre_skip: u16,
    generation: u64,
    /// Packets to each listener's Ogg page.
    per_page: u32,
    /// Cancelled when a live session ends: the relay fades out and stops.
    end: CancellationToken,
    attendance: Arc<Attendance>,
}

/// What a relay's pacer needs.
struct Relay {
    hub: Arc<Hub>,
    source: Source,
    generation: u64,
    tx: broadcast::Sender<Packet>,
    encoder: Encoder,
    end: CancellationToken,
    attendance: Arc<Attendance>,
}

impl Hub {
    pub fn new(
        store: Store,
        media: MediaStore,
        bitrate: u32,
        linger: Duration,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        handoff: Option<icecast::Handoff>,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            media,
            bitrate,
            linger,
            relays: Mutex::new(HashMap::new()),
            feeds: Mutex::new(HashMap::new()),
            shutdown,
            tracker,
            generation: Default::default(),
            handoff,
        })
    }

    /// A new listener of `source`'s relay, which starts if it is not running.
    pub fn listen(self: &Arc<Self>, source: &Source) -> Result<listen::Listener, EncodeError> {
        let mut relays = self.relays.lock().expect("relays lock");
        if let Some(r) = relays.get(&source.id) {
            return Ok(listen::Listener::new(
                r.tx.subscribe(),
                r.pre_skip,
                r.per_page,
            ));
        }
        let per_page = if source.live {
            LIVE_PACKETS_PER_PAGE
        } else {
            PACKETS_PER_PAGE
        };
        let end = self.shutdown.child_token();
        let attendance = Arc::new(Attendance::default());
        let encoder = Encoder::new(crate::opus::RATE, 1, self.bitrate)?;
        let pre_skip = encoder.pre_skip();
        let (tx, rx) = broadcast::channel(FAN_OUT);
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        relays.insert(
            source.id,
            Running {
                tx: tx.clone(),
                pre_skip,
                generation,
                per_page,
                end: end.clone(),
                attendance: attendance.clone(),
            },
        );
        let relay = Relay {
            hub: self.clone(),
            source: source.clone(),
            generation,
            tx,
            encoder,
            end,
            attendance,
        };
        self.tracker.spawn(relay.run());
        tracing::info!(source = source.id, name = %source.name, url = %source.url, "relay started");
        Ok(listen::Listener::new(rx, pre_skip, per_page))
    }

    /// A live session's feed, made on first use: the speaker pushes into it, the session's
    /// relay plays from it.
    pub fn feed(&self, source: i64) -> Arc<feed::Feed> {
        self.feeds
            .lock()
            .expect("feeds lock")
            .entry(source)
            .or_default()
            .clone()
    }

    /// A live session ended: its relay fades out and stops (its listeners' streams end), and
    /// its feed is dropped.
    pub fn end(&self, source: i64) {
        if let Some(f) = self.feeds.lock().expect("feeds lock").remove(&source) {
            f.end();
        }
        if let Some(r) = self.relays.lock().expect("relays lock").get(&source) {
            r.end.cancel();
        }
    }

    /// Keeps `source`'s relay running until `until` whoever listens (an airing of it is on air
    /// or due); false if it is not running.
    pub fn keep(&self, source: i64, until: chrono::DateTime<chrono::Utc>) -> bool {
        match self.relays.lock().expect("relays lock").get(&source) {
            Some(r) => {
                r.attendance
                    .kept_until_ms
                    .fetch_max(until.timestamp_millis(), Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The sources whose relay is running.
    pub fn running(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .relays
            .lock()
            .expect("relays lock")
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Takes the relay out of the table if nobody listens (or `force`); true if it did.
    fn retire(&self, source: i64, generation: u64, force: bool) -> bool {
        let mut relays = self.relays.lock().expect("relays lock");
        match relays.get(&source) {
            Some(r)
                if r.generation == generation
                    && (force || !r.attendance.wanted(r.tx.receiver_count())) =>
            {
                relays.remove(&source);
                true
            }
            Some(r) if r.generation == generation => false,
            // Already gone.
            _ => true,
        }
    }
}

/// One frame of a fade-out with `left` frames after it: the gain falls from
/// `(left + 1) / FADE_FRAMES` to `left / FADE_FRAMES` across the frame.
fn fade(pcm: &mut [f32; FRAME], left: usize) {
    let (from, to) = (
        (left + 1) as f32 / FADE_FRAMES as f32,
        left as f32 / FADE_FRAMES as f32,
    );
    for (i, s) in pcm.iter_mut().enumerate() {
        *s *= from + (to - from) * i as f32 / FRAME as f32;
    }
}

impl Relay {
    async fn run(mut self) {
        let id = self.source.id;
        let stop = self.hub.shutdown.child_token();
        let backlog = if self.source.live {
            self.hub.feed(id).backlog.clone()
        } else {
            let backlog = Arc::new(Mutex::new(Backlog::default()));
            self.hub.tracker.spawn(upstream::run(
                id,
                self.source.url.clone(),
                backlog.clone(),
                stop.clone(),
            ));
            backlog
        };
        if let (Some(to), false) = (self.hub.handoff.clone(), self.source.live) {
            self.hub.tracker.spawn(icecast::push(
                to,
                id,
                self.source.name.clone(),
                self.tx.downgrade(),
                self.encoder.pre_skip(),
                self.attendance.clone(),
                stop.clone(),
            ));
        }
        let started = chrono::Utc::now();
        let name = format!(
            "{}-{}-{}.opus",
            if self.source.live { "live" } else { "relay" },
            self.source.name,
            started.format("%Y%m%dT%H%M%SZ")
        );
        let mut recorder =
            match record::Recorder::start(&self.hub.media, self.encoder.pre_skip(), name) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(source = id, error = %e, "cannot record the relay");
                    None
                }
            };
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        // Behind (a busy machine): catch up, so the villages get 50 frames a second on average.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut pcm = [0f32; FRAME];
        let mut idle_since: Option<Instant> = None;
        let mut silent_since: Option<Instant> = Some(Instant::now());
        let mut last = None;
        // Frames left of the fade-out once a live session ended.
        let mut fading: Option<usize> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.end.cancelled(), if fading.is_none() => {
                    tracing::info!(source = id, "the live session ended: the relay fades out");
                    fading = Some(FADE_FRAMES);
                    continue;
                }
                _ = tick.tick() => {}
            }
            let frame = backlog.lock().expect("backlog lock").next_frame(&mut pcm);
            if let Some(left) = fading.as_mut() {
                if *left == 0 {
                    break;
                }
                *left -= 1;
                fade(&mut pcm, *left);
            }
            match (frame, silent_since) {
                (Frame::Silence, None) => {
                    silent_since = Some(Instant::now());
                    tracing::warn!(
                        source = id,
                        "the station sends nothing: the villages get silence"
                    );
                }
                (Frame::Station, Some(since)) => {
                    silent_since = None;
                    tracing::info!(
                        source = id,
                        silent_ms = since.elapsed().as_millis() as u64,
                        "the station is on air"
                    );
                }
                _ => {}
            }
            let packet = match self.encoder.frame(&pcm) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(source = id, error = %e, "the relay's encoder failed; the relay stops");
                    break;
                }
            };
            // No listener just now is not an error: the relay lingers for a reconnecting node.
            let _ = self.tx.send(packet.clone());
            if let Some(r) = recorder.as_mut() {
                r.push(&packet);
            }
            last = Some(packet);
            if self.attendance.wanted(self.tx.receiver_count()) {
                idle_since = None;
            } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= self.hub.linger
                && self.hub.retire(id, self.generation, false)
            {
                tracing::info!(source = id, "nobody listens any more: the relay stops");
                break;
            }
        }
        stop.cancel();
        self.hub.retire(id, self.generation, true);
        // Listeners see the end of their stream once the last sender is gone.
        drop(self.tx);
        if self.end.is_cancelled() {
            self.hub.feeds.lock().expect("feeds lock").remove(&id);
        }
        if let (Some(r), Some(last)) = (recorder, last) {
            if let Some(kept) = r.finish(&last, &self.hub.media, &self.hub.store).await {
                let ended = chrono::Utc::now();
                match self
                    .hub
                    .store
                    .link_relay_recording(id, &kept.sha256, started, ended)
                    .await
                {
                    Ok(n) => {
                        tracing::info!(source = id, sha256 = %kept.sha256, airings = n, "relay recording linked to its airings")
                    }
                    Err(e) => {
                        tracing::error!(source = id, error = %e, "the relay's recording could not be linked to its airings")
                    }
                }
            }
        }
        tracing::info!(source = id, "relay stopped");
    }
}
