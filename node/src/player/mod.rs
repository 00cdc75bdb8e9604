//! The player: an actor on its own thread. The runner holds a [`Player`] handle and sends it
//! jobs ([`Player::play`]) and stops ([`Player::stop`]); what happens comes back as
//! [`PlayerEvent`]s on a channel. Dropping the handle stops what plays and joins the thread.
//!
//! The thread does the blocking work: it checks each file's hash, opens the sink, decodes the
//! first samples, waits for the planned instant and plays the item's parts
//! ([`crate::audio::play_item`]). It owns the end marks ([`ended`]): a playback that reached its
//! end is marked on disk before the event leaves the thread, so a power cut between the end
//! and the runner's record does not replay the item; the marks found at start are handed over
//! ([`Player::recovered`]) and cleared once recorded ([`Player::recorded`]).

pub mod ended;

use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use tokio::sync::mpsc;

use crate::audio::{self, AudioConfig, AudioError, Position, Track};
use crate::cache;
use crate::stream::{self, StreamPlay, StreamSource};

/// One item to play, ready for the device.
#[derive(Debug, Clone)]
pub struct Job {
    pub item: String,
    /// The planned instant of the first frame.
    pub start_at: DateTime<Utc>,
    /// Each part's file and gain (loudness normalisation and volumes together), in order.
    pub tracks: Vec<Track>,
    /// Each part's label (`chime`, `vi`, `hmn`…), for the part events.
    pub labels: Vec<String>,
    /// Each file with the SHA-256 it must have.
    pub files: Vec<(PathBuf, String)>,
    /// Where to begin (a resumed item), the start otherwise.
    pub from: Position,
    /// Played before and cut by an emergency: its start is a restart, with no start error.
    pub restart: bool,
    /// Names the output (the `wav` sink's file).
    pub sink_label: String,
    /// A stream item's stream, played after the parts.
    pub stream: Option<StreamJob>,
}

/// The stream of a stream item, for the player.
#[derive(Clone)]
pub struct StreamJob {
    pub source: StreamSource,
    /// When the item ends by plan.
    pub until: DateTime<Utc>,
    /// Linear gain (the plan's and the item's volumes).
    pub gain: f32,
    /// The jitter buffer's length.
    pub jitter_ms: u64,
}

impl std::fmt::Debug for StreamJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamJob")
            .field("url", &self.source.url)
            .field("until", &self.until)
            .field("jitter_ms", &self.jitter_ms)
            .finish()
    }
}

/// What the player says.
#[derive(Debug)]
pub enum PlayerEvent {
    /// The first frame reached the device; no start error for a restart.
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
    /// The item ended: played to its end (already marked), stopped at a position, or failed.
    Finished {
        item: String,
        result: Result<audio::ItemReport, AudioError>,
    },
    /// A cached file failed its hash check and was deleted; nothing was played.
    Corrupt { item: String },
    /// A stream item played silence for a while: its stream stalled or dropped.
    StreamGap { item: String, gap: stream::Gap },
}

enum Command {
    /// A job with its own stop flag, made by the handle so that a stop sent before the thread
    /// takes the job still counts.
    Play(Box<Job>, Arc<AtomicBool>),
    /// The mark of an item the ledger now records as played.
    Recorded(String),
}

/// The handle on the player thread.
pub struct Player {
    commands: Option<std_mpsc::Sender<Command>>,
    /// The stop flag of the last job handed over, until the thread has finished it.
    current: Arc<Mutex<Option<Arc<AtomicBool>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    ended_dir: PathBuf,
}

impl Player {
    /// Starts the player thread for the node whose data lives in `data_dir`.
    pub fn spawn(
        audio: AudioConfig,
        data_dir: &std::path::Path,
        events: mpsc::Sender<PlayerEvent>,
    ) -> Player {
        let (tx, rx) = std_mpsc::channel::<Command>();
        let current: Arc<Mutex<Option<Arc<AtomicBool>>>> = Arc::default();
        let ended_dir = ended::dir(data_dir);
        let (cur, dir) = (current.clone(), ended_dir.clone());
        let thread = std::thread::Builder::new()
            .name("player".into())
            .spawn(move || {
                for cmd in rx {
                    match cmd {
                        Command::Play(job, stop) => {
                            play(&audio, &dir, *job, &stop, &events);
                            let mut cur = cur.lock().expect("player lock");
                            if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, &stop)) {
                                *cur = None;
                            }
                        }
                        Command::Recorded(item) => ended::clear(&dir, &item),
                    }
                }
            })
            .expect("the player thread starts");
        Player {
            commands: Some(tx),
            current,
            thread: Some(thread),
            ended_dir,
        }
    }

    /// Plays `job` once what plays now has ended.
    pub fn play(&self, job: Job) {
        let stop = Arc::new(AtomicBool::new(false));
        *self.current.lock().expect("player lock") = Some(stop.clone());
        if let Some(c) = &self.commands {
            let _ = c.send(Command::Play(Box::new(job), stop));
        }
    }

    /// Stops what plays now (it ends with [`PlayerEvent::Finished`] and the position reached).
    pub fn stop(&self) {
        if let Some(stop) = self.current.lock().expect("player lock").as_ref() {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// Items that played to their end before the last power cut or crash, by their marks.
    pub fn recovered(&self) -> Vec<String> {
        ended::marked(&self.ended_dir)
    }

    /// The ledger records `item` as ended: its mark can go.
    pub fn recorded(&self, item: &str) {
        if let Some(c) = &self.commands {
            let _ = c.send(Command::Recorded(item.to_string()));
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
        // Closing the channel ends the thread once the job on it has stopped.
        self.commands.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Plays one job on the player thread, reporting as it goes.
fn play(
    audio_cfg: &AudioConfig,
    ended_dir: &std::path::Path,
    job: Job,
    stop: &AtomicBool,
    events: &mpsc::Sender<PlayerEvent>,
) {
    // A file damaged on the card since it was fetched is deleted here, and fetched again.
    if !job
        .files
        .iter()
        .all(|(path, sha)| cache::verify_file(path, sha))
    {
        let _ = events.blocking_send(PlayerEvent::Corrupt { item: job.item });
        return;
    }
    let item = &job.item;
    // A stream is Opus at 48 kHz; files play at their own rate where the device takes it.
    let rate = match job.stream {
        Some(_) => None,
        None => audio::native_rate(&job.tracks),
    };
    let result = audio::open_sink_at(audio_cfg, &job.sink_label, rate).and_then(|mut sink| {
        // The first samples are decoded before the wait: at the instant, only the write is
        // left to do.
        let mut hold = || wait_until(job.start_at, stop);
        let mut on_first = || {
            let err = (Utc::now() - job.start_at).num_milliseconds();
            let _ = events.blocking_send(PlayerEvent::Started {
                item: item.clone(),
                start_error_ms: (!job.restart).then_some(err),
            });
        };
        let mut on_part = |part: usize| {
            let _ = events.blocking_send(PlayerEvent::PartDone {
                item: item.clone(),
                part,
                label: job.labels[part].clone(),
            });
        };
        let Some(s) = &job.stream else {
            return audio::play_item(
                &job.tracks,
                job.from,
                loa_protocol::PART_GAP_MS,
                sink.as_mut(),
                stop,
                &mut hold,
                &mut on_first,
                &mut on_part,
            );
        };
        let mut on_gap = |gap: stream::Gap| {
            tracing::warn!(item = %item, from = %gap.from, ms = gap.ms, cause = %gap.cause, "stream gap");
            let _ = events.blocking_send(PlayerEvent::StreamGap {
                item: item.clone(),
                gap,
            });
        };
        stream::play_item(
            &job.tracks,
            job.from,
            loa_protocol::PART_GAP_MS,
            StreamPlay {
                item,
                source: s.source.clone(),
                until: s.until,
                gain: s.gain,
                jitter_ms: s.jitter_ms,
            },
            sink.as_mut(),
            stop,
            &mut hold,
            &mut on_first,
            &mut on_part,
            &mut on_gap,
        )
    });
    if let Ok(audio::ItemReport {
        stopped_at: None, ..
    }) = &result
    {
        // Before the runner hears of it: a power cut now must not replay the item.
        if let Err(e) = ended::mark(ended_dir, item) {
            tracing::warn!(item = %item, error = %e, "cannot mark the playback ended");
        }
    }
    let _ = events.blocking_send(PlayerEvent::Finished {
        item: job.item,
        result,
    });
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
