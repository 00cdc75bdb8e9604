//! A stream's network side: one task that GETs the stream's URL with the node's media token
//! (as media downloads do), cuts the Ogg Opus bytes into packets, decodes them and queues the
//! samples in the jitter buffer, until the player cancels it or the stream ends.
//!
//! A connection that cannot be made, is refused, breaks, or brings no data for the stall time
//! is retried with a backoff (0.5 s doubling to 5 s, with some randomness so a village's nodes
//! do not knock all at once); the last cause is kept for the gap report. A reconnection joins
//! the stream where it is now (live: nothing to catch up), starting from its two header pages.
//! The body ending cleanly, or a page marked the end of the stream, is the end of the stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::jitter::Jitter;
use crate::audio::ogg_demux::OggDemux;
use crate::audio::opus::OpusPackets;
use crate::audio::resample::map_channels;
use crate::fetch::describe;

/// The first wait before a reconnection, doubled after each failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Where a stream comes from and how to ask for it.
#[derive(Clone)]
pub struct StreamSource {
    pub url: String,
    /// The node's media token.
    pub token: String,
    /// The node's HTTP client (its TLS settings: the commune's CA).
    pub http: reqwest::Client,
    /// The runtime the network task runs on (the player's thread has none).
    pub runtime: tokio::runtime::Handle,
}

/// What the network task and the player share.
pub struct Shared {
    pub jitter: Mutex<Jitter>,
    /// Why the stream last failed, until audio flows again.
    pub cause: Mutex<Option<String>>,
    /// The stream ended cleanly: what is queued is the last of it.
    pub ended: AtomicBool,
}

impl Shared {
    pub fn new(jitter: Jitter) -> Arc<Shared> {
        Arc::new(Shared {
            jitter: Mutex::new(jitter),
            cause: Mutex::new(None),
            ended: AtomicBool::new(false),
        })
    }

    fn fail(&self, cause: String) {
        tracing::warn!(cause = %cause, "stream interrupted; reconnecting");
        *self.cause.lock().expect("stream lock") = Some(cause);
    }
}

/// How one connection ended.
enum Ended {
    /// The stream is over.
    Clean,
    /// It broke (the cause is recorded); connect again.
    Broken,
}

/// Reads the stream into `shared` until `cancel` or the stream's end; `channels` is the
/// jitter buffer's, `stall` how long a connection may bring nothing before it is dropped.
pub async fn read(
    src: StreamSource,
    shared: Arc<Shared>,
    channels: u16,
    stall: Duration,
    cancel: CancellationToken,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let ended = tokio::select! {
            _ = cancel.cancelled() => return,
            e = connection(&src, &shared, channels, stall, &mut backoff) => e,
        };
        if let Ended::Clean = ended {
            tracing::info!(url = %src.url, "the stream ended");
            shared.ended.store(true, Ordering::Relaxed);
            return;
        }
        let wait = backoff.mul_f64(rand::thread_rng().gen_range(0.8..1.2));
        backoff = (backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One connection, from the request to its end.
async fn connection(
    src: &StreamSource,
    shared: &Shared,
    channels: u16,
    stall: Duration,
    backoff: &mut Duration,
) -> Ended {
    let req = src.http.get(&src.url).bearer_auth(&src.token).send();
    let mut resp = match tokio::time::timeout(stall.max(Duration::from_secs(5)), req).await {
        Err(_) => {
            shared.fail("the stream did not answer".into());
            return Ended::Broken;
        }
        Ok(Err(e)) => {
            shared.fail(format!("cannot reach the stream: {}", describe(&e)));
            return Ended::Broken;
        }
        Ok(Ok(r)) => r,
    };
    if !resp.status().is_success() {
        shared.fail(format!(
            "the controller refused the stream: {}",
            resp.status()
        ));
        return Ended::Broken;
    }
    let mut demux = OggDemux::new();
    let mut decoder: Option<OpusPackets> = None;
    let mut mapped = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(stall, resp.chunk()).await {
            Err(_) => {
                shared.fail(format!(
                    "the stream stalled (no data for {:.1} s)",
                    stall.as_secs_f64()
                ));
                return Ended::Broken;
            }
            Ok(Err(e)) => {
                shared.fail(format!("the stream's connection broke: {}", describe(&e)));
                return Ended::Broken;
            }
            Ok(Ok(None)) => return Ended::Clean,
            Ok(Ok(Some(c))) => c,
        };
        demux.push(&chunk);
        loop {
            let packet = match demux.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    shared.fail(format!("the stream is not Ogg Opus: {e}"));
                    return Ended::Broken;
                }
            };
            if packet.data.starts_with(b"OpusHead") {
                match OpusPackets::new(&packet.data) {
                    Ok(d) => decoder = Some(d),
                    Err(e) => {
                        shared.fail(format!("the stream cannot be played: {e}"));
                        return Ended::Broken;
                    }
                }
                continue;
            }
            // Audio before any head (a join without headers) cannot be decoded: skipped.
            let Some(d) = decoder.as_mut() else { continue };
            match d.decode(&packet) {
                Ok(true) => {
                    mapped.clear();
                    map_channels(d.samples(), d.channels(), channels, &mut mapped);
                    shared.jitter.lock().expect("stream lock").push(&mapped);
                    *backoff = BACKOFF_MIN;
                }
                Ok(false) => {}
                Err(e) => {
                    shared.fail(format!("the stream's audio is damaged: {e}"));
                    return Ended::Broken;
                }
            }
            if packet.last_in_stream() {
                return Ended::Clean;
            }
        }
    }
}
